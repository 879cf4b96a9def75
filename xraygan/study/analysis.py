"""Tables of the study (summary, paired differences, the answer, power), made from the results files."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy.special import expit

from xraygan.study.conditions import parse_condition
from xraygan.study.protocol import PROTOCOL, Protocol
from xraygan.study.stats import (
    cluster_difference,
    mean_ci,
    paired_difference,
    patient_bootstrap_interval,
    seeds_needed,
)
from xraygan.study.thresholds import rise_table, rule_scores, threshold_rules_table


def probabilities_on_test(row) -> np.ndarray:
    """P(PNEUMONIA) on the test split for one result row: from its logits (rows since logits are stored), or
    the 3-decimal probabilities of older rows."""
    logits = row.get("test_logits")  # a dict or a DataFrame row; NaN where a frame mixes old and new rows
    if logits is not None and not (isinstance(logits, float) and np.isnan(logits)):
        return expit(np.asarray(logits, dtype=np.float64))
    return np.asarray(row["test_probs"], dtype=np.float64)


METRICS = (
    "test_accuracy",
    "test_balanced_accuracy",
    "test_auc",
    "test_sensitivity",
    "test_specificity",
    "test_f1",
    "test_accuracy@t",
    "test_balanced_accuracy@t",
    "test_sensitivity@t",
    "test_specificity@t",
    "threshold",  # the validation-chosen threshold itself (a probability, not in %)
    "val_auc",
)


def summary_table(df: pd.DataFrame, metrics: tuple[str, ...] = METRICS) -> pd.DataFrame:
    """Per (fraction, condition): runs, and mean [95 % CI] of each metric (in %; AUC and threshold as is)."""
    rows = []
    for (f, c), g in df.groupby(["fraction", "condition"], sort=True):
        row = {"fraction": f, "condition": c, "runs": len(g)}
        for m in metrics:
            scale = 1 if "auc" in m or m == "threshold" else 100
            mean, lo, hi = mean_ci(g[m] * scale)
            row[m] = mean
            row[f"{m} low"], row[f"{m} high"] = lo, hi
        rows.append(row)
    return pd.DataFrame(rows)


def reference_of(condition: str) -> str:
    """The condition a gain is measured against: the baseline, or classic augmentation for +aug ones."""
    return parse_condition(condition).reference


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
    """Paired differences (same fraction, seed and subset) of every condition against each condition it is
    compared with (Condition.comparisons: the baseline, the duplicate-real control, pretraining's schedule
    control) that the grid has: mean, bootstrap 95 % CI, Wilcoxon p."""
    rows = []
    conds = sorted(set(df.condition))
    for f, g in df.groupby("fraction"):
        piv = {m: g.pivot_table(index="seed", columns="condition", values=m) for m in metrics}
        for c in conds:
            for _, ref in parse_condition(c).comparisons:
                if ref not in piv[metrics[0]] or c not in piv[metrics[0]]:
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


def across_grids(
    df: pd.DataFrame, other: pd.DataFrame, metrics: tuple[str, ...] = ("test_accuracy",)
) -> pd.DataFrame:
    """Each (fraction, condition) both grids trained, paired by fraction, seed and subset: this grid's score
    minus the other's (points; AUC as it is), with paired_difference's mean and 95 % interval. For two grids
    that ask one question with two recipes on the same replicates; models both grids share differ by exactly
    0. A reading beside the protocol's rule: it decides nothing."""
    keys = ["fraction", "seed", "subset"]
    rows = []
    for (f, c), g in df.groupby(["fraction", "condition"]):
        theirs = other[(other.fraction == f) & (other.condition == c)]
        both = g[keys + list(metrics)].merge(theirs[keys + list(metrics)], on=keys, suffixes=("", " other"))
        if not len(both):
            continue
        row = {"fraction": f, "condition": c, "pairs": len(both)}
        for m in metrics:
            scale = 1 if "auc" in m else 100
            d = paired_difference(both[m] * scale, both[f"{m} other"] * scale)
            row |= {f"{m} diff": d["mean"], f"{m} low": d["low"], f"{m} high": d["high"]}
        rows.append(row)
    return pd.DataFrame(rows)


ANSWER_LABELS = {"vs baseline": "vs baseline", "vs control": "vs dup-real", "vs schedule": "vs pretrain-real"}


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
        tags = {ref: tag for tag, ref in parse_condition(c).comparisons}
        for _, r in g.iterrows():
            tag = ANSWER_LABELS[tags[r.versus]]
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


