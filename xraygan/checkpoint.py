"""Self-describing checkpoints: written atomically, loaded with weights_only=True."""

from __future__ import annotations

import platform
from pathlib import Path

import numpy as np
import torch

from xraygan.cache import atomic_save


class CheckpointError(RuntimeError):
    """A checkpoint is unreadable or does not fit the request."""


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


def check_compatible(saved: dict, wanted: dict, keys: tuple[str, ...], path: str | Path) -> None:
    """Refuse a checkpoint whose architecture fields differ from the request, naming the field."""
    diff = {k: (saved.get(k), wanted.get(k)) for k in keys if saved.get(k) != wanted.get(k)}
    if diff:
        desc = ", ".join(f"{k}: checkpoint {a!r} vs requested {b!r}" for k, (a, b) in diff.items())
        raise CheckpointError(
            f"checkpoint {path} does not match the requested config ({desc}). Use a new run "
            "folder, or the config it was trained with."
        )
