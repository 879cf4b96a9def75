"""Where the study's classifier looks, with and without synthetic images: Grad-CAM averaged over the test
split, per class, for classifiers trained exactly as the study trains them (same cell, same selection)."""

from __future__ import annotations

from pathlib import Path

import torch

from xraygan.data import Splits
from xraygan.experiment import Experiment
from xraygan.review.explain import mean_grad_cam
from xraygan.study.conditions import parse_condition
from xraygan.study.run import Cell, prepare_gans, replicate_of, train_cell


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
        if parse_condition(c).gan:  # the synthetic pool of this replicate (trained or reused, then exported)
            prepare_gans(exp, splits, runs, device, progress=False, jobs=[(fraction, replicate_of(exp, cell))])
        tc, _ = train_cell(exp, splits, runs, cell, device)
        model = getattr(tc.model, "module", tc.model)  # a weight-averaged model wraps the network
        out[c] = mean_grad_cam(model, splits.test.images, splits.test.labels)
    return out