def per_image_scores(rows: pd.DataFrame, endpoint: str, test: dict) -> np.ndarray | None:
    """(runs, test images) scores whose mean over images is the endpoint of each run (accuracy: 1 for a
    correct call; balanced accuracy: the same, weighted by 1 / (2 x class size)); None for AUC or rows
    without stored logits."""
    if "auc" in endpoint or "test_logits" not in rows or rows["test_logits"].isna().any():
        return None
    y = np.asarray(test["labels"])
    out = []
    for _, r in rows.iterrows():
        t = r["threshold"] if endpoint.endswith("@t") else 0.5
        correct = ((probabilities_on_test(r) >= t).astype(int) == y).astype(float)
        if "balanced" in endpoint:
            correct = correct * len(y) / (2 * np.bincount(y, minlength=2)[y])
        out.append(correct)
    return np.stack(out)


def verdict_table(df: pd.DataFrame, protocol: Protocol = PROTOCOL, test: dict | None = None) -> pd.DataFrame:
    """The answer by the protocol: per fraction and augmenting condition, the endpoint's paired gain over the
    baseline and over the count-matched control (mean and replicate-level CI: runs that share a training
    subset and its GANs count as one replicate), the number of replicates, and the verdict of the rule.
    With `test` ({"labels", "groups"}: the test split's labels and patient of each image) the gain over the
    baseline also gets the interval of a patient-level bootstrap of the test split (the test set's own
    sampling error, which the seed and replicate intervals do not contain). Pretraining on synthetic images
    is also compared with pretraining on duplicated real images ("vs schedule" columns) where the grid has
    those; the verdict does not read it."""
    m = protocol.endpoint
    scale = 1 if "auc" in m else 100
    rows = []
    for f, g in df.groupby("fraction"):
        piv = g.pivot_table(index="seed", columns="condition", values=m) * scale
        rep = g.drop_duplicates("seed").set_index("seed")[protocol.replicate_column]
        for c in sorted(set(g.condition) - {"baseline"}):
            if parse_condition(c).kind not in ("gan", "pretrain", "dup_real", "classic_aug", "class_weighted"):
                continue
            row = {"fraction": f, "condition": c, "reference": reference_of(c), "endpoint": m}
            found = {}
            for tag, ref in parse_condition(c).comparisons:
                if ref not in piv or c not in piv:
                    continue
                both = piv[[c, ref]].dropna()
                d = cluster_difference(both[c] - both[ref], rep.loc[both.index].to_numpy(), protocol.level)
                found[tag] = (d["mean"], d["low"], d["high"])
                row[f"{tag}"] = d["mean"]
                row[f"{tag} low"], row[f"{tag} high"] = d["low"], d["high"]
                row[f"{tag} replicates"] = d["clusters"]
                if tag == "vs baseline" and test is not None:
                    rows_c = g[g.condition == c].set_index("seed").loc[both.index]
                    rows_r = g[g.condition == ref].set_index("seed").loc[both.index]
                    sc, sr = per_image_scores(rows_c, m, test), per_image_scores(rows_r, m, test)
                    lo, hi = (
                        patient_bootstrap_interval(sc, sr, np.asarray(test["groups"]), protocol.level)
                        if sc is not None and sr is not None
                        else (float("nan"), float("nan"))
                    )
                    row[f"{tag} test-set low"], row[f"{tag} test-set high"] = lo * scale, hi * scale
            if "vs baseline" not in found:
                continue
            # a condition whose count-matched control the grid lacks cannot be found to help (no interval)
            missing = (math.nan,) * 3 if parse_condition(c).control else None
            row["verdict"] = protocol.verdict(found["vs baseline"], found.get("vs control", missing))
            rows.append(row)
    return pd.DataFrame(rows)


def power_table(
    paired: pd.DataFrame,
    goal: float = 3.0,
    metrics: tuple[str, ...] = ("test_accuracy@t", "test_accuracy"),
) -> pd.DataFrame:
    """Per fraction (default: the protocol's endpoint, then accuracy at 0.5): the median SD of the paired
    differences against the baseline and the seeds a paired test needs to detect a `goal`-point gain with
    80 % power at alpha 0.05 (stats.seeds_needed)."""
    vs = paired[paired.versus == "baseline"].groupby("fraction")
    out = {}
    for m in metrics:
        sd = vs[f"{m} sd"].median()
        out[f"{m}: median paired SD"] = sd
        # NaN where a fraction has no spread yet (one pair per comparison)
        out[f"{m}: seeds for {goal:g} points"] = sd.map(lambda s: seeds_needed(s, goal) if np.isfinite(s) else np.nan)
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


