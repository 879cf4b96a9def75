"""Decoded-tensor cache: one file per (source, split, size), written atomically, rebuilt on change."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import torch

from xraygan.checkpoint import atomic_save, digest
from xraygan.data.imageset import ImageSet


def default_cache_dir() -> Path:
    return Path(os.environ.get("XRAYGAN_CACHE") or Path.home() / ".cache" / "xraygan")


def cached(
    key: dict,
    content: object,
    build: Callable[[], ImageSet],
    cache_dir: str | Path | None = None,
) -> tuple[ImageSet, bool]:
    """Load the ImageSet for `key` if its stored `content` fingerprint matches, else build and store it.
    Returns (set, hit)."""
    cache_dir = Path(cache_dir) if cache_dir else default_cache_dir()
    path = cache_dir / f"{key.get('source', 'data')}-{key.get('split', 'all')}-{key.get('size', '')}-{digest(key)}.pt"
    want = digest(content)
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
