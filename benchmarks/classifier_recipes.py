"""Classifier recipes for the study's baseline, judged on the validation split only (the test split is not
loaded): per recipe, fraction and seed, one classifier trained on a stratified fraction of the training split
and selected on validation (all of it, or the fraction-scaled part the study uses), with its validation
metrics and seconds. Rows are appended to a CSV as they finish; a rerun skips rows already there.

    python benchmarks/classifier_recipes.py --data ../chest_xray_224 --fractions 0.05 1 --seeds 0 1 2 \
        --recipes plan w8_ema_aug_cw --csv benchmarks/classifier_recipes_cpu.csv

The recipe chosen from it is the `classifier` config of the preset that uses it."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from csv_rows import append, finished  # benchmarks/csv_rows.py (scripts run from benchmarks/)

from xraygan.classifier import predict, train_classifier
from xraygan.config import ClassifierConfig
from xraygan.data import load_splits
from xraygan.data.splits import fraction_subset
from xraygan.device import pick_device
from xraygan.experiment import build_experiment
from xraygan.metrics import binary_metrics

# name -> ClassifierConfig fields (64 px, SimpleCNN)
RECIPES: dict[str, dict] = {
    "plan": {"width": 8, "steps": 400, "eval_every": 50},  # the cpu preset before this benchmark
    "w8_ema_aug_cw": {
        "width": 8,
        "steps": 800,
        "eval_every": 100,
        "augment": True,
        "class_weighted": True,
        "ema_decay": 0.99,
    },
    "w8_ema_cw": {"width": 8, "steps": 800, "eval_every": 100, "class_weighted": True, "ema_decay": 0.99},
    "w16_ema_aug_cw": {
        "width": 16,
        "steps": 800,
        "eval_every": 100,
        "augment": True,
        "class_weighted": True,
        "ema_decay": 0.99,
    },
    "w32_1500": {"width": 32, "steps": 1500, "eval_every": 100},  # the colab preset's classifier
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", required=True)
    ap.add_argument("--fractions", type=float, nargs="+", default=[0.05, 1.0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--recipes", nargs="+", default=list(RECIPES), choices=list(RECIPES))
    ap.add_argument("--val-scaled", action="store_true", help="select on the fraction-scaled validation part")
    ap.add_argument("--csv", default="benchmarks/classifier_recipes.csv")
    ap.add_argument("--device", default=None)
    a = ap.parse_args()

    exp = build_experiment("cpu", data={"root": a.data}, study={"val_scaled": a.val_scaled})
    splits = load_splits(exp.data)
    out = Path(a.csv)
    done = finished(out)
    for f in a.fractions:
        for seed in a.seeds:
            train = fraction_subset(splits.train, f, seed)
            val = fraction_subset(splits.val, f, seed, exp.study.val_min_per_class) if a.val_scaled else splits.val
            for name in a.recipes:
                if (name, f, seed) in done:
                    continue
                cfg = ClassifierConfig(**RECIPES[name], seed=seed)
                t0 = time.time()
                tc = train_classifier(cfg, train, val, a.device, progress=False)
                p = predict(tc.model, splits.val, pick_device(a.device))
                full = binary_metrics(splits.val.labels.numpy(), p, tc.threshold)  # on all validation images
                row = {
                    "recipe": name,
                    "fraction": f,
                    "seed": seed,
                    "n_train": len(train),
                    "n_val_selection": len(val),
                    "best_step": tc.best_step,
                    "val_auc": round(tc.val["val_auc"], 4),
                    "val_balanced_accuracy@t": round(tc.val["val_balanced_accuracy@t"], 4),
                    "val_all_auc": round(full["auc"], 4),
                    "val_all_balanced_accuracy@t": round(full["balanced_accuracy"], 4),
                    "seconds": round(time.time() - t0, 1),
                }
                print(json.dumps(row), flush=True)
                append(out, row)


if __name__ == "__main__":
    main()