def learning_curve(df: pd.DataFrame, endpoint: str, condition: str = "baseline") -> pd.DataFrame:
    """Per fraction: real training images, the condition's endpoint mean and 95 % CI over replicate means
    (over classifier seeds where the fraction has one replicate). Every endpoint is a rate, so the interval
    is clipped to its range (0-100 %, AUC 0-1): a t interval over few replicates can reach past it."""
    scale = 1 if "auc" in endpoint else 100
    rows = []
    for f, g in df[df.condition == condition].groupby("fraction"):
        means = (g.groupby("subset")[endpoint].mean() * scale).to_numpy()
        # one replicate (the full split with one GAN set): the classifier seeds are what varies
        mean, lo, hi = mean_ci(means if len(means) > 1 else g[endpoint].to_numpy() * scale)
        lo, hi = max(lo, 0.0), min(hi, float(scale))  # NaN (one run) stays NaN
        n = float((g.n_real_normal + g.n_real_pneumonia).mean())
        rows.append({"fraction": f, "n_real": n, "replicates": len(means), "mean": mean, "low": lo, "high": hi})
    return pd.DataFrame(rows)


UNIDENTIFIABLE = "unidentifiable (flat curve)"


def _on_curve(n: np.ndarray, score: np.ndarray, target: float, at: int | None = None) -> tuple[float, str]:
    """Real images at which the baseline's monotone (isotonic, in log n) learning curve reaches `target`,
    linear in log n between fractions, and where the target falls: "on the curve"; "below the curve (bound)"
    (clamped at the smallest n); "above the curve" (+inf). `n` increases, so the fit is plain PAVA on `score`
    (scipy's, which the bootstrap calls thousands of times: scikit-learn's checks cost 20x the fit).
    `at`: the index of the condition's own fraction. Where the fit pools it with a neighbour (the baseline
    measured there does not rise into the next fraction, or falls from the one before), the curve's level at
    the condition's own real images is not the baseline measured there, and a change of score lands on a
    flat stretch: the protocol's "unidentifiable where the curve is flat" (NaN, "unidentifiable (flat curve)")."""
    from scipy.optimize import isotonic_regression

    x = np.log(n)
    fit = isotonic_regression(score, increasing=True).x
    if at is not None:
        if (at > 0 and fit[at - 1] == fit[at]) or (at < len(fit) - 1 and fit[at + 1] == fit[at]):
            return float("nan"), UNIDENTIFIABLE
    if target > fit[-1]:
        return float("inf"), "above the curve"
    if target <= fit[0]:
        return float(n[0]), "below the curve (bound)"
    i = int(np.argmax(fit >= target))  # first point at or above the target; fit[i - 1] < target
    x0, x1, y0, y1 = x[i - 1], x[i], fit[i - 1], fit[i]
    return float(np.exp(x0 + (target - y0) / (y1 - y0) * (x1 - x0))), "on the curve"


