"""DCGAN models, training loop, checkpoints, exact resume, failure handling and export."""

from __future__ import annotations

import csv
import dataclasses
import json
from pathlib import Path

import pytest
import torch

import xraygan.gan.training as gan_mod
from tests.conftest import TEST_SIZE
from xraygan.checkpoint import CheckpointError, atomic_save, load_checkpoint
from xraygan.config import GANConfig
from xraygan.data.phantom import phantom_set
from xraygan.gan.export import export_synthetic, load_synthetic
from xraygan.gan.training import GANTrainingError, train_gan
from xraygan.models import Discriminator, Generator

TINY = GANConfig(
    image_size=TEST_SIZE, nz=8, ngf=4, ndf=4, batch_size=8, steps=12, log_every=2, sample_every=6, ckpt_every=6,
    ema_decay=0.9,
)


@pytest.fixture(scope="module")
def toy():
    return phantom_set(24, TEST_SIZE, seed=1)


@pytest.mark.parametrize("size", [32, 64, 128])
def test_shapes(size: int) -> None:
    G, D = Generator(16, 8, size), Discriminator(8, size)
    x = G(torch.randn(3, 16))
    assert x.shape == (3, 1, size, size) and x.min() >= -1 and x.max() <= 1
    assert D(x).shape == (3,)
    # the widest block is ngf * 8 at 64 px and up (the DCGAN paper's), ngf * 4 at 32 px (one block fewer)
    assert G.net[0].out_channels == D.head.in_channels == 8 * (4 if size == 32 else 8)


@pytest.mark.parametrize("size", [16, 48, 256 + 1])
def test_sizes_dcgan_cannot_build_are_refused(size: int) -> None:
    with pytest.raises(ValueError, match=f"image_size={size}: DCGAN needs a power of two >= 32"):
        Generator(16, 8, size)


def test_conditional_labels_change_output() -> None:
    torch.manual_seed(0)
    G, D = Generator(16, 8, 64, n_classes=2), Discriminator(8, 64, n_classes=2)
    z = torch.randn(4, 16)
    a, b = G(z, torch.zeros(4, dtype=torch.long)), G(z, torch.ones(4, dtype=torch.long))
    assert (a - b).abs().mean() > 0.05 * a.abs().mean()
    assert not torch.allclose(D(a, torch.zeros(4, dtype=torch.long)), D(a, torch.ones(4, dtype=torch.long)))
    with pytest.raises(ValueError, match="labels"):
        G(z)


def test_discriminator_learns_on_toy_set(toy) -> None:
    """With G frozen (lr 0), a few D steps must lower D's loss: the loop really optimises D."""
    cfg = GANConfig(
        image_size=TEST_SIZE,
        nz=8,
        ngf=4,
        ndf=8,
        batch_size=16,
        steps=40,
        lr_g=0.0,
        lr_d=1e-3,
        log_every=10,
        sample_every=40,
        ckpt_every=40,
        diffaug="off",
    )
    run = train_gan(cfg, toy, Path(pytest.importorskip("tempfile").mkdtemp()), class_label=0, progress=False)
    m = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert m[-1]["loss_d"] < 0.7 * m[0]["loss_d"]


