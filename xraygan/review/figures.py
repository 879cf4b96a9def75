"""Figures of the synthetic review (notebook 03), drawn from the images and the review folder's files; each is
shown inline and saved under figures/."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure

from xraygan.data.imageset import ImageSet, to_unit
from xraygan.figures import class_colors, save, show_grid
from xraygan.info import CLASSES
from xraygan.review.core import SCALED, ReviewArrays, ReviewResult
from xraygan.review.explain import discriminator_maps, grad_cam


def plot_real_vs_synthetic(real: ImageSet, fake: ImageSet, n: int = 16, seed: int = 0) -> Figure:
    g = torch.Generator().manual_seed(seed)
    fig, axes = plt.subplots(2, 2, figsize=(10, 10))
    for label, c in enumerate(CLASSES):
        for col, (ds, kind) in enumerate(((real, "real"), (fake, "synthetic"))):
            d = ds.of_class(label)
            show_grid(axes[label, col], d.images[torch.randperm(len(d), generator=g)[:n]], f"{kind} {c}", 4)
    fig.tight_layout()
    return save(fig, "03_real_vs_synthetic", photo=True)


def plot_intensity_compare(real: ImageSet, fake: ImageSet) -> Figure:
    """Pixel histograms, and mean and std images, real against synthetic, per class."""
    fig, axes = plt.subplots(2, 5, figsize=(16, 6.4), gridspec_kw={"width_ratios": [2, 1, 1, 1, 1]})
    for label, c in enumerate(CLASSES):
        r, f = real.of_class(label).images.float(), fake.of_class(label).images.float()
        ax = axes[label, 0]
        ax.hist(r.flatten().numpy(), bins=64, density=True, histtype="step", lw=1.5, label="real", color="k")
        ax.hist(
            f.flatten().numpy(),
            bins=64,
            density=True,
            histtype="step",
            lw=1.5,
            label="synthetic",
            color=class_colors()[c],
        )
        ax.set_title(f"{c}: pixel intensity")
        ax.legend()
        for j, (img, t, cmap) in enumerate(
            (
                (r.mean(0), "real mean", "gray"),
                (f.mean(0), "synthetic mean", "gray"),
                (r.std(0), "real std", "magma"),
                (f.std(0), "synthetic std", "magma"),
            )
        ):
            a = axes[label, 1 + j]
            a.imshow(img[0], cmap=cmap, vmin=0, vmax=255 if cmap == "gray" else 100)
            a.set_title(t)
            a.axis("off")
    fig.tight_layout()
    return save(fig, "03_intensity_compare")


@torch.no_grad()
def plot_interpolations(
    G: torch.nn.Module,
    label: int | None,
    seed: int = 0,
    rows: int = 4,
    steps: int = 8,
    name: str = "03_interpolation",
    between_classes: bool = False,
) -> Figure:
    """Linear paths in latent space (or, for a conditional G, from NORMAL to PNEUMONIA at fixed noise)."""
    g = torch.Generator().manual_seed(seed)
    dev = next(G.parameters()).device
    t = torch.linspace(0, 1, steps).view(1, -1, 1)
    z0, z1 = torch.randn(rows, 1, G.nz, generator=g), torch.randn(rows, 1, G.nz, generator=g)
    z = (z0 if between_classes else z0 * (1 - t) + z1 * t).expand(rows, steps, G.nz).reshape(-1, G.nz).to(dev)
    y = None
    if G.n_classes:
        if between_classes:  # interpolate the class embedding instead of the noise
            e = G.embed.weight  # (2, nz)
            emb = e[0] * (1 - t.view(-1, 1).to(dev)) + e[1] * t.view(-1, 1).to(dev)  # (steps, nz)
            x = G.net(torch.cat([z, emb.repeat(rows, 1)], 1)[:, :, None, None])
        else:
            y = torch.full((rows * steps,), label or 0, device=dev)
            x = G(z, y)
    else:
        x = G(z)
    fig, ax = plt.subplots(figsize=(steps * 1.3, rows * 1.4))
    show_grid(
        ax,
        x.float().cpu(),
        "NORMAL → PNEUMONIA (class embedding)"
        if between_classes
        else f"latent interpolation, {CLASSES[label] if label is not None else ''}",
        steps,
    )
    return save(fig, name, photo=True)


def plot_memorisation(
    res: ReviewResult, arrays: ReviewArrays, synthetic: ImageSet, train: ImageSet, n_pairs: int = 8
) -> Figure:
    """Histogram of nearest-training distances (synthetic vs held-out real) and the closest pairs."""
    m = {**res.memorisation["pixel_l2"], **arrays.memorisation["pixel_l2"]}
    fake = synthetic.subset(arrays.fake_index)
    fig = plt.figure(figsize=(14, 6))
    ax = fig.add_subplot(1, 3, 1)
    bins = np.linspace(
        min(m["fake_dist"].min(), m["heldout_dist"].min()), max(m["fake_dist"].max(), m["heldout_dist"].max()), 40
    )
    ax.hist(m["heldout_dist"], bins, density=True, alpha=0.5, label="held-out real (val) → train")
    ax.hist(m["fake_dist"], bins, density=True, alpha=0.5, label="synthetic → train")
    ax.axvline(m["threshold"], color="r", ls="--", label="flag: 1st percentile of held-out")
    ax.set_xlabel("pixel L2 distance to the nearest training image")
    ax.set_title(f"flagged {m['flagged']} of {m['n']} synthetic images")
    ax.legend(fontsize=8)
    order = np.argsort(m["fake_dist"])[:n_pairs]
    pairs = torch.cat([torch.stack([fake.images[i], train.images[m["fake_nn"][i]]]) for i in order])  # (2n,1,S,S)
    ax2 = fig.add_subplot(1, 3, (2, 3))
    show_grid(ax2, pairs, "closest pairs: synthetic (left) and its nearest training image (right)", 4)
    fig.tight_layout()
    return save(fig, "03_memorisation", photo=True)


def plot_closest_pairs(res: ReviewResult, arrays: ReviewArrays, synthetic: ImageSet, train: ImageSet) -> Figure:
    """Per class, the closest pairs among the synthetic sample beside the closest pairs among as many real
    images: near-identical synthetic pairs where real images have none are what mode collapse looks like."""
    classes = [c for c in CLASSES if c in res.diversity]
    fig, axes = plt.subplots(len(classes), 2, figsize=(10, 4.6 * len(classes)), squeeze=False)
    for row, c in zip(axes, classes):
        label, d, a = CLASSES.index(c), res.diversity[c], arrays.diversity[c]
        for ax, ds, kind, share in (
            (row[0], synthetic, "fake", d["near_twin_share"]),
            (row[1], train, "real", d["near_twin_share_real"]),
        ):
            imgs = ds.of_class(label).images[torch.as_tensor(a[f"{kind}_index"])]
            pairs = torch.as_tensor(a[f"{kind}_pairs"]).flatten()
            name = "synthetic" if kind == "fake" else "real"
            title = f"{c}: closest {name} pairs ({share:.0%} with a near-twin)"
            show_grid(ax, imgs[pairs], title, 4)
    fig.tight_layout()
    return save(fig, "03_closest_pairs", photo=True)


def plot_distance_scale(result: ReviewResult) -> Figure:
    """Each metric for the GAN placed between the real-vs-real floor and the real-vs-degraded ceiling."""
    keys = SCALED
    res = result.to_dict()
    fig, axes = plt.subplots(1, len(keys), figsize=(16, 3))
    for ax, k in zip(axes, keys):
        vals = [res[f"{k}_floor"], res[k], res[f"{k}_ceiling"]]
        ax.bar(["real vs real\n(floor)", "GAN", "degraded\n(ceiling)"], vals, color=["#55a868", "#dd8452", "#c44e52"])
        ax.set_title(k + (" (lower is better)" if k in ("fd", "kid") else " (higher is better)"), fontsize=9)
        ax.tick_params(axis="x", labelsize=7)
    fig.tight_layout()
    return save(fig, "03_distance_scale")


def plot_label_fidelity(res: ReviewResult, arrays: ReviewArrays) -> Figure:
    """The real-only classifier's P(PNEUMONIA) for the synthetic images of each class."""
    p, y, threshold = arrays.p_synthetic, arrays.y_synthetic, res.feature_net["threshold"]
    fig, ax = plt.subplots(figsize=(7, 3.6))
    for label, c in enumerate(CLASSES):
        ax.hist(p[y == label], bins=np.linspace(0, 1, 41), alpha=0.6, label=f"synthetic {c}", color=class_colors()[c])
    ax.axvline(threshold, color="k", ls="--", label=f"classifier threshold {threshold:.2f}")
    ax.set_xlabel("P(PNEUMONIA) from the real-only classifier")
    ax.set_ylabel("synthetic images")
    ax.legend()
    return save(fig, "03_label_fidelity")


