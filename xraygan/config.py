"""Frozen configs, one per stage, validated on construction, and the preset table."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SOURCES = ("auto", "folder", "kaggle", "medmnist", "phantom")


@dataclass(frozen=True)
class DataConfig:
    source: str = "auto"  # auto | folder | kaggle | medmnist | phantom
    root: str | None = None  # Kaggle-layout folder (train|test/NORMAL|PNEUMONIA); None: XRAYGAN_DATA, ./data
    image_size: int = 64  # square side after aspect-preserving resize and centre crop
    val_fraction: float = 0.1  # share of train images (by patient) held out for model selection
    val_mode: str = "patient"  # patient: grouped by patient; legacy30: the original plan's 30 images/class
    seed: int = 0  # seed of the validation split
    cache_dir: str | None = None  # decoded-tensor cache; None: XRAYGAN_CACHE or ~/.cache/xraygan
    phantom_per_class: int = 160  # phantom set only: train images per class (test gets a quarter)

    def __post_init__(self) -> None:
        if self.source not in SOURCES:
            raise ValueError(f"DataConfig.source={self.source!r}: choose one of {SOURCES}")
        if self.image_size not in (28, 32, 64, 128, 224):
            raise ValueError(f"DataConfig.image_size={self.image_size}: use 64 (default) or 128")
        if not 0.0 < self.val_fraction < 0.5:
            raise ValueError(f"DataConfig.val_fraction={self.val_fraction}: use a value in (0, 0.5), e.g. 0.1")
        if self.val_mode not in ("patient", "legacy30"):
            raise ValueError(f"DataConfig.val_mode={self.val_mode!r}: use 'patient' or 'legacy30'")
        if self.phantom_per_class < 8:
            raise ValueError("DataConfig.phantom_per_class must be at least 8")


def to_dict(cfg: Any) -> dict:
    """A config as a plain dict (for JSON and checkpoints)."""
    return dataclasses.asdict(cfg)


def save_config(cfg: Any, path: str | Path) -> None:
    """Write a config as JSON next to the result it produced."""
    Path(path).write_text(json.dumps({"type": type(cfg).__name__, **to_dict(cfg)}, indent=2) + "\n")
