"""Review metrics against known answers, memorisation flags, Grad-CAM maps, and the review command's errors."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from tests.conftest import write_kaggle_folder
from xraygan.cli import main
from xraygan.models import Discriminator, SimpleCNN
from xraygan.review.core import ReviewInputError, load_synthetic_folder
from xraygan.review.distances import frechet_distance, kid, memorisation, prdc
from xraygan.review.explain import discriminator_maps, grad_cam, mean_grad_cam


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


def test_grad_cam_finds_the_planted_evidence() -> None:
    """A small CNN learns that a bright square in the top-left quadrant means PNEUMONIA; Grad-CAM of the
    PNEUMONIA logit must point there, and the discriminator maps keep their shape."""
    g = torch.Generator().manual_seed(0)
    x = torch.rand(64, 1, 64, 64, generator=g) * 0.6 - 0.8  # dark noise
    y = torch.arange(64) % 2
    x[y == 1, :, 6:22, 6:22] = 0.9  # the evidence
    torch.manual_seed(0)
    model = SimpleCNN(width=4)
    opt = torch.optim.Adam(model.parameters(), 3e-3)
    for _ in range(60):
        loss = torch.nn.functional.binary_cross_entropy_with_logits(model(x), y.float())
        opt.zero_grad()
        loss.backward()
        opt.step()
    cam = grad_cam(model, x[y == 1][:8], torch.ones(8, dtype=torch.long))
    assert cam.shape == (8, 64, 64)
    inside, outside = cam[:, :32, :32].mean(), cam[:, 32:, 32:].mean()
    assert inside > 3 * outside
    # averaged over a class, in batches, from uint8 images: the mean of the per-image maps, still on the square
    u8 = ((x + 1) * 127.5).round().clamp(0, 255).to(torch.uint8)
    means = mean_grad_cam(model, u8, y, batch_size=24)
    assert set(means) == {0, 1} and means[1].shape == (64, 64)
    each = grad_cam(model, (u8[y == 1].float() / 127.5 - 1), torch.ones(32, dtype=torch.long))
    assert torch.allclose(means[1], each.mean(0), atol=1e-5)
    assert means[1][:32, :32].mean() > 3 * means[1][32:, 32:].mean()
    maps, ch = discriminator_maps(Discriminator(8), x[:3], block=1, top=2)
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


def test_review_numbers_separate_copies_from_noise(tmp_path: Path) -> None:
    """Copies of training images are all flagged as memorised and sit at the real-vs-real floor; noise is
    flagged never and lies far from real images. load_review gives back what review wrote."""
    from xraygan.config import ClassifierConfig, DataConfig
    from xraygan.data import ImageSet, load_splits
    from xraygan.review.core import load_review, review

    root = write_kaggle_folder(tmp_path / "data", n_per_class=60)
    splits = load_splits(DataConfig(root=root), progress=False)
    clf = ClassifierConfig(width=4, steps=40, batch_size=16, eval_every=20)
    copies = splits.train.subset(range(0, len(splits.train), 2), "copies")
    noise = ImageSet(
        torch.randint(0, 256, copies.images.shape, dtype=torch.uint8),
        copies.labels,
        copies.patients,
        copies.sources,
        "noise",
    )
    res_c = review(splits, copies, tmp_path / "rc", clf, device="cpu", n_max=40)
    res_n = review(splits, noise, tmp_path / "rn", clf, device="cpu", n_max=40)
    val = res_c.feature_net["validation"]  # what the feature network scored on validation, said in review.json
    assert 0.5 <= val["val_auc"] <= 1 and res_n.feature_net["validation"] == val  # the second review: cached net
    assert res_c.memorisation["pixel_l2"]["flagged_share"] == 1.0
    assert res_n.memorisation["pixel_l2"]["flagged"] == 0
    assert res_n.fd > 5 * res_c.fd and res_n.kid > res_c.kid and res_n.precision < res_c.precision
    back, arrays = load_review(tmp_path / "rn")
    assert back == res_n and len(arrays.p_synthetic) == len(noise)
    assert (tmp_path / "rn" / arrays.feature_net).exists()
    assert arrays.fake_index.max() < len(noise) and len(arrays.memorisation["pixel_l2"]["fake_dist"]) == len(
        arrays.fake_index
    )


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
    from xraygan.config import DataConfig
    from xraygan.data import load_splits
    from xraygan.experiment import build_experiment
    from xraygan.review.core import load_review, review

    saved, _ = load_review(syn / "review")
    assert out == saved.headline() | {"json": str(syn / "review" / "review.json")}  # what it printed, it wrote
    # the same review, also written to a results folder (what notebook 03 does for results/<preset>/)
    splits = load_splits(DataConfig(root=kaggle_dir), progress=False)
    review(
        splits, load_synthetic_folder(syn), syn / "review", build_experiment("smoke").classifier, also_to=tmp_path / "r"
    )
    assert (tmp_path / "r" / "review.json").read_text() == (syn / "review" / "review.json").read_text()
