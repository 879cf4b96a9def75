"""GAN run folders: named by what made them, trained as a set (per class and/or conditional), and the models
loaded back from them."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import torch

from xraygan.checkpoint import keyed_dir, load_checkpoint
from xraygan.config import GANConfig, to_dict
from xraygan.data.imageset import ImageSet
from xraygan.device import pick_device, stacking_pays
from xraygan.gan.stack import stack_key, stack_problem, train_gan_stack
from xraygan.gan.training import build_models, standing_stats, train_gan
from xraygan.info import CLASSES

MODES = ("per_class", "conditional")
_NOT_IN_KEY = ("sample_every", "ckpt_every")  # decide only when files are written, not what is learned


# Options added after run folders were first keyed, one group per time they were added, at the values that
# reproduce the recipe before them. A config that uses none of a group's options is keyed as before that
# group existed, so folders made then (same weights) are found again.
_LATER_OPTIONS = (
    {"mbstd": False, "spectral_norm": False, "r1_gamma": 0.0, "r1_every": 16},
    {"pack": 1},
    {"shared_steps": 0},
    {"mode_seeking": 0.0},
    {"channels_last": False, "cpu_bf16": False},
    {"cgan_pack": 1},
    {"cgan_class_bn": False, "cgan_balanced": False, "cgan_proj_init": "torch"},
)


def run_key(cfg: GANConfig, train: ImageSet, fraction: float, subset: int) -> dict:
    """What makes a GAN set: every weight-shaping GAN setting and the exact training images."""
    gan = {k: v for k, v in to_dict(cfg).items() if k not in _NOT_IN_KEY}
    for group in _LATER_OPTIONS:
        if all(gan[k] == v for k, v in group.items()):
            gan = {k: v for k, v in gan.items() if k not in group}
    return {
        "gan": gan,
        "train_fingerprint": train.fingerprint(),
        "n_train": len(train),
        "fraction": fraction,
        "subset": subset,
    }


def gan_dir(
    runs: str | Path, cfg: GANConfig, train: ImageSet, fraction: float, subset: int, create: bool = True
) -> Path:
    """runs/gan/f<fraction>_s<subset>-<hash>: the folder of the GANs trained with `cfg` on `train` (made, with
    its key.json, unless create=False: a look-up)."""
    key = run_key(cfg, train, fraction, subset)
    return keyed_dir(Path(runs) / "gan", f"f{fraction:g}_s{subset}", key, create)


@dataclass(frozen=True)
class GANRuns:
    """The run folders of one GAN set."""

    root: Path
    per_class: dict[int, Path]  # label -> that class's DCGAN run (empty when not trained)
    conditional: Path | None = None  # the class-conditional GAN's run

    def named(self) -> dict[str, Path]:
        """{"NORMAL": run, "PNEUMONIA": run, "conditional": run}, for figures and printing."""
        out = {CLASSES[k]: v for k, v in self.per_class.items()}
        return out | ({"conditional": self.conditional} if self.conditional else {})


def per_class_runs(root: str | Path) -> dict[int, Path]:
    """{label: root/<CLASS>}: where train_gans puts the per-class DCGANs."""
    return {label: Path(root) / c for label, c in enumerate(CLASSES)}


MAX_STACK = 16  # models per stack: beyond this a GPU gains little and memory grows


def train_per_class(
    jobs: list[tuple[GANConfig, ImageSet, Path, int]], device: str | None = None, progress: bool = True
) -> None:
    """Train (or resume) per-class GANs, given as (config, training images, run folder, class label): where
    stacking pays, those that differ only in seed train together (gan/stack.py), else one at a time."""
    if not stacking_pays(device):
        for cfg, train, run, label in jobs:
            train_gan(cfg, train, run, class_label=label, device=device, progress=progress)
        return
    groups: dict[str, list] = {}
    for job in jobs:  # stackable: every setting but the seed equal
        groups.setdefault(stack_key(job[0]), []).append(job)
    for group in groups.values():
        if len(group) > 1 and stack_problem([g[0] for g in group]) is None:
            for i in range(0, len(group), MAX_STACK):
                train_gan_stack(group[i : i + MAX_STACK], device, progress=progress)
        else:
            for cfg, train, run, label in group:
                train_gan(cfg, train, run, class_label=label, device=device, progress=progress)


def train_gans(
    cfg: GANConfig,
    train: ImageSet,
    root: str | Path,
    modes: tuple[str, ...] = ("per_class",),
    device: str | None = None,
    progress: bool = True,
) -> GANRuns:
    """Train (or resume) the per-class GANs and/or the conditional GAN under `root`."""
    bad = sorted(set(modes) - set(MODES))
    if bad:
        raise ValueError(f"GAN mode(s) {bad}: use {MODES}")
    root = Path(root)
    per_class: dict[int, Path] = {}
    if "per_class" in modes:
        jobs = [(cfg, train, run, label) for label, run in per_class_runs(root).items()]
        train_per_class(jobs, device, progress)
        per_class = {label: run for _, _, run, label in jobs}
    cond = None
    if "conditional" in modes:
        # the conditional GAN takes the same recipe, its D judging packs of cgan_pack images of one label
        cfg_c = dataclasses.replace(cfg, conditional=True, pack=cfg.cgan_pack)
        cond = train_gan(cfg_c, train, root / "conditional", device=device, progress=progress)
    return GANRuns(root, per_class, cond)


def _config(st: dict) -> GANConfig:
    return GANConfig(**{k: v for k, v in st["config"].items() if k in GANConfig.__dataclass_fields__})


def load_generator(run_dir: str | Path, device: torch.device | str | None = None) -> tuple[torch.nn.Module, dict]:
    """The EMA generator of a run, with standing batch-norm statistics, in eval mode; and its config."""
    dev = pick_device(str(device) if device else None)
    st = load_checkpoint(Path(run_dir) / "checkpoint.pt", dev)
    cfg = _config(st)
    G, _ = build_models(cfg)
    G.load_state_dict(st["G_ema"])
    G = G.to(dev)
    standing_stats(G, dev, cfg.seed + 20_000)
    return G, {**st["config"], "step": st["step"], "checkpoint": str(Path(run_dir) / "checkpoint.pt")}


def load_discriminator(run_dir: str | Path, device: torch.device | str | None = None) -> torch.nn.Module:
    """The discriminator of a run (eval mode), for looking at what it responds to."""
    dev = pick_device(str(device) if device else None)
    st = load_checkpoint(Path(run_dir) / "checkpoint.pt", dev)
    _, D = build_models(_config(st))
    D.load_state_dict(st["D"])
    return D.to(dev).eval()
