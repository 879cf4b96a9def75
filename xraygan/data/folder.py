"""The Kaggle folder layout (split/CLASS/*.jpeg): checking, scanning and decoding with counted skips."""

from __future__ import annotations

import os
import warnings
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from xraygan.data.imageset import ImageSet
from xraygan.data.splits import patient_id
from xraygan.info import CLASSES
from xraygan.progress import tqdm

IMAGE_EXTS = {".jpeg", ".jpg", ".png"}
SPLITS = ("train", "val", "test")
MIN_SIDE = 32  # smaller images cannot be an X-ray worth training on
MAX_PIXELS = 200_000_000  # above this we refuse to decode (memory); 8000x8000 = 64 MP is fine
_MODES = {"1", "L", "LA", "P", "PA", "RGB", "RGBA", "RGBX", "CMYK", "YCbCr", "I", "I;16", "I;16B", "I;16L", "F"}


class DataLayoutError(ValueError):
    """The folder is not in the Kaggle layout."""


def check_layout(root: str | Path) -> list[str]:
    """The splits present under `root`; a clear error when the layout is wrong."""
    root = Path(root)
    if not root.is_dir():
        raise DataLayoutError(
            f"data folder {root} does not exist. Point --root / XRAYGAN_DATA at the folder "
            "that holds train/ and test/ (Kaggle 'Chest X-Ray Images (Pneumonia)' layout)."
        )
    splits = [s for s in SPLITS if (root / s).is_dir()]
    if "train" not in splits or "test" not in splits:
        if root.name in SPLITS or all((root / c).is_dir() for c in CLASSES):
            hint = f"it looks like a split folder; use its parent {root.parent}"
        elif (root / "chest_xray").is_dir():
            hint = f"the data sits one level down; use {root / 'chest_xray'}"
        else:
            hint = "expected ROOT/train/NORMAL, ROOT/train/PNEUMONIA, ROOT/test/NORMAL, ROOT/test/PNEUMONIA"
        raise DataLayoutError(f"{root} is not in the Kaggle layout: {hint}.")
    for s in splits:
        for c in CLASSES:
            d = root / s / c
            if not d.is_dir():
                raise DataLayoutError(f"missing class folder {d}: each split needs NORMAL/ and PNEUMONIA/.")
    return splits


def scan_split(root: str | Path, split: str) -> tuple[list[tuple[Path, int]], Counter]:
    """Image files of one split with labels, and the non-image files skipped (counted by reason)."""
    files: list[tuple[Path, int]] = []
    skipped: Counter = Counter()
    for label, c in enumerate(CLASSES):
        for entry in sorted(os.scandir(Path(root) / split / c), key=lambda e: e.name):
            if not entry.is_file():
                continue
            if entry.name.startswith(".") or Path(entry.name).suffix.lower() not in IMAGE_EXTS:
                skipped["not_image"] += 1
                continue
            files.append((Path(entry.path), label))
    return files, skipped


def fingerprint(files: list[tuple[Path, int]]) -> list[tuple[str, int, int]]:
    """What identifies a source's content cheaply: name, size and mtime of every file."""
    out = []
    for p, _ in files:
        st = p.stat()
        out.append((str(p), st.st_size, st.st_mtime_ns))
    return out


def _to_gray8(im: Image.Image) -> Image.Image:
    """Any supported PIL mode to 8-bit grayscale; 16-bit and float images are rescaled to their range."""
    if im.mode in ("I", "I;16", "I;16B", "I;16L", "F"):
        a = np.asarray(im, dtype=np.float64)
        lo, hi = float(a.min()), float(a.max())
        a = (a - lo) / (hi - lo) * 255.0 if hi > lo else np.zeros_like(a)
        return Image.fromarray(a.round().astype(np.uint8), "L")
    if im.mode in ("RGBA", "LA", "PA"):
        bg = Image.new("RGBA", im.size, (0, 0, 0, 255))
        return Image.alpha_composite(bg, im.convert("RGBA")).convert("L")
    return im.convert("L")


def decode_image(path: str | Path, size: int) -> tuple[np.ndarray | None, str | None]:
    """Decode one file to a (size, size) uint8 array: aspect kept, centre crop. Returns (array, None) or
    (None, reason) with reason in {empty, not_image, corrupt, unsupported_mode, too_small, too_large}."""
    path = Path(path)
    try:
        if path.stat().st_size == 0:
            return None, "empty"
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                if im.mode not in _MODES:
                    return None, "unsupported_mode"
                w, h = im.size
                if min(w, h) < MIN_SIDE:
                    return None, "too_small"
                if w * h > MAX_PIXELS:
                    return None, "too_large"
                im.draft("L", (max(size, w * size // min(w, h)), max(size, h * size // min(w, h))))
                im.load()
                g = _to_gray8(im)
    except UnidentifiedImageError:
        return None, "not_image"
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombWarning, Image.DecompressionBombError):
        return None, "corrupt"  # truncated files raise OSError("image file is truncated")
    w, h = g.size
    s = min(w, h)
    left, top = (w - s) // 2, (h - s) // 2
    g = g.crop((left, top, left + s, top + s)).resize((size, size), Image.Resampling.LANCZOS)
    return np.asarray(g, dtype=np.uint8), None


def decode_split(root: str | Path, split: str, size: int, progress: bool = True) -> ImageSet:
    """Decode every image of one split (threads; PIL releases the GIL while decoding)."""
    files, skipped = scan_split(root, split)
    arrays: list[np.ndarray | None] = [None] * len(files)
    reasons: list[str | None] = [None] * len(files)
    workers = min(8, os.cpu_count() or 1)
    with ThreadPoolExecutor(workers) as pool:
        results = pool.map(lambda f: decode_image(f[0], size), files, chunksize=32)
        bar = tqdm(results, total=len(files), desc=f"decode {split}@{size}px", disable=not progress)
        for i, (arr, why) in enumerate(bar):
            arrays[i], reasons[i] = arr, why
    keep = [i for i, a in enumerate(arrays) if a is not None]
    for r in reasons:
        if r is not None:
            skipped[r] += 1
    if keep:
        images = torch.from_numpy(np.stack([arrays[i] for i in keep]))[:, None]  # (N, 1, S, S)
    else:
        images = torch.zeros(0, 1, size, size, dtype=torch.uint8)
    labels = torch.tensor([files[i][1] for i in keep], dtype=torch.long)
    return ImageSet(
        images,
        labels,
        [patient_id(files[i][0].name) for i in keep],
        [str(files[i][0]) for i in keep],
        split,
        dict(skipped),
    )
