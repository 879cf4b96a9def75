"""The decoded-tensor cache: reused when nothing changed, rebuilt when the source changed."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import xraygan.data.folder as folder
from xraygan.data import load_folder


def test_cache_reuse_and_invalidation(kaggle_dir: Path, tmp_path: Path, monkeypatch) -> None:
    calls = []
    real = folder.decode_split

    def counting(*a, **k):
        calls.append(a[1])
        return real(*a, **k)

    monkeypatch.setattr("xraygan.data.loading.decode_split", counting)
    cache = tmp_path / "c"
    a = load_folder(kaggle_dir, "train", 32, cache, progress=False)
    b = load_folder(kaggle_dir, "train", 32, cache, progress=False)
    assert calls == ["train"] and (a.images == b.images).all() and a.patients == b.patients
    load_folder(kaggle_dir, "train", 64, cache, progress=False)  # another size is another entry
    assert calls == ["train", "train"]
    src = next((kaggle_dir / "train" / "NORMAL").iterdir())
    shutil.copy(src, src.with_name("IM-9999-0001.jpeg"))  # the source changed
    c = load_folder(kaggle_dir, "train", 32, cache, progress=False)
    assert len(calls) == 3 and len(c) == len(a) + 1
    # a damaged cache file is rebuilt, not trusted
    for f in cache.glob("*.pt"):
        f.write_bytes(b"garbage")
    d = load_folder(kaggle_dir, "train", 32, cache, progress=False)
    assert len(calls) == 4 and len(d) == len(c)
    assert not [f for f in os.listdir(cache) if f.endswith(".tmp")]
