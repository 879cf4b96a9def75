"""The folder loader against bad input: every bad file is counted by reason, never silently dropped."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from xraygan.config import DataConfig
from xraygan.data import NoDataError, load_splits
from xraygan.data.folder import DataLayoutError, check_layout, decode_image, decode_split


def _bad_files(d: Path) -> dict[str, str]:
    """Write one bad or odd file of each kind into `d`; returns name -> expected outcome."""
    good = np.random.default_rng(0).integers(0, 255, (100, 120), dtype=np.uint8)
    Image.fromarray(good).save(d / "good.jpeg")
    raw = (d / "good.jpeg").read_bytes()
    (d / "zero.jpeg").write_bytes(b"")
    (d / "truncated.jpeg").write_bytes(raw[: len(raw) // 2])
    (d / "corrupt.jpeg").write_bytes(raw[:200] + bytes(range(256)) * 20)
    (d / "text.jpeg").write_text("this is not an image\n")
    (d / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")
    rgba = np.dstack([good, good, good, np.full_like(good, 255)])
    Image.fromarray(rgba).save(d / "rgba.png")
    Image.fromarray(good.astype(np.uint16) * 257).save(d / "deep16.png")
    Image.new("L", (1, 1), 128).save(d / "tiny.png")
    Image.new("L", (8000, 8000), 90).save(d / "huge.jpeg", quality=50)
    return {"good.jpeg": "ok", "zero.jpeg": "empty", "truncated.jpeg": "corrupt", "corrupt.jpeg": "corrupt",
            "text.jpeg": "not_image", "rgba.png": "ok", "deep16.png": "ok", "tiny.png": "too_small",
            "huge.jpeg": "ok"}


def test_decode_image_reasons(tmp_path: Path) -> None:
    expected = _bad_files(tmp_path)
    for name, want in expected.items():
        arr, why = decode_image(tmp_path / name, 64)
        if want == "ok":
            assert why is None and arr is not None, name
            assert arr.shape == (64, 64) and arr.dtype == np.uint8
        else:
            assert arr is None and why == want, (name, why)


def test_16bit_png_keeps_its_contrast(tmp_path: Path) -> None:
    ramp = np.tile(np.linspace(0, 65535, 128), (128, 1)).astype(np.uint16)
    Image.fromarray(ramp).save(tmp_path / "ramp.png")
    arr, _ = decode_image(tmp_path / "ramp.png", 64)
    assert arr[:, 0].mean() < 10 and arr[:, -1].mean() > 245  # not clipped to white or black


def test_aspect_preserved_centre_crop(tmp_path: Path) -> None:
    img = np.zeros((100, 300), np.uint8)
    img[:, 100:200] = 255  # the centre square is white, the sides black
    Image.fromarray(img).save(tmp_path / "wide.png")
    arr, _ = decode_image(tmp_path / "wide.png", 64)
    assert arr.mean() > 250  # a squashing resize would keep the black sides


def test_decode_split_counts_every_skip(kaggle_dir: Path) -> None:
    d = kaggle_dir / "train" / "NORMAL"
    expected = _bad_files(d)
    n_before = 6
    ds = decode_split(kaggle_dir, "train", 64, progress=False)
    n_ok = sum(v == "ok" for v in expected.values())
    assert ds.class_counts() == {"NORMAL": n_before + n_ok, "PNEUMONIA": 6}
    assert ds.skipped == {"empty": 1, "corrupt": 2, "not_image": 2, "too_small": 1}  # .DS_Store + text
    assert ds.images.dtype == torch.uint8 and ds.images.shape[1:] == (1, 64, 64)
    assert all(Path(s).exists() for s in ds.sources)


def test_layout_errors(tmp_path: Path, kaggle_dir: Path) -> None:
    with pytest.raises(DataLayoutError, match="does not exist"):
        check_layout(tmp_path / "nowhere")
    with pytest.raises(DataLayoutError, match="split folder"):
        check_layout(kaggle_dir / "train")
    with pytest.raises(DataLayoutError, match="one level down"):
        check_layout(kaggle_dir.parent)
    for p in (kaggle_dir / "test" / "PNEUMONIA").iterdir():
        p.unlink()
    (kaggle_dir / "test" / "PNEUMONIA").rmdir()
    with pytest.raises(DataLayoutError, match=r"missing class folder .*test/PNEUMONIA"):
        check_layout(kaggle_dir)


def test_empty_class_folder_is_a_clear_error(kaggle_dir: Path) -> None:
    for p in (kaggle_dir / "train" / "NORMAL").iterdir():
        p.unlink()
    (kaggle_dir / "train" / "NORMAL" / ".DS_Store").write_bytes(b"x")
    with pytest.raises(NoDataError, match=r"train/NORMAL holds no readable image"):
        load_splits(DataConfig(root=str(kaggle_dir)), progress=False)


def test_load_splits_from_folder(kaggle_dir: Path) -> None:
    s = load_splits(DataConfig(root=str(kaggle_dir), val_fraction=0.3), progress=False)
    assert s.source.startswith("folder:")
    assert len(s.train) + len(s.val) == 12 and len(s.test) == 6
    assert not set(s.train.patients) & set(s.val.patients)
    assert s.test.class_counts() == {"NORMAL": 3, "PNEUMONIA": 3}
