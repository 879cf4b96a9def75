"""Classifier recipes for the study's baseline, judged on the validation split only: per recipe, fraction and
seed, one classifier trained on a stratified fraction of the training split and selected on validation (all of
it, or the fraction-scaled part the study uses), with its validation metrics and seconds. Rows are appended to
a CSV as they finish; a rerun skips rows already there.

    python benchmarks/classifier_recipes.py --data ../chest_xray_224 --fractions 1 --seeds 0 1 2 \
        --recipes plan_loss w16_ema_aug --csv benchmarks/classifier_recipes_gpu.csv

The rule that picks a recipe from such a table (`--choose CSV`, written down before the screen it judges):
the lowest mean validation log-loss over seeds at 100 % of the training split, on the whole validation split;
recipes within TIE of the lowest count as tied, and the tie goes to the one listed first in RECIPES (they are
listed cheapest first on 2 cores). The test split plays no part in it.

`--test` also reads the test split once per trained model (the baseline's learning curve of a recipe already
chosen): test metrics at 0.5 and at the validation threshold join the row. The recipe chosen becomes the
`classifier` config of the preset that uses it."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import pandas as pd
from csv_rows import append, finished  # benchmarks/csv_rows.py (scripts run from benchmarks/)

from xraygan.classifier import GuardedTest, evaluate_test, predict, train_classifier, validation_score
from xraygan.config import ClassifierConfig, DataConfig, StudyConfig
from xraygan.data import load_splits
from xraygan.data.splits import fraction_subset
from xraygan.device import pick_device
from xraygan.metrics import binary_metrics
from xraygan.study.run import validation_at

TIE = 0.01  # validation log-loss: recipes closer than this to the lowest count as tied

# name -> ClassifierConfig fields (SimpleCNN unless `model`), plus `image_size` (64 px unless given). Listed
# cheapest first on the 2-core machine (seconds per step, batch 64, measured 2026-11-26: SimpleCNN width 8
# 0.09, 16 0.20, 32 0.68; ResNet-18 0.35; width 16 at 128 px 1.2) times steps: the rule's tie-break.
_EMA_AUG = {"augment": True, "ema_decay": 0.99, "select_on": "loss", "eval_every": 100}
RECIPES: dict[str, dict] = {
    "plan": {"width": 8, "steps": 400, "eval_every": 50},  # the cpu preset's classifier
    "plan_loss": {"width": 8, "steps": 400, "eval_every": 50, "select_on": "loss"},  # the pilot/paper one
    "w8_ema_cw": {"width": 8, "steps": 800, "eval_every": 100, "class_weighted": True, "ema_decay": 0.99},
    "w8_ema_aug_cw": {**_EMA_AUG, "width": 8, "steps": 800, "class_weighted": True, "select_on": "auc"},
    "w8_ema_aug_1200": {**_EMA_AUG, "width": 8, "steps": 1200},
    "w16_ema_aug_1200": {**_EMA_AUG, "width": 16, "steps": 1200},
    # the same recipe (the study's STUDY_CLASSIFIER) with bf16 autocast and channels-last on CPU: about 1.7x
    # faster steps on 2 cores; screened against it on validation before any grid uses it
    "w16_ema_aug_1200_bf16": {**_EMA_AUG, "width": 16, "steps": 1200, "cpu_bf16": True, "channels_last": True},
    "w16_ema_aug_cw_1200": {**_EMA_AUG, "width": 16, "steps": 1200, "class_weighted": True},
    "w16_ema_aug_cw": {**_EMA_AUG, "width": 16, "steps": 800, "class_weighted": True, "select_on": "auc"},
    "w16_ema_aug_2400": {**_EMA_AUG, "width": 16, "steps": 2400},
    "w32_1500": {"width": 32, "steps": 1500, "eval_every": 100},  # the colab preset's classifier
    "w32_ema_aug_1500": {**_EMA_AUG, "width": 32, "steps": 1500},
    "resnet18_ema_aug_1500": {**_EMA_AUG, "model": "resnet18", "steps": 1500},
    "w64_ema_aug_2000": {**_EMA_AUG, "width": 64, "steps": 2000},
    "w32_ema_aug_1500_128px": {**_EMA_AUG, "width": 32, "steps": 1500, "image_size": 128},
}


def choose(rows: pd.DataFrame, tie: float = TIE) -> str:
    """The recipe the module docstring's rule picks from screen rows (recipe, fraction, val_all_loss)."""
    full = rows[rows.fraction == 1.0]
    if full.empty:
        raise ValueError("choose: no rows at fraction 1 (the rule judges recipes on the full training split)")
    seeds = full.groupby("recipe").seed.nunique()
    complete = seeds[seeds == seeds.max()].index  # a recipe stopped before its last seed is not judged
    loss = full[full.recipe.isin(complete)].groupby("recipe").val_all_loss.mean()
    tied = [r for r in RECIPES if r in loss.index and loss[r] <= loss.min() + tie]
    return tied[0]


