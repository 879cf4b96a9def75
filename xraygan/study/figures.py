"""Figures of the study (notebook 04), drawn from the results files; each is saved under figures/ and returned
for inline display."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.ticker import NullLocator
from sklearn.metrics import roc_curve

from xraygan.figures import save
from xraygan.info import CLASSES
from xraygan.study.analysis import learning_curve, probabilities_on_test
from xraygan.study.protocol import endpoint_label
from xraygan.study.thresholds import THRESHOLD_RULES


def _fraction_axis(ax, fractions: list[float]) -> None:
    """Log-scaled x axis labelled only at the study's fractions, in percent."""
    ax.set_xscale("log")
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xticks(fractions)
    ax.set_xticklabels([f"{f:.0%}" for f in fractions])
    ax.set_xlim(min(fractions) / 1.5, max(fractions) * 1.5)


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
            p = probabilities_on_test(r)
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
            xticklabels=list(CLASSES),
            yticklabels=list(CLASSES),
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


def plot_learning_curve(df: pd.DataFrame, endpoints: str | tuple[str, ...], name: str = "04_learning_curve") -> Figure:
    """The baseline's score against the number of real training images (replicate-level 95 % CI), one panel
    per endpoint (the protocol's, then those it also reads an exchange rate on), with every other condition
    placed at the real images it had (its added images are not counted on the x axis): a condition above the
    curve does what more real images would do."""
    endpoints = (endpoints,) if isinstance(endpoints, str) else tuple(endpoints)
    others = sorted(set(df.condition) - {"baseline"})
    pal = sns.color_palette("tab10", max(1, len(others)))
    fig, axes = plt.subplots(1, len(endpoints), figsize=(5.0 * len(endpoints) + 2.5, 4.5), squeeze=False)
    for ax, endpoint in zip(axes[0], endpoints):
        base = learning_curve(df, endpoint)
        ax.plot(base.n_real, base["mean"], "o-", color="k", lw=1.8, ms=4, label="baseline (real images only)")
        ax.fill_between(base.n_real, base.low, base.high, color="k", alpha=0.12)
        for k, (col, c) in enumerate(zip(pal, others)):
            d = learning_curve(df, endpoint, c)
            x = d.n_real * (1 + 0.05 * (k + 1 - len(others) / 2))  # dodge
            ax.errorbar(
                x,
                d["mean"],
                yerr=[d["mean"] - d.low, d.high - d["mean"]],
                fmt="s",
                color=col,
                ms=5,
                capsize=2,
                label=c,
            )
        ax.set_xscale("log")
        ax.xaxis.set_minor_locator(NullLocator())
        ax.set_xticks(base.n_real, [f"{n:,.0f}" for n in base.n_real])  # labelled at the curve's real images
        ax.set_xlabel("real training images (log scale)")
        ax.set_ylabel(endpoint_label(endpoint) + (" (%)" if "auc" not in endpoint else ""))
        ax.grid(alpha=0.3)
    fig.suptitle(
        "mean and 95 % CI over replicates (over seeds where a fraction has one); conditions at their real images",
        fontsize=9,
    )
    axes[0][-1].legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    return save(fig, name)


RULES_PER_ROW = 4  # panels per row of the threshold-rules figure


