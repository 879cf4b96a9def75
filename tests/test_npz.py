"""MedMNIST-format .npz files from wherever users keep them: loaded from an explicit path, checked with one
clear error per defect, found in the medmnist package's folder, never silently replaced."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from xraygan.cli import main
from xraygan.config import DataConfig
from xraygan.data import load_splits
from xraygan.data.download import ChecksumError
from xraygan.data.npz import NpzFormatError, load_npz
from xraygan.info import MEDMNIST

COUNTS = {"train": 40, "val": 10, "test": 12}


def arrays(size: int = 28, counts: dict = COUNTS) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    out = {}
    for s, n in counts.items():
        out[f"{s}_images"] = rng.integers(0, 256, (n, size, size), dtype=np.uint8)
        out[f"{s}_labels"] = (np.arange(n) % 4 > 0).astype(np.uint8).reshape(-1, 1)  # MedMNIST's (N, 1)
    return out


def write(path: Path, **override) -> Path:
    a = arrays()
    a.update(override)
    np.savez(path, **{k: v for k, v in a.items() if v is not None})
    return path


def test_an_explicit_file_loads_by_every_route(tmp_path: Path, monkeypatch, capsys) -> None:
    f = write(tmp_path / "mine.npz")
    s = load_splits(DataConfig(root=str(f)), progress=False)  # resized to the default 64 px
    assert (len(s.train), len(s.val), len(s.test)) == (40, 10, 12) and s.train.image_size == 64
    assert s.train.class_counts() == {"NORMAL": 10, "PNEUMONIA": 30} and s.summary()["source"] == "npz:mine.npz"
    monkeypatch.setenv("XRAYGAN_DATA", str(f))
    assert len(load_splits(DataConfig(image_size=28), progress=False).test) == 12
    assert main(["data", "describe", "--root", str(f)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["total"] == COUNTS and out["image_size"] == 28 and out["splits"]["val"] == {"NORMAL": 3, "PNEUMONIA": 7}


@pytest.mark.parametrize(
    "override,message",
    [
        ({"val_labels": None}, r"missing key\(s\) \['val_labels'\]"),
        ({"train_images": np.zeros((40, 28, 28), np.float32)}, "train_images is float32; expected uint8"),
        ({"test_images": np.zeros((12, 784), np.uint8)}, r"test_images has shape \(12, 784\); expected grayscale"),
        ({"train_labels": np.full((40, 1), 2, np.uint8)}, r"train_labels holds \[2\]; only 0 \(NORMAL\) and 1"),
        ({"val_images": np.zeros((0, 28, 28), np.uint8), "val_labels": np.zeros((0, 1))}, "the val split is empty"),
        ({"test_labels": np.zeros((11, 1), np.uint8)}, "test_images has 12 images but test_labels has 11 labels"),
    ],
)
def test_each_defect_has_its_own_message(tmp_path: Path, override: dict, message: str) -> None:
    f = write(tmp_path / "bad.npz", **override)
    with pytest.raises(NpzFormatError, match=message) as e:
        load_npz(f)
    assert str(f) in str(e.value)
    assert main(["data", "describe", "--root", str(f)]) == 2  # the command line says the same, no traceback


def test_medmnist_folder_is_used_and_a_changed_file_is_never_replaced(tmp_path: Path, monkeypatch) -> None:
    home = Path.home() / ".medmnist"  # the tests' own HOME (conftest)
    home.mkdir(parents=True)
    f = write(home / MEDMNIST["files"][64][0])
    body = f.read_bytes()
    monkeypatch.setenv("XRAYGAN_MEDMNIST_URL", "http://127.0.0.1:9")  # no download may happen
    with pytest.raises(ChecksumError, match=r"not the published \w+.*\(--data .*pneumoniamnist_64.npz") as e:
        load_splits(DataConfig(source="medmnist"), progress=False)
    assert "MD5 is " + hashlib.md5(body).hexdigest() in str(e.value) and f.read_bytes() == body
    monkeypatch.setitem(MEDMNIST["files"], 64, (f.name, hashlib.md5(body).hexdigest()))  # now it is "official"
    s = load_splits(DataConfig(source="medmnist"), progress=False)
    assert len(s.train) == 40 and s.source == "medmnist:64"


def test_automatic_choice_says_which_source(tmp_path: Path, monkeypatch, capsys) -> None:
    """As in Colab with no folder and no Kaggle secrets: MedMNIST is picked by itself, and the loader says so."""
    home = Path.home() / ".medmnist"
    home.mkdir(parents=True)
    f = write(home / MEDMNIST["files"][64][0])
    monkeypatch.setitem(MEDMNIST["files"], 64, (f.name, hashlib.md5(f.read_bytes()).hexdigest()))
    monkeypatch.chdir(tmp_path)  # no ./data
    s = load_splits(DataConfig(), progress=True)
    assert s.source == "medmnist:64"
    said = capsys.readouterr().out
    assert "xraygan data: using MedMNIST PneumoniaMNIST (no local folder, no Kaggle credentials)" in said
