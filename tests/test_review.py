"""Review metrics against known answers, memorisation flags, Grad-CAM maps, and the review command's errors."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from xraygan.cli import main
from xraygan.distances import frechet_distance, kid, memorisation, prdc
from xraygan.explain import discriminator_maps, grad_cam
from xraygan.models import Discriminator, SimpleCNN
from xraygan.review import ReviewInputError, load_synthetic_folder


def test_identical_sets_have_zero_distance() -> None:
    a = np.random.default_rng(0).normal(size=(400, 8))
    assert abs(frechet_distance(a, a)) < 1e-6
    k, _ = kid(a, a, subsets=10, subset_size=100)
    assert abs(k) < 0.05
    p = prdc(a, a)
    assert p["precision"] == 1.0 and p["recall"] == 1.0 and p["coverage"] == 1.0


def test_frechet_distance_of_known_gaussians() -> None:
    rng = np.random.default_rng(1)
    d = 4
    a = rng.normal(0.0, 1.0, (40000, d))
    b = rng.normal(1.0, math.sqrt(2.0), (40000, d))
    expected = d * 1.0 + d * (1 + 2 - 2 * math.sqrt(2))  # |mu1-mu2|^2 + tr(S1 + S2 - 2 (S1 S2)^1/2)
    assert frechet_distance(a, b) == pytest.approx(expected, rel=0.05)
    k, _ = kid(a, b, subsets=20, subset_size=300)
    assert k > 0.1  # clearly different sets: clearly positive KID


def test_planted_copy_is_flagged_and_fresh_image_is_not() -> None:
    rng = np.random.default_rng(2)
    train = rng.normal(size=(300, 64))
    heldout = rng.normal(size=(200, 64))
    fake = np.stack([train[17] + 1e-3, rng.normal(size=64)])
    m = memorisation(fake, train, heldout, "l2")
    flags = m["fake_dist"] < m["threshold"]
    assert flags.tolist() == [True, False] and m["fake_nn"][0] == 17 and m["flagged"] == 1


def test_grad_cam_shape_and_range() -> None:
    torch.manual_seed(0)
    model = SimpleCNN(width=4)
    x = torch.rand(3, 1, 64, 64) * 2 - 1
    cam = grad_cam(model, x, torch.tensor([0, 1, 1]))
    assert cam.shape == (3, 64, 64) and cam.min() >= 0 and cam.max() <= 1
    maps, ch = discriminator_maps(Discriminator(8), x, block=1, top=2)
    assert maps.shape == (3, 2, 16, 16) and len(ch) == 2


def test_review_input_errors(tmp_path: Path, kaggle_dir: Path) -> None:
    empty = tmp_path / "empty"
    (empty / "NORMAL").mkdir(parents=True)
    (empty / "PNEUMONIA").mkdir()
    with pytest.raises(ReviewInputError, match="no PNG image"):
        load_synthetic_folder(empty)
    with pytest.raises(ReviewInputError, match="neither synthetic.pt"):
        load_synthetic_folder(tmp_path)
    odd = tmp_path / "odd"
    for c in ("NORMAL", "PNEUMONIA"):
        (odd / c).mkdir(parents=True)
        for i in range(12):
            Image.fromarray(np.full((96, 96), 40 * i % 255, np.uint8)).save(odd / c / f"{i}.png")
    assert main(["review", "--real", str(kaggle_dir), "--synthetic", str(empty)]) == 2
    assert main(["review", "--real", str(kaggle_dir), "--synthetic", str(odd), "--preset", "smoke"]) == 2  # 96 px


def test_review_command_end_to_end(tmp_path: Path, kaggle_dir: Path, capsys) -> None:
    syn = tmp_path / "syn"
    rng = np.random.default_rng(0)
    for c in ("NORMAL", "PNEUMONIA"):
        (syn / c).mkdir(parents=True)
        for i in range(12):
            Image.fromarray(rng.integers(0, 255, (64, 64), dtype=np.uint8)).save(syn / c / f"{i}.png")
    for split in ("train", "test"):  # enough real images for the distances
        for c in ("NORMAL", "PNEUMONIA"):
            src = next((kaggle_dir / split / c).iterdir())
            for i in range(20):
                (kaggle_dir / split / c / f"IM-{500 + i:04d}-0001.jpeg").write_bytes(src.read_bytes())
    assert main(["review", "--real", str(kaggle_dir), "--synthetic", str(syn), "--preset", "smoke"]) == 0
    import json

    out = json.loads(capsys.readouterr().out)
    for k in ("fd", "kid", "precision", "recall", "density", "coverage", "memorisation", "label_fidelity"):
        assert k in out
    assert (syn / "review" / "review.json").exists()
    # the same review, also written to a results folder (what notebook 03 does for results/<preset>/)
    from xraygan.config import DataConfig, preset
    from xraygan.data import load_splits
    from xraygan.review import review

    splits = load_splits(DataConfig(root=kaggle_dir), progress=False)
    review(splits, load_synthetic_folder(syn), syn / "review", preset("smoke", "classifier"), also_to=tmp_path / "r")
    assert (tmp_path / "r" / "review.json").read_text() == (syn / "review" / "review.json").read_text()
