"""Several independent DCGANs of one shape trained in one pass: the K generators (and the K discriminators)
held as the K groups of grouped convolutions, with per-model batch-norm channels and minibatch-std groups.
Each model keeps its own training images, initialisation, data order, noise and augmentation draws (its own
CPU generator, consumed in the same order as a lone run), optimiser state and EMA; the losses are summed, so
no gradient crosses models, and Adam and the EMA act element by element. The result is that of training the
K models one at a time, to float rounding (grouped convolutions sum in another order).

Every checkpoint is written as K ordinary run folders, in the format of `train_gan`: a stacked run resumes
alone or stacked, and everything downstream (export, review, figures) reads its folders unchanged.

On a GPU the small DCGAN of the presets leaves the card idle between kernel launches, and K models per
launch fill it; on 2 CPU cores the convolutions are already compute-bound (benchmarks/study_throughput.py
measures both). Options with state that does not split by model (the conditional GAN's embeddings,
spectral normalisation's power iteration, the lazy R1 step) are trained one at a time."""

from __future__ import annotations

import json
import time
from contextlib import nullcontext
from dataclasses import dataclass, replace
from pathlib import Path

import torch
import torch.nn as nn

from xraygan.augment import diff_augment
from xraygan.checkpoint import check_compatible, load_checkpoint, save_checkpoint
from xraygan.config import GANConfig, to_dict
from xraygan.data.imageset import ImageSet, to_unit
from xraygan.device import pick_device
from xraygan.gan.training import (
    RESUME_KEYS,
    _ema_update,
    _truncate_metrics,
    _uses_diffaug,
    autocast_dtype,
    build_models,
    checkpoint_payload,
    d_loss,
    ema_decay_at,
    g_loss,
    log_window,
    save_samples,
    train_gan,
)
from xraygan.models import Discriminator, Generator, MinibatchStd
from xraygan.progress import tqdm

_PER_MODEL = ("seed",)  # GANConfig fields that may differ between stacked models; all others must agree


def stack_key(cfg: GANConfig) -> str:
    """Configs with the same key may train as one stack: every setting but those of _PER_MODEL."""
    return json.dumps(to_dict(replace(cfg, **{f: getattr(GANConfig(), f) for f in _PER_MODEL})), sort_keys=True)


def stack_problem(cfgs: list[GANConfig]) -> str | None:
    """Why these configs cannot train as one stack, or None when they can."""
    first = json.loads(stack_key(cfgs[0]))
    for c in cfgs[1:]:
        other = json.loads(stack_key(c))
        diff = sorted(k for k in first if first[k] != other[k])
        if diff:
            return f"stacked GANs must share every setting but {_PER_MODEL}; these differ in {diff}"
    c = cfgs[0]
    if c.conditional or c.spectral_norm or c.r1_gamma or c.shared_steps or c.mode_seeking:
        return (
            "the conditional GAN, spectral normalisation, R1, a shared start and mode seeking are trained one model "
            "at a time"
        )
    return None


def _grouped(layers: list[nn.Module]) -> nn.Module:
    """One module doing the work of K same-shaped layers side by side (channels of model k in block k)."""
    first, k = layers[0], len(layers)
    if isinstance(first, nn.Conv2d | nn.ConvTranspose2d):
        if first.groups != 1 or first.bias is not None:
            raise ValueError("only bias-free, ungrouped convolutions stack")
        cls = type(first)
        out = cls(
            first.in_channels * k,
            first.out_channels * k,
            first.kernel_size,
            first.stride,
            first.padding,
            groups=k,
            bias=False,
        )
        # Conv2d weight (out, in, kh, kw) and ConvTranspose2d weight (in, out, kh, kw): blocks along dim 0
        out.weight = nn.Parameter(torch.cat([m.weight.detach() for m in layers]))
        return out
    if isinstance(first, nn.BatchNorm2d):
        out = nn.BatchNorm2d(first.num_features * k, first.eps, first.momentum)
        out.load_state_dict(_cat_states([m.state_dict() for m in layers]))
        return out
    if isinstance(first, nn.ReLU | nn.LeakyReLU | nn.Tanh | nn.Identity):
        return first
    raise ValueError(f"cannot stack {type(first).__name__}")