def exchange_table(
    df: pd.DataFrame,
    protocol: Protocol = PROTOCOL,
    n_resamples: int = 1000,
    seed: int = 0,
    endpoint: str | None = None,
) -> pd.DataFrame:
    """The exchange rate: for each condition that adds images, the real images the baseline would need for
    the same score of `endpoint` (the protocol's, unless one of its `exchange_also` is named; read off the
    baseline's learning curve over the study's fractions), minus the real images
    the condition had, per 1,000 added images, with a replicate-bootstrap 95 % CI. "inf": above everything
    the real data reached ("-inf" in the CI: a resample below everything it reached, where only a bound
    could be read); `reading` says whether the point estimate is on the curve or clamped at an end, or
    that the curve is flat at the condition's fraction (NaN: no rate; `_on_curve`)."""
    m = endpoint or protocol.endpoint
    scale = 1 if "auc" in m else 100
    base = df[df.condition == "baseline"]
    fracs = sorted(base.fraction.unique())
    if len(fracs) < 2:
        return pd.DataFrame()
    rng = np.random.default_rng(seed)
    # replicate means of the baseline's endpoint per fraction (each replicate counts once)
    by_rep = {
        f: np.array([(g[m].to_numpy() * scale).mean() for _, g in base[base.fraction == f].groupby("subset")])
        for f in fracs
    }
    n_real = np.array(
        [
            float((base[base.fraction == f].n_real_normal + base[base.fraction == f].n_real_pneumonia).mean())
            for f in fracs
        ]
    )
    rows = []
    for (f, c), g in df.groupby(["fraction", "condition"]):
        added = float((g.n_added_normal + g.n_added_pneumonia).mean())
        if parse_condition(c).kind not in ("gan", "dup_real") or added == 0 or c.endswith("+aug"):
            continue
        reps = np.array([(h[m].to_numpy() * scale).mean() for _, h in g.groupby("subset")])
        n0 = n_real[fracs.index(f)] if f in fracs else float("nan")

        def rate(curve: list[float], target: float, n0: float = n0, added: float = added) -> float:
            # a resample below the whole curve has no reading, only a bound: -inf, as one above it has +inf
            n_same, where = _on_curve(n_real, np.array(curve), target)
            return float("-inf") if where == "below the curve (bound)" else 1000 * (n_same - n0) / added

        mean_curve = [by_rep[x].mean() for x in fracs]
        mean_score = float(reps.mean())
        at = fracs.index(f) if f in fracs else None
        n_same, reading = _on_curve(n_real, np.array(mean_curve), mean_score, at)
        point = 1000 * (n_same - n0) / added  # NaN where the curve is flat at the condition's fraction
        low = high = float("nan")
        if reading != UNIDENTIFIABLE:  # a readable point's resamples are read wherever they fall
            boot = np.empty(n_resamples)
            for b in range(n_resamples):
                curve = [by_rep[x][rng.integers(0, len(by_rep[x]), len(by_rep[x]))].mean() for x in fracs]
                target = reps[rng.integers(0, len(reps), len(reps))].mean()
                boot[b] = rate(curve, target)
            # no interpolation between resamples: some may be infinite (above the whole curve)
            low, high = (float(np.quantile(boot, q, method="inverted_cdf")) for q in (0.025, 0.975))
        rows.append(
            {
                "fraction": f,
                "condition": c,
                "n_real": n0,
                "n_added": added,
                "real images per 1000 added": point,
                "reading": reading,
                "low": low,
                "high": high,
            }
        )
    return pd.DataFrame(rows)


def compute_tables(
    df: pd.DataFrame,
    test: dict | None = None,
    protocol: Protocol = PROTOCOL,
    val: dict[tuple[float, int], list[int]] | None = None,
) -> dict[str, pd.DataFrame]:
    """Every table of a results folder, from its rows (runs.jsonl) and, for the test-set intervals, its test
    split's labels and patients: summary, paired, verdict (the protocol's rule), the baseline's score per
    fraction (its learning curve: endpoint and AUC; one point where the grid has one fraction) and, where it
    has more than one fraction, the exchange rate on the endpoint ("exchange") and on each of the protocol's
    `exchange_also` ("exchange_auc" for test AUC: exchange_key). Where the rows keep their validation logits
    and `val` gives the validation labels (run.read_val_split): test accuracy under each threshold rule
    ("threshold_rules") and its rise from 10 % to 100 % ("threshold_rise")."""
    tables = {"summary": summary_table(df), "paired": paired_table(df), "verdict": verdict_table(df, protocol, test)}
    if (df.condition == "baseline").any():
        tables["learning_curve"] = learning_curve(df, protocol.endpoint)
        tables["learning_curve_auc"] = learning_curve(df, "test_auc")
    if df.fraction.nunique() > 1:
        tables["exchange"] = exchange_table(df, protocol)
        for e in protocol.exchange_also:
            tables[exchange_key(e)] = exchange_table(df, protocol, endpoint=e)
    if test is not None and val is not None and "val_logits" in df and "test_logits" in df:
        scores = rule_scores(df, test, val)
        tables["threshold_rules"] = threshold_rules_table(scores)
        tables["threshold_rise"] = rise_table(scores)
    return tables


def exchange_key(endpoint: str) -> str:
    """The table (and CSV) name of the exchange rate read on a secondary endpoint: test_auc -> exchange_auc."""
    return "exchange_" + endpoint.removeprefix("test_").replace("@t", "_at_t")
