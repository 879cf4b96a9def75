"""Several independent SimpleCNN classifiers trained in one pass: K models held as the K groups of grouped
convolutions (per-model batch-norm channels), each with its own initialisation, data order, augmentation and
dropout draws and optimiser state, and the same result as training them one by one (to float rounding).

Dropout masks are replayed from each model's own CPU RNG stream, so on CPU the equivalence includes dropout;
on CUDA the masks come from the CUDA generator (independent per model, but not those of a lone run).

On 2 CPU cores the small models of the study leave the cores idle between many tiny kernels; K models per
kernel call do more work per call (benchmarks/study_throughput.py measures it)."""

from __future__ import annotations

import copy
import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from xraygan.augment import classic_augment
from xraygan.classifier import (
    BatchOrder,
    TrainedClassifier,
    loss_weights,
    optimiser,
    selection,
    sigmoid,
    train_autocast,
    validation_score,
    weight_average,
)
from xraygan.config import ClassifierConfig
from xraygan.data.imageset import ImageSet, to_unit
from xraygan.device import pick_device
from xraygan.models import SimpleCNN, build_classifier

_SHARED = (  # must agree: the shape, the schedule, what is judged and how it is selected
    "model",
    "width",
    "steps",
    "batch_size",
    "lr",
    "weight_decay",
    "eval_every",
    "amp",
    "ema_decay",
    "select_on",
)


class StackedSimpleCNN(nn.Module):
    """K SimpleCNNs as one network: input (B, K, S, S), model k reads channel k; output logits (B, K)."""

    def __init__(self, models: list[SimpleCNN]) -> None:
        super().__init__()
        self.k = len(models)
        layers: list[nn.Module] = []
        for parts in zip(*(m.features for m in models)):
            first = parts[0]
            if isinstance(first, nn.Conv2d):
                conv = nn.Conv2d(
                    first.in_channels * self.k, first.out_channels * self.k, 3, padding=1, groups=self.k, bias=False
                )
                conv.weight.data = torch.cat([p.weight.data for p in parts])  # (K*cout, cin, 3, 3)
                layers.append(conv)
            elif isinstance(first, nn.BatchNorm2d):
                bn = nn.BatchNorm2d(first.num_features * self.k)
                for name in ("weight", "bias"):
                    getattr(bn, name).data = torch.cat([getattr(p, name).data for p in parts])
                for name in ("running_mean", "running_var"):
                    getattr(bn, name).copy_(torch.cat([getattr(p, name) for p in parts]))
                layers.append(bn)
            else:
                layers.append(copy.deepcopy(first))  # ReLU, MaxPool2d: no parameters
        self.features = nn.Sequential(*layers)
        self.p = models[0].head[0].p
        self.head_w = nn.Parameter(torch.stack([m.head[1].weight.data[0] for m in models]))  # (K, C)
        self.head_b = nn.Parameter(torch.cat([m.head[1].bias.data for m in models]))  # (K,)

    def forward(self, x: torch.Tensor, rng_states: list[torch.Tensor] | None = None) -> torch.Tensor:
        """Training with `rng_states` (CPU): model k's dropout mask replayed from its own stream, as alone;
        without (CUDA): one dropout call over all models (independent masks from the CUDA generator)."""
        e = self.features(x).mean(dim=(2, 3)).view(len(x), self.k, -1)  # (B, K, C)
        if self.training and self.p > 0 and rng_states is None:
            e = F.dropout(e, self.p, True)
        elif self.training and self.p > 0:
            cols = []
            for k in range(self.k):  # model k's dropout from its own stream, exactly as alone
                torch.set_rng_state(rng_states[k])
                cols.append(F.dropout(e[:, k], self.p, True))
                rng_states[k] = torch.get_rng_state()
            e = torch.stack(cols, 1)
        return (e * self.head_w).sum(-1) + self.head_b  # (B, K)

    def unstack(self, k: int) -> SimpleCNN:
        """Model k as a plain SimpleCNN (eval mode)."""
        width = self.features[0].out_channels // self.k
        m = SimpleCNN(width, n_blocks=sum(isinstance(x, nn.MaxPool2d) for x in self.features), dropout=self.p)
        for mine, theirs in zip(m.features, self.features):
            if isinstance(mine, nn.Conv2d):
                n = mine.out_channels
                mine.weight.data.copy_(theirs.weight.data[k * n : (k + 1) * n])
            elif isinstance(mine, nn.BatchNorm2d):
                n = mine.num_features
                for name in ("weight", "bias", "running_mean", "running_var"):
                    getattr(mine, name).data.copy_(getattr(theirs, name).data[k * n : (k + 1) * n])
                mine.num_batches_tracked.copy_(theirs.num_batches_tracked)
        m.head[1].weight.data.copy_(self.head_w.data[k : k + 1])
        m.head[1].bias.data.copy_(self.head_b.data[k : k + 1])
        return m.eval()


