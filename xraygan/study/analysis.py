"""Tables of the study (summary, paired differences, the answer, power), made from the results files."""

from __future__ import annotations

import numpy as np
import pandas as pd

from xraygan.study.conditions import parse_condition
from xraygan.study.protocol import PROTOCOL, Protocol
from xraygan.study.stats import cluster_difference, mean_ci, paired_difference, seeds_needed

METRICS = (
    "test_accuracy",
    "test_balanced_accuracy",
    "test_auc",
    "test_sensitivity",
    "test_specificity",
    "test_f1",
    "test_accuracy@t",
    "test_balanced_accuracy@t",
    "val_auc",
)


def summary_table(df: pd.DataFrame, metrics: tuple[str, ...] = METRICS) -> pd.DataFrame:
    """Per (fraction, condition): runs, and mean [95 % CI] of each metric (in %, AUC as is)."""
    rows = []
    for (f, c), g in df.groupby(["fraction", "condition"], sort=True):
        row = {"fraction": f, "condition": c, "runs": len(g)}
        for m in metrics:
            scale = 1 if "auc" in m else 100
            mean, lo, hi = mean_ci(g[m] * scale)
            row[m] = mean
            row[f"{m} low"], row[f"{m} high"] = lo, hi
        rows.append(row)
    return pd.DataFrame(rows)


def control_of(condition: str) -> str | None:
    """The duplicate-real control that adds the same number of images as a GAN condition."""
    c = parse_condition(condition)
    if c.kind == "gan":
        return f"dup_real_{c.ratio}"
    if c.kind == "pretrain":
        return "dup_real_100"
    return None


def paired_table(
    df: pd.DataFrame,
    metrics: tuple[str, ...] = (
        "test_accuracy",
        "test_balanced_accuracy",
        "test_auc",
        "test_accuracy@t",
        "test_balanced_accuracy@t",
    ),
) -> pd.DataFrame:
    """Paired differences (same fraction, seed and subset) of every condition against the baseline, and of
    every GAN condition against its duplicate-real control: mean, bootstrap 95 % CI, Wilcoxon p."""
    rows = []
    conds = sorted(set(df.condition))
    for f, g in df.groupby("fraction"):
        piv = {m: g.pivot_table(index="seed", columns="condition", values=m) for m in metrics}
        for c in conds:
            for ref in ("baseline", control_of(c)):
                if ref is None or ref == c or ref not in piv[metrics[0]] or c not in piv[metrics[0]]:
                    continue
                row = {"fraction": f, "condition": c, "versus": ref}
                for m in metrics:
                    scale = 1 if "auc" in m else 100
                    both = piv[m][[c, ref]].dropna()
                    d = paired_difference(both[c] * scale, both[ref] * scale)
                    row.update(
                        {
                            f"{m} diff": d["mean"],
                            f"{m} low": d["low"],
                            f"{m} high": d["high"],
                            f"{m} p": d["p_wilcoxon"],
                            f"{m} sd": d["sd"],
                            "pairs": d["n"],
                        }
                    )
                rows.append(row)
    return pd.DataFrame(rows)


def answer_table(paired: pd.DataFrame, goal: float = 3.0) -> pd.DataFrame:
    """For each GAN condition and fraction: the gain in accuracy (at 0.5 and at the validation-chosen
    threshold) and balanced accuracy over the baseline and over the duplicate-real control, and whether the
    +3-point goal is met (CI low >= goal: yes; mean >= goal but CI includes less: unclear; else no)."""

    def verdict(mean: float, low: float) -> str:
        if np.isnan(mean):
            return "n/a"
        return "yes" if low >= goal else ("unclear" if mean >= goal else "no")

    rows = []
    gan = paired[paired.condition.map(lambda c: parse_condition(c).kind in ("gan", "pretrain"))]
    for (f, c), g in gan.groupby(["fraction", "condition"]):
        row = {"fraction": f, "condition": c}
        for _, r in g.iterrows():
            tag = "vs baseline" if r.versus == "baseline" else "vs dup-real"
            for m, short in (
                ("test_accuracy", "acc"),
                ("test_balanced_accuracy", "bal acc"),
                ("test_accuracy@t", "acc@val-threshold"),
            ):
                row[f"{short} {tag}"] = f"{r[f'{m} diff']:+.1f} [{r[f'{m} low']:+.1f}, {r[f'{m} high']:+.1f}]"
                if tag == "vs baseline":
                    row[f"+{goal:g} pts {short}?"] = verdict(r[f"{m} diff"], r[f"{m} low"])
        rows.append(row)
    return pd.DataFrame(rows)


def verdict_table(df: pd.DataFrame, protocol: Protocol = PROTOCOL) -> pd.DataFrame:
    """The answer by the protocol: per fraction and augmenting condition, the endpoint's paired gain over the
    baseline and over the count-matched control (mean and replicate-level CI: runs that share a training
    subset and its GANs count as one replicate), the number of replicates, and the verdict of the rule."""
    m = protocol.endpoint
    scale = 1 if "auc" in m else 100
    rows = []
    for f, g in df.groupby("fraction"):
        piv = g.pivot_table(index="seed", columns="condition", values=m) * scale
        rep = g.drop_duplicates("seed").set_index("seed")[protocol.replicate_column]
        for c in sorted(set(g.condition) - {"baseline"}):
            if parse_condition(c).kind not in ("gan", "pretrain", "dup_real", "classic_aug", "class_weighted"):
                continue
            row = {"fraction": f, "condition": c, "endpoint": m}
            found = {}
            for tag, ref in (("vs baseline", "baseline"), ("vs control", control_of(c))):
                if ref is None or ref not in piv or c not in piv:
                    continue
                both = piv[[c, ref]].dropna()
                d = cluster_difference(both[c] - both[ref], rep.loc[both.index].to_numpy(), protocol.level)
                found[tag] = (d["mean"], d["low"], d["high"])
                row[f"{tag}"] = d["mean"]
                row[f"{tag} low"], row[f"{tag} high"] = d["low"], d["high"]
                row[f"{tag} replicates"] = d["clusters"]
            if "vs baseline" not in found:
                continue
            row["verdict"] = protocol.verdict(found["vs baseline"], found.get("vs control"))
            rows.append(row)
    return pd.DataFrame(rows)


def power_table(
    paired: pd.DataFrame,
    goal: float = 3.0,
    metrics: tuple[str, ...] = ("test_accuracy", "test_balanced_accuracy"),
) -> pd.DataFrame:
    """Per fraction: the median SD of the paired differences against the baseline and the seeds a paired
    test needs to detect a `goal`-point gain with 80 % power at alpha 0.05 (stats.seeds_needed)."""
    vs = paired[paired.versus == "baseline"].groupby("fraction")
    out = {}
    for m in metrics:
        sd = vs[f"{m} sd"].median()
        out[f"{m}: median paired SD"] = sd
        out[f"{m}: seeds for {goal:g} points"] = sd.map(lambda s: seeds_needed(s, goal))
    return pd.DataFrame(out)


def pivot_ci(summary: pd.DataFrame, metric: str = "test_balanced_accuracy") -> pd.DataFrame:
    """fraction x condition table of 'mean [low, high]' strings for one metric."""
    fmt = "{:.3f} [{:.3f}, {:.3f}]" if "auc" in metric else "{:.1f} [{:.1f}, {:.1f}]"
    s = summary.assign(
        cell=[
            fmt.format(m, lo, hi)
            for m, lo, hi in zip(summary[metric], summary[f"{metric} low"], summary[f"{metric} high"])
        ]
    )
    return s.pivot(index="condition", columns="fraction", values="cell")