def summary(rows: pd.DataFrame) -> str:
    """Markdown table of a CSV of this script: mean and SD over seeds per recipe and fraction (validation,
    and test where the rows have it), in points."""
    cols = ["val_all_loss", "val_all_auc", "val_all_balanced_accuracy@t", "best_step", "seconds"]
    cols += [c for c in ("test_accuracy@t", "test_balanced_accuracy@t", "test_auc@t", "test_accuracy") if c in rows]
    g = rows.groupby(["recipe", "fraction"], sort=False)
    lines = ["| recipe | fraction | n | " + " | ".join(cols) + " |", "|---|---:|---:|" + "---:|" * len(cols)]
    for (recipe, f), d in g:
        cells = []
        for c in cols:
            scale = 100 if c.startswith(("test_acc", "test_bal", "val_all_bal")) else 1
            m, sd = d[c].mean() * scale, d[c].std() * scale
            cells.append(f"{m:.0f}" if c in ("best_step", "seconds") else f"{m:.4g} ± {sd:.2g}")
        lines.append(f"| {recipe} | {f:g} | {len(d)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", help="the Kaggle chest X-ray folder (required unless --choose)")
    ap.add_argument("--fractions", type=float, nargs="+", default=[0.05, 1.0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--recipes", nargs="+", default=list(RECIPES), choices=list(RECIPES))
    ap.add_argument("--val-scaled", action="store_true", help="select on the fraction-scaled validation part")
    ap.add_argument("--test", action="store_true", help="also read the test split once per model")
    ap.add_argument("--choose", metavar="CSV", help="print the recipe the rule picks from a screen CSV and stop")
    ap.add_argument("--summary", metavar="CSV", help="print a CSV's mean ± SD table and stop")
    ap.add_argument("--csv", default="benchmarks/classifier_recipes.csv")
    ap.add_argument("--device", default=None)
    a = ap.parse_args()
    if a.choose:
        print(choose(pd.read_csv(a.choose)))
        return
    if a.summary:
        print(summary(pd.read_csv(a.summary)))
        return
    if not a.data:
        ap.error("--data is required")

    out = Path(a.csv)
    done = finished(out)
    dev = pick_device(a.device)
    study = StudyConfig(val_scaled=a.val_scaled)  # model selection sees what the study's would
    for size in sorted({RECIPES[r].get("image_size", 64) for r in a.recipes}):
        splits = load_splits(DataConfig(root=a.data, image_size=size))
        for f in a.fractions:
            for seed in a.seeds:
                train = fraction_subset(splits.train, f, seed)
                val = validation_at(study, splits, f, seed)
                for name in a.recipes:
                    fields = dict(RECIPES[name])
                    if fields.pop("image_size", 64) != size or (name, f, seed) in done:
                        continue
                    cfg = ClassifierConfig(**fields, seed=seed)
                    t0 = time.time()
                    tc = train_classifier(cfg, train, val, a.device, progress=False)
                    p = predict(tc.model, splits.val, dev)
                    y = splits.val.labels.numpy()
                    full = binary_metrics(y, p, tc.threshold)  # on all validation images
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
                        "val_all_loss": round(validation_score(y, p, "loss")[0]["val_loss"], 5),
                        "seconds": round(time.time() - t0, 1),
                        "device": dev.type,
                    }
                    if a.test:
                        m = evaluate_test(tc, GuardedTest(splits.test), a.device)
                        for k in ("accuracy", "balanced_accuracy", "auc", "sensitivity", "specificity"):
                            row[f"test_{k}@t"] = round(m[f"test_{k}@t"], 4)
                        row["test_accuracy"] = round(m["test_accuracy"], 4)
                        row["test_logits"] = json.dumps(m["test_logits"])
                    print(json.dumps({k: v for k, v in row.items() if k != "test_logits"}), flush=True)
                    append(out, row)


if __name__ == "__main__":
    main()
