"""The study's instrument: replicate-seeded GANs, +aug conditions and their references, the exchange rate, the
patient-level test bootstrap, weight averaging in the classifier, progress and time estimates."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest
import torch

from tests.conftest import TEST_SIZE, phantom_experiment
from xraygan.classifier import train_classifier
from xraygan.config import ClassifierConfig
from xraygan.data.phantom import phantom_set
from xraygan.experiment import build_experiment
from xraygan.study.analysis import UNIDENTIFIABLE, _on_curve, exchange_table, learning_curve, verdict_table
from xraygan.study.conditions import parse_condition
from xraygan.study.estimate import Rates, estimate_seconds, progress_table, write_progress
from xraygan.study.report import _exchange_cell
from xraygan.study.run import gan_for, subsets_at
from xraygan.study.stats import patient_bootstrap_interval


def test_replicates_have_independent_gan_seeds_at_every_fraction() -> None:
    grid = {"fractions": (0.25, 1.0), "seeds": 6, "subsets": 3}
    exp = build_experiment("smoke", study={**grid, "replicates_full": 2, "independent_gans": True})
    assert subsets_at(exp, 0.25) == 3 and subsets_at(exp, 1.0) == 2
    seeds = {gan_for(exp, f, r).seed for f in (0.25, 1.0) for r in range(subsets_at(exp, f))}
    assert seeds == {0, 1, 2} and gan_for(exp, 1.0, 1).steps == exp.gan.steps
    assert gan_for(exp, 0.25, 2).steps == exp.gan_subset.steps
    shared = build_experiment("smoke", study=grid)  # the committed grids' rule: one GAN seed for all
    assert {gan_for(shared, 0.25, r).seed for r in range(3)} == {0}
    with pytest.raises(ValueError, match="replicates_full"):
        build_experiment("smoke", study={"replicates_full": 5, "independent_gans": True})  # more than seeds
    with pytest.raises(ValueError, match="independent_gans"):
        build_experiment("smoke", study={**grid, "replicates_full": 2})


def test_aug_conditions_compare_with_classic_augmentation_and_a_count_matched_control() -> None:
    c = parse_condition("dcgan_100+aug")
    assert (c.kind, c.gan, c.ratio, c.augment) == ("gan", "dcgan", "100", True)
    assert c.reference == "classic_aug" and c.control == "dup_real_100+aug"
    plain = parse_condition("dcgan_100")
    assert not plain.augment and plain.reference == "baseline" and plain.control == "dup_real_100"
    assert parse_condition("classic_aug").augment and parse_condition("dup_real_50+aug").control is None
    for bad in ("baseline+aug", "classic_aug+aug", "pretrain_dcgan+aug", "dcgan_7+aug"):
        with pytest.raises(ValueError):
            parse_condition(bad)


def _rows(fraction: float, condition: str, scores: list[list[float]], n_real: int, n_added: int) -> list[dict]:
    """Result rows: one list of run scores per replicate."""
    out, seed = [], 0
    for rep, runs in enumerate(scores):
        for acc in runs:
            out.append(
                {
                    "fraction": fraction,
                    "condition": condition,
                    "seed": seed,
                    "subset": rep,
                    "test_accuracy@t": acc,
                    "n_real_normal": n_real // 4,
                    "n_real_pneumonia": n_real - n_real // 4,
                    "n_added_normal": n_added // 4,
                    "n_added_pneumonia": n_added - n_added // 4,
                }
            )
            seed += 1
    return out


def test_exchange_rate_reads_a_known_learning_curve() -> None:
    """Baseline accuracy = 0.60 + 0.05 log2(n / 100): 100, 200, 400, 800 real images. A condition at 200
    real images that adds 200 synthetic ones and scores like 400 real ones is worth 200 real images, i.e.
    1000 per 1000 added; one that scores above the whole curve is worth 'inf'."""
    rows = []
    for f, n in ((0.125, 100), (0.25, 200), (0.5, 400), (1.0, 800)):
        acc = 0.60 + 0.05 * np.log2(n / 100)
        rows += _rows(f, "baseline", [[acc - 0.01, acc + 0.01], [acc, acc]], n, 0)
    rows += _rows(0.25, "dcgan_100", [[0.70, 0.70], [0.70, 0.70]], 200, 200)
    rows += _rows(0.25, "dup_real_100", [[0.99, 0.99], [0.99, 0.99]], 200, 200)
    df = pd.DataFrame(rows)
    curve = learning_curve(df, "test_accuracy@t")
    assert list(curve.n_real) == [100, 200, 400, 800] and curve["mean"].is_monotonic_increasing
    # three replicates near the ceiling: the t interval passes 100 % and is clipped to it
    wide = learning_curve(pd.DataFrame(_rows(1.0, "baseline", [[0.99], [0.93], [0.96]], 800, 0)), "test_accuracy@t")
    assert wide["high"].iloc[0] == 100.0 and wide["low"].iloc[0] == pytest.approx(96 - 4.303 * 3 / 3**0.5, abs=0.01)
    ex = exchange_table(df, n_resamples=200).set_index("condition")
    assert ex.loc["dcgan_100", "real images per 1000 added"] == pytest.approx(1000, rel=1e-6)
    assert ex.loc["dcgan_100", "low"] <= 1000 + 1e-6 and ex.loc["dcgan_100", "high"] >= 1000 - 1e-6
    assert np.isinf(ex.loc["dup_real_100", "real images per 1000 added"])
    assert ex.loc["dcgan_100", "reading"] == "on the curve" and ex.loc["dup_real_100", "reading"] == "above the curve"
    # a dip is pooled by the isotonic fit ([0.7, 0.6, 0.8] -> [0.65, 0.65, 0.8]), then read in log n
    n = np.array([100.0, 200, 400])
    assert _on_curve(n, np.array([0.7, 0.6, 0.8]), 0.7)[0] == pytest.approx(200 * 2 ** (1 / 3))
    assert _on_curve(n, np.array([0.7, 0.6, 0.8]), 0.5) == (100.0, "below the curve (bound)")
    # the condition's own fraction pooled with a neighbour (a flat stretch): no rate can be read
    assert _on_curve(n, np.array([0.7, 0.6, 0.8]), 0.62, at=1)[1] == UNIDENTIFIABLE  # pooled with the one below
    assert _on_curve(n, np.array([0.7, 0.6, 0.8]), 0.7, at=1)[1] == UNIDENTIFIABLE
    assert _on_curve(n, np.array([0.6, 0.8, 0.7]), 0.76, at=1)[1] == UNIDENTIFIABLE  # pooled with the one above
    assert _on_curve(n, np.array([0.6, 0.7, 0.8]), 0.75, at=1)[0] == pytest.approx(200 * 2**0.5)  # rises through
    assert _on_curve(n, np.array([0.6, 0.7, 0.8]), 0.9, at=2) == (float("inf"), "above the curve")  # still rising


def test_exchange_rate_is_unidentifiable_where_more_real_data_does_not_help() -> None:
    """Baseline 0.80, 0.85, 0.90, 0.88 at 100, 200, 400, 800 real images (isotonic fit: 0.80, 0.85, 0.89,
    0.89). At 200 the curve rises through the baseline: a condition scoring 0.82 reads on it (a loss worth
    fewer real images). At 400 the fit pools the baseline with 800's: a condition scoring 0.91 or 0.87 there
    has no exchange rate (not '+inf' or a clamped bound), and the report says so."""
    rows = []
    for f, n, acc in ((0.125, 100, 0.80), (0.25, 200, 0.85), (0.5, 400, 0.90), (1.0, 800, 0.88)):
        rows += _rows(f, "baseline", [[acc, acc], [acc, acc]], n, 0)
    rows += _rows(0.25, "dup_real_100", [[0.82, 0.82], [0.82, 0.82]], 200, 200)
    rows += _rows(0.5, "dcgan_100", [[0.91, 0.91], [0.91, 0.91]], 400, 400)
    rows += _rows(0.5, "dup_real_100", [[0.87, 0.87], [0.87, 0.87]], 400, 400)
    ex = exchange_table(pd.DataFrame(rows), n_resamples=50).set_index(["fraction", "condition"])
    assert ex.loc[(0.25, "dup_real_100"), "reading"] == "on the curve"
    assert -1000 < ex.loc[(0.25, "dup_real_100"), "real images per 1000 added"] < 0
    for c in ("dcgan_100", "dup_real_100"):
        assert ex.loc[(0.5, c), "reading"] == UNIDENTIFIABLE
        assert ex.loc[[(0.5, c)], ["real images per 1000 added", "low", "high"]].isna().all(axis=None)
        assert _exchange_cell(ex.reset_index(), 0.5, c) == UNIDENTIFIABLE


def test_exchange_rate_is_also_read_on_a_secondary_endpoint_that_learns() -> None:
    """The endpoint flat (0.80 at 100, 200 and 400 real images), test AUC rising (0.80 + 0.05 log2(n / 100)):
    the exchange rate reads unidentifiable on the endpoint and on AUC as the known curve gives (a condition at
    200 real images + 200 added that scores like 400 real ones: 1000 per 1000 added). The protocol's
    `exchange_also` decides which tables exist and the answer block shows them as a column. A condition at
    the curve's smallest fraction that scores below it reads a bound, and its interval's low end is -inf."""
    from xraygan.study.analysis import METRICS, compute_tables, exchange_key
    from xraygan.study.protocol import Protocol
    from xraygan.study.report import answer_markdown

    def rows(f: float, condition: str, auc: float, n: int, added: int) -> list[dict]:
        out = _rows(f, condition, [[0.80, 0.80], [0.80, 0.80]], n, added)
        for k, r in enumerate(out):
            r.update({m: 0.80 for m in METRICS}, test_auc=auc + (0.002 if k % 2 else -0.002), seed=k)
        return out

    data = []
    for f, n in ((0.25, 100), (0.5, 200), (1.0, 400)):
        data += rows(f, "baseline", 0.80 + 0.05 * np.log2(n / 100), n, 0)
    data += rows(0.5, "dcgan_100", 0.90, 200, 200) + rows(0.25, "dup_real_100", 0.70, 100, 100)
    df = pd.DataFrame(data)
    tables = compute_tables(df)
    assert exchange_key("test_auc") == "exchange_auc" and "exchange_auc" in tables
    primary, auc = (t.set_index(["fraction", "condition"]) for t in (tables["exchange"], tables["exchange_auc"]))
    assert primary.loc[(0.5, "dcgan_100"), "reading"] == UNIDENTIFIABLE
    assert auc.loc[(0.5, "dcgan_100"), "real images per 1000 added"] == pytest.approx(1000, rel=1e-6)
    below = auc.loc[(0.25, "dup_real_100")]
    assert below.reading == "below the curve (bound)" and below["real images per 1000 added"] == 0
    assert below.low == -np.inf
    text = answer_markdown(df, tables, "t", None)
    assert "| the same, on test AUC |" in text and "| +1000 [" in text
    assert "| ≤ +0 [−∞, " in text and "], below the curve |" in text  # a bound is written as one
    without = compute_tables(df, protocol=Protocol(exchange_also=()))
    assert "exchange_auc" not in without and "on test AUC" not in answer_markdown(df, without, "t", None)
    with pytest.raises(ValueError, match="endpoints"):
        Protocol(exchange_also=("val_auc",))


def test_plateau_midpoint_is_the_middle_of_the_best_thresholds() -> None:
    """Separable validation (NORMAL logits -3, -1; PNEUMONIA 2, 4): every threshold in (-1, 2] is perfect,
    best_threshold takes 0.5 (logit 0) and the midpoint is 0.5 (logit). With a NORMAL image at 3 the best run
    is still (-1, 2]; shifting every logit shifts the midpoint with it; a best run that is open below closes
    one logit under the smallest logit."""
    from xraygan.metrics import plateau_midpoint

    y = np.array([0, 0, 1, 1])
    assert plateau_midpoint(y, np.array([-3.0, -1, 2, 4])) == pytest.approx(0.5)
    assert plateau_midpoint(np.array([0, 0, 1, 1, 0]), np.array([-3.0, -1, 2, 4, 3])) == pytest.approx(0.5)
    assert plateau_midpoint(y, np.array([-3.0, -1, 2, 4]) + 10) == pytest.approx(10.5)
    assert plateau_midpoint(y, np.array([7.0, 8, 12, 14])) == pytest.approx((8 + 12) / 2)
    assert plateau_midpoint(np.array([1, 0, 1]), np.array([-2.0, 1, 3])) == pytest.approx((1 + 3) / 2)


def test_threshold_rules_and_their_rise_with_real_data(tmp_path, monkeypatch) -> None:
    """Test labels [0, 0, 1, 1]; a model whose test logits are [-1, 0.4, 0.6, 2] scores 50 % at its validation
    threshold 0.9 (logit 2.2: calls no image pneumonia), 75 % at 0.5 (logit 0) and 100 % at a validation
    midpoint of 0.5 (logit). Rows at 10 % score like that (the first two are the row's stored accuracies, the
    midpoint is read from its logits); rows at 100 % score 100 % under every rule: the rise is +50 / +25 / 0
    points, the last with no spread (no interval)."""
    from xraygan.study.thresholds import rise_table, rule_scores, threshold_rules_table

    test = {"labels": [0, 0, 1, 1]}
    rows = []
    for f, z_test, acc_t, acc_half, z_val in (
        (0.1, [-1.0, 0.4, 0.6, 2.0], 0.5, 0.75, [-1.0, 0.0, 1.0, 2.0]),  # val run (0, 1]: midpoint 0.5
        (1.0, [-2.0, -1.0, 1.0, 2.0], 1.0, 1.0, [-1.0, 0.0, 1.0, 2.0]),
    ):
        for subset in range(3):
            rows.append(
                {
                    "fraction": f,
                    "condition": "baseline",
                    "subset": subset,
                    "test_accuracy@t": acc_t,
                    "test_accuracy": acc_half,
                    "test_logits": z_test,
                    "val_logits": z_val,
                }
            )
    val = {(f, s): [0, 0, 1, 1] for f in (0.1, 1.0) for s in range(3)}
    scores = rule_scores(pd.DataFrame(rows), test, val)
    first = scores[scores.fraction == 0.1].iloc[0]
    assert (first["validation-chosen"], first["0.5"], first["validation midpoint"]) == (50.0, 75.0, 100.0)
    table = threshold_rules_table(scores).set_index("fraction")
    assert table.loc[1.0, ["validation-chosen", "validation midpoint", "0.5"]].tolist() == [100.0] * 3
    rise = rise_table(scores).set_index("rule")
    assert rise.loc["validation-chosen", "rise"] == 50.0 and rise.loc["0.5", "rise"] == 25.0
    assert rise.loc["validation midpoint", "rise"] == 0.0 and np.isnan(rise.loc["validation midpoint", "low"])
    from xraygan.study.figures import plot_threshold_rules

    monkeypatch.setenv("XRAYGAN_FIGURES", str(tmp_path))
    one_point = scores[scores.fraction == 1.0].assign(condition="dcgan_balance")  # full split only: no curve
    table = threshold_rules_table(pd.concat([scores, one_point]))
    fig = plot_threshold_rules(table, "rules")  # a panel per condition with a curve, a line per rule
    assert (tmp_path / "rules.png").exists() and len(fig.axes) == 1 and len(fig.axes[0].get_lines()) == 3
    assert fig.axes[0].get_title() == "baseline"
    many = pd.concat([table.assign(condition=f"c{i}") for i in range(6)])  # six curves: two rows of at most four
    fig = plot_threshold_rules(many, "rules")
    shown = [ax for ax in fig.axes if ax.get_visible()]
    assert len(shown) == 6 and len({round(ax.get_position().y0, 3) for ax in shown}) == 2
    no_val = rule_scores(pd.DataFrame(rows), test, {})  # without the validation labels: no midpoint
    assert no_val["validation midpoint"].isna().all() and not no_val["0.5"].isna().any()


def test_patient_bootstrap_interval_knows_the_test_set_error() -> None:
    """Known answer: gain 1 on a share p of independent patients, 0 elsewhere; the interval of the mean gain
    is about p +- 1.96 sqrt(p (1 - p) / patients). A patient's several images move together."""
    rng = np.random.default_rng(0)
    patients, p = 400, 0.1
    hit = rng.random(patients) < p
    groups = np.repeat(np.arange(patients), 2)  # two images per patient
    a = np.tile(np.repeat(hit, 2).astype(float), (3, 1))  # 3 paired runs, (runs, images)
    b = np.zeros_like(a)
    lo, hi = patient_bootstrap_interval(a, b, groups, n_resamples=4000)
    half = 1.96 * np.sqrt(hit.mean() * (1 - hit.mean()) / patients)
    assert lo == pytest.approx(hit.mean() - half, abs=0.01) and hi == pytest.approx(hit.mean() + half, abs=0.01)
    same = patient_bootstrap_interval(np.ones_like(a), b, groups)
    assert same == (1.0, 1.0)


