"""Choosing a source, loading it through the cache, and splitting it: the entry point of the data layer."""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from xraygan.checkpoint import digest
from xraygan.config import DataConfig
from xraygan.data.cache import cached, default_cache_dir
from xraygan.data.download import ChecksumError, DownloadError, fetch_kaggle, fetch_medmnist, kaggle_credentials
from xraygan.data.folder import check_layout, decode_split, fingerprint, scan_split
from xraygan.data.imageset import ImageSet
from xraygan.data.npz import describe_npz, load_npz
from xraygan.data.phantom import phantom_set
from xraygan.data.splits import legacy_split, patient_split
from xraygan.info import KAGGLE, MEDMNIST


class NoDataError(RuntimeError):
    """No data source could be found or fetched."""


@dataclass
class Splits:
    """train / val (from train, by patient) / test, plus where they came from."""

    train: ImageSet
    val: ImageSet
    test: ImageSet
    source: str  # "folder:/path", "npz:/path", "kaggle:/path", "medmnist:64", "phantom"
    skipped: dict[str, int]

    def fingerprint(self) -> str:
        """A hash of all three splits' pixels and labels (what the data is, wherever it is stored)."""
        return digest([self.train.fingerprint(), self.val.fingerprint(), self.test.fingerprint()])

    def summary(self) -> dict:
        """Counts per split and class, skipped files, and the source (a folder by its name, not its path)."""
        kind, _, where = self.source.partition(":")
        return {
            "source": f"{kind}:{Path(where).resolve().name}" if kind in ("folder", "kaggle", "npz") else self.source,
            "skipped": self.skipped,
            **{s: getattr(self, s).class_counts() for s in ("train", "val", "test")},
        }


@dataclass(frozen=True)
class Source:
    """Where the data comes from, and what was looked at before choosing it (in order, for messages)."""

    kind: str  # folder | npz | kaggle | medmnist | phantom
    root: Path | None
    tried: tuple[str, ...] = ()
    why: str = ""


def resolve_source(cfg: DataConfig) -> Source:
    """Pick the source: explicit root or XRAYGAN_DATA (a Kaggle-layout folder or a MedMNIST-format .npz) →
    ./data → Kaggle with credentials → MedMNIST download."""
    if cfg.source in ("phantom", "medmnist", "kaggle"):
        return Source(cfg.source, None, (), f"{cfg.source} (asked for)")
    given = cfg.root or os.environ.get("XRAYGAN_DATA")
    if given:
        p = Path(given).expanduser()
        how = "root" if cfg.root else "XRAYGAN_DATA"
        return Source("npz" if p.suffix == ".npz" else "folder", p, (), f"{p.name} (from {how})")
    if cfg.source == "folder":
        raise NoDataError("source='folder' needs a root: pass root=... (--data) or set XRAYGAN_DATA.")
    tried = ["root/XRAYGAN_DATA (unset)"]
    local = Path("data")
    for cand in (local, local / "chest_xray"):
        if (cand / "train").is_dir() and (cand / "test").is_dir():
            return Source("folder", cand, tuple(tried), f"the local folder {cand}")
    tried.append("./data (no train/ and test/ folders)")
    if kaggle_credentials() is not None:
        return Source("kaggle", None, tuple(tried), "the Kaggle download (credentials found)")
    tried.append("Kaggle (no credentials)")
    return Source("medmnist", None, tuple(tried), "MedMNIST PneumoniaMNIST (no local folder, no Kaggle credentials)")


def load_folder(
    root: str | Path, split: str, size: int, cache_dir: str | Path | None = None, progress: bool = True
) -> ImageSet:
    """One split of a Kaggle-layout folder, decoded once and cached."""
    root = Path(root).resolve()
    files, _ = scan_split(root, split)
    key = {"source": "folder", "root": str(root), "split": split, "size": size, "v": 1}
    ds, _ = cached(key, fingerprint(files), lambda: decode_split(root, split, size, progress), cache_dir)
    return ds


def load_medmnist(size: int, cache_dir: str | Path | None = None) -> dict[str, ImageSet]:
    """PneumoniaMNIST's three splits (its own split), from the medmnist package's folder, the cache, or a
    checked download; resized from the nearest published size (64 px when `size` is not one of them)."""
    native = size if size in MEDMNIST["files"] else 64
    return load_npz(fetch_medmnist(native, Path(cache_dir or default_cache_dir()) / "medmnist"), size)


def load_splits(cfg: DataConfig = DataConfig(), progress: bool = True) -> Splits:
    """Load train/val/test for `cfg`: val is taken from train by patient (the test split is as given)."""
    src = resolve_source(cfg)
    kind, root = src.kind, src.root
    if cfg.source == "auto" and src.tried and progress:
        print(f"xraygan data: using {src.why}")  # chosen automatically: say which
    if kind == "phantom":
        train = phantom_set(cfg.phantom_per_class, cfg.image_size, cfg.seed, "train")
        test = phantom_set(max(8, cfg.phantom_per_class // 4), cfg.image_size, cfg.seed, "test")
        source = "phantom"
    elif kind == "npz":
        assert root is not None
        sets = load_npz(root, cfg.image_size)
        return Splits(sets["train"], sets["val"], sets["test"], f"npz:{root}", {})
    elif kind == "medmnist":
        try:
            sets = load_medmnist(cfg.image_size, cfg.cache_dir)
        except ChecksumError:
            raise  # a file is there but is not the published one: its own message says what to do
        except DownloadError as e:
            tried = ", ".join([*src.tried, f"MedMNIST ({e})"])
            raise NoDataError(
                f"no data found. Tried, in order: {tried}. Fix: set XRAYGAN_DATA (or --data) to a folder in the "
                "Kaggle layout or to a MedMNIST-format .npz, add Kaggle credentials, or run with network "
                "access; for an offline demo use source='phantom'."
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
    """Counts as on disk: of a Kaggle-layout folder (images and patients per split and class, and skips), or
    of a MedMNIST-format .npz file (images per split and class)."""
    if Path(root).suffix == ".npz":
        return describe_npz(root)
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
