"""How long a study will take, from rates measured on this machine just before it starts, and how far it
has come (PROGRESS.md beside the results)."""

from __future__ import annotations

import dataclasses
import multiprocessing as mp
import tempfile
import time
from collections.abc import Collection
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import torch

from xraygan.classifier import train_classifier
from xraygan.classifier_stack import train_classifiers
from xraygan.config import ClassifierConfig, GANConfig
from xraygan.data import ImageSet
from xraygan.device import stacking_pays
from xraygan.gan.runs import MAX_STACK
from xraygan.gan.stack import train_gan_stack
from xraygan.gan.training import train_gan


@dataclass(frozen=True)
class Rates:
    gan_step_s: dict[str, float]  # seconds per GAN step, per config name ("gan", "gan_subset")
    classifier_step_s: float  # seconds per classifier step, validation checks included
    workers: int = 1  # processes the rates were measured with, side by side (per step of the whole machine)

    def describe(self) -> str:
        parts = [f"{k} {v:.2f}" for k, v in self.gan_step_s.items()] + [f"classifier {self.classifier_step_s:.3f}"]
        side = f" with {self.workers} workers side by side" if self.workers > 1 else ""
        return f"seconds per step{side}: " + ", ".join(parts)


def side_by_side(per_worker_s: list[float]) -> float:
    """Seconds per step of the whole machine when each of W processes, running at once, measured its own
    seconds per step: W steps finish every mean(per_worker_s) seconds."""
    return sum(per_worker_s) / len(per_worker_s) ** 2


_timing: tuple = ()  # (train, val, device) in a timing worker process, set once by _timing_init


def _timing_init(train: ImageSet, val: ImageSet, device: str | None) -> None:
    global _timing
    torch.set_num_threads(1)  # one thread per process, as the study's workers run
    _timing = (train, val, device)


def _timed(job: tuple) -> float:
    """One worker's seconds per step of `cfg` (a Pool task beside the other workers' identical ones)."""
    kind, cfg = job
    train, val, device = _timing
    if kind == "gan":  # a worker trains a replicate's per-class pair, stacked where stacking pays
        return gan_step_seconds(cfg, train, device, k=2 if stacking_pays(device) else 1)
    return classifier_step_seconds(cfg, train, val, device)


def gan_step_seconds(cfg: GANConfig, train: ImageSet, device: str | None, steps: int = 20, k: int = 1) -> float:
    """Seconds per step of `cfg` and per model, from a short run in a scratch folder (after a few warm-up
    steps); with k > 1, of k models trained as one stack (xraygan.gan.stack), as a GPU study trains them."""
    short = dataclasses.replace(cfg, steps=steps, log_every=steps, sample_every=steps, ckpt_every=steps)
    warm = dataclasses.replace(short, steps=3, log_every=3, sample_every=3, ckpt_every=3)
    with tempfile.TemporaryDirectory() as tmp:
        for c, name in ((warm, "warm"), (short, "run")):
            t0 = time.perf_counter()
            if k == 1:
                train_gan(c, train, Path(tmp) / name, class_label=0, device=device, progress=False)
            else:
                jobs = [
                    (dataclasses.replace(c, seed=c.seed + i), train, Path(tmp) / f"{name}{i}", i % 2) for i in range(k)
                ]
                train_gan_stack(jobs, device, progress=False)
        return (time.perf_counter() - t0) / (steps * k)


def classifier_step_seconds(
    cfg: ClassifierConfig, train: ImageSet, val: ImageSet, device: str | None, k: int = 1
) -> float:
    """Seconds per classifier step and per model with its validation checks, from two evaluation intervals of
    training; with k > 1, of k models trained as one stack (xraygan.classifier_stack)."""
    steps = 2 * cfg.eval_every
    short = dataclasses.replace(cfg, steps=steps)
    t0 = time.perf_counter()
    if k == 1:
        train_classifier(short, train, val, device, progress=False)
    else:
        train_classifiers([dataclasses.replace(short, seed=i) for i in range(k)], [train] * k, val, device)
    return (time.perf_counter() - t0) / (steps * k)


def measure_rates(exp, train: ImageSet, val: ImageSet, device: str | None, gans: Collection[str] = ()) -> Rates:
    """The rates of this experiment's GAN and classifier configs on this machine (a minute at most), trained
    as the study will train them: one at a time, or on a GPU as stacks (a replicate's classifiers; both
    classes' GANs of the replicates, up to MAX_STACK), or with StudyConfig.workers > 1 as that many processes
    side by side (the rate of the whole machine, so the estimate counts the workers). `gans`: the GAN configs
    with steps left ("gan": the full split, "gan_subset"), the only ones timed."""
    st, w = exp.study, exp.study.workers
    stack = stacking_pays(device) and w == 1
    kg = min(MAX_STACK, 2 * max(st.subsets, st.replicates_full)) if stack else 1
    kc = len(st.conditions) if stack else 1
    # with workers: one pool of w processes (the data sent once), each timing the same config at once
    pool = mp.get_context("spawn").Pool(w, _timing_init, (train, val, device)) if w > 1 else None
    with pool or nullcontext():

        def rate(kind: str, cfg) -> float:
            if pool is not None:
                return side_by_side(pool.map(_timed, [(kind, cfg)] * w))
            if kind == "gan":
                return gan_step_seconds(cfg, train, device, k=kg)
            return classifier_step_seconds(cfg, train, val, device, k=kc)

        gan = {}
        if "gan" in gans:
            gan["gan"] = rate("gan", exp.gan)
        if "gan_subset" in gans:
            same = dataclasses.replace(
                exp.gan_subset, steps=exp.gan.steps, sample_every=exp.gan.sample_every, ckpt_every=exp.gan.ckpt_every
            )
            gan["gan_subset"] = gan["gan"] if same == exp.gan and "gan" in gan else rate("gan", exp.gan_subset)
        return Rates(gan, rate("classifier", exp.classifier), w)


def estimate_seconds(gan_steps: dict[str, int], classifier_steps: int, rates: Rates) -> float:
    """Seconds for the GAN steps still to train (per config name) and the classifier steps still to run."""
    return sum(n * rates.gan_step_s[k] for k, n in gan_steps.items()) + classifier_steps * rates.classifier_step_s


def progress_table(rows: pd.DataFrame, planned: dict[tuple[float, str], int]) -> pd.DataFrame:
    """Per (fraction, condition): models finished and planned."""
    done = rows.groupby(["fraction", "condition"]).size() if len(rows) else pd.Series(dtype=int)
    out = [
        {"fraction": f, "condition": c, "done": int(done.get((f, c), 0)), "planned": n} for (f, c), n in planned.items()
    ]
    return pd.DataFrame(out)


def write_progress(path: str | Path, table: pd.DataFrame, note: str) -> None:
    """PROGRESS.md: a line of context and the table of cells done and still to do."""
    done = int(table.done.sum()) if len(table) else 0
    planned = int(table.planned.sum()) if len(table) else 0
    text = [
        "# Progress",
        "",
        note,
        "",
        f"Models finished: {done} of {planned} ({planned - done} to do).",
        "",
        "| fraction | condition | done | planned |",
        "| ---: | --- | ---: | ---: |",
        *(f"| {r.fraction:g} | {r.condition} | {r.done} | {r.planned} |" for r in table.itertuples()),
        "",
    ]
    Path(path).write_text("\n".join(text))