def test_verdict_table_reports_the_test_set_interval_from_logits() -> None:
    y = np.array([0, 0, 1, 1, 1, 1])
    groups = np.array([0, 0, 1, 2, 3, 3])
    rows = []
    for seed in range(4):
        for cond, logits in (("baseline", [-1, 1, 1, 1, -1, 1]), ("dcgan_100", [-1, -1, 1, 1, 1, 1])):
            rows.append(
                {
                    "fraction": 0.5,
                    "condition": cond,
                    "seed": seed,
                    "subset": seed % 2,
                    "threshold": 0.5,
                    "test_logits": logits,
                    "test_accuracy@t": float(((np.array(logits) > 0).astype(int) == y).mean()),
                }
            )
    v = verdict_table(pd.DataFrame(rows), test={"labels": y.tolist(), "groups": groups.tolist()}).iloc[0]
    assert v["vs baseline"] == pytest.approx(100 * 2 / 6)
    assert v["vs baseline test-set low"] <= v["vs baseline"] <= v["vs baseline test-set high"]
    assert v["vs baseline test-set high"] > v["vs baseline test-set low"]  # the test set itself varies


def test_weight_average_is_what_the_classifier_keeps() -> None:
    tr, va = phantom_set(120, TEST_SIZE, seed=0, split="train"), phantom_set(30, TEST_SIZE, seed=0, split="val")
    base = ClassifierConfig(width=8, steps=80, batch_size=32, eval_every=40, lr=3e-3)
    raw = train_classifier(base, tr, va, device="cpu", progress=False)
    avg = train_classifier(ClassifierConfig(**{**base.__dict__, "ema_decay": 0.9}), tr, va, "cpu", progress=False)
    assert avg.val["val_auc"] > 0.9
    # same seed, same batches: only the averaging differs, so the kept weights differ
    w_raw, w_avg = (next(iter(m.model.parameters())) for m in (raw, avg))
    assert not torch.allclose(w_raw, w_avg)
    with pytest.raises(ValueError, match="ema_decay"):
        ClassifierConfig(ema_decay=1.0)


