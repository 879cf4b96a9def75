"""K classifiers trained together give what the same K trained one at a time give."""

from __future__ import annotations

import dataclasses

import pytest
import torch
import torch.nn.functional as F

from tests.conftest import TEST_SIZE
from xraygan.classifier import predict, sigmoid, train_classifier
from xraygan.classifier_stack import StackedSimpleCNN, train_classifiers
from xraygan.config import ClassifierConfig
from xraygan.data.phantom import phantom_set
from xraygan.models import SimpleCNN


def test_one_step_is_exact_per_model() -> None:
    """Same initialisation and batches: the stack's logits (dropout included) and gradients are each
    model's own, to float rounding."""
    models, states = [], []
    for seed in range(3):
        torch.manual_seed(seed)
        models.append(SimpleCNN(width=4))
        states.append(torch.get_rng_state())
    net = StackedSimpleCNN(models)
    g = torch.Generator().manual_seed(0)
    xs = [torch.rand(8, 1, 64, 64, generator=g) * 2 - 1 for _ in models]
    ys = [torch.randint(0, 2, (8,), generator=g).float() for _ in models]
    logits = net(torch.cat(xs, 1), list(states))
    sum(F.binary_cross_entropy_with_logits(logits[:, k], ys[k]) for k in range(3)).backward()
    for k, m in enumerate(models):
        torch.set_rng_state(states[k])  # the dropout stream model k would have alone
        alone = m.train()(xs[k])
        F.binary_cross_entropy_with_logits(alone, ys[k]).backward()
        assert torch.allclose(alone, logits[:, k], atol=1e-5)
        n = m.features[0].out_channels
        assert torch.allclose(net.features[0].weight.grad[k * n : (k + 1) * n], m.features[0].weight.grad, atol=1e-6)
        assert torch.allclose(net.head_w.grad[k], m.head[1].weight.grad[0], atol=1e-6)


@pytest.mark.parametrize(
    "recipe",
    [{}, {"select_on": "loss"}, {"select_on": "loss", "ema_decay": 0.9}],
    ids=["auc", "loss", "loss+ema"],
)
def test_stacked_training_matches_one_at_a_time(recipe: dict) -> None:
    """Whole runs (own data order, augmentation and class weights): the same selected step, and predictions
    and thresholds equal up to the float rounding that Adam amplifies over 30 steps (grouped and plain
    convolutions sum in another order; the one-step test above is exact). Another seed's model is far off.
    Selection on validation AUC, on log-loss, and on log-loss of the weight EMA (the `paper` recipe's
    selection) alike, with the same validation history. (With log-loss selection an early, barely trained
    step can win, whose predictions are near 0.5 for every seed: the weights, not the predictions, tell the
    seeds apart.)"""
    base = ClassifierConfig(width=4, steps=30, batch_size=16, eval_every=10, lr=3e-3, **recipe)
    cfgs = [
        dataclasses.replace(base, seed=0),
        dataclasses.replace(base, seed=1, augment=True),
        dataclasses.replace(base, seed=2, class_weighted=True),
    ]
    trains = [phantom_set(n, TEST_SIZE, seed=s, split="train") for n, s in ((40, 0), (24, 1), (56, 2))]
    val = phantom_set(20, TEST_SIZE, seed=5, split="val")
    cpu = torch.device("cpu")
    together = train_classifiers(cfgs, trains, val, "cpu")
    alone = [train_classifier(c, t, val, "cpu", progress=False) for c, t in zip(cfgs, trains)]
    for k, (t, a) in enumerate(zip(together, alone)):
        assert t.best_step == a.best_step
        assert [h["step"] for h in t.history] == [h["step"] for h in a.history] == [10, 20, 30]
        for ht, ha in zip(t.history, a.history):
            assert ht["val_loss"] == pytest.approx(ha["val_loss"], rel=0.05)
        off = abs(predict(t.model, val, cpu) - predict(a.model, val, cpu)).max()
        assert off < 0.06  # 0.02-0.04 seen (more with one thread than with two); the weights below decide
        # the validation logits a model keeps are its selected weights' (what chose its threshold)
        assert t.val_logits.shape == a.val_logits.shape == (len(val),)
        assert (predict(a.model, val, cpu) == sigmoid(a.val_logits)).all()
        assert abs(sigmoid(t.val_logits) - predict(t.model, val, cpu)).max() < 1e-4
        assert t.threshold == pytest.approx(a.threshold, abs=0.06)
        # the weights say which model it is, however little it learnt: another seed's are far off
        other = alone[(k + 1) % 3]
        assert _weight_gap(t.model, a.model) < 0.1 * _weight_gap(t.model, other.model)


def _weight_gap(a: torch.nn.Module, b: torch.nn.Module) -> float:
    """The largest difference between two models' corresponding parameters."""
    return max(float((p - q).detach().abs().max()) for p, q in zip(a.parameters(), b.parameters()))


def test_stacking_refuses_configs_that_do_not_share_a_shape() -> None:
    a, b = ClassifierConfig(width=4, steps=20, eval_every=10), ClassifierConfig(width=8, steps=20, eval_every=10)
    ds = phantom_set(8, TEST_SIZE, seed=0)
    with pytest.raises(ValueError, match="ClassifierConfig.width must be the same"):
        train_classifiers([a, b], [ds, ds], ds, "cpu")
