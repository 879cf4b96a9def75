"""Figures of GAN training (notebook 02), drawn from the run folders: losses, samples across training, final
samples beside real ones. Each is saved under figures/ and returned for inline display."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import torch
from matplotlib.figure import Figure

from xraygan.data.imageset import ImageSet
from xraygan.figures import save, show_grid
from xraygan.gan.export import generate
from xraygan.gan.runs import load_generator
from xraygan.gan.training import read_metrics
from xraygan.info import CLASSES


def plot_losses(run_dirs: dict[str, Path], name: str = "02_losses") -> Figure:
    """Loss and D-output curves of one or more runs (from their metrics.jsonl)."""
    fig, axes = plt.subplots(1, 2, figsize=(12, 3.6))
    for label, rd in run_dirs.items():
        m = read_metrics(rd)
        if not m:
            continue
        s = [r["step"] for r in m]
        axes[0].plot(s, [r["loss_d"] for r in m], label=f"{label} D")
        axes[0].plot(s, [r["loss_g"] for r in m], "--", label=f"{label} G")
        axes[1].plot(s, [r["d_real"] for r in m], label=f"{label} D(x)")
        axes[1].plot(s, [r["d_fake"] for r in m], "--", label=f"{label} D(G(z))")
    axes[0].set_title("losses")
    axes[1].set_title("discriminator outputs (sigmoid)")
    for ax in axes:
        ax.set_xlabel("step")
        ax.legend(fontsize=7)
    fig.tight_layout()
    return save(fig, name)


def plot_sample_progress(run: str | Path, name: str, max_grids: int = 5) -> Figure:
    """The fixed-noise sample grids saved during training, left to right (first 16 of each)."""
    files = sorted((Path(run) / "samples").glob("step_*.png"))
    k = min(max_grids, len(files))
    idx = [round(i * (len(files) - 1) / max(1, k - 1)) for i in range(k)]  # first and last always shown
    picks = [files[i] for i in sorted(set(idx))]
    fig, axes = plt.subplots(1, len(picks), figsize=(3.2 * len(picks), 3.4), squeeze=False)
    for ax, f in zip(axes[0], picks):
        img = plt.imread(f)
        ax.imshow(img[: img.shape[0] // 2, : img.shape[1] // 2], cmap="gray")  # top-left 4x4 of the 8x8 grid
        ax.set_title(f"{name} step {int(f.stem.split('_')[1])}")
        ax.axis("off")
    fig.tight_layout()
    return save(fig, f"02_progress_{name.lower()}", photo=True)


def plot_fake_vs_real(
    runs: dict[int, Path] | Path, train: ImageSet, n: int = 16, seed: int = 0, tag: str = "per_class"
) -> Figure:
    """Final EMA samples per class beside random real training images of that class. `runs` is {label: run}
    for per-class GANs, or one conditional run folder."""
    fig, axes = plt.subplots(2, 2, figsize=(11, 11))
    g = torch.Generator().manual_seed(seed)
    for label, c in enumerate(CLASSES):
        G, meta = load_generator(runs if isinstance(runs, Path) else runs[label])
        fake = generate(G, label if G.n_classes else None, n, seed, next(G.parameters()).device)
        real = train.of_class(label)
        show_grid(axes[label, 0], real.images[torch.randperm(len(real), generator=g)[:n]], f"real {c}", 4)
        show_grid(axes[label, 1], fake, f"synthetic {c} (step {meta['step']})", 4)
    fig.tight_layout()
    return save(fig, f"02_fake_vs_real_{tag}", photo=True)