def test_progress_table_and_estimate(tmp_path) -> None:
    rows = pd.DataFrame(_rows(0.1, "baseline", [[0.8, 0.8]], 100, 0))
    table = progress_table(rows, {(0.1, "baseline"): 4, (0.1, "dcgan_100"): 4})
    assert table.done.tolist() == [2, 0] and table.planned.tolist() == [4, 4]
    write_progress(tmp_path / "PROGRESS.md", table, "note")
    text = (tmp_path / "PROGRESS.md").read_text()
    assert "Models finished: 2 of 8 (6 to do)." in text and "| 0.1 | dcgan_100 | 0 | 4 |" in text
    rates = Rates({"gan": 0.5, "gan_subset": 0.25}, 0.1)
    assert estimate_seconds({"gan": 100, "gan_subset": 40}, 1000, rates) == pytest.approx(50 + 10 + 100)


def test_learning_curve_figure_places_conditions_on_the_baseline_curve(tmp_path, monkeypatch) -> None:
    from xraygan.study.figures import plot_learning_curve

    monkeypatch.setenv("XRAYGAN_FIGURES", str(tmp_path))
    rows = []
    for f, n in ((0.25, 200), (1.0, 800)):
        rows += _rows(f, "baseline", [[0.7, 0.72], [0.71, 0.73]], n, 0)
        rows += _rows(f, "dcgan_100", [[0.72, 0.74], [0.7, 0.75]], n, n)
    df = pd.DataFrame(rows).assign(test_auc=0.9)
    fig = plot_learning_curve(df, "test_accuracy@t", "lc")
    assert (tmp_path / "lc.png").stat().st_size > 0
    ax = fig.axes[0]
    assert ax.get_xscale() == "log" and {t.get_text() for t in ax.get_legend().get_texts()} == {
        "baseline (real images only)",
        "dcgan_100",
    }
    both = plot_learning_curve(df, ("test_accuracy@t", "test_auc"), "lc2")  # one panel per endpoint
    assert [a.get_ylabel() for a in both.axes] == ["test accuracy at the validation-chosen threshold (%)", "test AUC"]


