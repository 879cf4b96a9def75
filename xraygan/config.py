"""Frozen configs, one per stage (data, GAN, classifier, study), validated on construction."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

SOURCES = ("auto", "folder", "kaggle", "medmnist", "phantom")
IMAGE_SIZES = (28, 32, 64, 128, 224)  # what the data layer decodes to (MedMNIST+ has 28, 64, 128, 224 too)


@dataclass(frozen=True)
class DataConfig:
    source: str = "auto"  # auto | folder | kaggle | medmnist | phantom
    root: str | None = None  # Kaggle-layout folder or MedMNIST-format .npz; None: XRAYGAN_DATA, ./data, ...
    image_size: int = 64  # square side after aspect-preserving resize and centre crop
    val_fraction: float = 0.1  # share of train images (by patient) held out for model selection
    val_mode: str = "patient"  # patient: grouped by patient; legacy30: the original plan's 30 images/class
    seed: int = 0  # seed of the validation split
    cache_dir: str | None = None  # decoded-tensor cache; None: XRAYGAN_CACHE or ~/.cache/xraygan
    phantom_per_class: int = 160  # phantom set only: train images per class (test gets a quarter)

    def __post_init__(self) -> None:
        if self.source not in SOURCES:
            raise ValueError(f"DataConfig.source={self.source!r}: choose one of {SOURCES}")
        if self.image_size not in IMAGE_SIZES:
            raise ValueError(
                f"DataConfig.image_size={self.image_size}: use one of {IMAGE_SIZES} (64, the default, or 128 "
                "where GANs are trained)"
            )
        if not 0.0 < self.val_fraction < 0.5:
            raise ValueError(f"DataConfig.val_fraction={self.val_fraction}: use a value in (0, 0.5), e.g. 0.1")
        if self.val_mode not in ("patient", "legacy30"):
            raise ValueError(f"DataConfig.val_mode={self.val_mode!r}: use 'patient' or 'legacy30'")
        if self.phantom_per_class < 8:
            raise ValueError("DataConfig.phantom_per_class must be at least 8")


def to_dict(cfg: Any) -> dict:
    """A config as a plain dict (for JSON and checkpoints)."""
    return dataclasses.asdict(cfg)


def from_dict(cls: type, d: dict, where: str = "") -> Any:
    """A config of type `cls` from a dict; unknown fields are refused with the list of valid ones."""
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(d) - names)
    if unknown:
        raise ValueError(f"{where or cls.__name__}: unknown field(s) {unknown}; valid fields are {sorted(names)}")
    return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()})


@dataclass(frozen=True)
class GANConfig:
    image_size: int = 64  # 64, or 128 (one more block), or 32 (one fewer: the tests' phantoms)
    nz: int = 100  # latent size
    ngf: int = 64  # generator width (channels of the last block)
    ndf: int = 64  # discriminator width (channels of the first block)
    conditional: bool = False  # one class-conditional GAN instead of one GAN per class
    loss: str = "bce"  # bce: the original non-saturating loss | hinge
    diffaug: str = "auto"  # on | off | auto: on when the training set has < diffaug_below images
    diffaug_below: int = 5000
    diffaug_policy: str = "color,translation,cutout"
    ema_decay: float = 0.999  # generator EMA used for sampling; 0 disables
    # against mode collapse (benchmarks/gan_recipes.py measures them): a minibatch-standard-deviation channel
    # in D, spectral normalisation of D (without its batch norm), an R1 penalty on real images every
    # r1_every steps (lazy regularisation, StyleGAN2), weight r1_gamma (0: off)
    mbstd: bool = False
    spectral_norm: bool = False
    r1_gamma: float = 0.0
    r1_every: int = 16
    # PacGAN (Lin et al. 2018): D judges `pack` images at once, stacked as channels, so a generator that
    # draws near-copies is easy to tell from real packs (1: off). A conditional GAN's D judges packs of one
    # label each, `cgan_pack` images (the batches are drawn as such packs); a grid's conditional GAN takes
    # its per-class recipe with pack replaced by cgan_pack (1, unpacked, for every grid before 2026-11-29)
    pack: int = 1
    cgan_pack: int = 1
    # the conditional GAN only (off for every grid before 2026-11-29, later session): class-conditional batch
    # norm in every block of G (cgan_class_bn), and batches with as many images of each class (cgan_balanced:
    # NORMAL, a quarter of the training split, is drawn again until it matches PNEUMONIA in each epoch)
    cgan_class_bn: bool = False
    cgan_balanced: bool = False
    # the start of the conditional D's class embedding (its projection term): "torch", PyTorch's N(0, 1), as
    # every conditional GAN before 2026-11-29 (later session) was built, which makes D's logits about 100x an
    # unconditional D's at the start; "dcgan", N(0, 0.02) like every other weight of the DCGAN
    cgan_proj_init: str = "torch"
    # a common start for per-class GANs on little data: the first shared_steps of the budget train on every
    # class's images together (NORMAL's GAN sees three times its own images), the rest on the class alone,
    # as GANs are fine-tuned from a pretrained one on a small set (0: off; per-class GANs only)
    shared_steps: int = 0
    # mode-seeking regularisation (MSGAN, Mao et al. 2019): G's loss gains weight / (ratio + 1e-5), where ratio
    # is how far apart two of its images are per unit of latent distance, so G is pushed to map distinct noise
    # to distinct chests instead of one (0: off)
    mode_seeking: float = 0.0
    batch_size: int = 64
    steps: int = 2000  # optimisation steps (one D and one G update each)
    lr_g: float = 2e-4
    lr_d: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    log_every: int = 25  # steps between metrics.jsonl lines (the only host syncs)
    sample_every: int = 500  # steps between fixed-noise sample grids
    ckpt_every: int = 500  # steps between checkpoints (a multiple of log_every)
    collapse_patience: int = 4  # log windows with D loss < 1e-3 before training stops as collapsed
    seed: int = 0
    amp: bool = True  # mixed precision and channels_last on CUDA
    # on CPU, where asked: channels-last tensors and bf16 autocast for G and D (weights, optimisers, the R1
    # penalty and mode seeking stay fp32); faster on a CPU with bf16 instructions (benchmarks/README.md), other
    # numerics, so off for every GAN trained before them
    channels_last: bool = False
    cpu_bf16: bool = False

    def __post_init__(self) -> None:
        if self.image_size not in (32, 64, 128):
            raise ValueError(f"GANConfig.image_size={self.image_size}: use 64, 128 or 32")
        if self.loss not in ("bce", "hinge"):
            raise ValueError(f"GANConfig.loss={self.loss!r}: use 'bce' or 'hinge'")
        if self.diffaug not in ("auto", "on", "off"):
            raise ValueError(f"GANConfig.diffaug={self.diffaug!r}: use 'auto', 'on' or 'off'")
        if self.ckpt_every % self.log_every or self.sample_every % self.log_every:
            raise ValueError(
                "GANConfig: ckpt_every and sample_every must be multiples of log_every "
                f"(got {self.ckpt_every}, {self.sample_every}, log_every={self.log_every})"
            )
        if not 0.0 <= self.ema_decay < 1.0:
            raise ValueError(f"GANConfig.ema_decay={self.ema_decay}: use a value in [0, 1)")
        if self.mode_seeking < 0:
            raise ValueError(f"GANConfig.mode_seeking={self.mode_seeking}: use a weight >= 0 (0: off)")
        if self.r1_gamma < 0 or self.r1_every < 1:
            raise ValueError(f"GANConfig: r1_gamma >= 0 and r1_every >= 1 (got {self.r1_gamma}, {self.r1_every})")
        if min(self.nz, self.ngf, self.ndf, self.batch_size, self.steps) < 1:
            raise ValueError("GANConfig: nz, ngf, ndf, batch_size and steps must be positive")
        if not 0 <= self.shared_steps < self.steps or (self.shared_steps and self.conditional):
            raise ValueError(
                f"GANConfig.shared_steps={self.shared_steps}: use 0 <= shared_steps < steps={self.steps}, and only "
                "for per-class GANs (a conditional GAN sees every class throughout)"
            )
        if self.cgan_proj_init not in ("torch", "dcgan"):
            raise ValueError(f"GANConfig.cgan_proj_init={self.cgan_proj_init!r}: use 'torch' or 'dcgan'")
        for name in ("pack", "cgan_pack"):
            if getattr(self, name) < 1 or self.batch_size % getattr(self, name):
                raise ValueError(
                    f"GANConfig.{name}={getattr(self, name)}: use a divisor of batch_size={self.batch_size} (1: off)"
                )


@dataclass(frozen=True)
class ClassifierConfig:
    model: str = "simple"  # simple: the original plan's CNN | resnet18 (from scratch) | resnet18_imagenet
    width: int = 32  # channels of the first SimpleCNN block
    steps: int = 1500  # optimisation steps: the same budget for every condition
    batch_size: int = 64
    lr: float = 1e-3  # AdamW, cosine decay
    weight_decay: float = 1e-4
    eval_every: int = 100  # steps between validation checks (model selection picks the best)
    augment: bool = False  # classic augmentation (flip, small affine, intensity)
    class_weighted: bool = False  # loss weighted by inverse class frequency
    # exponential moving average of the weights (and batch-norm statistics), evaluated and kept instead of
    # the raw weights: a smoother model whose selected step depends less on the last few batches; 0: off
    ema_decay: float = 0.0
    # what model selection maximises on validation: "auc" (the first step with the best AUC), or "loss" (the
    # lowest validation log-loss), which keeps ranking steps where a small validation set's AUC saturates at 1
    select_on: str = "auc"
    seed: int = 0
    amp: bool = True  # bf16/fp16 autocast and channels_last on CUDA
    # channels-last tensors on CPU too: the same model, about 1.3x faster steps on 2 cores for SimpleCNN, but
    # other kernels, so not bit-equal to a run without it (off for every grid made before it existed)
    channels_last: bool = False
    # bf16 autocast for the training steps on CPU (weights, optimiser and evaluation stay fp32), as AMP does on
    # CUDA: about 2x faster SimpleCNN steps on a CPU with bf16 instructions (AVX512-BF16, AMX; emulated and
    # slower elsewhere), other numerics, so off for every grid made before it
    cpu_bf16: bool = False

    def __post_init__(self) -> None:
        if self.model not in ("simple", "resnet18", "resnet18_imagenet"):
            raise ValueError(f"ClassifierConfig.model={self.model!r}: use 'simple', 'resnet18' or 'resnet18_imagenet'")
        if self.select_on not in ("auc", "loss"):
            raise ValueError(f"ClassifierConfig.select_on={self.select_on!r}: use 'auc' or 'loss'")
        if not 0.0 <= self.ema_decay < 1.0:
            raise ValueError(f"ClassifierConfig.ema_decay={self.ema_decay}: use a value in [0, 1) (0: off)")
        if self.steps < self.eval_every or self.eval_every < 1:
            raise ValueError(f"ClassifierConfig: steps ({self.steps}) must be >= eval_every ({self.eval_every}) >= 1")


@dataclass(frozen=True)
class StudyConfig:
    fractions: tuple[float, ...] = (0.1, 1.0)  # stratified, nested fractions of the training split
    # classifier seeds per (fraction, condition), one count or one per fraction; seed s uses subset s % subsets
    seeds: int | tuple[int, ...] = 3
    # replicates: below 100 % each is its own stratified training subset with its own GANs; seed s uses
    # replicate s % subsets. independent_gans: replicate r's GANs are seeded with the GAN config's seed + r
    # (off: every replicate's GANs start from the same seed, as the committed cpu and colab grids did)
    subsets: int = 1
    replicates_full: int = 1  # replicates at 100 %: the same real images, independently seeded GANs
    # the number of the first replicate and classifier seed: a grid that repeats another on new replicates
    # (new training and validation subsets, GAN seeds and classifier seeds) starts past that grid's
    first_replicate: int = 0
    independent_gans: bool = False
    # more fractions where only the baseline is trained: its learning curve, which the exchange rate
    # ("N synthetic images are worth M real ones") is read from
    curve_fractions: tuple[float, ...] = ()
    conditions: tuple[str, ...] = ("baseline", "classic_aug", "dup_real_100", "dcgan_100")
    pretrain_share: float = 0.5  # pretrain_* conditions: share of the step budget spent on synthetic images
    # a realistic low-data setting: at fraction f, model selection sees the same fraction of the validation
    # patients (at least val_min_per_class images per class), not the whole validation split
    val_scaled: bool = False
    val_min_per_class: int = 20
    workers: int = 1  # parallel training processes (several fit on one GPU)
    # the primary endpoint the grid's verdicts are read on (xraygan.study.protocol.ENDPOINTS); the protocol's
    # unless a grid was written down with another (analysis only: it does not change what a row holds)
    endpoint: str = "test_accuracy@t"

    def __post_init__(self) -> None:
        from xraygan.study.protocol import ENDPOINTS

        if self.endpoint not in ENDPOINTS:
            raise ValueError(f"StudyConfig.endpoint={self.endpoint!r}: choose one of {ENDPOINTS}")
        if not self.fractions or any(not 0 < f <= 1 for f in self.fractions + self.curve_fractions):
            raise ValueError(f"StudyConfig.fractions={self.fractions}, curve_fractions: values in (0, 1]")
        if set(self.curve_fractions) & set(self.fractions):
            raise ValueError("StudyConfig.curve_fractions: give fractions that are not already in `fractions`")
        counts = self.seeds if isinstance(self.seeds, tuple) else (self.seeds,)
        if isinstance(self.seeds, tuple) and len(self.seeds) != len(self.fractions):
            raise ValueError(f"StudyConfig.seeds={self.seeds}: give one count, or one per fraction {self.fractions}")
        if min(counts) < 2:
            raise ValueError("StudyConfig.seeds must be >= 2: a CI needs at least two runs")
        # subsets bound the seeds below 100 % where the study has such fractions (not: the full split alone)
        below = [self.seeds_at(f) for f in self.fractions if f < 1]
        full = [self.seeds_at(f) for f in self.fractions if f >= 1] or [max(counts)]
        if self.subsets < 1 or (below and self.subsets > min(below)):
            raise ValueError(f"StudyConfig.subsets={self.subsets}: use 1..seeds (at the fractions below 100 %)")
        if self.replicates_full < 1 or self.replicates_full > min(full):
            raise ValueError(f"StudyConfig.replicates_full={self.replicates_full}: use 1..seeds (at 100 %)")
        if self.replicates_full > 1 and not self.independent_gans:
            raise ValueError("StudyConfig.replicates_full > 1 needs independent_gans=True (else the GANs are equal)")
        if self.first_replicate < 0:
            raise ValueError(f"StudyConfig.first_replicate={self.first_replicate}: use 0 or more")
        if self.val_min_per_class < 1:
            raise ValueError(f"StudyConfig.val_min_per_class={self.val_min_per_class}: use at least 1")
        if not self.conditions or len(set(self.conditions)) != len(self.conditions):
            raise ValueError(f"StudyConfig.conditions={self.conditions}: name each condition once")
        from xraygan.study.conditions import parse_condition  # local: that module imports the data layer

        for c in self.conditions:
            parse_condition(c)  # an unknown name raises with the list of valid ones

    def with_fractions(self, fractions: tuple[float, ...]) -> StudyConfig:
        """The same study at other fractions; per-fraction seed counts are kept where the fraction was
        already there, and new fractions get the largest count."""
        seeds = self.seeds
        if isinstance(seeds, tuple):
            seeds = tuple(self.seeds_at(f) if f in self.fractions else max(seeds) for f in fractions)
        curve = tuple(c for c in self.curve_fractions if c not in fractions)
        return dataclasses.replace(self, fractions=tuple(fractions), seeds=seeds, curve_fractions=curve)

    def seed_range(self, fraction: float) -> range:
        """The classifier seeds at one fraction: seeds_at(fraction) of them, from first_replicate."""
        return range(self.first_replicate, self.first_replicate + self.seeds_at(fraction))

    def seeds_at(self, fraction: float) -> int:
        """Seeds at one fraction (per-fraction counts come from a power calculation; small fractions are cheap)."""
        if isinstance(self.seeds, tuple):
            if fraction not in self.fractions:  # a learning-curve fraction
                return max(self.seeds)
            return self.seeds[self.fractions.index(fraction)]
        return self.seeds
