"""Test accuracy under the threshold rules the protocol compares (the threshold pilot): per model, per
fraction and condition, and its rise with real data. Read from each row's stored validation and test logits."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import ttest_ind

from xraygan.metrics import plateau_midpoint
from xraygan.study.stats import mean_ci

THRESHOLD_RULES = {
    "validation-chosen": "the protocol's: the lowest threshold that maximises validation balanced accuracy",
    "validation midpoint": "the midpoint, in logits, of the run of thresholds that maximise it",
    "0.5": "0.5, nothing chosen (after class-weighted training: equal class priors)",
}


def rule_scores(df: pd.DataFrame, test: dict, val: dict[tuple[float, int], list[int]]) -> pd.DataFrame:
    """Per result row (fraction, condition, subset): its test accuracy (%) under each threshold rule of
    THRESHOLD_RULES. The validation-chosen threshold and 0.5 are the row's own test_accuracy@t and
    test_accuracy; the midpoint is read from its stored validation logits, with the validation labels each
    replicate selected on (`val`: {(fraction, subset): labels}, run.read_val_split), and applied to its test
    logits (NaN without them)."""
    y_test = np.asarray(test["labels"])
    out = []
    for _, r in df.iterrows():
        y_val, z_val = val.get((float(r.fraction), int(r.subset))), r.get("val_logits")
        mid = float("nan")
        if y_val is not None and isinstance(z_val, list) and len(z_val) == len(y_val):
            cut = plateau_midpoint(np.asarray(y_val), np.asarray(z_val, dtype=np.float64))
            mid = float(100 * ((np.asarray(r["test_logits"]) >= cut) == y_test).mean())
        acc = {
            "validation-chosen": 100 * r["test_accuracy@t"],
            "validation midpoint": mid,
            "0.5": 100 * r["test_accuracy"],
        }
        out.append({"fraction": r.fraction, "condition": r.condition, "subset": r.subset, **acc})
    return pd.DataFrame(out)


def threshold_rules_table(scores: pd.DataFrame) -> pd.DataFrame:
    """Per fraction and condition: test accuracy under each threshold rule, mean and 95 % CI over replicate
    means (rule_scores' rows), the interval clipped to 0-100 % as the learning curve's."""
    rows = []
    for (f, c), g in scores.groupby(["fraction", "condition"]):
        by_rep = g.groupby("subset")[list(THRESHOLD_RULES)].mean()
        row = {"fraction": f, "condition": c, "replicates": len(by_rep)}
        for rule in THRESHOLD_RULES:
            mean, lo, hi = mean_ci(by_rep[rule].to_numpy())
            row[rule], row[f"{rule} low"], row[f"{rule} high"] = mean, max(lo, 0.0), min(hi, 100.0)
        rows.append(row)
    return pd.DataFrame(rows)


def rise_table(scores: pd.DataFrame, start: float = 0.1, end: float = 1.0) -> pd.DataFrame:
    """Per condition and threshold rule: how much test accuracy rises from `start` to `end` of the training
    split (difference of replicate means, Welch 95 % interval): a rule follows real data where the interval
    is above 0 (the threshold pilot's reading)."""
    out = []
    for c, g in scores.groupby("condition"):
        reps = {f: g[g.fraction == f].groupby("subset")[list(THRESHOLD_RULES)].mean() for f in (start, end)}
        for rule in THRESHOLD_RULES:
            a, b = reps[end][rule].dropna().to_numpy(), reps[start][rule].dropna().to_numpy()
            if len(a) < 2 or len(b) < 2:
                continue
            row = {"condition": c, "rule": rule, "from": start, "to": end, "rise": a.mean() - b.mean()}
            if np.ptp(a) == 0 and np.ptp(b) == 0:  # no spread on either side: no interval
                out.append({**row, "low": np.nan, "high": np.nan})
                continue
            ci = ttest_ind(a, b, equal_var=False).confidence_interval(0.95)
            out.append({**row, "low": float(ci.low), "high": float(ci.high)})
    return pd.DataFrame(out)