def test_verdict_figure_draws_every_comparison_a_row_carries(tmp_path, monkeypatch) -> None:
    """Each row shows its gain over the reference (filled circle), over the count-matched control (hollow
    circle) and, for pretraining on synthetic images, over its schedule control (hollow diamond), each at its
    mean with its interval; a comparison the row lacks is not drawn, and the title names only what is drawn."""
    from xraygan.study.figures import plot_verdict
    from xraygan.study.protocol import PROTOCOL

    monkeypatch.setenv("XRAYGAN_FIGURES", str(tmp_path))
    nan = float("nan")
    v = pd.DataFrame(
        [  # condition, vs baseline, vs control, vs schedule (mean; the interval is mean -1 .. +2)
            ("dcgan_100", 1.0, 0.5, nan, "does not reach +3"),
            ("pretrain_dcgan", -2.0, nan, -1.5, "unresolved"),
        ],
        columns=["condition", "vs baseline", "vs control", "vs schedule", "verdict"],
    ).assign(fraction=0.1, reference="baseline")
    for k in ("vs baseline", "vs control", "vs schedule"):
        v[f"{k} low"], v[f"{k} high"] = v[k] - 1, v[k] + 2
    ax = plot_verdict(v, PROTOCOL, "verdict").axes[0]
    assert (tmp_path / "verdict.png").stat().st_size > 0
    by_kind: dict = {}  # (marker, hollow) -> [(x, y)], from the markers errorbar drew
    for ln in ax.lines:
        if ln.get_marker() not in ("None", "", None, "|"):
            key = (ln.get_marker(), ln.get_markerfacecolor() == "white")
            by_kind.setdefault(key, []).extend(zip(ln.get_xdata(), ln.get_ydata()))
    # sorted by condition, top row first: pretrain_dcgan at y=0, dcgan_100 at y=1
    assert sorted(x for x, _ in by_kind[("o", False)]) == [-2.0, 1.0]
    assert [x for x, y in by_kind[("o", True)]] == [0.5] and by_kind[("o", True)][0][1] < 1
    assert [x for x, y in by_kind[("D", True)]] == [-1.5] and by_kind[("D", True)][0][1] < 0
    caps = sorted(round(x, 6) for c in ax.collections for seg in c.get_segments() for x in (seg[0][0], seg[1][0]))
    assert caps == sorted([0.0, 3.0, -0.5, 2.5, -3.0, 0.0, -2.5, 0.5])  # each interval from low to high
    title = ax.get_title()
    assert "hollow diamond: against pretraining on duplicated real images" in title and "circle" in title
    no_schedule = plot_verdict(v.drop(columns=[c for c in v if c.startswith("vs schedule")]), PROTOCOL, "v2")
    assert "diamond" not in no_schedule.axes[0].get_title()


