"""Device choice: CUDA when present, CPU otherwise."""

from __future__ import annotations

import torch


def pick_device(name: str | None = None) -> torch.device:
    """Return `name` if given, else cuda when available, else cpu."""
    if name:
        dev = torch.device(name)
        if dev.type == "cuda" and not torch.cuda.is_available():
            raise RuntimeError(f"device {name!r} was asked for but CUDA is not available; use 'cpu'")
        return dev
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")
