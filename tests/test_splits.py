"""Patient parsing, patient-grouped validation split, nested low-data subsets."""

from __future__ import annotations

import pytest
import torch

from xraygan.data.imageset import ImageSet
from xraygan.data.splits import fraction_subset, legacy_split, patient_id, patient_split


@pytest.mark.parametrize("name,pid", [
    ("person1180_bacteria_3123.jpeg", "person1180"), ("person22_virus_55.jpeg", "person22"),
    ("person1_virus_11_2.jpeg", "person1"), ("IM-0115-0001.jpeg", "IM-0115"),
    ("NORMAL2-IM-1427-0001.jpeg", "NORMAL2-IM-1427"), ("IM-0001-0001-0002.jpeg", "IM-0001"),
    ("odd_name.jpeg", "odd_name"),
])
def test_patient_id(name: str, pid: str) -> None:
    assert patient_id(name) == pid


def _toy(n_patients: tuple[int, int] = (60, 90), seed: int = 0) -> ImageSet:
    g = torch.Generator().manual_seed(seed)
    labels, patients = [], []
    for label, n in enumerate(n_patients):
        for p in range(n):
            k = int(torch.randint(1, 5, (1,), generator=g))  # 1-4 images per patient
            labels += [label] * k
            patients += [f"c{label}-p{p}"] * k
    n = len(labels)
    return ImageSet(torch.zeros(n, 1, 4, 4, dtype=torch.uint8), torch.tensor(labels), patients,
                    [f"f{i}" for i in range(n)], "train")


def test_patient_split_no_overlap_and_stratified() -> None:
    ds = _toy()
    tr, va = patient_split(ds, 0.2, seed=3)
    assert len(tr) + len(va) == len(ds)
    assert not set(tr.patients) & set(va.patients)
    for label in (0, 1):
        share = int((va.labels == label).sum()) / int((ds.labels == label).sum())
        assert 0.18 <= share <= 0.3, share


def test_patient_split_seeded() -> None:
    ds = _toy()
    a, b, c = (patient_split(ds, 0.2, s)[1].sources for s in (1, 1, 2))
    assert a == b and a != c


def test_legacy_split_moves_30_per_class() -> None:
    tr, va = legacy_split(_toy(), 30, seed=0)
    assert va.class_counts() == {"NORMAL": 30, "PNEUMONIA": 30}


def test_fractions_nested_stratified_seeded() -> None:
    ds = _toy((200, 300))
    small, big = fraction_subset(ds, 0.05, 7), fraction_subset(ds, 0.1, 7)
    assert set(small.sources) < set(big.sources)
    n = ds.class_counts()
    for c in ("NORMAL", "PNEUMONIA"):
        assert abs(big.class_counts()[c] - 0.1 * n[c]) <= 1
    assert fraction_subset(ds, 0.1, 7).sources == big.sources
    assert fraction_subset(ds, 0.1, 8).sources != big.sources
    with pytest.raises(ValueError, match="fraction"):
        fraction_subset(ds, 0.0, 1)