@pytest.mark.parametrize("fast_cpu", [False, True])
def test_checkpoint_roundtrip_and_resume_is_exact(toy, tmp_path: Path, monkeypatch, fast_cpu: bool) -> None:
    """A stopped run resumes bit for bit, also in channels-last tensors with bf16 autocast on CPU (where G and
    D's convolutions then run in bf16, the weights staying fp32)."""
    cfg = dataclasses.replace(TINY, channels_last=fast_cpu, cpu_bf16=fast_cpu)
    dtypes, real = set(), torch.nn.Conv2d.forward
    monkeypatch.setattr(torch.nn.Conv2d, "forward", lambda self, x: dtypes.add(real(self, x).dtype) or real(self, x))
    full = train_gan(cfg, toy, tmp_path / "full", class_label=1, progress=False)
    assert dtypes == {torch.bfloat16 if fast_cpu else torch.float32}
    part = train_gan(cfg, toy, tmp_path / "part", class_label=1, progress=False, stop_after=6)
    st = load_checkpoint(part / "checkpoint.pt")
    assert all(v.dtype == torch.float32 for v in st["G"].values() if v.is_floating_point())
    assert st["step"] == 6 and st["config"]["ngf"] == 4 and "torch" in st["versions"]
    assert set(st) >= {"G", "D", "G_ema", "opt_g", "opt_d", "rng", "perm", "epoch"}
    train_gan(cfg, toy, tmp_path / "part", class_label=1, progress=False)  # resume to the end
    a = [json.loads(x) for x in (full / "metrics.jsonl").read_text().splitlines()]
    b = [json.loads(x) for x in (part / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in a] == [r["step"] for r in b]
    for ra, rb in zip(a, b):
        for k in ("loss_d", "loss_g", "d_real", "d_fake"):
            assert ra[k] == rb[k], (ra["step"], k)
    sa, sb = (load_checkpoint(p / "checkpoint.pt")["G_ema"] for p in (full, part))
    assert all(torch.equal(sa[k], sb[k]) for k in sa)


def test_mismatched_checkpoint_is_refused(toy, tmp_path: Path) -> None:
    train_gan(TINY, toy, tmp_path / "r", class_label=0, progress=False, stop_after=6)
    wider = GANConfig(**{**TINY.__dict__, "ngf": 8})
    with pytest.raises(CheckpointError, match="ngf: 4 in it, 8 requested"):
        train_gan(wider, toy, tmp_path / "r", class_label=0, progress=False)
    with pytest.raises(CheckpointError, match="class_label"):
        train_gan(TINY, toy, tmp_path / "r", class_label=1, progress=False)


def test_truncated_checkpoint_is_a_clear_error(toy, tmp_path: Path) -> None:
    run = train_gan(TINY, toy, tmp_path / "r", class_label=0, progress=False, stop_after=6)
    data = (run / "checkpoint.pt").read_bytes()
    (run / "checkpoint.pt").write_bytes(data[: len(data) // 3])
    with pytest.raises(CheckpointError, match=r"checkpoint\.pt is damaged or truncated"):
        train_gan(TINY, toy, run, class_label=0, progress=False)


def test_interrupted_save_keeps_previous_checkpoint(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "c.pt"
    atomic_save({"step": torch.tensor(1)}, path)

    def boom(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", boom)
    with pytest.raises(KeyboardInterrupt):
        atomic_save({"step": torch.tensor(2)}, path)
    monkeypatch.undo()
    assert int(torch.load(path, weights_only=True)["step"]) == 1
    assert [p.name for p in tmp_path.iterdir()] == ["c.pt"]


def test_nan_loss_stops_and_keeps_last_good_checkpoint(toy, tmp_path: Path, monkeypatch) -> None:
    run = train_gan(TINY, toy, tmp_path / "r", class_label=0, progress=False, stop_after=6)
    real = gan_mod.d_loss
    monkeypatch.setattr(gan_mod, "d_loss", lambda r, f, k: real(r, f, k) * float("nan"))
    with pytest.raises(GANTrainingError, match="non-finite loss at step 8"):
        train_gan(TINY, toy, run, class_label=0, progress=False)
    assert load_checkpoint(run / "checkpoint.pt")["step"] == 6


def test_collapsed_discriminator_stops(toy, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(gan_mod, "d_loss", lambda r, f, k: (r * 0).mean() + 1e-5)
    with pytest.raises(GANTrainingError, match="collapsed .* at step 8"):
        train_gan(TINY, toy, tmp_path / "r", class_label=0, progress=False)


def test_export_counts_manifest_determinism(toy, tmp_path: Path) -> None:
    runs = {c: train_gan(TINY, toy, tmp_path / f"g{c}", class_label=c, progress=False) for c in (0, 1)}
    a = export_synthetic(runs, 5, tmp_path / "a", seed=3)
    b = export_synthetic(runs, 7, tmp_path / "b", seed=3)
    c = export_synthetic(runs, 5, tmp_path / "c", seed=4)
    assert a.class_counts() == {"NORMAL": 5, "PNEUMONIA": 5}
    assert len(list((tmp_path / "a" / "NORMAL").glob("*.png"))) == 5
    rows = list(csv.DictReader(open(tmp_path / "a" / "manifest.csv")))
    assert len(rows) == 10 and set(rows[0]) == {"file", "class", "seed", "checkpoint", "step"}
    assert rows[0]["step"] == "12" and (tmp_path / "a" / rows[0]["file"]).exists()
    # image i depends only on its seed, not on how many images were exported with it
    assert torch.equal(a.of_class(0).images, b.of_class(0).images[:5])
    assert not torch.equal(a.images, c.images)
    assert torch.equal(load_synthetic(tmp_path / "a").images, a.images)


def test_conditional_gan_trains_and_exports(toy, tmp_path: Path) -> None:
    cfg = GANConfig(**{**TINY.__dict__, "conditional": True, "loss": "hinge"})
    run = train_gan(cfg, toy, tmp_path / "cond", progress=False)
    ds = export_synthetic(run, 4, tmp_path / "e", seed=0, pngs=False)
    assert ds.class_counts() == {"NORMAL": 4, "PNEUMONIA": 4}
    assert not torch.equal(ds.images[:4], ds.images[4:])


def test_a_packed_recipe_trains_its_conditional_gan_with_cgan_pack(toy, tmp_path: Path) -> None:
    """Presets with a packed D (cpu, paper, full) also train the conditional GAN: it takes the recipe with
    pack replaced by cgan_pack (1 by default, as every grid before packs of one label), the per-class GANs
    keep theirs; a cgan_pack other than 1 is part of the GAN folder's key, the default is not."""
    from xraygan.gan.runs import load_generator, run_key, train_gans

    packed = GANConfig(**{**TINY.__dict__, "pack": 2})
    runs = train_gans(packed, toy, tmp_path / "a", ("per_class", "conditional"), "cpu", False)
    assert runs.conditional is not None
    cond = load_generator(runs.conditional, "cpu")[1]
    assert cond["pack"] == 1 and cond["conditional"]
    assert {load_generator(r, "cpu")[1]["pack"] for r in runs.per_class.values()} == {2}
    both = dataclasses.replace(packed, cgan_pack=2)
    got = train_gans(both, toy, tmp_path / "b", ("conditional",), "cpu", False).conditional
    assert load_generator(got, "cpu")[1]["pack"] == 2
    assert "cgan_pack" not in run_key(packed, toy, 1.0, 0)["gan"]
    assert run_key(both, toy, 1.0, 0)["gan"]["cgan_pack"] == 2


def test_a_conditional_ds_packs_hold_one_label_each(toy, tmp_path: Path, monkeypatch) -> None:
    """With a packed conditional D, every pack it judges (real or fake) holds images of one label, each epoch
    visits every pack-worth of each class once, and the run resumes exactly."""
    g = torch.Generator().manual_seed(0)
    labels = torch.tensor([0] * 7 + [1] * 12)
    order = gan_mod.packs_of_one_label(labels, 2, g)
    assert len(order) == 6 + 12 and len(set(order.tolist())) == len(order)  # NORMAL's odd image waits
    assert (labels[order].reshape(-1, 2)[:, 0] == labels[order].reshape(-1, 2)[:, 1]).all()
    seen: list[torch.Tensor] = []
    real_forward = Discriminator.forward
    monkeypatch.setattr(
        Discriminator, "forward", lambda self, x, y=None: seen.append(y.clone()) or real_forward(self, x, y)
    )
    cfg = GANConfig(**{**TINY.__dict__, "conditional": True, "pack": 2, "mode_seeking": 1.0})
    full = train_gan(cfg, toy, tmp_path / "full", progress=False)
    assert seen and all(torch.equal(y[0::2], y[1::2]) for y in seen) and any(len(set(y.tolist())) > 1 for y in seen)
    part = train_gan(cfg, toy, tmp_path / "part", progress=False, stop_after=6)
    train_gan(cfg, toy, part, progress=False)
    sa, sb = (load_checkpoint(p / "checkpoint.pt")["G"] for p in (full, part))
    assert all(torch.equal(sa[k], sb[k]) for k in sa)


def test_balanced_packs_draw_each_class_equally_often() -> None:
    """Balanced: the smaller class goes through all its images, then again in a new order, until it gives as
    many packs as the larger; every pack holds one label. Unbalanced, the order is the one made before the
    option existed (the same draws from the same generator)."""
    labels = torch.tensor([0] * 5 + [1] * 16)
    order = gan_mod.packs_of_one_label(labels, 2, torch.Generator().manual_seed(0), balanced=True)
    got = labels[order].reshape(-1, 2)
    assert (got[:, 0] == got[:, 1]).all()
    assert int((got[:, 0] == 0).sum()) == int((got[:, 0] == 1).sum()) == 8
    normal = order[labels[order] == 0].tolist()  # four passes over its 5 images, 4 of them (2 packs) each
    assert set(normal) <= set(range(5)) and max(normal.count(i) for i in range(5)) <= 4
    assert sorted(order[labels[order] == 1].tolist()) == list(range(5, 21))  # PNEUMONIA: each image once
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    old = []  # the unbalanced order as written before `balanced`
    for c in (0, 1):
        pos = torch.nonzero(labels == c).flatten()
        pos = pos[torch.randperm(len(pos), generator=g2)]
        old.append(pos[: len(pos) // 2 * 2].reshape(-1, 2))
    every = torch.cat(old)
    before = every[torch.randperm(len(every), generator=g2)].flatten()
    assert torch.equal(gan_mod.packs_of_one_label(labels, 2, g1), before)
    with pytest.raises(ValueError, match="fewer than a pack"):
        gan_mod.packs_of_one_label(torch.tensor([0, 1, 1, 1]), 2, torch.Generator(), balanced=True)


def test_class_batch_norm_conditions_every_block_on_the_class() -> None:
    """With class_bn each batch norm scales and shifts by the class it draws: zeroing PNEUMONIA's scales and
    shifts makes its images one constant image, NORMAL's unchanged. Without it the layout (and the state-dict
    keys of every committed generator) is the plain one."""
    from xraygan.models import ClassBatchNorm2d

    torch.manual_seed(0)
    G = Generator(16, 8, 64, n_classes=2, class_bn=True).eval()  # per-image statistics: the classes do not mix
    z, y = torch.randn(6, 16), torch.tensor([0, 0, 0, 1, 1, 1])
    before = G(z, y)
    with torch.no_grad():
        for m in G.modules():
            if isinstance(m, ClassBatchNorm2d):
                m.scale.weight[1] = 0
                m.shift.weight[1] = 0
    after = G(z, y)
    assert torch.allclose(after[:3], before[:3], atol=1e-6)
    assert (after[3:] - after[3]).abs().max() < 1e-6 and not torch.allclose(after[3:], before[3:])
    plain = Generator(16, 8, 64, n_classes=2)
    assert not any(isinstance(m, ClassBatchNorm2d) for m in plain.modules())
    assert "net.1.weight" in plain.state_dict() and "net.1.scale.weight" in G.state_dict()
    with pytest.raises(ValueError, match="class_bn"):
        Generator(16, 8, 64, class_bn=True)


def test_a_class_bn_balanced_conditional_gan_trains_resumes_and_is_keyed(toy, tmp_path: Path, monkeypatch) -> None:
    """A conditional GAN with class batch norm and balanced batches: its batches hold as many NORMAL as
    PNEUMONIA images over an epoch, it resumes exactly, loads back as a class-BN generator, and the two options
    are in its folder key only when on."""
    from xraygan.gan.runs import load_generator, run_key, train_gans

    seen: list[torch.Tensor] = []
    real_forward = Discriminator.forward
    monkeypatch.setattr(
        Discriminator, "forward", lambda self, x, y=None: seen.append(y.clone()) or real_forward(self, x, y)
    )
    lop = phantom_set(24, TEST_SIZE, seed=1)
    keep = torch.cat([torch.nonzero(lop.labels == 0).flatten()[:6], torch.nonzero(lop.labels == 1).flatten()])
    few = lop.subset(keep)  # 6 NORMAL, 24 PNEUMONIA
    cfg = GANConfig(**{**TINY.__dict__, "cgan_class_bn": True, "cgan_balanced": True, "cgan_pack": 2})
    full = train_gans(cfg, few, tmp_path / "full", ("conditional",), "cpu", False).conditional
    drawn = torch.cat(seen[::3])  # D's first call of each step holds the real batch's labels
    assert abs(int((drawn == 0).sum()) - int((drawn == 1).sum())) <= cfg.batch_size
    G, meta = load_generator(full, "cpu")
    assert meta["cgan_class_bn"] and G.class_bn
    part = tmp_path / "part"
    c = dataclasses.replace(cfg, conditional=True, pack=2)
    train_gan(c, few, part, progress=False, stop_after=6)
    train_gan(c, few, part, progress=False)
    sa, sb = (load_checkpoint(p / "checkpoint.pt")["G"] for p in (full, part))
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert {"cgan_class_bn", "cgan_balanced"} <= set(run_key(cfg, few, 1.0, 0)["gan"])
    assert not {"cgan_class_bn", "cgan_balanced"} & set(run_key(TINY, few, 1.0, 0)["gan"])


def test_a_conditional_ds_projection_can_start_at_the_dcgan_scale() -> None:
    """PyTorch starts the projection embedding at N(0, 1), which makes a conditional D's logits about 100x an
    unconditional D's on the same images; cgan_proj_init="dcgan" starts it at N(0, 0.02), changes no other
    weight, and is keyed only when used (the folders of every conditional GAN before it keep their key)."""
    from xraygan.gan.runs import run_key
    from xraygan.gan.training import build_models

    torch.manual_seed(0)
    x, y = torch.rand(32, 1, 64, 64) * 2 - 1, torch.randint(0, 2, (32,))
    base = GANConfig(ngf=8, ndf=8, mbstd=True)
    plain = build_models(base)[1](x).abs().mean()
    (_, old), (g_new, new) = build_models(dataclasses.replace(base, conditional=True)), build_models(
        dataclasses.replace(base, conditional=True, cgan_proj_init="dcgan")
    )
    assert old(x, y).abs().mean() > 20 * plain and new(x, y).abs().mean() < 3 * plain
    assert 0.015 < new.embed.weight.std() < 0.025
    old_state, new_state = old.state_dict(), new.state_dict()
    assert all(torch.equal(old_state[k], new_state[k]) for k in old_state if k != "embed.weight")
    g_old = build_models(dataclasses.replace(base, conditional=True))[0]
    assert all(torch.equal(a, b) for a, b in zip(g_old.state_dict().values(), g_new.state_dict().values()))
    train = phantom_set(8, TEST_SIZE, seed=0)
    assert "cgan_proj_init" not in run_key(base, train, 1.0, 0)["gan"]
    assert run_key(dataclasses.replace(base, cgan_proj_init="dcgan"), train, 1.0, 0)["gan"]["cgan_proj_init"] == "dcgan"
    with pytest.raises(ValueError, match="cgan_proj_init"):
        GANConfig(cgan_proj_init="xavier")


def test_cli_gan_train_and_export(tmp_path: Path) -> None:
    from xraygan.cli import main

    out = tmp_path / "runs"
    assert (
        main(
            [
                "gan",
                "train",
                "--source",
                "phantom",
                "--preset",
                "smoke",
                "--steps",
                "10",
                "--out",
                str(out),
                "--device",
                "cpu",
            ]
        )
        == 0
    )
    assert load_checkpoint(out / "NORMAL" / "checkpoint.pt")["step"] == 10
    assert main(["gan", "export", "--run", str(out), "--n", "3", "--out", str(tmp_path / "e")]) == 0
    assert len(list((tmp_path / "e" / "PNEUMONIA").glob("*.png"))) == 3
    (out / "NORMAL" / "checkpoint.pt").write_bytes(b"PK\x03\x04broken")
    assert main(["gan", "export", "--run", str(out), "--n", "3", "--out", str(tmp_path / "f")]) == 2


def test_ema_warm_up_forgets_the_random_init() -> None:
    assert gan_mod.ema_decay_at(0.999, 0) == pytest.approx(0.1)
    assert gan_mod.ema_decay_at(0.999, 10**6) == 0.999 and gan_mod.ema_decay_at(0.0, 5) == 0.0
    init_weight = 1.0
    for t in range(600):  # the cpu preset's study GANs: 600 steps
        init_weight *= gan_mod.ema_decay_at(0.999, t)
    assert init_weight < 1e-6 < 0.999**600  # a plain 0.999 EMA would still hold 55 % of the init


def test_ema_weights_follow_the_generator(toy, tmp_path: Path) -> None:
    cfg = GANConfig(**{**TINY.__dict__, "ema_decay": 0.999})
    every = GANConfig(**{**cfg.__dict__, "ckpt_every": 2})
    first = train_gan(every, toy, tmp_path / "first", class_label=0, progress=False, stop_after=2)
    last = train_gan(cfg, toy, tmp_path / "last", class_label=0, progress=False)
    g2 = load_checkpoint(first / "checkpoint.pt")["G"]
    st = load_checkpoint(last / "checkpoint.pt")
    g, e = st["G"], st["G_ema"]
    k = next(k for k in g if k.endswith("weight") and g[k].dim() == 4)
    # after 12 steps the EMA averages recent generators; without warm-up it would sit near the initial weights
    assert (e[k] - g[k]).norm() < 0.5 * (g2[k] - g[k]).norm()


def test_minibatch_std_sees_a_batch_of_copies() -> None:
    """The extra channel is zero for a batch of identical images and positive for varied ones, so D can
    tell them apart; each group of the batch gets its own value."""
    from xraygan.models import MinibatchStd

    layer = MinibatchStd(group=4)
    same = torch.randn(1, 3, 4, 4).repeat(8, 1, 1, 1)
    varied = torch.randn(8, 3, 4, 4)
    assert layer(same).shape == (8, 4, 4, 4)
    assert layer(same)[:, -1].abs().max() < 1e-3 and layer(varied)[:, -1].min() > 0.3
    mixed = torch.cat([same[:4], varied[:4]])  # groups are images (0, 2, 4, 6) and (1, 3, 5, 7)
    mixed[[0, 2, 4, 6]] = same[0]
    out = layer(mixed)[:, -1, 0, 0]
    assert out[[0, 2, 4, 6]].abs().max() < 1e-3 and out[[1, 3, 5, 7]].min() > 0.3


def test_spectral_norm_bounds_each_convolution() -> None:
    torch.manual_seed(0)
    D = Discriminator(8, 64, mbstd=True, spectral_norm=True).train()
    for _ in range(30):  # power iteration converges over forward passes in training mode
        D(torch.randn(4, 1, 64, 64))
    convs = [m for m in D.modules() if isinstance(m, torch.nn.Conv2d)]
    assert len(convs) == 5 and not any(isinstance(m, torch.nn.BatchNorm2d) for m in D.modules())
    for m in convs:
        w = m.weight.detach().flatten(1)  # the normalised weight
        assert torch.linalg.matrix_norm(w, ord=2) == pytest.approx(1.0, abs=0.05)


def test_r1_penalty_is_the_squared_input_gradient() -> None:
    """For a linear critic D(x) = <w, x> the penalty is |w|^2 for every image, and an R1 step shrinks w."""
    from xraygan.gan.training import r1_penalty, r1_step

    class Linear(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.w = torch.nn.Parameter(torch.randn(1, 1, 4, 4))

        def forward(self, x, y=None):
            return (x * self.w).sum(dim=(1, 2, 3))

    D = Linear()
    x = torch.randn(5, 1, 4, 4)
    assert r1_penalty(D, x, None).item() == pytest.approx(D.w.square().sum().item(), rel=1e-5)
    before = D.w.square().sum().item()
    r1_step(D, torch.optim.SGD(D.parameters(), lr=0.1), x, None, weight=1.0)
    assert D.w.square().sum().item() == pytest.approx(0.81 * before, rel=1e-5)  # w <- w - 0.1 * w * 1.0


@pytest.mark.parametrize(
    "fields",
    [
        {"mbstd": True, "r1_gamma": 0.5, "r1_every": 4},
        {"spectral_norm": True, "loss": "hinge", "mbstd": True},
        {"mbstd": True, "pack": 2, "r1_gamma": 0.5, "r1_every": 4},
    ],
)
def test_anti_collapse_recipes_train_and_resume_exactly(toy, tmp_path: Path, fields: dict) -> None:
    cfg = GANConfig(**{**TINY.__dict__, **fields})
    full = train_gan(cfg, toy, tmp_path / "full", class_label=0, progress=False)
    part = train_gan(cfg, toy, tmp_path / "part", class_label=0, progress=False, stop_after=6)
    train_gan(cfg, toy, part, class_label=0, progress=False)
    sa, sb = (load_checkpoint(p / "checkpoint.pt")["D"] for p in (full, part))
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    with pytest.raises(CheckpointError, match="mbstd"):  # a recipe change is never resumed silently
        train_gan(GANConfig(**{**cfg.__dict__, "mbstd": False}), toy, part, class_label=0, progress=False)


def test_checkpoint_from_before_a_new_field_resumes_with_its_default(toy, tmp_path: Path) -> None:
    run = train_gan(TINY, toy, tmp_path / "r", class_label=0, progress=False, stop_after=6)
    st = load_checkpoint(run / "checkpoint.pt")
    for k in ("mbstd", "spectral_norm", "r1_gamma", "r1_every"):
        del st["config"][k]
    atomic_save(st, run / "checkpoint.pt")
    train_gan(TINY, toy, run, class_label=0, progress=False)  # resumes: the missing fields are the defaults
    assert load_checkpoint(run / "checkpoint.pt")["step"] == TINY.steps


def test_run_folders_made_before_the_later_options_keep_their_key() -> None:
    """A config that uses none of the options added later (mbstd, SN, R1) is keyed as before they existed, so
    its folders are found again; one that uses any of them names them all; different recipes never share."""
    from xraygan.gan.runs import run_key

    train = phantom_set(8, TEST_SIZE, seed=0)
    plain, mbstd = run_key(GANConfig(), train, 1.0, 0), run_key(GANConfig(mbstd=True), train, 1.0, 0)
    assert not {"mbstd", "spectral_norm", "r1_gamma", "r1_every", "pack"} & set(plain["gan"])
    assert "pack" not in mbstd["gan"]  # the pilot's and paper grid's folders keep their key after PacGAN
    assert run_key(GANConfig(pack=2), train, 1.0, 0)["gan"]["pack"] == 2
    assert "shared_steps" not in run_key(GANConfig(pack=2), train, 1.0, 0)["gan"]  # the packed folders too
    assert run_key(GANConfig(shared_steps=5), train, 1.0, 0)["gan"]["shared_steps"] == 5
    assert mbstd["gan"]["mbstd"] is True and mbstd["gan"]["r1_gamma"] == 0.0 and mbstd["gan"]["spectral_norm"] is False
    keys = {
        json.dumps(run_key(GANConfig(**o), train, 1.0, 0), sort_keys=True)
        for o in ({}, {"mbstd": True}, {"spectral_norm": True}, {"r1_gamma": 1.0}, {"r1_every": 8, "r1_gamma": 1.0})
    }
    assert len(keys) == 5


def test_packing_discriminator_judges_packs_and_is_refused_where_it_cannot_work() -> None:
    """PacGAN: D maps B images to B / pack logits, each from `pack` consecutive images; a pack of copies
    differs from a pack of different images; a conditional D reads a pack's label from its first image;
    packing is refused for a batch it does not divide; the discriminator maps still take single images."""
    from xraygan.review.explain import discriminator_maps

    torch.manual_seed(0)
    D = Discriminator(8, 64, pack=2).eval()
    x = torch.rand(6, 1, 64, 64) * 2 - 1
    out = D(x)
    assert out.shape == (3,)
    swapped = x.clone()
    swapped[1] = x[0]  # the first pack becomes two copies of one image; the other packs are untouched
    out2 = D(swapped)
    assert out2[0] != out[0] and torch.equal(out2[1:], out[1:])
    with pytest.raises(ValueError, match="pack"):
        GANConfig(pack=3, batch_size=64)
    with pytest.raises(ValueError, match="cgan_pack"):
        GANConfig(cgan_pack=3, batch_size=64)
    Dc = Discriminator(8, 64, n_classes=2, pack=2).eval()
    y = torch.tensor([0, 0, 1, 1, 0, 0])
    assert torch.equal(Dc(x, y), Dc(x, torch.tensor([0, 1, 1, 0, 0, 1])))  # the second label of a pack is unread
    assert not torch.equal(Dc(x, y), Dc(x, 1 - y))
    maps, _ = discriminator_maps(D, x[:3], block=1, top=2)
    assert maps.shape[1] == 2


def test_a_shared_start_draws_every_class_then_the_class_alone(tmp_path: Path, monkeypatch) -> None:
    """With shared_steps=k a per-class GAN's first k batches come from both classes' images, the rest from its
    own class only; without it every batch is the class's. Classes are told apart by their pixel values."""
    toy = phantom_set(24, TEST_SIZE, seed=1)
    toy.images[toy.labels == 0] = 10  # NORMAL: every pixel 10, PNEUMONIA: 200
    toy.images[toy.labels == 1] = 200
    seen: list[set[int]] = []
    real_to_unit = gan_mod.to_unit

    def spy(x: torch.Tensor) -> torch.Tensor:
        seen.append(set(x.flatten().unique().tolist()))
        return real_to_unit(x)

    monkeypatch.setattr(gan_mod, "to_unit", spy)
    train_gan(GANConfig(**{**TINY.__dict__, "shared_steps": 6}), toy, tmp_path / "s", class_label=0, progress=False)
    assert len(seen) == TINY.steps
    assert set().union(*seen[:6]) == {10, 200} and all(s == {10} for s in seen[6:])
    seen.clear()
    train_gan(TINY, toy, tmp_path / "plain", class_label=0, progress=False)
    assert all(s == {10} for s in seen)


@pytest.mark.parametrize("stop", [5, 6, 7])
def test_a_shared_start_resumes_exactly_across_its_end(toy, tmp_path: Path, stop: int) -> None:
    cfg = GANConfig(**{**TINY.__dict__, "shared_steps": 6, "ckpt_every": 2})
    full = train_gan(cfg, toy, tmp_path / "full", class_label=1, progress=False)
    part = train_gan(cfg, toy, tmp_path / "part", class_label=1, progress=False, stop_after=stop)
    train_gan(cfg, toy, part, class_label=1, progress=False)
    sa, sb = (load_checkpoint(p / "checkpoint.pt")["G_ema"] for p in (full, part))
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    plain = train_gan(TINY, toy, tmp_path / "plain", class_label=1, progress=False)
    sc = load_checkpoint(plain / "checkpoint.pt")["G_ema"]
    assert not all(torch.equal(sa[k], sc[k]) for k in sa)  # the shared start changed the GAN


def test_a_shared_start_is_refused_where_it_means_nothing() -> None:
    with pytest.raises(ValueError, match="shared_steps"):
        GANConfig(steps=10, shared_steps=10)
    with pytest.raises(ValueError, match="per-class GANs"):
        GANConfig(conditional=True, shared_steps=1)


def test_mode_seeking_charges_near_copies_and_resumes_exactly(toy, tmp_path: Path) -> None:
    z = torch.randn(8, 16, generator=torch.Generator().manual_seed(0))
    varied = torch.rand(8, 1, 64, 64, generator=torch.Generator().manual_seed(1))
    copies = varied[:1].expand(8, -1, -1, -1) + 0.01 * varied  # one image with small differences
    assert gan_mod.mode_seeking_loss(copies, z) > 20 * gan_mod.mode_seeking_loss(varied, z)
    cfg = GANConfig(**{**TINY.__dict__, "mode_seeking": 1.0, "pack": 2})
    full = train_gan(cfg, toy, tmp_path / "full", class_label=0, progress=False)
    part = train_gan(cfg, toy, tmp_path / "part", class_label=0, progress=False, stop_after=6)
    train_gan(cfg, toy, part, class_label=0, progress=False)
    sa, sb = (load_checkpoint(p / "checkpoint.pt")["G"] for p in (full, part))
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    off = GANConfig(**{**cfg.__dict__, "mode_seeking": 0.0})
    plain = load_checkpoint(train_gan(off, toy, tmp_path / "plain", class_label=0, progress=False) / "checkpoint.pt")
    assert not all(torch.equal(sa[k], plain["G"][k]) for k in sa)  # the term changed G's updates
    with pytest.raises(ValueError, match="mode_seeking"):
        GANConfig(mode_seeking=-1.0)


def test_a_conditional_gans_mode_seeking_pairs_images_of_one_label(toy, tmp_path: Path) -> None:
    z = torch.randn(8, 16, generator=torch.Generator().manual_seed(0))
    a, b = torch.rand(2, 1, 1, 64, 64, generator=torch.Generator().manual_seed(1))
    varied = torch.rand(8, 1, 64, 64, generator=torch.Generator().manual_seed(2))
    # pairs (i, i + 4): pair 0 is one NORMAL drawn twice, pairs 1-2 are varied PNEUMONIA images, pair 3 mixes
    # the labels and is a copy (which says nothing about either class)
    fake = torch.cat([a, varied[1:3], b, a + 0.01, varied[5:7], b])
    y = torch.tensor([0, 1, 1, 0, 0, 1, 1, 1])
    copies_of_one_class = gan_mod.mode_seeking_loss(fake, z, y)
    assert copies_of_one_class > 10 * gan_mod.mode_seeking_loss(varied, z, y)  # NORMAL's copy pays ...
    assert copies_of_one_class > 10 * gan_mod.mode_seeking_loss(fake[[1, 2, 3, 1, 5, 6, 7, 5]], z, y)
    # ... though PNEUMONIA's pairs outnumber it; a mixed pair alone is no pair: nothing to pay
    assert float(gan_mod.mode_seeking_loss(fake, z, torch.tensor([0, 0, 0, 0, 1, 1, 1, 1]))) == 0.0
    cfg = GANConfig(**{**TINY.__dict__, "mode_seeking": 1.0, "conditional": True})
    full = train_gan(cfg, toy, tmp_path / "full", progress=False)
    part = train_gan(cfg, toy, tmp_path / "part", progress=False, stop_after=6)
    train_gan(cfg, toy, part, progress=False)
    sa, sb = (load_checkpoint(p / "checkpoint.pt")["G"] for p in (full, part))
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
