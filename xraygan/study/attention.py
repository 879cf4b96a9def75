"""Where the study's classifier looks, with and without synthetic images: Grad-CAM averaged over the test
split, per class, for classifiers trained exactly as the study trains them (same cell, same selection)."""

from __future__ import annotations

from pathlib import Path

import torch

from xraygan.checkpoint import atomic_save, load_checkpoint
from xraygan.data import ImageSet, Splits
from xraygan.experiment import Experiment
from xraygan.info import CLASSES
from xraygan.review.explain import mean_grad_cam
from xraygan.study.conditions import parse_condition
from xraygan.study.reproduce import open_grid
from xraygan.study.run import Cell, needed_gans, prepare_gans, replicate_of, train_cell


def attention_maps(
    exp: Experiment,
    splits: Splits,
    runs: str | Path,
    fraction: float,
    conditions: tuple[str, ...] | None = None,
    seed: int = 0,
    device: str | None = None,
) -> dict[str, dict[int, torch.Tensor]]:
    """condition -> class -> mean Grad-CAM map (H, W) over that class's test images, each image explained for
    its own class. The classifiers are retrained for (fraction, condition, seed) with the study's settings;
    their test scores are not computed here (the study reads the test split once per model for those).
    Default conditions: the baseline and the grid's first condition that adds GAN images."""
    if conditions is None:
        added = [c for c in exp.study.conditions if parse_condition(c).kind == "gan" and not c.endswith("+aug")]
        conditions = ("baseline", *added[:1])
    runs = Path(runs)
    out: dict[str, dict[int, torch.Tensor]] = {}
    for c in conditions:
        cell = Cell(fraction, c, seed)
        if kinds := needed_gans(exp, [cell]):  # the synthetic pool of this replicate (trained or reused, exported)
            job = (fraction, replicate_of(exp, cell))
            prepare_gans(exp, splits, runs, device, progress=False, jobs=[job], kinds=kinds)
        tc, _ = train_cell(exp, splits, runs, cell, device)
        model = getattr(tc.model, "module", tc.model)  # a weight-averaged model wraps the network
        out[c] = mean_grad_cam(model, splits.test.images, splits.test.labels)
    return out


def attention_record(maps: dict[str, dict[int, torch.Tensor]], test: ImageSet, fraction: float, seed: int) -> dict:
    """What a figure of the maps needs, without the test images: the maps, each class's mean test image and
    its count, and which cells they come from."""
    pick = {j: test.labels == j for j in range(len(CLASSES))}
    return {
        "fraction": fraction,
        "seed": seed,
        "maps": maps,
        "mean_images": {j: test.images[p].float().mean(0)[0] for j, p in pick.items()},
        "counts": {j: int(p.sum()) for j, p in pick.items()},
    }


def grid_attention(
    results: str | Path,
    runs: str | Path,
    fraction: float,
    data_root: str | None = None,
    seed: int | None = None,
    device: str | None = None,
) -> dict:
    """The attention maps of a committed grid: its seed-`seed` classifiers at `fraction` (the baseline and its
    first GAN condition; default: the grid's first seed) retrained from its config.json with the GANs in
    `runs`, written to `results/attention.pt` (small: maps and mean images, no model) for the report to draw."""
    results = Path(results)
    exp, splits = open_grid(results, data_root)  # other images than the grid's: refused
    seed = exp.study.first_replicate if seed is None else seed
    record = attention_record(
        attention_maps(exp, splits, runs, fraction, seed=seed, device=device), splits.test, fraction, seed
    )
    atomic_save(record, results / "attention.pt")
    return record


def load_attention(results: str | Path) -> dict | None:
    """A results folder's attention record (grid_attention), None where it has none."""
    path = Path(results) / "attention.pt"
    return load_checkpoint(path) if path.exists() else None  # a damaged file: an error that names it
