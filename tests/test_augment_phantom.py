"""Tensor-batch augmentation and the phantom set."""

from __future__ import annotations

import torch

from tests.conftest import TEST_SIZE
from xraygan.augment import classic_augment, diff_augment
from xraygan.config import DataConfig
from xraygan.data import load_splits
from xraygan.data.phantom import phantom_set


def test_classic_augment_range_and_determinism() -> None:
    x = torch.rand(8, 1, 32, 32) * 2 - 1
    a = classic_augment(x, torch.Generator().manual_seed(1))
    b = classic_augment(x, torch.Generator().manual_seed(1))
    c = classic_augment(x, torch.Generator().manual_seed(2))
    assert a.shape == x.shape and a.min() >= -1 and a.max() <= 1
    assert torch.equal(a, b) and not torch.equal(a, c) and not torch.equal(a, x)


def test_diff_augment_is_differentiable_and_changes_input() -> None:
    x = (torch.rand(4, 1, 32, 32) * 2 - 1).requires_grad_()
    y = diff_augment(x, torch.Generator().manual_seed(0))
    y.sum().backward()
    assert y.shape == x.shape and x.grad is not None and x.grad.abs().sum() > 0
    assert (y == 0).float().mean() > 0.2  # the cutout hole (a quarter of the image) is zero


def test_phantom_classes_differ_and_are_labelled() -> None:
    ds = phantom_set(40, TEST_SIZE, seed=0)
    assert ds.class_counts() == {"NORMAL": 40, "PNEUMONIA": 40}
    m0, m1 = (ds.of_class(c).images.float().mean().item() for c in (0, 1))
    assert m1 > m0  # opacities brighten the lungs
    s = load_splits(DataConfig(source="phantom", phantom_per_class=40), progress=False)
    assert s.source == "phantom" and not set(s.train.patients) & set(s.val.patients)
