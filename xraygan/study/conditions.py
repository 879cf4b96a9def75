"""Study conditions: what is added to (or done with) the real training subset, with exact counts."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from xraygan.data.imageset import ImageSet

RATIOS = ("50", "100", "balance")


AUG = "+aug"  # suffix: the same condition trained with classic augmentation (e.g. dcgan_100+aug)


@dataclass(frozen=True)
class Condition:
    name: str
    kind: str  # baseline | classic_aug | class_weighted | dup_real | gan | pretrain
    gan: str | None = None  # dcgan (per class) | cgan (conditional); a pretrain kind without one: pretrain_real
    ratio: str | None = None  # 50 | 100 | balance
    augment: bool = False  # classic augmentation on (classic_aug, and every name ending in +aug)

    @property
    def reference(self) -> str:
        """What the condition is compared with: the baseline, or classic augmentation for +aug conditions
        (practitioners already augment; the question is what GAN images add on top)."""
        return "classic_aug" if self.name.endswith(AUG) else "baseline"

    @property
    def control(self) -> str | None:
        """The count-matched control: duplicated real images, as many as the condition adds (with the same
        augmentation); None where nothing is added."""
        if self.kind == "gan":
            return f"dup_real_{self.ratio}" + (AUG if self.name.endswith(AUG) else "")
        if self.kind == "pretrain" and self.gan:
            return "dup_real_100"
        return None

    @property
    def schedule_control(self) -> str | None:
        """For pretraining on synthetic images: pretraining on as many duplicated real images, the same
        two-phase schedule (two cosine cycles, selection in the second), so a gain of the schedule itself is
        not read as one of the synthetic images. Compared where a grid has it; the verdict does not use it."""
        return "pretrain_real" if self.kind == "pretrain" and self.gan else None

    @property
    def comparisons(self) -> tuple[tuple[str, str], ...]:
        """(tag, condition) pairs this condition's paired gains are read against: its reference, its
        count-matched control and, for pretraining on synthetic images, its schedule control; the tables
        (paired, verdict, answer) all read this one list."""
        refs = (("vs baseline", self.reference), ("vs control", self.control), ("vs schedule", self.schedule_control))
        return tuple((tag, ref) for tag, ref in refs if ref and ref != self.name)

    @property
    def is_control(self) -> bool:
        """A condition that adds no synthetic image: a control or a reference, not a use of GAN images."""
        return self.kind in ("dup_real", "classic_aug", "class_weighted") or (self.kind == "pretrain" and not self.gan)


def parse_condition(name: str) -> Condition:
    """'dcgan_100' -> Condition(kind='gan', gan='dcgan', ratio='100'); 'dcgan_100+aug' the same with classic
    augmentation; a clear error for unknown names."""
    if name.endswith(AUG):
        base = name[: -len(AUG)]
        c = parse_condition(base) if base not in ("baseline", "classic_aug", "class_weighted") else None
        if c is None or c.kind not in ("dup_real", "gan"):
            raise ValueError(
                f"condition {name!r}: '{AUG}' goes after dup_real_R, dcgan_R or cgan_R (e.g. dcgan_100{AUG})"
            )
        return Condition(name, c.kind, c.gan, c.ratio, augment=True)
    if name in ("baseline", "class_weighted"):
        return Condition(name, name)
    if name == "classic_aug":
        return Condition(name, name, augment=True)
    head, _, ratio = name.rpartition("_")
    if head == "dup_real" and ratio in RATIOS:
        return Condition(name, "dup_real", None, ratio)
    if head in ("dcgan", "cgan") and ratio in RATIOS:
        return Condition(name, "gan", head, ratio)
    if name in ("pretrain_dcgan", "pretrain_cgan"):
        return Condition(name, "pretrain", name.split("_")[1], "100")
    if name == "pretrain_real":  # the schedule control of pretrain_dcgan and pretrain_cgan
        return Condition(name, "pretrain", None, "100")
    raise ValueError(
        f"unknown condition {name!r}: use baseline, classic_aug, class_weighted, dup_real_R, "
        f"dcgan_R, cgan_R (R in {RATIOS}), pretrain_dcgan, pretrain_cgan or pretrain_real; dup_real_R, dcgan_R "
        f"and cgan_R may end in {AUG} (trained with classic augmentation)"
    )


def added_counts(real: ImageSet, ratio: str) -> dict[int, int]:
    """Images to add per class: +50 % or +100 % of each class, or NORMAL up to the PNEUMONIA count."""
    n = {c: int((real.labels == c).sum()) for c in (0, 1)}
    if ratio == "balance":
        return {0: max(0, n[1] - n[0]), 1: max(0, n[0] - n[1])}
    r = int(ratio) / 100
    return {c: math.ceil(r * n[c]) for c in (0, 1)}


def duplicate_real(real: ImageSet, counts: dict[int, int], seed: int) -> ImageSet:
    """counts[c] copies of real class-c images, cycling through a seeded permutation (even duplication)."""
    rng = np.random.default_rng(seed)
    idx = []
    for c, k in counts.items():
        pool = torch.nonzero(real.labels == c).flatten().numpy()
        if k and len(pool) == 0:
            raise ValueError(f"cannot duplicate class {c}: the subset has no image of it")
        reps = np.concatenate([rng.permutation(pool) for _ in range(math.ceil(k / max(1, len(pool))))]) if k else []
        idx += list(reps[:k])
    return real.subset(idx, "dup_real")


def pick_synthetic(pool: ImageSet, counts: dict[int, int], seed: int) -> ImageSet:
    """counts[c] distinct synthetic class-c images drawn (seeded) from the exported pool."""
    rng = np.random.default_rng(seed)
    idx = []
    for c, k in counts.items():
        cand = torch.nonzero(pool.labels == c).flatten().numpy()
        if k > len(cand):
            raise ValueError(f"the synthetic pool has {len(cand)} images of class {c}, {k} were asked for")
        idx += list(rng.permutation(cand)[:k])
    return pool.subset(idx, "synthetic")
