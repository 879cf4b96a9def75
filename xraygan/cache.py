"""Decoded-tensor cache: one file per (source, split, size), written atomically, rebuilt on change."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import torch

from xraygan.imageset import ImageSet


def default_cache_dir() -> Path:
    return Path(os.environ.get("XRAYGAN_CACHE") or Path.home() / ".cache" / "xraygan")


def atomic_save(obj: object, path: str | Path) -> None:
    """torch.save to a temporary file in the same folder, then rename: never a half-written file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _digest(obj: object) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


def cached(
    key: dict,
    content: object,
    build: Callable[[], ImageSet],
    cache_dir: str | Path | None = None,
) -> tuple[ImageSet, bool]:
    """Load the ImageSet for `key` if its stored `content` fingerprint matches, else build and store it.
    Returns (set, hit)."""
    cache_dir = Path(cache_dir) if cache_dir else default_cache_dir()
    path = cache_dir / f"{key.get('source', 'data')}-{key.get('split', 'all')}-{key.get('size', '')}-{_digest(key)}.pt"
    want = _digest(content)
    if path.exists():
        try:
            blob = torch.load(path, weights_only=True)
            if blob.get("content") == want:
                return ImageSet(
                    blob["images"], blob["labels"], blob["patients"], blob["sources"], blob["name"], blob["skipped"]
                ), True
        except Exception:  # noqa: BLE001 - a broken cache file is rebuilt, never trusted
            pass
    ds = build()
    atomic_save(
        {
            "content": want,
            "images": ds.images,
            "labels": ds.labels,
            "patients": ds.patients,
            "sources": ds.sources,
            "name": ds.name,
            "skipped": ds.skipped,
        },
        path,
    )
    return ds, False