def plot_grad_cam(model: torch.nn.Module, real: ImageSet, fake: ImageSet, n: int = 4, seed: int = 0) -> Figure:
    """Grad-CAM overlays for real and synthetic images of each class (explaining their own class)."""
    g = torch.Generator().manual_seed(seed)
    dev = next(model.parameters()).device
    fig, axes = plt.subplots(4, n, figsize=(2.6 * n, 11))
    for r, (ds, kind, label) in enumerate(
        ((real, "real", 0), (fake, "synthetic", 0), (real, "real", 1), (fake, "synthetic", 1))
    ):
        d = ds.of_class(label)
        x = d.images[torch.randperm(len(d), generator=g)[:n]]
        cam = grad_cam(model, to_unit(x.to(dev)), torch.full((len(x),), label)).cpu()
        for j in range(len(x)):
            ax = axes[r, j]
            ax.imshow(x[j, 0], cmap="gray")
            ax.imshow(cam[j], cmap="jet", alpha=0.35, vmin=0, vmax=1)
            ax.set_title(f"{kind} {CLASSES[label]}", fontsize=8)
            ax.axis("off")
    fig.tight_layout()
    return save(fig, "03_grad_cam", photo=True)


def plot_discriminator_maps(D: torch.nn.Module, real: ImageSet, fake: ImageSet, label: int, top: int = 4) -> Figure:
    """The discriminator's most active feature maps (second stage) on one real and one synthetic image."""
    dev = next(D.parameters()).device
    xr = to_unit(real.of_class(label).images[:1].to(dev))
    xf = to_unit(fake.of_class(label).images[:1].to(dev))
    both = torch.cat([xr, xf])
    maps, ch = discriminator_maps(D, both, block=1, top=top)
    fig, axes = plt.subplots(2, top + 1, figsize=(2.4 * (top + 1), 5))
    for r, kind in enumerate(("real", "synthetic")):
        axes[r, 0].imshow(both[r, 0].cpu(), cmap="gray")
        axes[r, 0].set_title(f"{kind} {CLASSES[label]}", fontsize=9)
        for j in range(top):
            axes[r, j + 1].imshow(maps[r, j].cpu(), cmap="viridis")
            axes[r, j + 1].set_title(f"channel {int(ch[j])}", fontsize=8)
        for a in axes[r]:
            a.axis("off")
    fig.tight_layout()
    return save(fig, f"03_discriminator_maps_{CLASSES[label].lower()}", photo=True)
