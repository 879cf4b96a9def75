"""Data exploration figures and tables (notebook 01)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from matplotlib.figure import Figure
from PIL import Image

from xraygan.data import Splits
from xraygan.figures import class_colors, save, show_grid
from xraygan.info import CLASSES


def count_table(s: Splits) -> pd.DataFrame:
    """Images and patients per split and class, and the PNEUMONIA share."""
    rows = []
    for name in ("train", "val", "test"):
        ds = getattr(s, name)
        ic, pc = ds.class_counts(), ds.patient_counts()
        rows.append(
            {
                "split": name,
                **{f"images {c}": ic[c] for c in CLASSES},
                **{f"patients {c}": pc[c] for c in CLASSES},
                "PNEUMONIA share": round(ic[CLASSES[1]] / max(1, len(ds)), 3),
            }
        )
    return pd.DataFrame(rows).set_index("split")


def plot_counts(s: Splits) -> Figure:
    t = count_table(s)
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.5))
    for ax, what in zip(axes, ("images", "patients")):
        t[[f"{what} {c}" for c in CLASSES]].rename(columns=lambda c: c.split()[1]).plot.bar(
            ax=ax, color=list(class_colors().values()), rot=0
        )
        ax.set_title(f"{what} per split and class")
        for cont in ax.containers:
            ax.bar_label(cont, fontsize=8)
    fig.tight_layout()
    return save(fig, "01_class_counts")


def plot_images_per_patient(s: Splits) -> Figure:
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for label, c in enumerate(CLASSES):
        per = Counter(
            p
            for p, y in zip(s.train.patients + s.val.patients, torch.cat([s.train.labels, s.val.labels]).tolist())
            if y == label
        )
        vals = np.array(list(per.values()))
        ax.hist(
            vals,
            bins=np.arange(0.5, vals.max() + 1.5),
            alpha=0.7,
            label=f"{c} ({len(vals)} patients)",
            color=class_colors()[c],
        )
    ax.set_xlabel("images per patient (train + val)")
    ax.set_ylabel("patients")
    ax.set_yscale("log")
    ax.legend()
    return save(fig, "01_images_per_patient")


def plot_samples(s: Splits, n: int = 16, seed: int = 0) -> Figure:
    g = torch.Generator().manual_seed(seed)
    fig, axes = plt.subplots(1, 2, figsize=(12, 6.5))
    for label, ax in enumerate(axes):
        ds = s.train.of_class(label)
        show_grid(ax, ds.images[torch.randperm(len(ds), generator=g)[:n]], f"train {CLASSES[label]}", nrow=4)
    fig.tight_layout()
    return save(fig, "01_samples", photo=True)


def plot_intensity(s: Splits) -> Figure:
    """Pixel-intensity histograms and the mean and std image per class (train)."""
    fig, axes = plt.subplots(1, 5, figsize=(16, 3.4), gridspec_kw={"width_ratios": [2, 1, 1, 1, 1]})
    for label, c in enumerate(CLASSES):
        x = s.train.of_class(label).images.float()
        axes[0].hist(
            x.flatten().numpy(), bins=64, density=True, histtype="step", lw=1.6, label=c, color=class_colors()[c]
        )
        axes[1 + 2 * label].imshow(x.mean(0)[0], cmap="gray", vmin=0, vmax=255)
        axes[1 + 2 * label].set_title(f"mean {c}")
        axes[2 + 2 * label].imshow(x.std(0)[0], cmap="magma")
        axes[2 + 2 * label].set_title(f"std {c}")
    axes[0].set_title("pixel intensity (train)")
    axes[0].legend()
    for ax in axes[1:]:
        ax.axis("off")
    fig.tight_layout()
    return save(fig, "01_intensity")


def original_sizes(s: Splits, limit: int | None = None) -> pd.DataFrame:
    """Width and height on disk of each source file (header only; folder sources)."""
    rows = []
    for name in ("train", "val", "test"):
        ds = getattr(s, name)
        for src, y in list(zip(ds.sources, ds.labels.tolist()))[:limit]:
            if Path(src).is_file():
                with Image.open(src) as im:
                    rows.append(
                        {"split": name, "class": CLASSES[y], "width": im.size[0], "height": im.size[1], "mode": im.mode}
                    )
    return pd.DataFrame(rows)


def plot_original_sizes(sizes: pd.DataFrame) -> Figure:
    fig, ax = plt.subplots(figsize=(6, 4))
    for c in CLASSES:
        d = sizes[sizes["class"] == c]
        ax.scatter(d.width, d.height, s=4, alpha=0.4, label=c, color=class_colors()[c])
    ax.set_xlabel("width on disk (px)")
    ax.set_ylabel("height on disk (px)")
    ax.set_title("image sizes as stored")
    ax.legend()
    return save(fig, "01_original_sizes")
