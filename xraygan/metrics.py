"""Classification metrics on predicted probabilities, and threshold choice on validation data."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import roc_auc_score


def binary_metrics(y: np.ndarray, p: np.ndarray, threshold: float = 0.5) -> dict[str, float]:
    """accuracy, balanced accuracy, AUC, sensitivity (PNEUMONIA recall), specificity, F1 at `threshold`."""
    y = np.asarray(y).astype(int)
    p = np.asarray(p, dtype=np.float64)
    pred = (p >= threshold).astype(int)
    tp, tn = int(((pred == 1) & (y == 1)).sum()), int(((pred == 0) & (y == 0)).sum())
    fp, fn = int(((pred == 1) & (y == 0)).sum()), int(((pred == 0) & (y == 1)).sum())
    sens = tp / max(1, tp + fn)
    spec = tn / max(1, tn + fp)
    prec = tp / max(1, tp + fp)
    return {
        "accuracy": (tp + tn) / max(1, len(y)),
        "balanced_accuracy": (sens + spec) / 2,
        "auc": float(roc_auc_score(y, p)) if 0 < y.sum() < len(y) else float("nan"),
        "sensitivity": sens,
        "specificity": spec,
        "f1": 2 * prec * sens / max(1e-12, prec + sens),
        "tp": tp,
        "tn": tn,
        "fp": fp,
        "fn": fn,
    }


def balanced_accuracy_at(y: np.ndarray, p: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """Balanced accuracy of predicting PNEUMONIA where p >= t, for each t of `thresholds`: one sort of each
    class's scores, no loop over thresholds (the same arithmetic as binary_metrics, so the same floats)."""
    y, p = np.asarray(y).astype(int), np.asarray(p, dtype=np.float64)
    pos, neg = np.sort(p[y == 1]), np.sort(p[y == 0])
    sens = (len(pos) - np.searchsorted(pos, thresholds, "left")) / max(1, len(pos))  # tp / (tp + fn)
    spec = np.searchsorted(neg, thresholds, "left") / max(1, len(neg))  # tn / (tn + fp)
    return (sens + spec) / 2


def best_threshold(y: np.ndarray, p: np.ndarray) -> float:
    """The threshold that maximises balanced accuracy (Youden's J) on validation data: the lowest of the
    candidates (every validation score, and 0.5) that reaches the maximum."""
    cands = np.unique(np.concatenate([np.asarray(p, dtype=np.float64), [0.5]]))  # ascending
    ba = balanced_accuracy_at(y, p, cands)
    return float(cands[int(np.argmax(ba >= ba.max() - 1e-12))])


def plateau_midpoint(y: np.ndarray, logits: np.ndarray) -> float:
    """A validation threshold in logits that is not a tie-break: the midpoint of the run of thresholds that
    maximise validation balanced accuracy and contain the lowest such one (best_threshold's choice). Where
    validation separates the classes, every threshold between the highest NORMAL logit and the lowest
    PNEUMONIA logit is equally good, and best_threshold takes that run's low end (or 0.5); this takes its
    middle. Predict PNEUMONIA where logit >= the returned value. An end of the run that is open (all images
    one class) is closed one logit beyond the outermost validation logit."""
    from sklearn.metrics import roc_curve

    y = np.asarray(y).astype(int)
    z = np.asarray(logits, dtype=np.float64)
    fpr, tpr, thr = roc_curve(y, z, drop_intermediate=False)  # thr decreasing: thr[0] = inf (no positives)
    fpr, tpr, thr = fpr[::-1], tpr[::-1], thr[::-1]  # ascending thresholds: "logit >= thr[i]"
    ba = (tpr + 1 - fpr) / 2
    top = ba.max() - 1e-12
    i = int(np.argmax(ba >= top))  # the lowest maximising threshold
    j = i
    while j + 1 < len(ba) and ba[j + 1] >= top:
        j += 1
    low = thr[i - 1] if i > 0 else z.min() - 1.0  # the run is (thr[i-1], thr[j]]
    high = thr[j] if np.isfinite(thr[j]) else z.max() + 1.0
    return float((low + high) / 2)