def test_selection_on_validation_loss_ranks_steps_where_auc_saturates() -> None:
    """Same training, two rules: selection on AUC keeps the first step with the best validation AUC (on easy
    phantoms it saturates early), selection on loss the step with the lowest validation log-loss."""
    tr, va = phantom_set(120, TEST_SIZE, seed=0, split="train"), phantom_set(30, TEST_SIZE, seed=0, split="val")
    base = ClassifierConfig(width=8, steps=120, batch_size=16, eval_every=20, lr=3e-3, channels_last=True)
    by_auc = train_classifier(base, tr, va, device="cpu", progress=False)
    by_loss = train_classifier(ClassifierConfig(**{**base.__dict__, "select_on": "loss"}), tr, va, "cpu", False)
    aucs = [h["val_auc"] for h in by_auc.history]
    losses = [h["val_loss"] for h in by_loss.history]
    assert by_auc.best_step == by_auc.history[aucs.index(max(aucs))]["step"]  # the first step with the best AUC
    assert by_loss.best_step == by_loss.history[losses.index(min(losses))]["step"]
    assert [h["val_auc"] for h in by_loss.history] == aucs  # same training; only the choice differs
    with pytest.raises(ValueError, match="select_on"):
        ClassifierConfig(select_on="accuracy")


def _record_gan_calls(monkeypatch, store) -> list[tuple[list, int]]:
    """Every prepare_gans call of a study as (its jobs, the rows written before it); the GANs still train."""
    import xraygan.study.run as run_mod

    calls: list[tuple[list, int]] = []
    real = run_mod.prepare_gans
    monkeypatch.setattr(
        run_mod,
        "prepare_gans",
        lambda *a, jobs=None, **k: calls.append((jobs, len(run_mod.read_rows(store)))) or real(*a, jobs=jobs, **k),
    )
    return calls