def plot_threshold_rules(rules: pd.DataFrame, name: str = "04_threshold_rules") -> Figure:
    """Test accuracy against the training fraction under each threshold rule (thresholds.THRESHOLD_RULES), one
    panel per condition that has a curve (more than one fraction; all conditions where none has), mean and 95 %
    CI over replicates: a rule whose line rises follows real data. At most RULES_PER_ROW panels a row, so a
    grid with many conditions stays readable at README width."""
    per = rules.groupby("condition").fraction.nunique()
    conditions = sorted(per.index[per > 1]) or sorted(per.index)
    ncol = min(len(conditions), RULES_PER_ROW)
    nrow = -(-len(conditions) // ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(5.2 * ncol + 2.0, 4.2 * nrow), squeeze=False, sharey=True)
    pal = dict(zip(THRESHOLD_RULES, sns.color_palette("Set1", len(THRESHOLD_RULES))))
    for ax in axes.flat[len(conditions) :]:
        ax.set_visible(False)
    for ax, c in zip(axes.flat, conditions):
        d = rules[rules.condition == c].sort_values("fraction")
        for rule, col in pal.items():
            ax.plot(d.fraction, d[rule], "o-", color=col, lw=1.6, ms=4, label=rule)
            ax.fill_between(d.fraction, d[f"{rule} low"], d[f"{rule} high"], color=col, alpha=0.12)
        _fraction_axis(ax, sorted(set(d.fraction)))
        ax.set_title(c, fontsize=10)
        ax.set_xlabel("fraction of the training split (real images)")
        ax.set_ylabel("test accuracy (%)")
        ax.grid(alpha=0.3)
    axes[0][-1].legend(title="threshold", fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    return save(fig, name)


VERDICT_COLOURS = {"helps": "tab:green", "unresolved": "tab:grey"}  # "does not reach +goal": tab:red


# How plot_verdict draws each comparison a verdict row carries: against the reference (filled circle), the
# count-matched control (hollow circle) and, for pretraining on synthetic images, its schedule control
# (pretraining on duplicated real images; hollow diamond).
VERDICT_MARKERS = {
    "vs baseline": ("o", None, "the reference"),
    "vs control": ("o", "white", "the count-matched control"),
    "vs schedule": ("D", "white", "pretraining on duplicated real images"),
}


def plot_verdict(
    verdict: pd.DataFrame, protocol, name: str = "04_verdict", notes: dict[tuple[float, str], str] | None = None
) -> Figure:
    """The protocol's comparisons as a forest plot: per fraction and condition, the endpoint's paired gain
    over each comparison the row carries (VERDICT_MARKERS: reference, count-matched control, schedule control)
    with replicate-level 95 % CIs, the band of ±goal points shaded, and the verdict of the rule written beside
    each row (with its note, e.g. that it is interim, from report.interim_notes)."""
    v = verdict.sort_values(["fraction", "condition"], ascending=[False, True]).reset_index(drop=True)
    fig, ax = plt.subplots(figsize=(8.5, 0.42 * len(v) + 1.6), layout="constrained")
    ax.axvspan(-protocol.goal, protocol.goal, color="0.92", zorder=0)
    ax.axvline(0, color="k", lw=0.8)
    drawn = [k for k in VERDICT_MARKERS if k in v and v[k].notna().any()]
    for i, r in v.iterrows():
        col = VERDICT_COLOURS.get(r.verdict, "tab:red")
        y = len(v) - 1 - i
        here = [k for k in drawn if not np.isnan(r[k])]
        for j, k in enumerate(here):  # the row's markers spread evenly around its tick
            marker, face, _ = VERDICT_MARKERS[k]
            ax.errorbar(
                r[k],
                y + 0.3 * ((len(here) - 1) / 2 - j),
                xerr=[[r[k] - r[f"{k} low"]], [r[f"{k} high"] - r[k]]],
                fmt=marker,
                mfc=face or col,
                color=col,
                ms=5 if marker == "o" else 4.5,
                capsize=2,
            )
        said = r.verdict + (notes or {}).get((r.fraction, r.condition), "").replace(" (", "\n(")
        ax.annotate(said, (1.01, y), xycoords=("axes fraction", "data"), va="center", fontsize=8, color=col)
    ax.set_yticks(range(len(v)))
    ax.set_yticklabels([f"{f:.0%}  {c} vs {ref}" for f, c, ref in zip(v.fraction, v.condition, v.reference)][::-1])
    ax.tick_params(axis="y", labelsize=8)
    ax.set_xlabel(f"paired gain in {endpoint_label(protocol.endpoint)} (points)")
    shapes = {"o": "circle", "D": "diamond"}
    key = "; ".join(
        f"{'filled' if face is None else 'hollow'} {shapes[marker]}: against {what}"
        for marker, face, what in (VERDICT_MARKERS[k] for k in drawn)
    )
    ax.set_title(  # the markers and the band are named here, not in a legend box that could hide an interval
        f"{key}\n95 % CI over replicates; grey band: ±{protocol.goal:g} points; an interval that ends left of "
        f"+{protocol.goal:g} rules out a {protocol.goal:g}-point gain",
        fontsize=9,
    )
    ax.grid(axis="x", alpha=0.3)
    return save(fig, name)


def _overlay(ax, image: np.ndarray, heat: np.ndarray, cmap: str, lim: tuple[float, float]):
    """`heat` over a grey `image`, opaque where |heat| is large and clear where it is near 0, so the anatomy
    stays readable under the map; returns a mappable for a colour bar."""
    norm = plt.Normalize(*lim)
    rgba = plt.get_cmap(cmap)(norm(heat))
    rgba[..., 3] = 0.8 * np.clip(np.abs(heat) / max(abs(lim[0]), abs(lim[1])), 0, 1)
    ax.imshow(image, cmap="gray")
    ax.imshow(rgba)
    return plt.cm.ScalarMappable(norm=norm, cmap=cmap)


def plot_attention(record: dict, name: str = "04_attention") -> Figure:
    """Mean Grad-CAM per class (columns) for each condition (rows) over the mean test image of that class, and
    a last row with the difference of the last condition minus the first (red: looks there more); `record` as
    study.attention.attention_record makes it. Each map is drawn more opaque where it is stronger, so weak
    attention leaves the radiograph visible."""
    maps = record["maps"]
    conds = list(maps)
    rows = len(conds) + (len(conds) > 1)
    fig, axes = plt.subplots(rows, len(CLASSES), figsize=(3.4 * len(CLASSES), 3.0 * rows), squeeze=False)
    for j, cls in enumerate(CLASSES):
        mean_image = record["mean_images"][j].numpy()
        for i, c in enumerate(conds):
            ax = axes[i, j]
            sm = _overlay(ax, mean_image, maps[c][j].numpy(), "inferno", (0.0, 1.0))
            ax.set_title(f"{c}: {cls} ({record['counts'][j]} test images)", fontsize=9)
            fig.colorbar(sm, ax=ax, fraction=0.046, label="Grad-CAM" if j == len(CLASSES) - 1 else None)
        if len(conds) > 1:
            diff = (maps[conds[-1]][j] - maps[conds[0]][j]).numpy()
            lim = max(float(np.abs(diff).max()), 1e-6)
            ax = axes[-1, j]
            sm = _overlay(ax, mean_image, diff, "RdBu_r", (-lim, lim))
            ax.set_title(f"{conds[-1]} minus {conds[0]}: {cls}", fontsize=9)
            fig.colorbar(sm, ax=ax, fraction=0.046)
    for ax in axes.flat:
        ax.set_axis_off()
    fig.suptitle("mean Grad-CAM over the test split, each image explained for its own class", fontsize=10)
    fig.tight_layout()
    return save(fig, name, photo=True)  # radiographs under the maps: JPEG inline
