"""The study's protocol as data: the primary endpoint, the goal and the decision rule, fixed before the run
they judge (the README's *Protocol* section quotes this file). The analysis reads it, so a verdict can only
come from the rule written here."""

from __future__ import annotations

import math
from dataclasses import dataclass

ENDPOINTS = ("test_accuracy@t", "test_balanced_accuracy@t", "test_accuracy", "test_balanced_accuracy", "test_auc")


def endpoint_label(endpoint: str) -> str:
    """How the README, the answer blocks and the figures name an endpoint."""
    return {
        "test_accuracy@t": "test accuracy at the validation-chosen threshold",
        "test_balanced_accuracy@t": "test balanced accuracy at the validation-chosen threshold",
        "test_accuracy": "test accuracy at 0.5",
        "test_balanced_accuracy": "test balanced accuracy at 0.5",
        "test_auc": "test AUC",
    }[endpoint]


@dataclass(frozen=True)
class Protocol:
    # primary endpoint: test accuracy at the threshold chosen on validation (the seed goal asks for accuracy;
    # the validation threshold keeps a shifted decision boundary from passing for a better classifier)
    endpoint: str = "test_accuracy@t"
    secondary: tuple[str, ...] = ("test_balanced_accuracy@t", "test_auc")
    goal: float = 3.0  # points of the endpoint (AUC: the same number, read as AUC x 100)
    level: float = 0.95  # confidence level of every interval
    # intervals are computed at the level that varies: runs sharing a training subset and its GANs form
    # one replicate (cluster); a comparison with fewer than two replicates has no interval ("unresolved")
    replicate_column: str = "subset"
    # the exchange rate is read on the endpoint's learning curve and also on these (decide nothing): added on
    # 2026-11-27, after `full`'s endpoint curve came out flat while its test AUC rose at every fraction
    exchange_also: tuple[str, ...] = ("test_auc",)
    # the grid was written down to ask whether pretraining on synthetic images adds anything over its schedule
    # control (SCHEDULE_QUESTION), so schedule_reading reads that comparison; elsewhere nothing reads it
    reads_schedule: bool = False

    def __post_init__(self) -> None:
        if any(e not in ENDPOINTS for e in (self.endpoint, *self.secondary, *self.exchange_also)):
            raise ValueError(f"Protocol: endpoints must be among {ENDPOINTS}")
        if self.goal <= 0 or not 0.5 < self.level < 1:
            raise ValueError("Protocol: goal > 0 and a level in (0.5, 1)")

    def verdict(self, vs_baseline: tuple[float, float, float], vs_control: tuple[float, float, float] | None) -> str:
        """The decision rule, on (mean, low, high) of the endpoint's paired gain over the baseline and over the
        count-matched control (None for conditions without one):
        helps: mean >= goal and the CI's low end > 0, against the baseline *and* the control;
        does not reach +goal: the CI's high end < goal against the baseline;
        unresolved: anything else (including no interval)."""
        mean, low, high = vs_baseline
        if math.isnan(low) or math.isnan(high):
            return "unresolved"
        beats_control = vs_control is None or (not math.isnan(vs_control[1]) and vs_control[1] > 0)
        if mean >= self.goal and low > 0 and beats_control:
            return "helps"
        if high < self.goal:
            return f"does not reach +{self.goal:g}"
        return "unresolved"

    def schedule_reading(self, low: float, high: float, replicates: int) -> str:
        """The reading of the paired gain of pretraining on synthetic images over its schedule control, fixed
        before pretrain_cw ran: it adds something if the interval lies above 0, costs something if it lies
        below 0, and otherwise adds nothing measurable with that many replicates."""
        if math.isnan(low) or math.isnan(high):
            return "unresolved (no interval)"
        if low > 0:
            return "adds something"
        if high < 0:
            return "costs something"
        return f"adds nothing measurable with {replicates} replicate{'s' if replicates != 1 else ''}"


PROTOCOL = Protocol()


# Grids written down to answer one paired question of their own (README, *Protocol*): pretrain_cw (2026-11-27,
# before any of its models) asks whether pretraining on DCGAN images adds anything over the same two-phase
# schedule on duplicated real images (pretrain_dcgan against pretrain_real). run.protocol_for reads it from the
# grid's config.json.
SCHEDULE_QUESTION = ("pretrain_cw",)
