"""Synthetic sample review: distances on X-ray features with a scale (floor and ceiling), memorisation
against held-out real images, label fidelity. `review` returns a ReviewResult of numbers and writes
review.json and review_arrays.npz to the review folder; `load_review` reads both back, so the figures of
notebook 03 are drawn from files."""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from xraygan.checkpoint import atomic_save, digest, load_checkpoint
from xraygan.classifier import predict, train_classifier
from xraygan.config import ClassifierConfig, to_dict
from xraygan.data import Splits
from xraygan.data.folder import decode_split
from xraygan.data.imageset import ImageSet, to_unit
from xraygan.device import pick_device
from xraygan.info import CLASSES
from xraygan.models import build_classifier
from xraygan.review.distances import frechet_distance, kid, memorisation, prdc
from xraygan.review.diversity import class_diversity, collapse_rule


class ReviewInputError(ValueError):
    """The synthetic folder is empty or does not match the real data."""


def load_synthetic_folder(path: str | Path) -> ImageSet:
    """Synthetic images from an export folder: synthetic.pt if present, else NORMAL/ and PNEUMONIA/ PNGs."""
    from xraygan.gan.export import load_synthetic

    path = Path(path)
    if (path / "synthetic.pt").exists():
        return load_synthetic(path)
    if not all((path / c).is_dir() for c in CLASSES):
        raise ReviewInputError(
            f"{path} holds neither synthetic.pt nor NORMAL/ and PNEUMONIA/ folders; point "
            "--synthetic at a folder written by 'xraygan gan export'."
        )
    # decode_split reads ROOT/SPLIT/CLASS: here the export folder itself plays the split
    ds = decode_split(path.parent, path.name, _png_size(path), progress=False)
    if len(ds) == 0:
        raise ReviewInputError(f"{path} contains no readable synthetic image (skipped: {ds.skipped}).")
    return ds


def _png_size(path: Path) -> int:
    from PIL import Image

    for c in CLASSES:
        for p in sorted((path / c).glob("*.png"))[:1]:
            with Image.open(p) as im:
                return im.size[0]
    raise ReviewInputError(f"{path}/NORMAL and {path}/PNEUMONIA hold no PNG image.")


def _rounded(metrics: dict) -> dict:
    return {k: round(float(v), 4) for k, v in metrics.items() if isinstance(v, int | float)}


def feature_net_path(cfg: ClassifierConfig, splits: Splits, folder: str | Path) -> Path:
    """Where the feature network of `cfg` trained on these splits is cached: named by what made it."""
    key = {"config": to_dict(cfg), "train": splits.train.fingerprint(), "val": splits.val.fingerprint()}
    return Path(folder) / f"feature_net-{digest(key)[:10]}.pt"


def load_feature_net(path: str | Path, device: str | None = None) -> tuple[torch.nn.Module, float]:
    """A cached feature network (eval mode) and its validation-chosen threshold."""
    model, thr, _ = _feature_net_from(load_checkpoint(path, "cpu"), device)
    return model, thr


def _feature_net_from(st: dict, device: str | None) -> tuple[torch.nn.Module, float, dict]:
    """The network, threshold and validation metrics a feature-network checkpoint holds."""
    dev = pick_device(device)
    cfg = ClassifierConfig(**st["config"])
    model = build_classifier(cfg.model, cfg.width).to(dev)
    model.load_state_dict(st["model"])
    return model.eval(), float(st["threshold"]), dict(st.get("val", {}))


def feature_net(cfg: ClassifierConfig, splits: Splits, path: str | Path, device: str | None = None):
    """The real-only X-ray classifier (trained on the training split, selected on validation), cached at
    `path`, with its validation-chosen threshold and validation metrics (what review.json says of it). Its
    penultimate layer is the feature space of the distances, and it judges label fidelity."""
    path = Path(path)
    if path.exists():
        return _feature_net_from(load_checkpoint(path, "cpu"), device)
    tc = train_classifier(cfg, splits.train, splits.val, device, progress=True)
    atomic_save(
        {
            "model": tc.model.state_dict(),
            "config": to_dict(cfg),
            "threshold": tc.threshold,
            "best_step": tc.best_step,
            "val": tc.val,
        },
        path,
    )
    return tc.model, tc.threshold, dict(tc.val)


