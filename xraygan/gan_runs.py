"""Training the project's GANs as a set (per class and conditional) and the figures of notebook 02."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import torch
from matplotlib.figure import Figure

from xraygan.config import GANConfig
from xraygan.export import generate, load_generator
from xraygan.figures import save, show_grid
from xraygan.gan import train_gan
from xraygan.imageset import ImageSet
from xraygan.info import CLASSES
from xraygan.paths import output_dir


def runs_dir() -> Path:
    """XRAYGAN_RUNS, else runs/ at the repository root (also when run from notebooks/)."""
    return output_dir("XRAYGAN_RUNS", "runs")


def train_gans(
    cfg: GANConfig,
    train: ImageSet,
    root: str | Path,
    modes: tuple[str, ...] = ("per_class",),
    device: str | None = None,
    progress: bool = True,
) -> dict[str, Path]:
    """Train (or resume) the per-class GANs and/or the conditional GAN under `root`.
    Returns {"NORMAL": dir, "PNEUMONIA": dir, "conditional": dir} for the modes asked."""
    root = Path(root)
    out: dict[str, Path] = {}
    if "per_class" in modes:
        for label, name in enumerate(CLASSES):
            out[name] = train_gan(cfg, train, root / name, class_label=label, device=device, progress=progress)
    if "conditional" in modes:
        cond = GANConfig(**{**cfg.__dict__, "conditional": True})
        out["conditional"] = train_gan(cond, train, root / "conditional", device=device, progress=progress)
    return out


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
    return save(fig, f"02_progress_{name.lower()}")


def plot_fake_vs_real(
    runs: dict[str, Path], train: ImageSet, n: int = 16, seed: int = 0, tag: str = "per_class"
) -> Figure:
    """Final EMA samples per class beside random real training images of that class."""
    fig, axes = plt.subplots(2, 2, figsize=(11, 11))
    g = torch.Generator().manual_seed(seed)
    for label, c in enumerate(CLASSES):
        run = runs[c] if c in runs else runs["conditional"]
        G, meta = load_generator(run)
        fake = generate(G, label if G.n_classes else None, n, seed, next(G.parameters()).device)
        real = train.of_class(label)
        show_grid(axes[label, 0], real.images[torch.randperm(len(real), generator=g)[:n]], f"real {c}", 4)
        show_grid(axes[label, 1], fake, f"synthetic {c} (step {meta['step']})", 4)
    fig.tight_layout()
    return save(fig, f"02_fake_vs_real_{tag}")
