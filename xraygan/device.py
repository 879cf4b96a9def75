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


def stacking_pays(device: str | None) -> bool:
    """Train same-shaped small models (a replicate's GANs, its classifiers) as one stack? On a GPU yes: one
    small model leaves it idle between kernel launches (16 stacked GANs 10.7x the tutorial loop, classifiers
    about 2x, on an H100); on 2 CPU cores no (0.6-0.94x: their convolutions already keep the cores busy).
    benchmarks/study_throughput.py measures it."""
    return pick_device(device).type == "cuda"
