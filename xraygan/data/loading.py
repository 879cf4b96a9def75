"""Choosing a source, loading it through the cache, and splitting it: the entry point of the data layer."""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from xraygan.checkpoint import digest
from xraygan.data.cache import cached, default_cache_dir
from xraygan.config import DataConfig
from xraygan.data.download import DownloadError, fetch_kaggle, fetch_medmnist, kaggle_credentials
from xraygan.data.folder import check_layout, decode_split, fingerprint, scan_split
from xraygan.data.imageset import ImageSet
from xraygan.info import KAGGLE, MEDMNIST
from xraygan.data.phantom import phantom_set
from xraygan.data.splits import legacy_split, patient_split



class NoDataError(RuntimeError):
    """No data source could be found or fetched."""


@dataclass
class Splits:
    """train / val (from train, by patient) / test, plus where they came from."""

    train: ImageSet
    val: ImageSet
    test: ImageSet
    source: str  # "folder:/path", "kaggle:/path", "medmnist:64", "phantom"
    skipped: dict[str, int]

    def fingerprint(self) -> str:
        """A hash of all three splits' pixels and labels (what the data is, wherever it is stored)."""
        return digest([self.train.fingerprint(), self.val.fingerprint(), self.test.fingerprint()])

    def summary(self) -> dict:
        """Counts per split and class, skipped files, and the source (a folder by its name, not its path)."""
        kind, _, where = self.source.partition(":")
        return {
            "source": f"{kind}:{Path(where).resolve().name}" if kind in ("folder", "kaggle") else self.source,
            "skipped": self.skipped,
            **{s: getattr(self, s).class_counts() for s in ("train", "val", "test")},
        }


def resolve_source(cfg: DataConfig) -> tuple[str, Path | None]:
    """Pick the source: explicit root or XRAYGAN_DATA → ./data → Kaggle with credentials → MedMNIST."""
    if cfg.source == "phantom":
        return "phantom", None
    if cfg.source == "medmnist":
        return "medmnist", None
    if cfg.source == "kaggle":
        return "kaggle", None
    root = cfg.root or os.environ.get("XRAYGAN_DATA")
    if root:
        return "folder", Path(root).expanduser()
    if cfg.source == "folder":
        raise NoDataError("source='folder' needs a root: pass root=... or set XRAYGAN_DATA.")
    local = Path("data")
    for cand in (local, local / "chest_xray"):
        if (cand / "train").is_dir() and (cand / "test").is_dir():
            return "folder", cand
    if kaggle_credentials() is not None:
        return "kaggle", None
    return "medmnist", None


def load_folder(
    root: str | Path, split: str, size: int, cache_dir: str | Path | None = None, progress: bool = True
) -> ImageSet:
    """One split of a Kaggle-layout folder, decoded once and cached."""
    root = Path(root).resolve()
    files, _ = scan_split(root, split)
    key = {"source": "folder", "root": str(root), "split": split, "size": size, "v": 1}
    ds, _ = cached(key, fingerprint(files), lambda: decode_split(root, split, size, progress), cache_dir)
    return ds


def load_medmnist(size: int, split: str, cache_dir: str | Path | None = None) -> ImageSet:
    """One split of PneumoniaMNIST (its own split), downloaded on first use. No patient ids: each image
    counts as its own patient."""
    native = size if size in MEDMNIST["files"] else 64
    path = fetch_medmnist(native, Path(cache_dir or default_cache_dir()) / "medmnist")
    with np.load(path) as z:
        imgs = torch.from_numpy(z[f"{split}_images"])[:, None]  # (N, 1, S, S)
        labels = torch.from_numpy(z[f"{split}_labels"].reshape(-1).astype(np.int64))
    if native != size:
        imgs = torch.nn.functional.interpolate(imgs.float(), size=(size, size), mode="area").round().byte()
    ids = [f"medmnist-{split}-{i}" for i in range(len(labels))]
    return ImageSet(imgs, labels, ids, [f"medmnist:{native}:{i}" for i in ids], split)


def load_splits(cfg: DataConfig = DataConfig(), progress: bool = True) -> Splits:
    """Load train/val/test for `cfg`: val is taken from train by patient (the test split is as given)."""
    kind, root = resolve_source(cfg)
    if kind == "phantom":
        train = phantom_set(cfg.phantom_per_class, cfg.image_size, cfg.seed, "train")
        test = phantom_set(max(8, cfg.phantom_per_class // 4), cfg.image_size, cfg.seed, "test")
        source = "phantom"
    elif kind == "medmnist":
        try:
            sets = {s: load_medmnist(cfg.image_size, s, cfg.cache_dir) for s in ("train", "val", "test")}
        except DownloadError as e:
            raise NoDataError(
                f"no data found. Tried: root/XRAYGAN_DATA (unset), ./data (absent), Kaggle (no credentials), "
                f"MedMNIST download ({e}). Fix: set XRAYGAN_DATA to a folder in the Kaggle layout, add Kaggle "
                f"credentials, or run with network access; for an offline demo use source='phantom'."
            ) from e
        return Splits(sets["train"], sets["val"], sets["test"], f"medmnist:{cfg.image_size}", {})
    else:
        if kind == "kaggle":
            root = fetch_kaggle(Path(cfg.cache_dir or default_cache_dir()) / "kaggle")
        assert root is not None
        splits = check_layout(root)
        sets = {s: load_folder(root, s, cfg.image_size, cfg.cache_dir, progress) for s in splits}
        # Kaggle's own val split (8 + 8 images) goes back into train; validation is drawn by patient below.
        train = ImageSet.concat([sets[s] for s in ("train", "val") if s in sets], "train")
        test = sets["test"]
        for s, ds in sets.items():
            if len(ds) and min(ds.class_counts().values()) == 0 and s != "val":
                empty = [c for c, n in ds.class_counts().items() if n == 0]
                raise NoDataError(
                    f"{Path(root) / s / empty[0]} holds no readable image; "
                    f"skipped: {ds.skipped or 'none'}. Check the download."
                )
            if len(ds) == 0 and s != "val":
                raise NoDataError(f"{Path(root) / s} holds no readable image; skipped: {ds.skipped or 'none'}.")
        source = f"{kind}:{root}"
    if cfg.val_mode == "patient":
        train, val = patient_split(train, cfg.val_fraction, cfg.seed)
    else:
        train, val = legacy_split(train, 30, cfg.seed)
    skipped = Counter(train.skipped) + Counter(test.skipped)
    return Splits(train, val, test, source, dict(skipped))


def describe(root: str | Path, cache_dir: str | Path | None = None, size: int = 64) -> dict:
    """Counts of a Kaggle-layout folder as on disk: images and patients per split and class, and skips."""
    out: dict = {"root": str(root), "splits": {}, "patients": {}, "skipped": {}}
    skipped: Counter = Counter()
    for split in check_layout(root):
        ds = load_folder(root, split, size, cache_dir, progress=False)
        out["splits"][split] = ds.class_counts()
        out["patients"][split] = ds.patient_counts()
        skipped.update(ds.skipped)
    # stray files at the top level and in split folders (e.g. .DS_Store) are counted too
    for d in [Path(root), *(Path(root) / s for s in out["splits"])]:
        skipped["not_image"] += sum(1 for p in d.iterdir() if p.is_file())
    out["skipped"] = {k: v for k, v in sorted(skipped.items()) if v}
    expected = KAGGLE["counts"]
    out["matches_kaggle"] = all(out["splits"].get(s) == expected[s] for s in ("train", "test"))
    return out
