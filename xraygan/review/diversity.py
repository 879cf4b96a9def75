"""Does a synthetic set keep its variety? Per class, each number beside the same number for real images:

- near-twin share: fakes whose nearest *other* fake (RMS pixel distance) is closer than the closest 1 % of
  the same nearest-neighbour distances among real images of that class (same number of images on both
  sides, since the share grows with the sample size); real images give about 1 % by construction;
- pairwise ratio: median pairwise RMS distance among fakes over the same among reals;
- MS-SSIM among random pairs of fakes against among random pairs of reals (higher = more alike; the usual
  report in GAN papers), via torchmetrics, at 3 scales (64 px images are too small for the default 5).

A class is flagged as collapsed when its near-twin share is above NEAR_TWIN_MAX or its pairwise ratio below
PAIRWISE_MIN."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torchmetrics.functional.image import multiscale_structural_similarity_index_measure

from xraygan.review.distances import pairwise_distances

NEAR_TWIN_MAX = 0.05  # collapsed: more than 5 % of the fakes have a near-twin (real images: ~1 %)
PAIRWISE_MIN = 0.95  # collapsed: fakes less spread than 95 % of the real images' median pairwise distance
MS_SSIM = {"kernel_size": 7, "betas": (0.0448, 0.2856, 0.3001)}  # the first three of the standard five scales


def rms_distances(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """(n, m) RMS pixel distances between uint8 image batches (n, 1, S, S) and (m, 1, S, S), in [0, 1] units."""
    fa, fb = a.flatten(1).double() / 255, b.flatten(1).double() / 255
    return torch.from_numpy(pairwise_distances(fa, fb)) / math.sqrt(fa.shape[1])


def _nearest_other(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Each image's nearest other image in the same batch: (distances, indices, the full distance matrix)."""
    d = rms_distances(x, x)
    d.fill_diagonal_(float("inf"))
    nn_d, nn_i = d.min(1)
    return nn_d, nn_i, d


def _pair_ms_ssim(x: torch.Tensor, pairs: int, g: torch.Generator) -> float:
    i = torch.randint(0, len(x), (pairs,), generator=g)
    j = (i + torch.randint(1, len(x), (pairs,), generator=g)) % len(x)  # never an image with itself
    v = multiscale_structural_similarity_index_measure(
        x[i].float() / 255, x[j].float() / 255, data_range=1.0, reduction="none", normalize="relu", **MS_SSIM
    )
    return float(v.mean())


@dataclass(frozen=True)
class ClassDiversity:
    numbers: dict  # what review.json holds for the class
    fake_pairs: np.ndarray  # (k, 2) indices into the fake sample: its closest fake-fake pairs
    real_pairs: np.ndarray  # (k, 2) the same for the real sample
    fake_index: np.ndarray  # which fakes were sampled (indices into the class's fakes)
    real_index: np.ndarray  # which real images were sampled


def class_diversity(
    fake: torch.Tensor, real: torch.Tensor, n: int = 400, pairs: int = 500, seed: int = 0, show: int = 6
) -> ClassDiversity:
    """Diversity of one class's fakes against real images of that class, on `n` images of each."""
    rng = np.random.default_rng(seed)
    n = min(n, len(fake), len(real))
    if n < 10:
        raise ValueError(f"diversity needs at least 10 images on each side, got {len(fake)} fake, {len(real)} real")
    fi, ri = np.sort(rng.choice(len(fake), n, replace=False)), np.sort(rng.choice(len(real), n, replace=False))
    f, r = fake[torch.as_tensor(fi)], real[torch.as_tensor(ri)]
    nn_f, near_f, d_f = _nearest_other(f)
    nn_r, near_r, d_r = _nearest_other(r)
    threshold = float(torch.quantile(nn_r, 0.01))
    iu = torch.triu_indices(n, n, 1)
    med_f, med_r = float(d_f[iu[0], iu[1]].median()), float(d_r[iu[0], iu[1]].median())
    g = torch.Generator().manual_seed(seed)
    share = float((nn_f < threshold).double().mean())
    ratio = med_f / med_r if med_r > 0 else float("nan")  # all real images identical: no reference spread
    numbers = {
        "n": n,
        "near_twin_threshold": threshold,
        "near_twin_share": share,
        "near_twin_share_real": float((nn_r < threshold).double().mean()),
        "pairwise_median": med_f,
        "pairwise_median_real": med_r,
        "pairwise_ratio": ratio,
        "ms_ssim": _pair_ms_ssim(f, pairs, g),
        "ms_ssim_real": _pair_ms_ssim(r, pairs, g),
        "collapsed": bool(share > NEAR_TWIN_MAX or ratio < PAIRWISE_MIN),
    }

    def closest(nn_d: torch.Tensor, near: torch.Tensor) -> np.ndarray:
        order = torch.argsort(nn_d)
        out, seen = [], set()
        for a in order.tolist():
            pair = tuple(sorted((a, int(near[a]))))
            if pair not in seen:
                seen.add(pair)
                out.append(pair)
            if len(out) == show:
                break
        return np.array(out, dtype=np.int64).reshape(-1, 2)

    return ClassDiversity(numbers, closest(nn_f, near_f), closest(nn_r, near_r), fi, ri)


def collapse_rule() -> dict:
    """The stated thresholds, written beside the numbers."""
    return {"near_twin_share_max": NEAR_TWIN_MAX, "pairwise_ratio_min": PAIRWISE_MIN}


def warnings_for(diversity: dict) -> list[str]:
    """One sentence per collapsed class, for notebooks and the command line."""
    out = []
    for c, d in diversity.items():
        if d["collapsed"]:
            out.append(
                f"{c}: the generator has lost variety ({d['near_twin_share']:.0%} of its images have a near-twin, "
                f"real images {d['near_twin_share_real']:.0%}; pairwise spread {d['pairwise_ratio']:.2f} of the "
                f"real images'; limits: at most {NEAR_TWIN_MAX:.0%} near-twins, spread at least {PAIRWISE_MIN})."
            )
    return out


def generator_diversity(
    runs: dict[int, object], real, n: int = 400, seed: int = 0, device: str | None = None
) -> dict[str, dict]:
    """Diversity of fresh samples of each generator ({label: run folder}: the per-class GANs, or one conditional
    GAN under each label) against the real images of that class (an ImageSet): what notebook 02 shows beside
    its sample grid."""
    from xraygan.gan.export import generate  # local: the review stage reads GAN runs, never the reverse
    from xraygan.gan.runs import load_generator
    from xraygan.info import CLASSES

    out, loaded = {}, {}
    for label, run in runs.items():
        if run not in loaded:  # a conditional GAN serves every label: loaded (with its standing stats) once
            loaded[run] = load_generator(run, device)[0]
        G = loaded[run]
        fake = generate(G, label if G.n_classes else None, n, seed, next(G.parameters()).device)
        out[CLASSES[label]] = class_diversity(fake, real.of_class(label).images, n, seed=seed).numbers
    return out