@torch.no_grad()
def embed(model: torch.nn.Module, ds: ImageSet, device: torch.device, batch: int = 512) -> np.ndarray:
    model.eval()
    out = [model.embed(to_unit(ds.images[s : s + batch].to(device))).float().cpu() for s in range(0, len(ds), batch)]
    return torch.cat(out).numpy().astype(np.float64)


def degrade(ds: ImageSet, sigma: float = 1.5, noise: float = 12.0, seed: int = 0) -> ImageSet:
    """A blurred and noised copy (the 'clearly worse than real' ceiling of the distance scale)."""
    g = torch.Generator().manual_seed(seed)
    k = torch.arange(-3, 4, dtype=torch.float32)
    k = torch.exp(-(k**2) / (2 * sigma**2))
    k = k / k.sum()
    x = ds.images.float()
    x = F.conv2d(F.pad(x, (3, 3, 0, 0), mode="replicate"), k.view(1, 1, 1, 7))
    x = F.conv2d(F.pad(x, (0, 0, 3, 3), mode="replicate"), k.view(1, 1, 7, 1))
    x = (x + torch.randn(x.shape, generator=g) * noise).clamp(0, 255).round().byte()
    return dataclasses.replace(ds, images=x, name="degraded")


def distance_block(a: np.ndarray, b: np.ndarray, seed: int = 0) -> dict[str, float]:
    k, k_sd = kid(a, b, seed=seed)
    return {"fd": frechet_distance(a, b), "kid": k, "kid_std": k_sd, **prdc(a, b, k=5)}


SCALED = ("fd", "kid", "precision", "recall", "density", "coverage")  # each with a floor and a ceiling
HEADLINE = (*SCALED, *(f"{k}_{e}" for k in ("fd", "kid") for e in ("floor", "ceiling")))


@dataclass(frozen=True)
class ReviewResult:
    """The numbers of a review (review.json holds exactly these fields). Distances are averaged over the two
    classes; `per_class` has each class's synthetic, floor (real vs real) and ceiling (real vs degraded)."""

    n_synthetic: dict[str, int]
    feature_net: dict  # config and validation-chosen threshold of the real-only classifier
    per_class: dict[str, dict]
    fd: float
    fd_floor: float
    fd_ceiling: float
    kid: float
    kid_floor: float
    kid_ceiling: float
    precision: float
    precision_floor: float
    precision_ceiling: float
    recall: float
    recall_floor: float
    recall_ceiling: float
    density: float
    density_floor: float
    density_ceiling: float
    coverage: float
    coverage_floor: float
    coverage_ceiling: float
    memorisation: dict[str, dict]  # per metric: threshold, flagged, quantiles
    label_fidelity: dict[str, float]  # share of each class's fakes the real-only classifier gives their label
    # per class: near-twin share, pairwise spread and MS-SSIM against real images, and the collapse flag
    diversity: dict[str, dict] = field(default_factory=dict)
    collapse_rule: dict = field(default_factory=dict)  # the thresholds behind the flag

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def headline(self) -> dict:
        """What `python -m xraygan review` and notebook 03 print."""
        d = self.to_dict()
        out = {k: d[k] for k in (*HEADLINE, "memorisation", "label_fidelity", "diversity", "n_synthetic")}
        val = d["feature_net"].get("validation", {})  # reviews written before it was recorded have none
        net = d["feature_net"]["config"]
        return out | {"feature_net": f"{net['model']} width {net['width']}, validation AUC {val.get('val_auc', '?')}"}

    @property
    def collapsed(self) -> list[str]:
        """The classes whose synthetic images lost their variety (by collapse_rule)."""
        return [c for c, d in self.diversity.items() if d["collapsed"]]


@dataclass(frozen=True)
class ReviewArrays:
    """The per-image arrays behind a review (review_arrays.npz)."""

    p_synthetic: np.ndarray  # P(PNEUMONIA) of every synthetic image from the feature network
    y_synthetic: np.ndarray  # their intended labels
    fake_index: np.ndarray  # which synthetic images the memorisation check used (indices into the set)
    memorisation: dict[str, dict[str, np.ndarray]]  # per metric: fake_dist, fake_nn, heldout_dist
    feature_net: str  # file name of the feature network in the review folder
    # per class: fake_pairs / real_pairs (closest pairs, indices into the samples), fake_index / real_index
    # (the samples, indices into that class's synthetic / real training images)
    diversity: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)


