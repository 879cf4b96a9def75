"""Study throughput on this machine: classifier models per hour, one at a time against K at once
(xraygan.classifier_stack), for the study's classifier recipe. Prints one table; asserts nothing.

Usage:
    python benchmarks/study_throughput.py [--data DIR] [--preset cpu] [--steps 60] [--ks 1 4 8 16]
Without --data it uses the phantom set (timings depend on shapes, not on pixels)."""

from __future__ import annotations

import argparse
import dataclasses
import time

import torch

from xraygan import build_experiment
from xraygan.classifier import train_classifier
from xraygan.classifier_stack import train_classifiers
from xraygan.config import DataConfig
from xraygan.data import load_splits


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=None, help="Kaggle-layout folder (default: the phantom set)")
    ap.add_argument("--preset", default="cpu")
    ap.add_argument("--steps", type=int, default=60, help="steps timed per run (rates scale to the preset's)")
    ap.add_argument("--ks", type=int, nargs="+", default=[1, 4, 8, 16])
    a = ap.parse_args()
    data = DataConfig(root=a.data) if a.data else DataConfig(source="phantom", phantom_per_class=400)
    exp = build_experiment(a.preset, data=data)
    splits = load_splits(exp.data, progress=False)
    full = exp.classifier.steps
    cfg = dataclasses.replace(exp.classifier, steps=a.steps, eval_every=a.steps // 2)
    dev = "cpu" if not torch.cuda.is_available() else "cuda"
    print(
        f"# device {dev}, {torch.get_num_threads()} threads, torch {torch.__version__}; preset {a.preset}: "
        f"{cfg.model} width {cfg.width}, batch {cfg.batch_size}, {splits.train.image_size} px; "
        f"{a.steps} steps timed, rates scaled to the preset's {full} steps"
    )
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


if __name__ == "__main__":
    main()
