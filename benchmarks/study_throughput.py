"""Study throughput on this machine: classifier models per hour, one at a time against K at once
(xraygan.classifier_stack), for the study's classifier recipe (on CPU also one at a time in channels-last
tensors and in bf16 autocast); and GAN image-steps per second, one at a time
against K stacked (xraygan.gan.stack), for the preset's GAN, beside the PyTorch DCGAN tutorial's loop at the
same widths (with --data). Prints tables; asserts nothing.

Usage:
    python benchmarks/study_throughput.py [--data DIR] [--preset cpu] [--steps 60] [--ks 1 4 8 16] \
        [--gan-steps 40] [--gan-ks 2 4 8 16] [--skip classifier|gan] [--no-amp] [--cudnn-benchmark] [--workers 2]
Without --data it uses the phantom set (timings depend on shapes, not on pixels) and skips the tutorial loop."""

from __future__ import annotations

import argparse
import dataclasses
import json
import multiprocessing as mp
import tempfile
import time
from pathlib import Path

import torch

from xraygan import build_experiment
from xraygan.classifier import train_classifier
from xraygan.classifier_stack import train_classifiers
from xraygan.config import DataConfig
from xraygan.data import load_splits
from xraygan.gan.stack import train_gan_stack
from xraygan.gan.training import train_gan


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=None, help="Kaggle-layout folder (default: the phantom set)")
    ap.add_argument("--preset", default="cpu")
    ap.add_argument("--steps", type=int, default=60, help="steps timed per run (rates scale to the preset's)")
    ap.add_argument("--ks", type=int, nargs="+", default=[1, 4, 8, 16])
    ap.add_argument("--gan-steps", type=int, default=40, help="GAN steps timed (after one warm-up log window)")
    ap.add_argument("--gan-ks", type=int, nargs="+", default=[2, 4, 8, 16])
    ap.add_argument("--skip", choices=["classifier", "gan"], default=None)
    ap.add_argument("--workers", type=int, nargs="*", default=[], help="CPU: also w processes side by side")
    ap.add_argument("--no-amp", action="store_true", help="CUDA: fp32 instead of bf16 autocast + channels_last")
    ap.add_argument("--cudnn-benchmark", action="store_true", help="CUDA: let cuDNN time its algorithms per shape")
    a = ap.parse_args()
    torch.backends.cudnn.benchmark = a.cudnn_benchmark
    data = DataConfig(root=a.data) if a.data else DataConfig(source="phantom", phantom_per_class=400)
    exp = build_experiment(a.preset, data=data)
    splits = load_splits(exp.data, progress=False)
    full = exp.classifier.steps
    cfg = dataclasses.replace(exp.classifier, steps=a.steps, eval_every=a.steps // 2, amp=not a.no_amp)
    dev = "cpu" if not torch.cuda.is_available() else "cuda"
    print(
        f"# device {dev}, {torch.get_num_threads()} threads, torch {torch.__version__}; preset {a.preset}: "
        f"{cfg.model} width {cfg.width}, batch {cfg.batch_size}, {splits.train.image_size} px; "
        f"{a.steps} steps timed, rates scaled to the preset's {full} steps; amp {cfg.amp}, "
        f"cudnn.benchmark {a.cudnn_benchmark}"
    )
    if a.skip != "classifier":
        classifiers(cfg, splits, dev, full, a)
    if a.skip != "gan":
        gans(exp, splits, dev, a)


def classifiers(cfg, splits, dev: str, full: int, a) -> None:
    # untimed warm-up (CUDA context, cuDNN's choices, allocator): else the first timed row pays for them
    train_classifier(dataclasses.replace(cfg, steps=20, eval_every=10), splits.train, splits.val, dev, progress=False)
    t0 = time.perf_counter()
    train_classifier(cfg, splits.train, splits.val, dev, progress=False)
    alone = time.perf_counter() - t0
    base = 3600 / (alone * full / a.steps)
    print("| models trained together (K) | s per model (timed steps) | models/hour | vs one at a time |")
    print("|---:|---:|---:|---:|")
    print(f"| one at a time | {alone:.2f} | {base:.0f} | 1.00x |")
    for k in a.ks:
        cfgs = [dataclasses.replace(cfg, seed=s) for s in range(k)]
        t0 = time.perf_counter()
        train_classifiers(cfgs, [splits.train] * k, splits.val, dev)
        per = (time.perf_counter() - t0) / k
        rate = 3600 / (per * full / a.steps)
        print(f"| {k} | {per:.2f} | {rate:.0f} | {rate / base:.2f}x |")
    for w in a.workers:  # side by side instead of stacked: w processes of one thread, one model each at a time
        with mp.get_context("spawn").Pool(w, _init, (a.data, a.preset)) as pool:
            pool.map(_train, [dataclasses.replace(cfg, steps=20, eval_every=10)] * w)  # untimed warm-up
            t0 = time.perf_counter()
            pool.map(_train, [dataclasses.replace(cfg, seed=s) for s in range(2 * w)])
            per = (time.perf_counter() - t0) / (2 * w)
        rate = 3600 / (per * full / a.steps)
        print(f"| {w} processes x 1 thread (StudyConfig.workers) | {per:.2f} | {rate:.0f} | {rate / base:.2f}x |")
    if dev == "cpu":  # one model at a time in other layouts and precisions (ClassifierConfig fields)
        for name, fields in (
            ("channels-last", {"channels_last": True}),
            ("bf16 autocast", {"cpu_bf16": True}),
            ("bf16 autocast, channels-last", {"cpu_bf16": True, "channels_last": True}),
        ):
            t0 = time.perf_counter()
            train_classifier(dataclasses.replace(cfg, **fields), splits.train, splits.val, dev, progress=False)
            per = time.perf_counter() - t0
            rate = 3600 / (per * full / a.steps)
            print(f"| one at a time, {name} | {per:.2f} | {rate:.0f} | {rate / base:.2f}x |")


_splits = None  # a worker process's data (set by _init)


def _init(data: str | None, preset: str) -> None:
    global _splits
    torch.set_num_threads(1)
    d = DataConfig(root=data) if data else DataConfig(source="phantom", phantom_per_class=400)
    _splits = load_splits(build_experiment(preset, data=d).data, progress=False)


def _train(cfg) -> None:
    assert _splits is not None
    train_classifier(cfg, _splits.train, _splits.val, "cpu", progress=False)


def _rate(runs: list[Path], batch: int) -> float:
    """Image-steps per second summed over the runs, between their first and last log lines."""
    m = [json.loads(x) for x in (runs[0] / "metrics.jsonl").read_text().splitlines()]
    return len(runs) * (m[-1]["step"] - m[0]["step"]) * batch / (m[-1]["seconds"] - m[0]["seconds"])


def gans(exp, splits, dev: str, a) -> None:
    """The preset's GAN at 100 %: one at a time, K stacked, and (with --data) the tutorial's loop."""
    log = max(5, a.gan_steps // 4)
    base = exp.gan_at(1.0)
    cfg = dataclasses.replace(
        base,
        steps=log + a.gan_steps,
        log_every=log,
        sample_every=log * 1000,
        ckpt_every=log * 1000,
        amp=not a.no_amp,
    )
    print(
        f"\n# GAN: preset {a.preset}, ngf {cfg.ngf}, ndf {cfg.ndf}, nz {cfg.nz}, batch {cfg.batch_size}, "
        f"{cfg.image_size} px, mbstd {cfg.mbstd}, pack {cfg.pack}, DiffAugment {cfg.diffaug_policy!r} "
        f"({cfg.diffaug}); {a.gan_steps} steps timed after {log} warm-up steps"
    )
    rows = []
    if a.data:
        from gan_throughput import tutorial_loop  # benchmarks/gan_throughput.py (scripts run from benchmarks/)

        tut = tutorial_loop(a.data, a.gan_steps, cfg.batch_size, cfg.ngf, cfg.ndf, cfg.nz, torch.device(dev), 2)
        rows.append(("PyTorch DCGAN tutorial loop (JPEG DataLoader)", tut))
    with tempfile.TemporaryDirectory() as d:
        alone = _rate([train_gan(cfg, splits.train, Path(d) / "alone", 0, dev, progress=False)], cfg.batch_size)
        rows.append(("xraygan, one at a time", alone))
        if dev == "cpu":  # one at a time in other layouts and precisions (GANConfig fields)
            for name, fields in (
                ("channels-last", {"channels_last": True}),
                ("channels-last, bf16 autocast", {"channels_last": True, "cpu_bf16": True}),
            ):
                fast = dataclasses.replace(cfg, **fields)
                run = train_gan(fast, splits.train, Path(d) / name, 0, dev, progress=False)
                rows.append((f"xraygan, one at a time, {name}", _rate([run], cfg.batch_size)))
        for k in a.gan_ks:
            jobs = [(dataclasses.replace(cfg, seed=s), splits.train, Path(d) / f"k{k}_{s}", s % 2) for s in range(k)]
            rows.append((f"xraygan, {k} stacked", _rate(train_gan_stack(jobs, dev, progress=False), cfg.batch_size)))
    ref = rows[0][1]
    print(f"| GAN loop | image-steps/s (summed over models) | vs {rows[0][0].split(' (')[0]} |")
    print("|---|---:|---:|")
    for name, r in rows:
        print(f"| {name} | {r:.0f} | {r / ref:.2f}x |")


if __name__ == "__main__":
    main()
