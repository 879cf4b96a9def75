"""GAN training: DCGAN per class or class-conditional, BCE or hinge loss, DiffAugment, generator EMA,
AMP + channels_last on CUDA, atomic self-describing checkpoints and exact resume."""

from __future__ import annotations

import copy
import json
import math
import time
from contextlib import nullcontext
from pathlib import Path

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F

from xraygan.augment import diff_augment
from xraygan.checkpoint import check_compatible, load_checkpoint, save_checkpoint
from xraygan.config import GANConfig, to_dict
from xraygan.data.imageset import ImageSet, to_unit
from xraygan.device import pick_device
from xraygan.figures import image_grid
from xraygan.models import Discriminator, Generator
from xraygan.progress import tqdm

# Every field that shapes the weights: a checkpoint that differs in one of them is never resumed. `steps` is
# left out on purpose (resuming with more steps trains the same run longer); sample_every and ckpt_every only
# decide when files are written.
RESUME_KEYS = tuple(f for f in GANConfig.__dataclass_fields__ if f not in ("steps", "sample_every", "ckpt_every")) + (
    "class_label",
    "channels",
)


class GANTrainingError(RuntimeError):
    """Training stopped: non-finite losses or a collapsed discriminator."""


def autocast_dtype(cfg: GANConfig, dev: torch.device) -> torch.dtype | None:
    """The autocast dtype of G and D's steps: bf16 (fp16 where the GPU lacks bf16) on CUDA with AMP, bf16 on
    CPU where asked, else None (fp32)."""
    if dev.type == "cuda" and cfg.amp:
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.bfloat16 if dev.type == "cpu" and cfg.cpu_bf16 else None


def build_models(cfg: GANConfig) -> tuple[Generator, Discriminator]:
    """G and D initialised from cfg.seed (the caller's global RNG state is left as it was)."""
    n = 2 if cfg.conditional else 0
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)
        G = Generator(cfg.nz, cfg.ngf, cfg.image_size, n, class_bn=cfg.conditional and cfg.cgan_class_bn)
        D = Discriminator(cfg.ndf, cfg.image_size, n, mbstd=cfg.mbstd, spectral_norm=cfg.spectral_norm, pack=cfg.pack)
        if D.embed is not None and cfg.cgan_proj_init == "dcgan":  # drawn last: every other weight as before
            torch.nn.init.normal_(D.embed.weight, 0.0, 0.02)
        return G, D


def d_loss(real: torch.Tensor, fake: torch.Tensor, kind: str) -> torch.Tensor:
    if kind == "hinge":
        return F.relu(1 - real).mean() + F.relu(1 + fake).mean()
    return F.softplus(-real).mean() + F.softplus(fake).mean()  # BCE with logits, real=1, fake=0


def g_loss(fake: torch.Tensor, kind: str) -> torch.Tensor:
    return -fake.mean() if kind == "hinge" else F.softplus(-fake).mean()  # non-saturating


@torch.no_grad()
def standing_stats(G: Generator, device: torch.device, seed: int, n_batches: int = 8, batch: int = 64) -> None:
    """Recompute G's batch-norm statistics over fresh noise (BigGAN's 'standing stats'), then eval mode:
    samples no longer depend on which other images share their batch."""
    g = torch.Generator().manual_seed(seed)
    for m in G.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.reset_running_stats()
            m.momentum = None  # cumulative average
    G.train()
    for _ in range(n_batches):
        z = torch.randn(batch, G.nz, generator=g).to(device)
        y = torch.randint(0, 2, (batch,), generator=g).to(device) if G.n_classes else None
        G(z, y)
    for m in G.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.momentum = 0.1
    G.eval()


def _uses_diffaug(cfg: GANConfig, n: int) -> bool:
    return cfg.diffaug == "on" or (cfg.diffaug == "auto" and n < cfg.diffaug_below)


