"""Distances between image sets on feature vectors: Fréchet distance, KID, precision/recall,
density/coverage, and nearest-neighbour memorisation checks."""

from __future__ import annotations

import warnings

import numpy as np
import torch
from scipy import linalg


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to feature sets a (n, d) and b (m, d)."""
    mu1, mu2 = a.mean(0), b.mean(0)
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    with warnings.catch_warnings():  # singular products are handled below
        warnings.simplefilter("ignore", linalg.LinAlgWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        covmean = linalg.sqrtm(s1 @ s2)
        if not np.isfinite(covmean).all():  # near-singular: regularise as in the reference implementation
            eps = np.eye(len(s1)) * 1e-6
            covmean = linalg.sqrtm((s1 + eps) @ (s2 + eps))
    covmean = covmean.real
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


def kid(a: np.ndarray, b: np.ndarray, subsets: int = 50, subset_size: int = 200, seed: int = 0) -> tuple[float, float]:
    """Kernel Inception Distance (unbiased MMD^2, cubic polynomial kernel), mean and std over subsets."""
    rng = np.random.default_rng(seed)
    d = a.shape[1]
    m = min(subset_size, len(a), len(b))
    vals = []
    for _ in range(subsets):
        x = a[rng.choice(len(a), m, replace=False)]
        y = b[rng.choice(len(b), m, replace=False)]
        kxx, kyy, kxy = ((x @ x.T) / d + 1) ** 3, ((y @ y.T) / d + 1) ** 3, ((x @ y.T) / d + 1) ** 3
        vals.append(
            (kxx.sum() - np.trace(kxx)) / (m * (m - 1)) + (kyy.sum() - np.trace(kyy)) / (m * (m - 1)) - 2 * kxy.mean()
        )
    return float(np.mean(vals)), float(np.std(vals))


def pairwise_distances(a: np.ndarray | torch.Tensor, b: np.ndarray | torch.Tensor) -> np.ndarray:
    """(n, m) Euclidean distances in float64."""
    return torch.cdist(torch.as_tensor(a, dtype=torch.float64), torch.as_tensor(b, dtype=torch.float64)).numpy()


def prdc(real: np.ndarray, fake: np.ndarray, k: int = 5) -> dict[str, float]:
    """Precision and recall (Kynkäänniemi et al. 2019), density and coverage (Naeem et al. 2020)."""
    rr, ff, rf = pairwise_distances(real, real), pairwise_distances(fake, fake), pairwise_distances(real, fake)
    r_rad = np.sort(rr, axis=1)[:, k]  # k-th neighbour, index 0 is the point itself
    f_rad = np.sort(ff, axis=1)[:, k]
    inside = rf < r_rad[:, None]  # (n_real, n_fake): fake j inside real i's ball
    return {
        "precision": float(inside.any(0).mean()),
        "recall": float((rf.T < f_rad[:, None]).any(0).mean()),
        "density": float(inside.sum(0).mean() / k),
        "coverage": float((rf.min(1) < r_rad).mean()),
    }


def nearest(query: np.ndarray, ref: np.ndarray, metric: str = "l2", batch: int = 512) -> tuple[np.ndarray, np.ndarray]:
    """Distance to and index of the nearest row of `ref` for every row of `query` (l2, or cosine distance)."""
    q, r = torch.as_tensor(query, dtype=torch.float32), torch.as_tensor(ref, dtype=torch.float32)
    if metric == "cosine":
        q, r = torch.nn.functional.normalize(q, dim=1), torch.nn.functional.normalize(r, dim=1)
    dist, idx = [], []
    for s in range(0, len(q), batch):
        d = 1 - q[s : s + batch] @ r.T if metric == "cosine" else torch.cdist(q[s : s + batch], r)
        v, i = d.min(1)
        dist.append(v)
        idx.append(i)
    return torch.cat(dist).numpy(), torch.cat(idx).numpy()


def memorisation(
    fake: np.ndarray, train: np.ndarray, heldout: np.ndarray, metric: str = "l2", quantile: float = 0.01
) -> dict:
    """Nearest-training-image distances of synthetic images against those of held-out real images (the
    'new patient' reference). Flags fakes closer than the `quantile` of the held-out distances."""
    d_fake, i_fake = nearest(fake, train, metric)
    d_held, _ = nearest(heldout, train, metric)
    thr = float(np.quantile(d_held, quantile))
    qs = (0.01, 0.05, 0.25, 0.5)
    return {
        "metric": metric,
        "threshold": thr,
        "flagged": int((d_fake < thr).sum()),
        "n": len(fake),
        "flagged_share": float((d_fake < thr).mean()),
        "fake_quantiles": {str(q): float(np.quantile(d_fake, q)) for q in qs},
        "heldout_quantiles": {str(q): float(np.quantile(d_held, q)) for q in qs},
        "fake_dist": d_fake,
        "fake_nn": i_fake,
        "heldout_dist": d_held,
    }