def test_serial_study_runs_whole_replicates_in_turn(tmp_path, monkeypatch) -> None:
    """A study stopped part way leaves whole replicates: replicate 1's GANs are trained only after every
    cell of replicate 0 (at every fraction) is written, and the learning-curve cells come with their replicate."""
    import xraygan.study.run as run_mod

    exp = phantom_experiment(
        study={
            "fractions": (0.5, 1.0),
            "curve_fractions": (0.25,),
            "seeds": 2,
            "subsets": 2,
            "conditions": ("baseline", "dcgan_50"),
        },
    )
    store = tmp_path / "res" / "runs.jsonl"
    calls = _record_gan_calls(monkeypatch, store)
    df = run_mod.run_study(exp, tmp_path / "res", tmp_path / "runs", device="cpu", progress=False)
    assert calls == [([(0.5, 0)], 0), ([(1.0, 0)], 2), ([(0.5, 1)], 7)]
    order = [(r["subset"], r["fraction"]) for r in run_mod.read_rows(store)]
    assert order == [(0, 0.5)] * 2 + [(0, 1.0)] * 4 + [(0, 0.25)] + [(1, 0.5)] * 2 + [(1, 0.25)]
    assert len(df) == 10 and set(df.test_reads) == {1}


def test_replicates_whose_gans_are_trained_run_first_and_whole(tmp_path, monkeypatch) -> None:
    """A grid that finds some replicates' GANs already trained (another grid's checkpoints) trains those
    replicates' classifiers before it trains any GAN, each replicate still whole (its curve cells with it)."""
    import xraygan.study.run as run_mod
    from xraygan.data import load_splits

    exp = phantom_experiment(
        study={
            "fractions": (0.5,),
            "curve_fractions": (0.25,),
            "seeds": 2,
            "subsets": 2,
            "conditions": ("baseline", "dcgan_50"),
        },
    )
    runs, store = tmp_path / "runs", tmp_path / "res" / "runs.jsonl"
    splits = load_splits(exp.data, progress=False)
    run_mod.prepare_gans(exp, splits, runs, "cpu", progress=False, jobs=[(0.5, 1)])
    trained = sorted((runs / "gan").iterdir())
    assert run_mod.gan_steps_left(exp, splits, runs)  # replicate 0's GANs are missing ...
    assert sorted((runs / "gan").iterdir()) == trained  # ... and looking that up made no folder for them
    calls = _record_gan_calls(monkeypatch, store)
    run_mod.run_study(exp, tmp_path / "res", runs, device="cpu", progress=False)
    order = [(r["subset"], r["fraction"]) for r in run_mod.read_rows(store)]
    assert order == [(1, 0.5)] * 2 + [(1, 0.25)] + [(0, 0.5)] * 2 + [(0, 0.25)]
    assert calls == [([(0.5, 1)], 0), ([(0.5, 0)], 3)]  # replicate 1's GANs are found, not trained again


