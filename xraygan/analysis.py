"""Tables and figures of the study, made from the results files (runs.jsonl / runs.csv)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.ticker import NullLocator
from sklearn.metrics import roc_curve

from xraygan.conditions import parse_condition
from xraygan.figures import save
from xraygan.stats import mean_ci, paired_difference, seeds_needed

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


def _fraction_axis(ax, fractions: list[float]) -> None:
    """Log-scaled x axis labelled only at the study's fractions, in percent."""
    ax.set_xscale("log")
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xticks(fractions)
    ax.set_xticklabels([f"{f:.0%}" for f in fractions])
    ax.set_xlim(min(fractions) / 1.5, max(fractions) * 1.5)


def plot_metric_vs_fraction(
    df: pd.DataFrame,
    metric: str = "test_balanced_accuracy",
    name: str = "04_metric",
    conditions: list[str] | None = None,
) -> Figure:
    """Mean and 95 % CI band of a metric against the training fraction, one line per condition."""
    t = summary_table(df, (metric,))
    conditions = conditions or sorted(set(t.condition))
    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    pal = sns.color_palette("tab10", len(conditions))
    for col, c in zip(pal, conditions):
        d = t[t.condition == c].sort_values("fraction")
        ax.plot(d.fraction, d[metric], "o-", color=col, label=c, lw=1.6, ms=4)
        ax.fill_between(d.fraction, d[f"{metric} low"], d[f"{metric} high"], color=col, alpha=0.12)
    _fraction_axis(ax, sorted(set(t.fraction)))
    ax.set_xlabel("fraction of the training split (real images)")
    ax.set_ylabel(metric.replace("test_", "test ").replace("_", " ") + (" (%)" if "auc" not in metric else ""))
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.grid(alpha=0.3)
    return save(fig, name)


def plot_gains(paired: pd.DataFrame, metric: str = "test_balanced_accuracy", name: str = "04_gains") -> Figure:
    """Paired gain of each augmenting condition over the baseline and over its duplicate-real control."""
    fig, axes = plt.subplots(1, 2, figsize=(13, 5.5), sharey=True, layout="constrained")
    every = sorted(set(paired.condition))
    color = dict(zip(every, sns.color_palette("tab10", len(every))))  # one colour per condition in both panels
    for ax, versus in zip(axes, ("baseline", "dup_real")):
        d = paired[paired.versus.str.startswith(versus)]
        conds = sorted(set(d.condition))
        for k, c in enumerate(conds):
            col = color[c]
            e = d[d.condition == c].sort_values("fraction")
            x = e.fraction * (1 + 0.04 * (k - len(conds) / 2))  # dodge
            ax.errorbar(
                x,
                e[f"{metric} diff"],
                yerr=[e[f"{metric} diff"] - e[f"{metric} low"], e[f"{metric} high"] - e[f"{metric} diff"]],
                fmt="o-",
                color=col,
                label=c,
                capsize=2,
                ms=4,
                lw=1.2,
            )
        ax.axhline(0, color="k", lw=0.8)
        ax.axhline(3, color="r", lw=0.8, ls="--", label="+3 points goal")
        _fraction_axis(ax, sorted(set(paired.fraction)))
        ax.set_title(f"gain over {'the baseline' if versus == 'baseline' else 'the duplicate-real control'}")
        ax.set_xlabel("fraction of the training split")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=3)
    axes[0].set_ylabel(f"paired difference, {metric.replace('test_', '').replace('_', ' ')} (points)")
    return save(fig, name)


def plot_roc_confusion(
    rows: pd.DataFrame, y_test: np.ndarray, fraction: float, conditions: list[str], name: str = "04_roc_confusion"
) -> Figure:
    """ROC curves (every seed, thin) and the confusion matrix summed over seeds at the validation threshold."""
    fig, axes = plt.subplots(1, 1 + len(conditions), figsize=(4.2 * (1 + len(conditions)), 4))
    pal = sns.color_palette("tab10", len(conditions))
    for col, c, ax in zip(pal, conditions, axes[1:]):
        d = rows[(rows.fraction == fraction) & (rows.condition == c)]
        cm = np.zeros((2, 2), int)
        for k, (_, r) in enumerate(d.iterrows()):
            p = np.asarray(r.test_probs)
            fpr, tpr, _thr = roc_curve(y_test, p)
            axes[0].plot(fpr, tpr, color=col, alpha=0.35, lw=0.8, label=c if k == 0 else None)
            pred = (p >= r.threshold).astype(int)
            for yt in (0, 1):
                for yp in (0, 1):
                    cm[yt, yp] += int(((y_test == yt) & (pred == yp)).sum())
        sns.heatmap(
            cm / max(1, len(d)),
            annot=True,
            fmt=".0f",
            cmap="Blues",
            cbar=False,
            ax=ax,
            xticklabels=["NORMAL", "PNEUMONIA"],
            yticklabels=["NORMAL", "PNEUMONIA"],
        )
        ax.set_title(f"{c} @ {fraction:.0%}\n(mean over {len(d)} seeds, val threshold)")
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
    axes[0].plot([0, 1], [0, 1], "k:", lw=0.8)
    axes[0].set_xlabel("false positive rate")
    axes[0].set_ylabel("true positive rate")
    axes[0].set_title(f"test ROC, every seed, {fraction:.0%} of train")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    return save(fig, name)


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


def plot_val_vs_test(df: pd.DataFrame, name: str = "04_val_vs_test") -> Figure:
    """Validation AUC (patient split of train) against test AUC for every model: the distribution shift."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    axes[0].scatter(df.val_auc, df.test_auc, s=8, alpha=0.5)
    lo = min(df.val_auc.min(), df.test_auc.min())
    axes[0].plot([lo, 1], [lo, 1], "k:", lw=0.8)
    axes[0].set_xlabel("validation AUC (from train, by patient)")
    axes[0].set_ylabel("test AUC")
    axes[0].set_title("every trained model")
    d = df.melt(
        id_vars=["condition"],
        value_vars=["val_specificity@t", "test_specificity@t", "val_sensitivity@t", "test_sensitivity@t"],
    )
    sns.boxplot(d, x="variable", y="value", ax=axes[1], fliersize=2)
    axes[1].set_xlabel("")
    axes[1].tick_params(axis="x", labelsize=8)
    axes[1].set_title("at the validation-chosen threshold")
    fig.tight_layout()
    return save(fig, name)
