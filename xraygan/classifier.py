"""Training the pneumonia classifier: fixed step budget, model selection on validation only."""

from __future__ import annotations

import copy
import math
from contextlib import nullcontext
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.metrics import log_loss
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from xraygan.augment import classic_augment
from xraygan.config import ClassifierConfig
from xraygan.data.imageset import ImageSet, to_unit
from xraygan.device import pick_device
from xraygan.metrics import best_threshold, binary_metrics
from xraygan.models import build_classifier
from xraygan.progress import tqdm


@dataclass
class TrainedClassifier:
    model: torch.nn.Module  # the selected weights, eval mode
    best_step: int  # the step chosen on validation AUC
    threshold: float  # chosen on validation (max balanced accuracy)
    val: dict  # validation metrics at the chosen step, at 0.5 and at the chosen threshold
    history: list[dict] = field(default_factory=list)  # val AUC per evaluation
    val_logits: np.ndarray | None = None  # the selected weights' validation logits (what chose the threshold)


class GuardedTest:
    """The test split, handed out through read() only, so that reads can be counted."""

    def __init__(self, ds: ImageSet) -> None:
        self._ds, self.reads = ds, 0

    def read(self) -> ImageSet:
        self.reads += 1
        return self._ds


def channels_last(cfg: ClassifierConfig, dev: torch.device) -> bool:
    """Whether a classifier trains in channels-last tensors: always with AMP on CUDA, on CPU where asked."""
    return (dev.type == "cuda" and cfg.amp) or cfg.channels_last


def train_autocast(cfg: ClassifierConfig, dev: torch.device):
    """The autocast context of a training step: bf16 on CUDA with AMP, bf16 on CPU where asked, else none."""
    if dev.type == "cuda" and cfg.amp:
        return torch.autocast("cuda", dtype=torch.bfloat16)
    if dev.type == "cpu" and cfg.cpu_bf16:
        return torch.autocast("cpu", dtype=torch.bfloat16)
    return nullcontext()


@torch.no_grad()
def predict_logits(model: torch.nn.Module, ds: ImageSet, device: torch.device, batch: int = 512) -> np.ndarray:
    """The PNEUMONIA logit for every image of `ds` (float32)."""
    model.eval()
    out = []
    cuda = device.type == "cuda"
    for s in range(0, len(ds), batch):
        x = to_unit(ds.images[s : s + batch].to(device))
        if cuda:
            x = x.contiguous(memory_format=torch.channels_last)
        with torch.autocast("cuda", dtype=torch.bfloat16) if cuda else nullcontext():
            out.append(model(x).float().cpu())
    return torch.cat(out).numpy() if out else np.zeros(0, dtype=np.float32)


def predict(model: torch.nn.Module, ds: ImageSet, device: torch.device, batch: int = 512) -> np.ndarray:
    """P(PNEUMONIA) for every image of `ds`."""
    return sigmoid(predict_logits(model, ds, device, batch))


def sigmoid(logits: np.ndarray) -> np.ndarray:
    return torch.sigmoid(torch.as_tensor(np.asarray(logits, dtype=np.float32))).numpy()


class BatchOrder:
    """One model's data order from its own generator: a fresh permutation whenever the next batch would run
    past the end, or draws with replacement when the set is smaller than a batch."""

    def __init__(self, n: int, batch_size: int, g: torch.Generator) -> None:
        self.n, self.bsz, self.g = n, batch_size, g
        self.perm, self.pos = torch.randperm(n, generator=g), 0

    def next(self) -> torch.Tensor:
        if self.pos + self.bsz > self.n:
            self.perm, self.pos = torch.randperm(self.n, generator=self.g), 0
        idx = (
            self.perm[self.pos : self.pos + self.bsz]
            if self.n >= self.bsz
            else torch.randint(0, self.n, (self.bsz,), generator=self.g)
        )
        self.pos += self.bsz
        return idx


def loss_weights(ds: ImageSet, cfg: ClassifierConfig, dev: torch.device) -> torch.Tensor:
    """Per-class loss weights: inverse class frequency when cfg.class_weighted, else ones."""
    counts = torch.bincount(ds.labels, minlength=2).float()
    return (len(ds) / (2 * counts.clamp(min=1))).to(dev) if cfg.class_weighted else torch.ones(2, device=dev)


def optimiser(params, cfg: ClassifierConfig, steps: int):
    """AdamW with a one-cycle (warm-up, cosine decay) schedule over `steps`: a tenth of them warm-up, at least
    two (torch's schedule divides by zero when the warm-up ends on its first step, e.g. a 10-step phase)."""
    if steps < 4:
        raise ValueError(f"a classifier training phase of {steps} steps: give it at least 4 (ClassifierConfig.steps)")
    opt = torch.optim.AdamW(params, cfg.lr, weight_decay=cfg.weight_decay)
    warm = max(0.1, 2 / steps)  # 0.1 from 20 steps on: every committed model's schedule is unchanged
    return opt, torch.optim.lr_scheduler.OneCycleLR(opt, cfg.lr, total_steps=steps, pct_start=warm)


