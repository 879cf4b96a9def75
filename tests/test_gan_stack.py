"""K GANs trained together (xraygan/gan/stack.py) are the same K GANs trained one at a time: same data order
and random draws (RNG states equal bit for bit), same weights and optimiser moments to float rounding, and
checkpoints that resume exactly, stacked or alone."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from tests.conftest import TEST_SIZE
from xraygan.checkpoint import load_checkpoint
from xraygan.config import GANConfig
from xraygan.data.phantom import phantom_set
from xraygan.gan.stack import StackedDiscriminator, stack_problem, train_gan_stack
from xraygan.gan.training import build_models, train_gan

TINY = GANConfig(
    image_size=TEST_SIZE, nz=8, ngf=4, ndf=4, batch_size=8, steps=12, log_every=2, sample_every=6, ckpt_every=6,
    ema_decay=0.9,
)


@pytest.fixture(scope="module")
def toy():
    return phantom_set(24, TEST_SIZE, seed=1)


@pytest.fixture(scope="module")
def toy64():
    """The comparison with one-at-a-time training runs at the study's 64 px: at 32 px with cutout one model's
    generator gets first-step gradients near zero, whose rounding Adam's first step (about lr * g / |g|) turns
    into 6e-4 of a weight, which no tolerance on float rounding can tell from a fault."""
    return phantom_set(24, 64, seed=1)


def _jobs(cfg: GANConfig, toy, root: Path) -> list:
    """Three models: two seeds of NORMAL, one of PNEUMONIA, one of them on fewer images than a batch."""
    few = toy.subset(torch.nonzero(toy.labels == 0).flatten()[:5])
    return [
        (replace(cfg, seed=0), toy, root / "a", 0),
        (replace(cfg, seed=1), toy, root / "b", 1),
        (replace(cfg, seed=2), few, root / "c", 0),
    ]


def _close(a: dict, b: dict, what: str) -> None:
    for k in a:
        if torch.is_tensor(a[k]) and a[k].is_floating_point():
            err, scale = float((a[k] - b[k]).abs().max()), float(a[k].abs().max())
            assert err <= 1e-4 * scale + 1e-7, (what, k, err, scale)  # rounding, relative to the tensor's size
        elif torch.is_tensor(a[k]):
            assert torch.equal(a[k], b[k]), (what, k)


def _adam_moments(st: dict) -> dict:
    return {f"{p}.{n}": v for p, s in st["state"].items() for n, v in s.items() if n != "step"}


# The hinge loss without DiffAugment gets 4 steps, not 12: its kink turns a rounding difference into a step of
# the learning rate as soon as one sample's margin crosses 1 (seen at step 8 on an AVX512 Xeon without bf16,
# not on the AMD machine), which no tolerance on float rounding can tell from a fault. A fault in the stacked
# loss shows from the first step.
HINGE = {"diffaug": "off", "loss": "hinge", "steps": 4, "log_every": 2, "sample_every": 2, "ckpt_every": 2}


@pytest.mark.parametrize("fields", [{}, {"mbstd": True, "pack": 2, "diffaug_policy": "cutout"}, HINGE])
def test_stack_trains_the_same_models_as_one_at_a_time(toy64, tmp_path: Path, fields: dict) -> None:
    cfg = replace(TINY, image_size=64, **fields)
    jobs = _jobs(cfg, toy64, tmp_path / "one")
    alone = [train_gan(c, t, r, lab, progress=False) for c, t, r, lab in jobs]
    stacked = train_gan_stack(_jobs(cfg, toy64, tmp_path / "stack"), progress=False)
    for a, b in zip(alone, stacked):
        sa, sb = load_checkpoint(a / "checkpoint.pt"), load_checkpoint(b / "checkpoint.pt")
        assert set(sa) == set(sb) and sa["step"] == sb["step"] == cfg.steps
        assert torch.equal(sa["rng"]["train"], sb["rng"]["train"])  # the same draws, in the same order
        assert torch.equal(sa["perm"], sb["perm"]) and (sa["pos"], sa["epoch"]) == (sb["pos"], sb["epoch"])
        for part in ("G", "D", "G_ema"):
            _close(sa[part], sb[part], f"{a.name} {part}")
        for opt in ("opt_g", "opt_d"):
            _close(_adam_moments(sa[opt]), _adam_moments(sb[opt]), f"{a.name} {opt}")
        la = [json.loads(x) for x in (a / "metrics.jsonl").read_text().splitlines()]
        lb = [json.loads(x) for x in (b / "metrics.jsonl").read_text().splitlines()]
        assert [r["step"] for r in la] == [r["step"] for r in lb]
        assert [r["loss_d"] for r in la] == pytest.approx([r["loss_d"] for r in lb], rel=1e-4)
        assert sorted(p.name for p in (a / "samples").iterdir()) == sorted(p.name for p in (b / "samples").iterdir())


def test_a_stopped_stack_resumes_exactly_stacked_or_alone(toy, tmp_path: Path) -> None:
    cfg = replace(TINY, mbstd=True, pack=2)
    full = train_gan_stack(_jobs(cfg, toy, tmp_path / "full"), progress=False)
    part = train_gan_stack(_jobs(cfg, toy, tmp_path / "part"), progress=False, stop_after=6)
    assert all(load_checkpoint(r / "checkpoint.pt")["step"] == 6 for r in part)
    train_gan_stack(_jobs(cfg, toy, tmp_path / "part"), progress=False)
    for a, b in zip(full, part):
        sa, sb = load_checkpoint(a / "checkpoint.pt"), load_checkpoint(b / "checkpoint.pt")
        assert all(torch.equal(sa["G_ema"][k], sb["G_ema"][k]) for k in sa["G_ema"])
        assert (a / "metrics.jsonl").read_text().count("\n") == (b / "metrics.jsonl").read_text().count("\n")
    # a stacked checkpoint is an ordinary run folder: one model resumes alone from it
    alone = train_gan_stack(_jobs(cfg, toy, tmp_path / "mixed"), progress=False, stop_after=6)[1]
    c, t, _, lab = _jobs(cfg, toy, tmp_path)[1]
    train_gan(c, t, alone, lab, progress=False)
    _close(load_checkpoint(full[1] / "checkpoint.pt")["G"], load_checkpoint(alone / "checkpoint.pt")["G"], "alone")


def test_stacked_discriminator_matches_its_members(toy) -> None:
    cfgs = [replace(TINY, seed=s, mbstd=True, pack=2) for s in range(3)]
    Ds = [build_models(c)[1].eval() for c in cfgs]
    x = torch.randn(8, 3, TEST_SIZE, TEST_SIZE)
    out = StackedDiscriminator(Ds).eval()(x)
    assert out.shape == (4, 3)
    for k, D in enumerate(Ds):
        assert torch.allclose(out[:, k], D(x[:, k : k + 1]), atol=1e-5)


def test_what_does_not_stack_is_named(toy, tmp_path: Path) -> None:
    assert stack_problem([TINY, replace(TINY, seed=3)]) is None
    assert "ngf" in stack_problem([TINY, replace(TINY, ngf=8)])
    assert "conditional" in stack_problem([replace(TINY, conditional=True)] * 2)
    assert "shared start" in stack_problem([replace(TINY, shared_steps=4)] * 2)
    with pytest.raises(ValueError, match="steps"):
        train_gan_stack([(TINY, toy, tmp_path / "a", 0), (replace(TINY, steps=4), toy, tmp_path / "b", 0)])


def test_train_gans_stacks_where_it_pays(toy, tmp_path: Path, monkeypatch) -> None:
    """Where stacking pays (a GPU; forced here) both classes' GANs of a set train as one stack, with the
    result of the one-at-a-time path that CPUs take."""
    import xraygan.gan.runs as runs_mod

    calls = []
    monkeypatch.setattr(
        runs_mod, "train_gan_stack", lambda jobs, *a, **k: calls.append(len(jobs)) or train_gan_stack(jobs, *a, **k)
    )
    plain = runs_mod.train_gans(TINY, toy, tmp_path / "plain", progress=False)
    assert calls == []
    monkeypatch.setattr(runs_mod, "stacking_pays", lambda device: True)
    stacked = runs_mod.train_gans(TINY, toy, tmp_path / "stacked", progress=False)
    assert calls == [2]
    for label in (0, 1):
        a, b = (load_checkpoint(r.per_class[label] / "checkpoint.pt")["G_ema"] for r in (plain, stacked))
        _close(a, b, f"class {label}")


def test_a_failing_member_stops_the_stack_and_keeps_its_checkpoints(toy, tmp_path: Path, monkeypatch) -> None:
    """A non-finite loss in one model names that model's run; every member keeps its last checkpoint."""
    import xraygan.gan.stack as stack_mod
    from xraygan.gan.training import GANTrainingError

    runs = train_gan_stack(_jobs(TINY, toy, tmp_path), progress=False, stop_after=6)
    real = stack_mod.d_loss
    calls = iter(range(10**6))
    # every third loss is the third model's (models in order within a step): only "c" goes non-finite
    monkeypatch.setattr(
        stack_mod, "d_loss", lambda r, f, k: real(r, f, k) * (float("nan") if next(calls) % 3 == 2 else 1)
    )
    with pytest.raises(GANTrainingError, match=r"c: non-finite loss at step 8"):
        train_gan_stack(_jobs(TINY, toy, tmp_path), progress=False)
    assert all(load_checkpoint(r / "checkpoint.pt")["step"] == 6 for r in runs)
