"""The collapse flag separates a planted collapsed set (one image repeated with small noise) from a varied one."""

from __future__ import annotations

import torch

from xraygan.data.phantom import phantom_set
from xraygan.review.diversity import class_diversity, rms_distances, warnings_for


def test_rms_distance_known_answer() -> None:
    a = torch.zeros(1, 1, 4, 4, dtype=torch.uint8)
    b = torch.full((1, 1, 4, 4), 255, dtype=torch.uint8)
    c = a.clone()
    c[..., :2, :] = 255  # half the pixels differ by 1.0
    assert rms_distances(a, torch.cat([a, b, c])).tolist() == [[0.0, 1.0, 2**-0.5]]


def test_collapse_flag_separates_planted_sets() -> None:
    real = phantom_set(200, 64, seed=0).of_class(0).images
    varied = phantom_set(200, 64, seed=1).of_class(0).images  # other draws of the same kind of image
    g = torch.Generator().manual_seed(0)
    one = varied[:1].expand(len(varied), -1, -1, -1).float()
    collapsed = (one + torch.randn(one.shape, generator=g) * 3).clamp(0, 255).round().byte()

    ok = class_diversity(varied, real, n=150).numbers
    bad = class_diversity(collapsed, real, n=150)
    assert not ok["collapsed"] and ok["near_twin_share"] <= 0.05 and ok["pairwise_ratio"] > 0.95
    assert bad.numbers["collapsed"] and bad.numbers["near_twin_share"] == 1.0 and bad.numbers["pairwise_ratio"] < 0.2
    assert bad.numbers["ms_ssim"] > ok["ms_ssim"] + 0.2  # repeated images are structurally alike
    assert 0.0 <= ok["near_twin_share_real"] <= 0.02  # ~1 % by construction
    a, b = bad.fake_pairs[0]
    assert a != b and len(bad.fake_pairs) == 6 and len(set(map(tuple, bad.fake_pairs.tolist()))) == 6
    assert warnings_for({"NORMAL": bad.numbers, "PNEUMONIA": ok})[0].startswith("NORMAL: the generator has lost")
    assert len(warnings_for({"NORMAL": bad.numbers, "PNEUMONIA": ok})) == 1
