"""Shared fixtures: small Kaggle-layout folders the tests draw themselves (no network), and the small phantom
experiments the study tests run."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from xraygan.config import DataConfig
from xraygan.data.phantom import draw_phantom
from xraygan.experiment import Experiment, build_experiment

SHARED = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "chest_xray_224"
# The image side of the tests' phantom studies: 32 px has a quarter of 64 px's pixels, so a study test trains
# its GANs and classifiers in about a third of the time, through the same code (models.py builds both sizes).
TEST_SIZE = 32


def phantom_experiment(preset: str = "smoke", per_class: int = 24, **overrides) -> Experiment:
    """`preset` (with `overrides`, as build_experiment takes them) on a small phantom set at TEST_SIZE px."""
    data = DataConfig(source="phantom", phantom_per_class=per_class, image_size=TEST_SIZE)
    return build_experiment(preset, data=data, gan={"image_size": TEST_SIZE, **overrides.pop("gan", {})}, **overrides)


def write_kaggle_folder(root: Path, n_per_class: int = 6, size: int = 80, seed: int = 0) -> Path:
    """A tiny Kaggle-layout folder of phantom JPEGs with Kaggle-style file names (2 images per patient)."""
    rng = np.random.default_rng(seed)
    for split, n in (("train", n_per_class), ("test", max(2, n_per_class // 2))):
        for label, cls in enumerate(("NORMAL", "PNEUMONIA")):
            d = root / split / cls
            d.mkdir(parents=True, exist_ok=True)
            for i in range(n):
                name = f"IM-{i // 2:04d}-{i % 2 + 1:04d}.jpeg" if label == 0 else f"person{i // 2}_bacteria_{i}.jpeg"
                Image.fromarray(draw_phantom(rng, size, bool(label))).convert("RGB").save(d / name, quality=90)
    return root


@pytest.fixture
def kaggle_dir(tmp_path: Path) -> Path:
    return write_kaggle_folder(tmp_path / "chest_xray")


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XRAYGAN_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("XRAYGAN_DATA", raising=False)
    for k in ("KAGGLE_USERNAME", "KAGGLE_KEY"):
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv("KAGGLE_CONFIG_DIR", str(tmp_path / "no-kaggle"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # no ~/.medmnist or other files of this machine


def shared_data() -> Path | None:
    p = Path(os.environ.get("XRAYGAN_SHARED_DATA", SHARED)).resolve()
    return p if (p / "train").is_dir() else None
