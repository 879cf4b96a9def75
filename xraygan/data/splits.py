"""Patient ids from Kaggle file names, patient-grouped validation split, nested low-data subsets."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import torch

from xraygan.data.imageset import ImageSet

_PATTERNS = [
    re.compile(r"^(person\d+)_(?:bacteria|virus)_\d+"),  # personN_bacteria_M, personN_virus_M
    re.compile(r"^(NORMAL2-IM-\d+)-\d+"),  # NORMAL2-IM-NNNN-MMMM
    re.compile(r"^(IM-\d+)-\d+"),  # IM-NNNN-MMMM
]


def patient_id(filename: str) -> str:
    """The patient a Kaggle chest X-ray file belongs to; the file stem when the name has no known form."""
    stem = Path(filename).stem
    for pat in _PATTERNS:
        m = pat.match(stem)
        if m:
            return m.group(1)
    return stem


def _patients_by_class(ds: ImageSet) -> dict[int, list[str]]:
    """Patients grouped by their majority class, in first-seen order (deterministic)."""
    votes: dict[str, list[int]] = {}
    for p, y in zip(ds.patients, ds.labels.tolist()):
        votes.setdefault(p, [0, 0])[y] += 1
    out: dict[int, list[str]] = {0: [], 1: []}
    for p, (n0, n1) in votes.items():
        out[int(n1 > n0)].append(p)
    return out


def patient_split(ds: ImageSet, val_fraction: float, seed: int) -> tuple[ImageSet, ImageSet]:
    """Split train into (train, val) by patient, stratified by class: no patient is on both sides."""
    rng = np.random.default_rng(seed)
    counts = {}
    for p in ds.patients:
        counts[p] = counts.get(p, 0) + 1
    val_patients: set[str] = set()
    for label, patients in _patients_by_class(ds).items():
        target = val_fraction * int((ds.labels == label).sum())
        taken = 0
        for j in rng.permutation(len(patients)):
            if taken >= target:
                break
            val_patients.add(patients[j])
            taken += counts[patients[j]]
    is_val = torch.tensor([p in val_patients for p in ds.patients])
    return (ds.subset(torch.nonzero(~is_val).flatten(), "train"), ds.subset(torch.nonzero(is_val).flatten(), "val"))


def legacy_split(ds: ImageSet, per_class: int, seed: int) -> tuple[ImageSet, ImageSet]:
    """The original plan's split: `per_class` random images per class moved to validation.

    Warning: images of one patient can land on both sides, so validation scores are optimistic.
    """
    rng = np.random.default_rng(seed)
    val_idx: list[int] = []
    for label in (0, 1):
        idx = torch.nonzero(ds.labels == label).flatten().numpy()
        val_idx += idx[rng.permutation(len(idx))[:per_class]].tolist()
    mask = torch.zeros(len(ds), dtype=torch.bool)
    mask[val_idx] = True
    return ds.subset(torch.nonzero(~mask).flatten(), "train"), ds.subset(torch.nonzero(mask).flatten(), "val")


def fraction_order(ds: ImageSet, seed: int) -> dict[int, np.ndarray]:
    """Per class, the order in which images enter growing subsets: patients shuffled, their images together."""
    rng = np.random.default_rng(seed)
    order = {}
    for label in (0, 1):
        idx = torch.nonzero(ds.labels == label).flatten().tolist()
        by_patient: dict[str, list[int]] = {}
        for i in idx:
            by_patient.setdefault(ds.patients[i], []).append(i)
        groups = list(by_patient.values())
        order[label] = np.array([i for g in rng.permutation(len(groups)) for i in groups[g]], dtype=np.int64)
    return order


def fraction_subset(ds: ImageSet, fraction: float, seed: int, min_per_class: int = 1) -> ImageSet:
    """A stratified `fraction` of `ds` (at least `min_per_class` images of each class, or all there are);
    for one seed, smaller fractions lie inside larger ones."""
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"fraction={fraction}: use a value in (0, 1]")
    if fraction == 1.0:
        return ds
    order = fraction_order(ds, seed)
    keep = []
    for idx in order.values():
        keep.append(idx[: max(min_per_class, math.ceil(fraction * len(idx)))])
    return ds.subset(np.sort(np.concatenate(keep)), f"{ds.name}@{fraction:g}")