def train_classifiers(
    cfgs: list[ClassifierConfig], trains: list[ImageSet], val: ImageSet, device: str | None = None
) -> list[TrainedClassifier]:
    """train_classifier for K configs and training sets at once (no pretraining phase). The configs may
    differ in seed, augmentation and class weighting; everything else must agree. Weight EMA (of the stacked
    weights: elementwise, so each model's own average) and selection on validation AUC or log-loss as alone."""
    if len(cfgs) != len(trains) or not cfgs:
        raise ValueError("train_classifiers: give one training set per config")
    for f in _SHARED:
        if len({getattr(c, f) for c in cfgs}) != 1:
            raise ValueError(f"train_classifiers: ClassifierConfig.{f} must be the same for every model")
    c0 = cfgs[0]
    if c0.model != "simple":
        raise ValueError("train_classifiers stacks the 'simple' CNN only; train other models one by one")
    dev = pick_device(device)
    k = len(cfgs)
    with torch.random.fork_rng(devices=[]):
        models, states = [], []
        for c in cfgs:  # the same initialisation and RNG stream each model would have alone
            torch.manual_seed(c.seed)
            models.append(build_classifier(c.model, c.width))
            states.append(torch.get_rng_state())
        net = StackedSimpleCNN(models).to(dev)
        ema = weight_average(net, c0.ema_decay)
        judged = ema.module if ema is not None else net  # what is validated, selected and returned
        cuda = dev.type == "cuda" and c0.amp
        amp = train_autocast(c0, dev)
        gens = [torch.Generator().manual_seed(c.seed) for c in cfgs]
        opt, sched = optimiser(net.parameters(), c0, c0.steps)
        images, labels, offsets = _pool(trains, dev)  # every distinct training set once, on the device
        w = torch.stack([loss_weights(t, c, dev) for c, t in zip(cfgs, trains)])  # (K, 2)
        orders = [BatchOrder(len(t), c0.batch_size, g) for t, g in zip(trains, gens)]
        rows = torch.arange(k, device=dev)[:, None]
        y_val = val.labels.numpy()
        best: list[dict] = [{"score": -math.inf} for _ in range(k)]
        history: list[list[dict]] = [[] for _ in range(k)]
        for step in range(1, c0.steps + 1):
            net.train()
            # each model's own batch, drawn exactly as _phase draws it, gathered for all models at once
            idx = torch.stack([o.next() + off for o, off in zip(orders, offsets)]).to(dev)  # (K, B)
            x = to_unit(images[idx.view(-1)]).view(k, c0.batch_size, *images.shape[2:])
            for j in range(k):
                if cfgs[j].augment:
                    x[j] = classic_augment(x[j].unsqueeze(1), gens[j]).squeeze(1)
            x = x.transpose(0, 1)  # (B, K, S, S): model k reads channel k
            x = x.contiguous(memory_format=torch.channels_last) if cuda else x.contiguous()
            y = labels[idx]  # (K, B)
            with amp:
                logits = net(x, states if dev.type == "cpu" else None).float()  # (B, K)
            # the sum of each model's mean loss, so each model's gradient is its own loss's
            loss = (
                F.binary_cross_entropy_with_logits(logits, y.T.float(), weight=w[rows, y].T, reduction="sum")
                / c0.batch_size
            )
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            if ema is not None:
                ema.update_parameters(net)
            if step % c0.eval_every == 0:
                logits_all = _logits_all(judged, val, dev)
                p_all = sigmoid(logits_all)
                for j in range(k):
                    p = p_all[:, j]
                    scores, score = validation_score(y_val, p, c0.select_on)  # as alone
                    history[j].append({"step": step, **scores})
                    if score > best[j]["score"]:
                        best[j].update(score=score, step=step, model=judged.unstack(j), p=p, logits=logits_all[:, j])
    out = []
    for b, h in zip(best, history):
        t, val_m = selection(y_val, b["p"])
        out.append(TrainedClassifier(b["model"].to(dev), b["step"], t, val_m, h, b["logits"]))
    return out


def _pool(trains: list[ImageSet], dev: torch.device) -> tuple[torch.Tensor, torch.Tensor, list[int]]:
    """Images and labels of the distinct training sets concatenated on the device (a set shared by several
    models is held once), and where each model's set starts in them."""
    first: dict[int, int] = {}
    parts, offsets, n = [], [], 0
    for t in trains:
        if id(t) not in first:
            first[id(t)] = n
            parts.append(t)
            n += len(t)
        offsets.append(first[id(t)])
    images = torch.cat([t.images for t in parts]).to(dev)
    return images, torch.cat([t.labels for t in parts]).to(dev), offsets


@torch.no_grad()
def _logits_all(net: StackedSimpleCNN, ds: ImageSet, dev: torch.device, batch: int = 512) -> np.ndarray:
    """The PNEUMONIA logit of every model for every image: (N, K)."""
    net.eval()
    out = []
    for s in range(0, len(ds), batch):
        x = to_unit(ds.images[s : s + batch].to(dev))  # (B, 1, S, S)
        out.append(net(x.expand(-1, net.k, -1, -1).contiguous()).float().cpu())
    return torch.cat(out).numpy()