def selection(y_val: np.ndarray, p: np.ndarray) -> tuple[float, dict]:
    """The threshold chosen on validation (max balanced accuracy) and the validation metrics at 0.5 and at it."""
    t = best_threshold(y_val, p)
    return t, {
        **{f"val_{k}": v for k, v in binary_metrics(y_val, p, 0.5).items()},
        **{f"val_{k}@t": v for k, v in binary_metrics(y_val, p, t).items()},
    }


def validation_score(y_val: np.ndarray, p: np.ndarray, select_on: str) -> tuple[dict, float]:
    """Validation AUC and log-loss of probabilities `p`, and the score model selection maximises."""
    auc = binary_metrics(y_val, p)["auc"]
    loss = float(log_loss(y_val, np.clip(p, 1e-7, 1 - 1e-7), labels=[0, 1]))
    return {"val_auc": auc, "val_loss": loss}, (auc if select_on == "auc" else -loss)


def _phase(
    model,
    opt_cfg: ClassifierConfig,
    ds: ImageSet,
    steps: int,
    g: torch.Generator,
    dev: torch.device,
    on_eval=None,
    bar=None,
    ema: AveragedModel | None = None,
) -> None:
    """`steps` AdamW steps with cosine decay on `ds`, updating `ema` after each; calls on_eval(step) every
    eval_every steps."""
    opt, sched = optimiser(model.parameters(), opt_cfg, steps)
    images, labels = ds.images.to(dev), ds.labels.to(dev).float()
    w = loss_weights(ds, opt_cfg, dev)
    amp = train_autocast(opt_cfg, dev)
    order = BatchOrder(len(ds), opt_cfg.batch_size, g)
    for step in range(1, steps + 1):
        model.train()
        idx = order.next().to(dev)
        x = to_unit(images[idx])  # (B, 1, S, S) in [-1, 1]
        if opt_cfg.augment:
            x = classic_augment(x, g)
        if channels_last(opt_cfg, dev):
            x = x.contiguous(memory_format=torch.channels_last)
        y = labels[idx]
        with amp:
            logit = model(x).float()
        loss = F.binary_cross_entropy_with_logits(logit, y, weight=w[y.long()])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        if ema is not None:
            ema.update_parameters(model)
        if bar is not None:
            bar.update(1)
        if on_eval is not None and step % opt_cfg.eval_every == 0:
            on_eval(step)


def weight_average(model: torch.nn.Module, decay: float) -> AveragedModel | None:
    """An exponential moving average of the model's weights and buffers (torch's AveragedModel), or None."""
    if not decay:
        return None
    return AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(decay), use_buffers=True)


def train_classifier(
    cfg: ClassifierConfig,
    train: ImageSet,
    val: ImageSet,
    device: str | None = None,
    pretrain: ImageSet | None = None,
    pretrain_steps: int = 0,
    progress: bool = True,
) -> TrainedClassifier:
    """Train for cfg.steps steps in all (pretrain_steps of them on `pretrain`, if given, then the rest on
    `train`); keep the weights with the best validation AUC and choose the threshold on validation."""
    dev = pick_device(device)
    with torch.random.fork_rng(devices=[]):  # init and dropout from cfg.seed, caller's RNG untouched
        torch.manual_seed(cfg.seed)
        model = build_classifier(cfg.model, cfg.width).to(dev)
        if channels_last(cfg, dev):
            model = model.to(memory_format=torch.channels_last)
        g = torch.Generator().manual_seed(cfg.seed)
        y_val = val.labels.numpy()
        best: dict = {"score": -math.inf}
        history: list[dict] = []
        offset = pretrain_steps if pretrain is not None else 0
        ema = weight_average(model, cfg.ema_decay)
        judged = ema.module if ema is not None else model  # what is validated, selected and returned

        def on_eval(step: int) -> None:
            logits = predict_logits(judged, val, dev)
            p = sigmoid(logits)
            scores, score = validation_score(y_val, p, cfg.select_on)  # score: higher is better
            history.append({"step": offset + step, **scores})
            if score > best["score"]:
                state = copy.deepcopy(judged.state_dict())
                best.update(score=score, step=offset + step, state=state, p=p, logits=logits)

        bar = tqdm(total=cfg.steps, desc="classifier", disable=not progress, leave=False)
        if pretrain is not None and pretrain_steps:
            _phase(model, cfg, pretrain, pretrain_steps, g, dev, None, bar, ema)
        _phase(model, cfg, train, cfg.steps - offset, g, dev, on_eval, bar, ema)
        bar.close()
    model.load_state_dict(best["state"])
    model.eval()
    t, val_m = selection(y_val, best["p"])
    return TrainedClassifier(model, best["step"], t, val_m, history, best["logits"])


def evaluate_test(tc: TrainedClassifier, test: GuardedTest, device: str | None = None) -> dict:
    """Test metrics of a trained model at 0.5 and at its validation threshold, and its test logits (5
    decimals: unlike probabilities they do not saturate at 1, so AUCs and ROC curves recomputed from them are
    exact), from one read of the test split."""
    ds = test.read()
    logits = predict_logits(tc.model, ds, pick_device(device))
    p, y = sigmoid(logits), ds.labels.numpy()
    return {
        **{f"test_{k}": v for k, v in binary_metrics(y, p, 0.5).items()},
        **{f"test_{k}@t": v for k, v in binary_metrics(y, p, tc.threshold).items()},
        "test_logits": [round(float(x), 5) for x in logits],
    }
