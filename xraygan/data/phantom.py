"""A procedurally drawn chest-like phantom set for offline demos and tests. NOT medical data."""

from __future__ import annotations

import numpy as np
import torch

from xraygan.data.imageset import ImageSet


def _ellipse(x: np.ndarray, y: np.ndarray, cx: float, cy: float, rx: float, ry: float) -> np.ndarray:
    return ((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2 <= 1.0


def draw_phantom(rng: np.random.Generator, size: int, pneumonia: bool) -> np.ndarray:
    """One (size, size) uint8 phantom: body, two lungs, spine, heart, ribs; opacities if `pneumonia`."""
    y, x = np.mgrid[0:size, 0:size] / size  # coordinates in [0, 1)
    dx, dy, s = rng.normal(0, 0.02), rng.normal(0, 0.02), rng.uniform(0.92, 1.08)
    img = np.full((size, size), 0.08)
    img[_ellipse(x, y, 0.5 + dx, 0.55 + dy, 0.46 * s, 0.52 * s)] = 0.55  # body
    lungs = np.zeros_like(img, dtype=bool)
    for side in (-1, 1):
        lungs |= _ellipse(x, y, 0.5 + side * 0.2 * s + dx, 0.48 + dy, 0.14 * s, 0.3 * s)
    lungs &= y < 0.72 + dy + 0.04 * np.cos((x - 0.5) * 9)  # diaphragm domes
    img[lungs] = 0.18
    ribs = (np.sin((y - 0.2 * (x - 0.5) ** 2) * size * 0.9 / (size / 64)) > 0.75) & lungs
    img[ribs] += 0.12
    img[np.abs(x - 0.5 - dx) < 0.035 * s] = 0.7  # spine
    img[_ellipse(x, y, 0.56 + dx, 0.62 + dy, 0.12 * s, 0.11 * s)] = 0.6  # heart shadow
    if pneumonia:  # one to three soft opacities inside the lungs
        ys, xs = np.nonzero(lungs)
        for _ in range(rng.integers(1, 4)):
            j = rng.integers(len(ys))
            r = rng.uniform(0.05, 0.11)
            blob = np.exp(-(((x - xs[j] / size) ** 2 + (y - ys[j] / size) ** 2) / (2 * r * r)))
            img += 0.35 * blob * lungs
    img += rng.normal(0, 0.03, img.shape)
    return (np.clip(img, 0, 1) * 255).round().astype(np.uint8)


def phantom_set(n_per_class: int, size: int, seed: int, split: str = "train") -> ImageSet:
    """`n_per_class` phantoms of each class; one phantom 'patient' has one or two images."""
    rng = np.random.default_rng([seed, {"train": 0, "val": 1, "test": 2}[split]])
    images, labels, patients = [], [], []
    for label in (0, 1):
        for i in range(n_per_class):
            images.append(draw_phantom(rng, size, bool(label)))
            labels.append(label)
            patients.append(f"phantom-{split}-{label}-{i // 2}")
    return ImageSet(
        torch.from_numpy(np.stack(images))[:, None],
        torch.tensor(labels),
        patients,
        [f"phantom:{split}:{i}" for i in range(len(labels))],
        split,
    )
