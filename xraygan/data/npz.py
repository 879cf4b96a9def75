"""MedMNIST-format .npz files (PneumoniaMNIST, or any file with the same keys), checked on load.

Keys: train_images, train_labels, val_images, val_labels, test_images, test_labels. Images are uint8
(N, S, S) or (N, S, S, 1); labels are 0 (NORMAL) or 1 (PNEUMONIA), shape (N,) or (N, 1). The file's own
split is used (it has no patient ids: each image counts as its own patient)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from xraygan.data.imageset import ImageSet

SPLITS = ("train", "val", "test")


class NpzFormatError(ValueError):
    """A .npz file is not in MedMNIST's format; the message names the file, the defect and the fix."""


def _check(path: Path, z: np.lib.npyio.NpzFile) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    fix = "Save it with MedMNIST's keys (train_images, train_labels, val_*, test_*), uint8 images, 0/1 labels."
    missing = [f"{s}_{k}" for s in SPLITS for k in ("images", "labels") if f"{s}_{k}" not in z.files]
    if missing:
        raise NpzFormatError(f"{path}: missing key(s) {missing} (found {sorted(z.files)}). {fix}")
    out = {}
    for s in SPLITS:
        x, y = z[f"{s}_images"], z[f"{s}_labels"]
        if x.ndim == 4 and x.shape[-1] == 1:
            x = x[..., 0]
        if x.ndim != 3 or x.shape[1] != x.shape[2]:
            raise NpzFormatError(
                f"{path}: {s}_images has shape {x.shape}; expected grayscale (N, S, S) or (N, S, S, 1). {fix}"
            )
        if x.dtype != np.uint8:
            raise NpzFormatError(f"{path}: {s}_images is {x.dtype}; expected uint8 (0-255). {fix}")
        if len(x) == 0 or y.size == 0:
            raise NpzFormatError(f"{path}: the {s} split is empty. {fix}")
        y = y.reshape(len(y), -1) if y.ndim > 1 else y.reshape(-1, 1)
        if y.shape[1] != 1:
            raise NpzFormatError(f"{path}: {s}_labels has shape {z[f'{s}_labels'].shape}; expected (N,) or (N, 1).")
        y = y[:, 0]
        if len(x) != len(y):
            raise NpzFormatError(f"{path}: {s}_images has {len(x)} images but {s}_labels has {len(y)} labels.")
        bad = sorted(set(np.unique(y).tolist()) - {0, 1})
        if bad:
            raise NpzFormatError(f"{path}: {s}_labels holds {bad}; only 0 (NORMAL) and 1 (PNEUMONIA) are allowed.")
        out[s] = (x, y.astype(np.int64))
    return out


def load_npz(path: str | Path, size: int | None = None) -> dict[str, ImageSet]:
    """The three splits of a MedMNIST-format file, resized (area) to `size` px when given."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist; point --data / XRAYGAN_DATA at a MedMNIST-format .npz")
    try:
        z = np.load(path)
    except (OSError, ValueError) as e:
        raise NpzFormatError(f"{path} is not a readable .npz file ({e}).") from e
    with z:
        arrays = _check(path, z)
    sets = {}
    for s, (x, y) in arrays.items():
        imgs = torch.from_numpy(np.ascontiguousarray(x))[:, None]  # (N, 1, S, S)
        if size and size != imgs.shape[-1]:
            imgs = torch.nn.functional.interpolate(imgs.float(), size=(size, size), mode="area").round().byte()
        ids = [f"{path.stem}-{s}-{i}" for i in range(len(y))]
        sets[s] = ImageSet(imgs, torch.from_numpy(y), ids, [f"{path.name}:{s}:{i}" for i in range(len(y))], s)
    return sets


def describe_npz(path: str | Path) -> dict:
    """Counts per split and class of a MedMNIST-format file, as on disk."""
    sets = load_npz(path)
    return {
        "root": Path(path).name,
        "image_size": sets["train"].image_size,
        "splits": {s: ds.class_counts() for s, ds in sets.items()},
        "total": {s: len(ds) for s, ds in sets.items()},
    }