def test_a_grid_extended_by_a_conditional_gan_trains_only_that_gan(tmp_path) -> None:
    """Cells whose per-class GANs' rows are all in do not make those GANs again (another machine, without
    the checkpoints): the extension trains the conditional GAN its new cells use, and nothing else."""
    import xraygan.study.run as run_mod

    study = {"fractions": (0.5,), "seeds": 2, "conditions": ("baseline", "dcgan_50")}
    exp = phantom_experiment(study=study)
    res, runs = tmp_path / "res", tmp_path / "runs"
    run_mod.run_study(exp, res, runs, device="cpu", progress=False)
    (root,) = (runs / "gan").iterdir()
    trained = sorted(p.name for p in root.iterdir() if p.is_dir())
    assert "conditional" not in trained and "NORMAL" in trained
    for name in trained:  # the per-class GANs and their pool are gone
        shutil.rmtree(root / name)
    wider = phantom_experiment(study={**study, "conditions": ("baseline", "dcgan_50", "cgan_50")})
    df = run_mod.run_study(wider, res, runs, device="cpu", progress=False)
    assert sorted(p.name for p in root.iterdir() if p.is_dir()) == ["conditional", "pool_cgan"]
    assert sorted(df.condition) == ["baseline"] * 2 + ["cgan_50"] * 2 + ["dcgan_50"] * 2