def _cat_states(states: list[dict]) -> dict:
    """K state dicts of one architecture -> the state dict of their stack (blocks along dim 0)."""
    return {
        name: (t if name.endswith("num_batches_tracked") else torch.cat([s[name] for s in states]))
        for name, t in states[0].items()
    }


def _split_state(state: dict, k: int) -> list[dict]:
    """The inverse of _cat_states."""
    parts = {name: (None if name.endswith("num_batches_tracked") else t.chunk(k)) for name, t in state.items()}
    return [{name: (state[name].clone() if p is None else p[i].clone()) for name, p in parts.items()} for i in range(k)]


class StackedGenerator(nn.Module):
    """K Generators as one: z (B, K, nz) -> images (B, K, S, S); parameter names as in Generator."""

    def __init__(self, models: list[Generator]) -> None:
        super().__init__()
        self.k, self.nz = len(models), models[0].nz
        self.net = nn.Sequential(*(_grouped(list(ls)) for ls in zip(*(m.net for m in models))))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z.reshape(z.shape[0], -1, 1, 1))


class StackedDiscriminator(nn.Module):
    """K Discriminators as one: images (B, K, S, S) -> logits (B // pack, K); names as in Discriminator."""

    def __init__(self, models: list[Discriminator]) -> None:
        super().__init__()
        first = models[0]
        self.k, self.pack = len(models), first.pack
        self.features = nn.Sequential(*(_grouped(list(ls)) for ls in zip(*(m.features for m in models))))
        self.mbstd = MinibatchStd(first.mbstd.group, models=self.k) if first.mbstd is not None else None
        self.head = _grouped([m.head for m in models])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, k, s = x.shape[0], self.k, x.shape[-1]
        if self.pack > 1:  # model k's images i*pack .. i*pack+pack-1 become its input channels
            x = (
                x.reshape(b // self.pack, self.pack, k, s, s)
                .transpose(1, 2)
                .reshape(b // self.pack, k * self.pack, s, s)
            )
        h = self.features(x)  # (B', K*C, 4, 4)
        if self.mbstd is not None:
            h = self.mbstd(h)
        return self.head(h).flatten(1)  # (B', K)


def _split_adam(state: dict, k: int) -> list[dict]:
    """An Adam state dict of a stack -> K state dicts (moments split like the parameters)."""
    out = []
    for i in range(k):
        per = {
            p: {n: (v if n == "step" else v.chunk(k)[i].clone()) for n, v in st.items()}
            for p, st in state["state"].items()
        }
        out.append({"state": per, "param_groups": state["param_groups"]})
    return out


def _cat_adam(states: list[dict]) -> dict:
    first = states[0]
    cat = {
        p: {n: (v if n == "step" else torch.cat([s["state"][p][n] for s in states])) for n, v in st.items()}
        for p, st in first["state"].items()
    }
    return {"state": cat, "param_groups": first["param_groups"]}


@dataclass
class _Member:
    """What one model of the stack keeps for itself."""

    cfg: GANConfig
    run: Path
    images: torch.Tensor
    meta: dict
    g: torch.Generator
    perm: torch.Tensor
    augment: bool
    pos: int = 0
    epoch: int = 0
    low_d: int = 0

    def batch(self, bsz: int, dev: torch.device) -> torch.Tensor:
        n = len(self.images)
        if n >= bsz:
            if self.pos + bsz > n:
                self.perm, self.pos, self.epoch = torch.randperm(n, generator=self.g), 0, self.epoch + 1
            idx = self.perm[self.pos : self.pos + bsz]
            self.pos += bsz
        else:
            idx = torch.randint(0, n, (bsz,), generator=self.g)
        return to_unit(self.images[idx.to(dev)])

    def aug(self, x: torch.Tensor) -> torch.Tensor:
        return diff_augment(x, self.g, self.cfg.diffaug_policy) if self.augment else x


def train_gan_stack(
    jobs: list[tuple[GANConfig, ImageSet, str | Path, int | None]],
    device: torch.device | str | None = None,
    resume: bool = True,
    progress: bool = True,
    stop_after: int | None = None,
) -> list[Path]:
    """Train (or resume) K per-class GANs together; `jobs` holds (config, training images, run folder, class
    label) per model, as `train_gan` takes them. Models whose checkpoints are at different steps (one stopped
    by an error, say) are finished one at a time. Returns the run folders."""
    problem = stack_problem([j[0] for j in jobs])
    if problem:
        raise ValueError(problem)
    saved = [_checkpoint(Path(r)) if resume else None for _, _, r, _ in jobs]  # each read once
    steps_at = {st["step"] if st else 0 for st in saved}
    if steps_at == {jobs[0][0].steps}:  # all trained already
        return [Path(r) for _, _, r, _ in jobs]
    if len(jobs) == 1 or len(steps_at) > 1:
        return [train_gan(c, t, r, lab, device, resume, progress, stop_after) for c, t, r, lab in jobs]
    dev = pick_device(str(device) if device else None)
    cfg, k = jobs[0][0], len(jobs)
    amp_dtype = autocast_dtype(cfg, dev)
    members: list[_Member] = []
    singles = []
    for c, train, run_dir, label in jobs:
        run = Path(run_dir)
        (run / "samples").mkdir(parents=True, exist_ok=True)
        data = train.of_class(label) if label is not None else train
        if len(data) == 0:
            raise ValueError(f"no training images for {run}")
        G, D = build_models(c)
        g = torch.Generator().manual_seed(c.seed)
        meta = {**to_dict(c), "class_label": label, "channels": 1}
        perm = torch.randperm(len(data), generator=g)
        members.append(_Member(c, run, data.images.to(dev), meta, g, perm, _uses_diffaug(c, len(data))))
        singles.append((G, D))
    G = StackedGenerator([s[0] for s in singles]).to(dev)
    D = StackedDiscriminator([s[1] for s in singles]).to(dev)
    G_ema = StackedGenerator([s[0] for s in singles]).to(dev).eval().requires_grad_(False)
    opt_g = torch.optim.Adam(G.parameters(), cfg.lr_g, betas=(cfg.beta1, cfg.beta2))
    opt_d = torch.optim.Adam(D.parameters(), cfg.lr_d, betas=(cfg.beta1, cfg.beta2))
    scaler = torch.amp.GradScaler("cuda", enabled=amp_dtype == torch.float16)
    step = 0
    if resume and next(iter(steps_at)):
        sts = saved
        for m, st in zip(members, sts):
            check_compatible({**to_dict(GANConfig()), **st["config"]}, m.meta, RESUME_KEYS, m.run / "checkpoint.pt")
            m.g.set_state(st["rng"]["train"].cpu())
            m.perm, m.pos, m.epoch, m.low_d = st["perm"].cpu(), st["pos"], st["epoch"], st["low_d"]
            _truncate_metrics(m.run / "metrics.jsonl", st["step"])
        G.load_state_dict(_cat_states([st["G"] for st in sts]))
        D.load_state_dict(_cat_states([st["D"] for st in sts]))
        G_ema.load_state_dict(_cat_states([st["G_ema"] for st in sts]))
        opt_g.load_state_dict(_cat_adam([st["opt_g"] for st in sts]))
        opt_d.load_state_dict(_cat_adam([st["opt_d"] for st in sts]))
        scaler.load_state_dict(sts[0]["scaler"])
        torch.set_rng_state(sts[0]["rng"]["torch"].cpu())
        step = sts[0]["step"]
    else:
        for m in members:
            if (m.run / "metrics.jsonl").exists():
                m.run.joinpath("metrics.jsonl").unlink()
    for m in members:
        (m.run / "config.json").write_text(json.dumps(m.meta, indent=2) + "\n")
    if step >= cfg.steps:
        return [m.run for m in members]

    def save(at: int) -> None:
        parts = {
            "G": _split_state(G.state_dict(), k),
            "D": _split_state(D.state_dict(), k),
            "G_ema": _split_state((G_ema if cfg.ema_decay else G).state_dict(), k),
            "opt_g": _split_adam(opt_g.state_dict(), k),
            "opt_d": _split_adam(opt_d.state_dict(), k),
        }
        torch_rng = torch.get_rng_state()
        for i, m in enumerate(members):
            payload = checkpoint_payload(
                **{name: p[i] for name, p in parts.items()},
                scaler=scaler.state_dict(),
                rng={"train": m.g.get_state(), "torch": torch_rng},
                perm=m.perm,
                pos=m.pos,
                step=at,
                epoch=m.epoch,
                low_d=m.low_d,
                config=m.meta,
                n_train=len(m.images),
                diffaug=m.augment,
            )
            save_checkpoint(payload, m.run / "checkpoint.pt")

    def samples(at: int) -> None:
        states = _split_state((G_ema if cfg.ema_decay else G).state_dict(), k)
        for m, st in zip(members, states):
            Gk, _ = build_models(m.cfg)
            Gk.load_state_dict(st)
            z = torch.randn(64, m.cfg.nz, generator=torch.Generator().manual_seed(m.cfg.seed + 10_000))
            save_samples(
                Gk.to(dev), z, torch.arange(64) // 32, m.run / "samples" / f"step_{at:06d}.png", dev, m.cfg.seed
            )

    autocast = torch.autocast(dev.type, dtype=amp_dtype) if amp_dtype else nullcontext()
    acc = torch.zeros(k, 4, device=dev)
    bsz = cfg.batch_size
    G.train()
    D.train()
    bar = tqdm(total=cfg.steps, initial=step, desc=f"{k} GANs together", disable=not progress)
    t0 = time.time()
    while step < cfg.steps:
        x = [m.batch(bsz, dev) for m in members]  # each (B, 1, S, S), from each model's own stream
        z = torch.stack([torch.randn(bsz, cfg.nz, generator=m.g) for m in members], 1).to(dev)  # (B, K, nz)
        with autocast:
            fake = G(z)  # (B, K, S, S)
            real_logit = D(torch.cat([m.aug(xi) for m, xi in zip(members, x)], 1))
            fake_det = fake.detach()
            fake_logit = D(torch.cat([m.aug(fake_det[:, i : i + 1]) for i, m in enumerate(members)], 1))
            losses_d = [d_loss(real_logit[:, i].float(), fake_logit[:, i].float(), cfg.loss) for i in range(k)]
            loss_d = torch.stack(losses_d).sum()
        opt_d.zero_grad(set_to_none=True)
        scaler.scale(loss_d).backward()
        scaler.step(opt_d)
        with autocast:
            gen_logit = D(torch.cat([m.aug(fake[:, i : i + 1]) for i, m in enumerate(members)], 1))
            losses_g = [g_loss(gen_logit[:, i].float(), cfg.loss) for i in range(k)]
            loss_g = torch.stack(losses_g).sum()
        opt_g.zero_grad(set_to_none=True)
        scaler.scale(loss_g).backward()
        scaler.step(opt_g)
        scaler.update()
        if cfg.ema_decay:
            _ema_update(G_ema, G, ema_decay_at(cfg.ema_decay, step))
        with torch.no_grad():
            acc += torch.stack(
                [
                    torch.stack(losses_d).detach(),
                    torch.stack(losses_g).detach(),
                    torch.sigmoid(real_logit.detach().float()).mean(0),
                    torch.sigmoid(fake_logit.detach().float()).mean(0),
                ],
                1,
            )
        step += 1
        bar.update(1)
        if step % cfg.log_every == 0:
            window = (acc / cfg.log_every).tolist()
            acc.zero_()
            for m, (ld, lg, dx, dgz) in zip(members, window):
                rec = {"step": step, "epoch": m.epoch, "loss_d": ld, "loss_g": lg, "d_real": dx, "d_fake": dgz}
                rec["seconds"] = round(time.time() - t0, 2)
                m.low_d = log_window(m.run, rec, m.low_d, cfg.collapse_patience, "The stack's checkpoints are kept")
            bar.set_postfix(
                loss_d=f"{sum(w[0] for w in window) / k:.3f}", loss_g=f"{sum(w[1] for w in window) / k:.3f}"
            )
            if step % cfg.sample_every == 0 or step == cfg.steps:
                samples(step)
            if step % cfg.ckpt_every == 0 or step == cfg.steps:
                save(step)
        if stop_after is not None and step >= stop_after:
            break
    bar.close()
    if step == cfg.steps and step % cfg.log_every:
        save(step)
    return [m.run for m in members]


def _checkpoint(run: Path) -> dict | None:
    ckpt = run / "checkpoint.pt"
    return load_checkpoint(ckpt) if ckpt.exists() else None
