"""Statistics over seeds: mean with 95 % CI, paired differences with bootstrap CI and a paired test,
and the number of seeds needed to resolve a difference."""

from __future__ import annotations

import math

import numpy as np
from scipy import stats


def mean_ci(x, level: float = 0.95) -> tuple[float, float, float]:
    """(mean, low, high): Student-t interval over independent runs (seeds)."""
    x = np.asarray(x, dtype=float)
    x = x[~np.isnan(x)]
    if len(x) == 0:
        return float("nan"), float("nan"), float("nan")
    m = float(x.mean())
    if len(x) < 2:
        return m, float("nan"), float("nan")
    h = float(stats.t.ppf(0.5 + level / 2, len(x) - 1) * x.std(ddof=1) / math.sqrt(len(x)))
    return m, m - h, m + h


def paired_difference(a, b, level: float = 0.95, n_resamples: int = 5000, seed: int = 0) -> dict:
    """a - b for paired runs (same seed and subset): mean, CI, Wilcoxon and t-test p.

    The CI is the wider of the bootstrap (BCa) and the Student-t interval: with few pairs a bootstrap sees
    only a handful of distinct resamples and its interval is far too narrow (3 pairs: 10 resamples), while
    the t interval is exact for normal differences; with many pairs the two agree."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    d = a - b
    d = d[~np.isnan(d)]
    out = {
        "n": len(d),
        "mean": float(d.mean()) if len(d) else float("nan"),
        "low": float("nan"),
        "high": float("nan"),
        "p_wilcoxon": float("nan"),
        "p_ttest": float("nan"),
        "sd": float(d.std(ddof=1)) if len(d) > 1 else float("nan"),
    }
    if len(d) >= 3 and np.ptp(d) > 0:
        res = stats.bootstrap(
            (d,),
            np.mean,
            confidence_level=level,
            n_resamples=n_resamples,
            method="BCa",
            random_state=np.random.default_rng(seed),
        )
        _, t_low, t_high = mean_ci(d, level)
        out["low"] = min(float(res.confidence_interval.low), t_low)
        out["high"] = max(float(res.confidence_interval.high), t_high)
        out["p_wilcoxon"] = wilcoxon_p(d)
        out["p_ttest"] = float(stats.ttest_1samp(d, 0.0).pvalue)
    return out  # fewer than 3 pairs or all equal: no interval (as in cluster_difference)


def wilcoxon_p(d) -> float:
    """Two-sided Wilcoxon signed-rank p of paired differences `d`, as `scipy.stats.wilcoxon(d)` gives it.
    With ties or zeros among at most 13 differences scipy runs an exact permutation test over all 2^n sign
    flips, one rank computation per flip (about a second each); here the same null distribution comes from
    one matrix product of the sign patterns with the fixed ranks (zeros dropped: they add nothing either
    way). Other cases go to scipy unchanged."""
    d = np.asarray(d, dtype=float)
    nonzero = d[d != 0]
    ties = len(np.unique(np.abs(nonzero))) < len(nonzero)
    if len(d) > 13 or not (ties or len(nonzero) < len(d)) or len(nonzero) == 0:
        return float(stats.wilcoxon(d).pvalue)
    ranks = stats.rankdata(np.abs(nonzero))
    observed = ranks[nonzero > 0].sum()
    n = len(nonzero)
    null = ((np.arange(2**n)[:, None] >> np.arange(n)) & 1) @ ranks  # T+ under every sign pattern
    return float(min(1.0, 2 * min((null >= observed).mean(), (null <= observed).mean())))


def seeds_needed(sd: float, delta: float, alpha: float = 0.05, power: float = 0.8) -> int:
    """Runs needed for a paired two-sided test to detect a mean difference `delta` given the SD of the
    paired differences: the smallest n >= 2 with n >= ((t_{n-1, 1-alpha/2} + t_{n-1, power}) sd / delta)^2,
    searched upward from the normal approximation, which no larger n undercuts (t quantiles exceed normal
    ones). A single t-correction step overshoots where that approximation gives n = 2: one degree of freedom
    asked for 32 runs where 4 suffice."""
    z = stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power)
    n = max(2, math.ceil((z * sd / delta) ** 2))
    while ((stats.t.ppf(1 - alpha / 2, n - 1) + stats.t.ppf(power, n - 1)) * sd / delta) ** 2 > n:
        n += 1
    return n


def cluster_difference(d, clusters, level: float = 0.95, n_resamples: int = 2000, seed: int = 0) -> dict:
    """Mean paired difference when runs come in clusters that share a source of variation (the classifier
    seeds of one replicate share its training subset and its GANs), with a CI at the level that varies.

    Each cluster counts once: the estimate is the mean of the cluster means, and the CI is the wider of a
    cluster bootstrap (resampling whole clusters, percentile) and the Student-t interval over cluster means
    (R - 1 degrees of freedom), for the same reason as in `paired_difference`. Treating the runs as
    independent instead gives intervals that are too narrow whenever clusters differ."""
    d, clusters = np.asarray(d, dtype=float), np.asarray(clusters)
    keep = ~np.isnan(d)
    d, clusters = d[keep], clusters[keep]
    labels = list(dict.fromkeys(clusters.tolist()))
    means = np.array([d[clusters == c].mean() for c in labels])
    out = {
        "clusters": len(means),
        "n": len(d),
        "mean": float(means.mean()) if len(means) else float("nan"),
        "low": float("nan"),
        "high": float("nan"),
        "sd_between": float(means.std(ddof=1)) if len(means) > 1 else float("nan"),
    }
    if len(means) >= 2 and np.ptp(means) > 0:
        rng = np.random.default_rng(seed)  # one draw of every resample: the same numbers as one draw each
        boot = means[rng.integers(0, len(means), (n_resamples, len(means)))].mean(1)
        q = (1 - level) / 2
        _, t_low, t_high = mean_ci(means, level)
        out["low"] = min(float(np.quantile(boot, q)), t_low)
        out["high"] = max(float(np.quantile(boot, 1 - q)), t_high)
    # one replicate, or replicates that all agree exactly (a tie of a discrete score, e.g. two replicates both
    # +8 test images): no interval. A spread of 0 estimated from a tie is no evidence that there is none, and a
    # zero-width interval would pass any rule that asks for an interval above 0.
    return out


def patient_bootstrap_interval(
    correct_a: np.ndarray,
    correct_b: np.ndarray,
    groups: np.ndarray,
    level: float = 0.95,
    n_resamples: int = 2000,
    seed: int = 0,
) -> tuple[float, float]:
    """The CI of a mean paired gain that comes from the finite test split alone: (runs, images) arrays of
    per-image scores of the two conditions (paired by row), with test patients resampled with replacement
    (a patient's images stay together). Reported beside the replicate-level CI: it says how much another
    test set of the same size, from the same population, could move the number."""
    a, b, groups = np.asarray(correct_a, float), np.asarray(correct_b, float), np.asarray(groups)
    diff = (a - b).mean(0)  # (images,) gain per image, averaged over the paired runs
    labels, inverse = np.unique(groups, return_inverse=True)
    per_patient = np.bincount(inverse, weights=diff, minlength=len(labels))
    images = np.bincount(inverse, minlength=len(labels)).astype(float)
    rng = np.random.default_rng(seed)
    pick = rng.integers(0, len(labels), (n_resamples, len(labels)))
    boot = per_patient[pick].sum(1) / images[pick].sum(1)
    q = (1 - level) / 2
    return float(np.quantile(boot, q)), float(np.quantile(boot, 1 - q))
