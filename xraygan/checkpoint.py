"""Checkpoint and run-folder I/O in one place: atomic writes, safe loads, and folders named by what made them."""

from __future__ import annotations

import hashlib
import json
import os
import platform
import tempfile
import warnings
from pathlib import Path

import numpy as np
import torch


class CheckpointError(RuntimeError):
    """A checkpoint is unreadable or does not fit the request."""


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


def digest(obj: object) -> str:
    """A short stable hash of a JSON-able object (dict order does not matter)."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


def versions() -> dict[str, str]:
    return {"torch": str(torch.__version__), "numpy": str(np.__version__), "python": platform.python_version()}


def save_checkpoint(state: dict, path: str | Path) -> None:
    """Write `state` (tensors, dicts, numbers, strings only) atomically: an interrupted save keeps the old file."""
    atomic_save({**state, "versions": versions()}, path)


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict:
    """Load a checkpoint safely (weights_only=True); a clear error names the file when it is damaged."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}; train first (python -m xraygan gan train ...)")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # noqa: BLE001 - truncated zip, pickle error, ... all mean the same to the user
        raise CheckpointError(
            f"checkpoint {path} is damaged or truncated ({type(e).__name__}: {e}). Delete it to "
            "start over, or restore it from a copy; other checkpoints were not touched."
        ) from e


def flat_diff(saved: dict, wanted: dict, prefix: str = "") -> dict[str, tuple]:
    """{dotted.field: (saved, wanted)} for every field that differs between two nested dicts."""
    out: dict[str, tuple] = {}
    for k in sorted(set(saved) | set(wanted), key=str):
        a, b = saved.get(k), wanted.get(k)
        if isinstance(a, dict) and isinstance(b, dict):
            out.update(flat_diff(a, b, f"{prefix}{k}."))
        elif a != b:
            out[f"{prefix}{k}"] = (a, b)
    return out


def describe_diff(diff: dict[str, tuple], saved: str = "there", wanted: str = "here") -> str:
    """'field: 1 there, 2 here, ...' for a flat_diff result."""
    return ", ".join(f"{k}: {a!r} {saved}, {b!r} {wanted}" for k, (a, b) in diff.items())


def check_compatible(saved: dict, wanted: dict, keys: tuple[str, ...], path: str | Path) -> None:
    """Refuse a checkpoint whose fields `keys` differ from the request, naming the field."""
    diff = flat_diff({k: saved.get(k) for k in keys}, {k: wanted.get(k) for k in keys})
    if diff:
        raise CheckpointError(
            f"checkpoint {path} does not match the requested config ({describe_diff(diff, 'in it', 'requested')}). "
            "Use a new run "
            "folder, or the config it was trained with."
        )


def keyed_dir(parent: str | Path, label: str, key: dict, create: bool = True) -> Path:
    """parent/<label>-<hash of key>, with key.json inside: a changed config gets a new folder and never picks
    up a stale result. When a folder with the same label was made from another key, a warning names the
    fields that differ (so a user sees why a run is trained again). create=False only looks the folder up:
    its path, checked against key.json where it exists, and nothing made on disk."""
    parent = Path(parent)
    folder = parent / f"{label}-{digest(key)[:10]}"
    key = json.loads(json.dumps(key, default=str))  # as it reads back from key.json
    stored = folder / "key.json"
    if stored.exists():
        diff = flat_diff(json.loads(stored.read_text()), key)
        if diff:  # a hash collision or an edited key.json: never reuse silently
            raise CheckpointError(f"{stored} does not match this run ({describe_diff(diff)}); move the folder away")
        return folder
    if not create:
        return folder
    for other in sorted(parent.glob(f"{label}-*/key.json")):
        diff = flat_diff(json.loads(other.read_text()), key)
        # warn_explicit: shown as "xraygan:", not with this file's path on the user's machine
        warnings.warn_explicit(
            f"{other.parent.name} was made with other settings ({describe_diff(diff)}); "
            f"this run goes to {folder.name}.",
            UserWarning,
            "xraygan",
            0,
        )
    folder.mkdir(parents=True, exist_ok=True)
    stored.write_text(json.dumps(key, indent=2, sort_keys=True) + "\n")
    return folder