def train_gan(
    cfg: GANConfig,
    train: ImageSet,
    run_dir: str | Path,
    class_label: int | None = None,
    device: torch.device | str | None = None,
    resume: bool = True,
    progress: bool = True,
    stop_after: int | None = None,
) -> Path:
    """Train one GAN on `train` (only class `class_label` when given) into `run_dir`; resumes from
    run_dir/checkpoint.pt. Returns the run folder. `stop_after` ends early (for tests of resume)."""
    dev = pick_device(str(device) if device else None)
    run = Path(run_dir)
    run.mkdir(parents=True, exist_ok=True)
    (run / "samples").mkdir(exist_ok=True)
    if cfg.conditional and class_label is not None:
        raise ValueError("a conditional GAN trains on both classes: leave class_label=None")
    # the images each step draws from (indices into `train`): every class's for the first `shared` steps,
    # then the class's own
    everyone = torch.arange(len(train))
    own = everyone if class_label is None else torch.nonzero(train.labels == class_label).flatten()
    shared = cfg.shared_steps if class_label is not None else 0
    if len(own) == 0:
        raise ValueError(f"no training images for {run}")
    meta = {**to_dict(cfg), "class_label": class_label, "channels": 1}
    amp_dtype = autocast_dtype(cfg, dev)
    mem = torch.channels_last if (dev.type == "cuda" and cfg.amp) or cfg.channels_last else torch.contiguous_format

    G, D = build_models(cfg)
    G, D = G.to(dev, memory_format=mem), D.to(dev, memory_format=mem)
    G_ema = copy.deepcopy(G).eval().requires_grad_(False)
    opt_g = torch.optim.Adam(G.parameters(), cfg.lr_g, betas=(cfg.beta1, cfg.beta2))
    opt_d = torch.optim.Adam(D.parameters(), cfg.lr_d, betas=(cfg.beta1, cfg.beta2))
    scaler = torch.amp.GradScaler("cuda", enabled=amp_dtype == torch.float16)
    g = torch.Generator().manual_seed(cfg.seed)  # all training randomness: batches, noise, augmentation
    fixed_z = torch.randn(64, cfg.nz, generator=torch.Generator().manual_seed(cfg.seed + 10_000))
    fixed_y = torch.arange(64) // 32  # 32 NORMAL, then 32 PNEUMONIA (conditional only)
    n = len(own)  # the class's own images (what DiffAugment's `auto` and the checkpoint count)

    def pool_at(at: int) -> torch.Tensor:
        return everyone if at < shared else own

    # D judges packs of one label, or the classes are drawn equally often: batches drawn as packs of one label
    packed_labels = cfg.conditional and (cfg.pack > 1 or cfg.cgan_balanced)

    def order(pool: torch.Tensor) -> torch.Tensor:
        """One epoch's order: positions into `pool` (for packs of one label, whole packs in turn)."""
        if packed_labels:
            return packs_of_one_label(train.labels[pool], cfg.pack, g, balanced=cfg.cgan_balanced)
        return torch.randperm(len(pool), generator=g)

    perm, pos, step, epoch, low_d = order(pool_at(0)), 0, 0, 0, 0
    ckpt = run / "checkpoint.pt"
    if resume and ckpt.exists():
        st = load_checkpoint(ckpt, dev)
        saved = {**to_dict(GANConfig()), **st["config"]}  # fields added since the checkpoint: their defaults
        check_compatible(saved, meta, RESUME_KEYS, ckpt)
        G.load_state_dict(st["G"])
        D.load_state_dict(st["D"])
        G_ema.load_state_dict(st["G_ema"])
        opt_g.load_state_dict(st["opt_g"])
        opt_d.load_state_dict(st["opt_d"])
        scaler.load_state_dict(st["scaler"])
        g.set_state(st["rng"]["train"].cpu())
        torch.set_rng_state(st["rng"]["torch"].cpu())
        perm, pos, step, epoch, low_d = st["perm"].cpu(), st["pos"], st["step"], st["epoch"], st["low_d"]
        _truncate_metrics(run / "metrics.jsonl", step)
    elif (run / "metrics.jsonl").exists():
        (run / "metrics.jsonl").unlink()  # a fresh run does not append to an old log
    (run / "config.json").write_text(json.dumps(meta, indent=2) + "\n")
    if step >= cfg.steps:
        return run

    images = train.images.to(dev)  # uint8 on the device once (every class); batches are sliced from it
    labels = train.labels.to(dev)
    augment = _uses_diffaug(cfg, n)
    aug = (lambda x: diff_augment(x, g, cfg.diffaug_policy)) if augment else (lambda x: x)
    autocast = torch.autocast(dev.type, dtype=amp_dtype) if amp_dtype else nullcontext()
    acc = torch.zeros(4, device=dev)  # loss_d, loss_g, D(x), D(G(z)) summed over the log window
    bsz = cfg.batch_size
    G.train()
    D.train()

    def save(at: int) -> None:
        payload = checkpoint_payload(
            G=G.state_dict(),
            D=D.state_dict(),
            G_ema=(G_ema if cfg.ema_decay else G).state_dict(),
            opt_g=opt_g.state_dict(),
            opt_d=opt_d.state_dict(),
            scaler=scaler.state_dict(),
            rng={"train": g.get_state(), "torch": torch.get_rng_state()},
            perm=perm,
            pos=pos,
            step=at,
            epoch=epoch,
            low_d=low_d,
            config=meta,
            n_train=n,
            diffaug=augment,
        )
        save_checkpoint(payload, ckpt)

    bar = tqdm(total=cfg.steps, initial=step, desc=f"GAN {run.name}", disable=not progress)
    t0 = time.time()
    while step < cfg.steps:
        pool = pool_at(step)
        if step == shared and shared:  # the shared start is over: a fresh epoch over the class alone
            perm, pos = order(pool), 0
        if len(perm) >= bsz:
            if pos + bsz > len(perm):
                perm, pos, epoch = order(pool), 0, epoch + 1
            idx = pool[perm[pos : pos + bsz]]
            pos += bsz
        elif packed_labels:  # fewer images than a batch: whole packs drawn with replacement
            packs = perm.reshape(-1, cfg.pack)
            idx = pool[packs[torch.randint(0, len(packs), (bsz // cfg.pack,), generator=g)].flatten()]
        else:
            idx = pool[torch.randint(0, len(pool), (bsz,), generator=g)]
        idx = idx.to(dev)
        x = to_unit(images[idx]).contiguous(memory_format=mem)  # (B, 1, S, S)
        y = labels[idx] if cfg.conditional else None
        z = torch.randn(bsz, cfg.nz, generator=g).to(dev)
        with autocast:
            fake = G(z, y)
            real_logit = D(aug(x), y)
            fake_logit = D(aug(fake.detach()), y)
            loss_d = d_loss(real_logit.float(), fake_logit.float(), cfg.loss)
        opt_d.zero_grad(set_to_none=True)
        scaler.scale(loss_d).backward()
        scaler.step(opt_d)
        if cfg.r1_gamma and step % cfg.r1_every == 0:
            r1_step(D, opt_d, aug(x), y, cfg.r1_gamma * cfg.r1_every)
        with autocast:
            gen_logit = D(aug(fake), y)
            loss_g = g_loss(gen_logit.float(), cfg.loss)
        if cfg.mode_seeking:
            loss_g = loss_g + cfg.mode_seeking * mode_seeking_loss(fake.float(), z, y, G.n_classes)
        opt_g.zero_grad(set_to_none=True)
        scaler.scale(loss_g).backward()
        scaler.step(opt_g)
        scaler.update()
        if cfg.ema_decay:
            _ema_update(G_ema, G, ema_decay_at(cfg.ema_decay, step))
        acc += torch.stack(
            [
                loss_d.detach(),
                loss_g.detach(),
                torch.sigmoid(real_logit.detach().float()).mean(),
                torch.sigmoid(fake_logit.detach().float()).mean(),
            ]
        )
        step += 1
        bar.update(1)
        if step % cfg.log_every == 0:
            ld, lg, dx, dgz = (acc / cfg.log_every).tolist()  # the one host sync per log window
            acc.zero_()
            rec = {
                "step": step,
                "epoch": epoch,
                "loss_d": ld,
                "loss_g": lg,
                "d_real": dx,
                "d_fake": dgz,
                "seconds": round(time.time() - t0, 2),
            }
            bar.set_postfix(loss_d=f"{ld:.3f}", loss_g=f"{lg:.3f}", Dx=f"{dx:.2f}", DGz=f"{dgz:.2f}")
            low_d = log_window(run, rec, low_d, cfg.collapse_patience, f"The last good checkpoint {ckpt} is kept")
            if step % cfg.sample_every == 0 or step == cfg.steps:
                save_samples(
                    G_ema if cfg.ema_decay else G,
                    fixed_z,
                    fixed_y,
                    run / "samples" / f"step_{step:06d}.png",
                    dev,
                    cfg.seed,
                )
                G.train()
            if step % cfg.ckpt_every == 0 or step == cfg.steps:
                save(step)
        if stop_after is not None and step >= stop_after:
            break
    bar.close()
    if step == cfg.steps and step % cfg.log_every:
        save(step)
    return run


def log_window(run: Path, rec: dict, low_d: int, patience: int, kept: str) -> int:
    """Check one log window's mean losses and append it to run/metrics.jsonl; returns the count of windows in
    a row with a discriminator loss near 0. Stops with GANTrainingError on non-finite losses or when that
    count reaches `patience` (a collapsed discriminator); `kept` says which checkpoint survives."""
    step, ld, lg = rec["step"], rec["loss_d"], rec["loss_g"]
    if not (math.isfinite(ld) and math.isfinite(lg)):
        raise GANTrainingError(
            f"{run}: non-finite loss at step {step} (loss_d={ld}, loss_g={lg}). {kept}; lower the learning "
            "rates or try loss='hinge'."
        )
    low_d = low_d + 1 if ld < 1e-3 else 0
    if low_d >= patience:
        raise GANTrainingError(
            f"{run}: the discriminator collapsed (loss_d={ld:.2e} for {low_d} windows, at step {step}). {kept}; "
            "use diffaug='on' or fewer steps."
        )
    with open(run / "metrics.jsonl", "a") as f:
        f.write(json.dumps(rec) + "\n")
    return low_d


def checkpoint_payload(
    *,
    G: dict,
    D: dict,
    G_ema: dict,
    opt_g: dict,
    opt_d: dict,
    scaler: dict,
    rng: dict,
    perm: torch.Tensor,
    pos: int,
    step: int,
    epoch: int,
    low_d: int,
    config: dict,
    n_train: int,
    diffaug: bool,
) -> dict:
    """What a GAN checkpoint holds (state dicts, RNG states, data order, step), written by a lone run and by
    a stack of runs alike, so either resumes the other. G_ema is what sampling uses (G itself without EMA)."""
    return {
        "G": G,
        "D": D,
        "G_ema": G_ema,
        "opt_g": opt_g,
        "opt_d": opt_d,
        "scaler": scaler,
        "rng": rng,
        "perm": perm,
        "pos": pos,
        "step": step,
        "epoch": epoch,
        "low_d": low_d,
        "config": config,
        "n_train": n_train,
        "diffaug": diffaug,
    }


def packs_of_one_label(labels: torch.Tensor, pack: int, g: torch.Generator, balanced: bool = False) -> torch.Tensor:
    """A shuffled order of positions into `labels` in which each run of `pack` positions shares a label: each
    class shuffled and cut into packs (its last len % pack images wait for the next epoch), the packs shuffled.
    `balanced`: every class gives as many packs as the largest, a smaller class going through its images again
    (each pass in a new order) until it has them, so an epoch draws the classes equally often."""
    packs = []
    classes = labels.unique().tolist()
    most = max(int((labels == c).sum()) for c in classes) // pack if balanced else 0
    for c in classes:
        pos = torch.nonzero(labels == c).flatten()
        if balanced and len(pos) < pack:
            raise ValueError(f"class {c} has {len(pos)} image(s), fewer than a pack of {pack}: it cannot be balanced")
        per_pass = len(pos) // pack
        n_passes = -(-most // per_pass) if balanced else 1  # enough whole passes for `most` packs
        passes = [pos[torch.randperm(len(pos), generator=g)][: per_pass * pack] for _ in range(n_passes)]
        packs.append(torch.cat(passes).reshape(-1, pack)[: max(most, per_pass)])
    every = torch.cat(packs)
    return every[torch.randperm(len(every), generator=g)].flatten()


def mode_seeking_loss(
    fake: torch.Tensor, z: torch.Tensor, y: torch.Tensor | None = None, n_classes: int = 2
) -> torch.Tensor:
    """MSGAN's term: 1 / (ratio + 1e-5), ratio = mean |G(z1) - G(z2)| / mean |z1 - z2| over the pairs formed by
    the two halves of the batch. Small when distinct noise gives distinct images, large for near-copies.
    With labels `y` (a conditional GAN), as in MSGAN's conditional form, only pairs of one label count, and
    each label has its own ratio (the terms are averaged over the labels with a pair in the batch): a NORMAL
    and a PNEUMONIA image differ by their class, which says nothing about either class's variety, and a class
    drawn as one image must pay even where the other class's pairs outnumber its own. No host sync."""
    h = len(fake) // 2
    if y is None:
        ratio = (fake[:h] - fake[h : 2 * h]).abs().mean() / (z[:h] - z[h : 2 * h]).abs().mean()
        return 1 / (ratio + 1e-5)
    pairs = (y[:h] == y[h : 2 * h]).float()[:, None] * F.one_hot(y[:h], n_classes).float()  # (h, classes)
    image_gap = pairs.T @ (fake[:h] - fake[h : 2 * h]).abs().flatten(1).mean(1)
    noise_gap = pairs.T @ (z[:h] - z[h : 2 * h]).abs().mean(1)
    present = pairs.sum(0) > 0
    terms = torch.where(present, 1 / (image_gap / noise_gap.clamp_min(1e-12) + 1e-5), torch.zeros_like(image_gap))
    return terms.sum() / present.sum().clamp_min(1)


def r1_penalty(D: torch.nn.Module, x: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
    """Mean over the batch of |grad_x D(x)|^2 on real images (Mescheder et al. 2018), in fp32."""
    x = x.detach().float().requires_grad_(True)
    (grad,) = torch.autograd.grad(D(x, y).float().sum(), x, create_graph=True)
    return grad.square().sum(dim=(1, 2, 3)).mean()


def r1_step(
    D: torch.nn.Module,
    opt_d: torch.optim.Optimizer,
    x: torch.Tensor,
    y: torch.Tensor | None,
    weight: float,
) -> None:
    """One lazy R1 update of D: weight / 2 * penalty (weight is gamma times the interval, as in StyleGAN2).
    Outside autocast and the loss scaler: the penalty is computed and stepped in fp32."""
    loss = weight / 2 * r1_penalty(D, x, y)
    opt_d.zero_grad(set_to_none=True)
    loss.backward()
    opt_d.step()


def ema_decay_at(decay: float, step: int) -> float:
    """EMA decay with warm-up, min(decay, (1 + step) / (10 + step)) as in TensorFlow's moving averages.

    Without it a 0.999 EMA after 1200 steps still holds 0.999**1200 = 30 % of the random initial weights
    (55 % after 600), which is the regime of the cpu preset; with it the EMA window grows with training
    (about a ninth of the steps so far) until it reaches 1 / (1 - decay) steps."""
    return min(decay, (1 + step) / (10 + step)) if decay else 0.0


@torch.no_grad()
def _ema_update(ema: torch.nn.Module, model: torch.nn.Module, decay: float) -> None:
    torch._foreach_lerp_(list(ema.parameters()), list(model.parameters()), 1 - decay)
    for be, bm in zip(ema.buffers(), model.buffers()):
        be.copy_(bm)


def _truncate_metrics(path: Path, step: int) -> None:
    """Drop log lines written after the checkpoint we resume from (they will be written again)."""
    if path.exists():
        lines = [ln for ln in path.read_text().splitlines() if ln and json.loads(ln)["step"] <= step]
        path.write_text("".join(ln + "\n" for ln in lines))


@torch.no_grad()
def save_samples(G: Generator, z: torch.Tensor, y: torch.Tensor, path: Path, dev: torch.device, seed: int) -> None:
    """A fixed-noise 8x8 grid from a copy of G with standing BN statistics."""
    Gs = copy.deepcopy(G)
    standing_stats(Gs, dev, seed + 20_000)
    x = Gs(z.to(dev), y.to(dev) if Gs.n_classes else None).float()
    plt.imsave(path, image_grid(x, 8), cmap="gray", vmin=0, vmax=255)


def read_metrics(run_dir: str | Path) -> list[dict]:
    p = Path(run_dir) / "metrics.jsonl"
    return [json.loads(ln) for ln in p.read_text().splitlines() if ln] if p.exists() else []


def steps_done(run_dir: str | Path) -> int:
    """The step a run's log has reached (0: not started). The log is cut back to the checkpoint on resume, so
    a run at its config's `steps` is finished."""
    log = read_metrics(run_dir)
    return log[-1]["step"] if log else 0