_MEM_ARRAYS = ("fake_dist", "fake_nn", "heldout_dist")
_DIV_ARRAYS = ("fake_pairs", "real_pairs", "fake_index", "real_index")


def review(
    splits: Splits,
    synthetic: ImageSet,
    out_dir: str | Path,
    clf: ClassifierConfig,
    device: str | None = None,
    n_max: int = 1000,
    seed: int = 0,
    also_to: str | Path | None = None,
    n_diversity: int = 400,
    feature_dir: str | Path | None = None,
) -> ReviewResult:
    """All review numbers for `synthetic` against the real training split; writes out_dir/review.json and
    review_arrays.npz and, when `also_to` is given (a results folder), review.json there too. The feature
    network is cached in `feature_dir` (default: out_dir), so several reviews can share one."""
    if len(synthetic) == 0:
        raise ReviewInputError("the synthetic set is empty")
    if synthetic.image_size != splits.train.image_size:
        raise ReviewInputError(
            f"synthetic images are {synthetic.image_size} px but the real data was loaded at "
            f"{splits.train.image_size} px; load the real data with image_size="
            f"{synthetic.image_size}."
        )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    dev = pick_device(device)
    net_path = feature_net_path(clf, splits, feature_dir or out)
    model, thr, val = feature_net(clf, splits, net_path, device)
    rng = np.random.default_rng(seed)

    def draw(n_all: int, n: int) -> np.ndarray:
        return np.sort(rng.choice(n_all, min(n, n_all), replace=False))

    def sample(ds: ImageSet, n: int) -> ImageSet:
        return ds.subset(draw(len(ds), n))

    per_class, diversity, div_arrays = {}, {}, {}
    for label, c in enumerate(CLASSES):
        real_c, fake_c = splits.train.of_class(label), synthetic.of_class(label)
        if len(fake_c) < 10:
            continue
        half = rng.permutation(len(real_c))
        a = real_c.subset(np.sort(half[: len(half) // 2]))
        b = real_c.subset(np.sort(half[len(half) // 2 :]))
        n = min(n_max, len(a), len(b), len(fake_c))
        fa, fb = embed(model, sample(a, n), dev), embed(model, sample(b, n), dev)
        ff = embed(model, sample(fake_c, n), dev)
        fd_deg = embed(model, sample(degrade(b, seed=seed), n), dev)
        per_class[c] = {
            "n": n,
            "synthetic": distance_block(fa, ff, seed),
            "floor_real_vs_real": distance_block(fa, fb, seed),
            "ceiling_real_vs_degraded": distance_block(fa, fd_deg, seed),
        }
        # variety: does the class's synthetic set keep the variety of its real images (own RNG, pixels)
        d = class_diversity(fake_c.images, real_c.images, n=n_diversity, seed=seed)
        diversity[c] = d.numbers
        div_arrays |= {f"diversity_{c}_{k}": getattr(d, k) for k in _DIV_ARRAYS}
    # headline numbers: averaged over the two classes (synthetic vs real of the same class)
    scale: dict[str, float] = {}
    for key in SCALED:
        vals = [v["synthetic"][key] for v in per_class.values()]
        scale[key] = float(np.mean(vals)) if vals else float("nan")
        scale[f"{key}_floor"] = float(np.mean([v["floor_real_vs_real"][key] for v in per_class.values()]))
        scale[f"{key}_ceiling"] = float(np.mean([v["ceiling_real_vs_degraded"][key] for v in per_class.values()]))
    # memorisation: pixels and features, each synthetic image against the whole training split
    fake_index = draw(len(synthetic), 2 * n_max)
    fake_s = synthetic.subset(fake_index)
    flat = lambda ds: ds.images.flatten(1).float().numpy() / 255.0  # noqa: E731
    e_train = embed(model, splits.train, dev)
    centre = e_train.mean(0)  # cosine on centred features: raw post-ReLU features all point one way
    mem = {
        "pixel_l2": memorisation(flat(fake_s), flat(splits.train), flat(splits.val), "l2"),
        "feature_cosine": memorisation(
            embed(model, fake_s, dev) - centre, e_train - centre, embed(model, splits.val, dev) - centre, "cosine"
        ),
    }
    # label fidelity: the real-only classifier's verdict on each synthetic image
    p = predict(model, synthetic, dev)
    y = synthetic.labels.numpy()
    res = ReviewResult(
        n_synthetic=synthetic.class_counts(),
        feature_net={"config": to_dict(clf), "threshold": thr, "validation": _rounded(val)},
        per_class=per_class,
        **scale,
        memorisation={k: {kk: vv for kk, vv in v.items() if kk not in _MEM_ARRAYS} for k, v in mem.items()},
        label_fidelity={
            c: float(((p >= thr).astype(int) == label)[y == label].mean())
            for label, c in enumerate(CLASSES)
            if (y == label).any()
        },
        diversity=diversity,
        collapse_rule=collapse_rule(),
    )
    text = json.dumps(res.to_dict(), indent=2) + "\n"
    for folder in (out, *([Path(also_to)] if also_to else [])):
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "review.json").write_text(text)
    np.savez_compressed(
        out / "review_arrays.npz",
        p_synthetic=p,
        y_synthetic=y,
        fake_index=fake_index,
        feature_net=np.array(net_path.name),
        **{f"{k}_{kk}": v[kk] for k, v in mem.items() for kk in _MEM_ARRAYS},
        **div_arrays,
    )
    return res


def load_review(folder: str | Path) -> tuple[ReviewResult, ReviewArrays]:
    """The numbers (review.json) and arrays (review_arrays.npz) of a review folder written by `review`."""
    folder = Path(folder)
    if not (folder / "review.json").exists() or not (folder / "review_arrays.npz").exists():
        raise FileNotFoundError(f"{folder} holds no finished review: run 'python -m xraygan review' first")
    res = ReviewResult(**json.loads((folder / "review.json").read_text()))
    with np.load(folder / "review_arrays.npz") as z:
        arrays = ReviewArrays(
            p_synthetic=z["p_synthetic"],
            y_synthetic=z["y_synthetic"],
            fake_index=z["fake_index"],
            memorisation={k: {kk: z[f"{k}_{kk}"] for kk in _MEM_ARRAYS} for k in res.memorisation},
            feature_net=str(z["feature_net"]),
            diversity={c: {k: z[f"diversity_{c}_{k}"] for k in _DIV_ARRAYS} for c in res.diversity},
        )
    return res, arrays


def inception_distances(real: ImageSet, fake: ImageSet, n: int = 1000, device: str | None = None) -> dict:
    """FD/KID/PRDC on ImageNet Inception-v3 pool features, when its weights can be loaded (e.g. Colab).
    Offline this returns {"skipped": why} instead of failing. Never compare these with the X-ray numbers."""
    import torchvision

    try:
        quiet = io.StringIO()  # torch.hub prints where it downloads to: this machine's cache path
        with contextlib.redirect_stdout(quiet), contextlib.redirect_stderr(quiet):
            net = torchvision.models.inception_v3(weights=torchvision.models.Inception_V3_Weights.DEFAULT)
    except Exception as e:  # noqa: BLE001 - no network, no cached weights, ...
        return {
            "skipped": f"Inception-v3 weights could not be loaded ({type(e).__name__}); this part runs where "
            "torchvision can download them (Colab) or finds them in ~/.cache/torch."
        }
    dev = pick_device(device)
    net.fc = torch.nn.Identity()
    net = net.to(dev).eval()

    @torch.no_grad()
    def feats(ds: ImageSet) -> np.ndarray:
        out = []
        for s in range(0, min(n, len(ds)), 64):
            x = ds.images[s : min(n, s + 64)].to(dev).float().div(255).expand(-1, 3, -1, -1)
            x = F.interpolate(x, size=(299, 299), mode="bilinear", align_corners=False)
            x = (x - torch.tensor([0.485, 0.456, 0.406], device=dev).view(1, 3, 1, 1)) / torch.tensor(
                [0.229, 0.224, 0.225], device=dev
            ).view(1, 3, 1, 1)
            out.append(net(x).float().cpu())
        return torch.cat(out).numpy().astype(np.float64)

    return distance_block(feats(real), feats(fake))