def test_attention_maps_retrain_the_studys_cells_and_average_per_class(tmp_path, monkeypatch) -> None:
    from xraygan.data import load_splits
    from xraygan.study.attention import attention_maps, attention_record
    from xraygan.study.figures import plot_attention

    exp = phantom_experiment(
        study={"fractions": (0.5,), "seeds": 2, "conditions": ("baseline", "dcgan_50")},
    )
    splits = load_splits(exp.data, progress=False)
    maps = attention_maps(exp, splits, tmp_path / "runs", 0.5, ("baseline", "dcgan_50"), device="cpu")
    assert list(maps) == ["baseline", "dcgan_50"] and all(set(m) == {0, 1} for m in maps.values())
    for m in maps.values():
        assert all(v.shape == splits.test.images.shape[-2:] and 0 <= v.min() and v.max() <= 1 for v in m.values())
    assert not torch.equal(maps["baseline"][1], maps["dcgan_50"][1])  # two different classifiers
    assert len(list((tmp_path / "runs" / "gan").iterdir())) == 1  # the replicate's GANs, trained once
    monkeypatch.setenv("XRAYGAN_FIGURES", str(tmp_path))
    record = attention_record(maps, splits.test, 0.5, 0)
    assert record["counts"] == {j: int((splits.test.labels == j).sum()) for j in (0, 1)}
    assert torch.equal(record["mean_images"][1], splits.test.images[splits.test.labels == 1].float().mean(0)[0])
    fig = plot_attention(record, "04_attention_test")
    assert len(fig.axes) >= 6


def test_the_estimate_says_when_this_cpu_emulates_the_recipes_bf16(monkeypatch) -> None:
    """A grid fixed to bf16 autocast on CPU (paper_cw and after) runs several times slower on a CPU without
    AVX512-BF16 or AMX; that is named, never claimed where torch cannot tell, and never for fp32 or a GPU."""
    import torch.cpu

    from xraygan.device import emulated_cpu_bf16

    for avx, amx, emulated in ((False, False, True), (True, False, False), (False, True, False)):
        monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda a=avx: a, raising=False)
        monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda a=amx: a, raising=False)
        assert emulated_cpu_bf16("cpu", True) is emulated
        assert emulated_cpu_bf16("cpu", False) is False
    monkeypatch.delattr(torch.cpu, "_is_avx512_bf16_supported")
    monkeypatch.delattr(torch.cpu, "_is_amx_tile_supported")
    assert emulated_cpu_bf16("cpu", True) is False  # unknown: not claimed
