"""Classifier, conditions, statistics and the sweep (resume, test-split reads)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from scipy import stats
from scipy.stats import t as t_dist

import xraygan
import xraygan.study.run as study_mod
import xraygan.study.variety as variety_mod
from tests.conftest import TEST_SIZE, phantom_experiment
from xraygan.classifier import GuardedTest, evaluate_test, train_classifier
from xraygan.config import ClassifierConfig, StudyConfig
from xraygan.data.imageset import ImageSet
from xraygan.data.phantom import phantom_set
from xraygan.data.splits import fraction_subset
from xraygan.device import machine_name
from xraygan.experiment import build_experiment
from xraygan.gan.runs import per_class_runs
from xraygan.metrics import balanced_accuracy_at, best_threshold, binary_metrics
from xraygan.review.diversity import generator_diversity
from xraygan.study.analysis import probabilities_on_test
from xraygan.study.attention import grid_attention, load_attention
from xraygan.study.conditions import added_counts, duplicate_real, parse_condition, pick_synthetic
from xraygan.study.reproduce import differences, made_elsewhere, reproduce_cells
from xraygan.study.run import Cell, StaleResultsError, build_training_set, gan_for, read_rows, run_study, subset_gan_dir
from xraygan.study.stats import mean_ci, paired_difference, seeds_needed
from xraygan.study.variety import grid_gan_variety


def _set(n0: int, n1: int) -> ImageSet:
    n = n0 + n1
    return ImageSet(
        torch.arange(n, dtype=torch.uint8).view(n, 1, 1, 1).expand(n, 1, 4, 4).contiguous(),
        torch.tensor([0] * n0 + [1] * n1),
        [f"p{i}" for i in range(n)],
        [f"f{i}" for i in range(n)],
    )


def _phantom_exp(**study):
    """The smoke experiment on a small phantom set (10-step GANs on subsets, 20-step classifiers)."""
    return phantom_experiment(study=study)


def test_classifier_learns_phantoms_well_above_chance() -> None:
    tr, va, te = (
        phantom_set(n, TEST_SIZE, seed=s, split=sp) for n, s, sp in ((120, 0, "train"), (30, 0, "val"), (40, 0, "test"))
    )
    cfg = ClassifierConfig(width=8, steps=120, batch_size=32, eval_every=40, lr=3e-3)
    tc = train_classifier(cfg, tr, va, device="cpu", progress=False)
    guard = GuardedTest(te)
    m = evaluate_test(tc, guard, "cpu")
    assert m["test_auc"] > 0.9 and m["test_balanced_accuracy@t"] > 0.8
    assert tc.best_step % 40 == 0
    assert len(m["test_logits"]) == len(te)
    # the stored logits give back the test metrics exactly (3-decimal probabilities did not: ties at 1.000)
    p = probabilities_on_test(pd.Series(m))
    assert binary_metrics(te.labels.numpy(), p)["auc"] == pytest.approx(m["test_auc"], abs=1e-9)


def test_model_selection_follows_validation_where_it_disagrees_with_test() -> None:
    """Planted: the same seeded training run, selected once on true and once on flipped validation labels.
    The weights trajectory is identical, so any difference comes from the selection; with flipped validation
    the chosen threshold is bad on the (true) test split, which a selection that peeked at test would avoid."""
    import dataclasses

    tr, va, te = (phantom_set(n, TEST_SIZE, seed=0, split=sp) for n, sp in ((120, "train"), (30, "val"), (40, "test")))
    flipped = dataclasses.replace(va, labels=1 - va.labels)
    cfg = ClassifierConfig(width=8, steps=120, batch_size=32, eval_every=20, lr=3e-3, channels_last=True)
    a = train_classifier(cfg, tr, va, device="cpu", progress=False)
    b = train_classifier(cfg, tr, flipped, device="cpu", progress=False)
    assert [h["val_auc"] for h in b.history] == pytest.approx([1 - h["val_auc"] for h in a.history])
    assert (a.best_step, a.threshold) != (b.best_step, b.threshold)
    ma, mb = evaluate_test(a, GuardedTest(te), "cpu"), evaluate_test(b, GuardedTest(te), "cpu")
    y, p = te.labels.numpy(), probabilities_on_test(pd.Series(mb))
    best_on_test = binary_metrics(y, p, best_threshold(y, p))["balanced_accuracy"]
    assert ma["test_balanced_accuracy@t"] > 0.8 and mb["test_balanced_accuracy@t"] < best_on_test - 0.2


@pytest.mark.parametrize("ratio,expected", [("50", {0: 5, 1: 15}), ("100", {0: 10, 1: 30}), ("balance", {0: 20, 1: 0})])
def test_added_counts_and_controls_match(ratio: str, expected: dict) -> None:
    real = _set(10, 30)
    assert added_counts(real, ratio) == expected
    pool = _set(40, 40)
    for name in (f"dup_real_{ratio}", f"dcgan_{ratio}"):
        train, pre, added = build_training_set(name, real, {"dcgan": pool}, seed=1)
        assert added == expected and pre is None
        assert train.class_counts() == {"NORMAL": 10 + expected[0], "PNEUMONIA": 30 + expected[1]}


def test_duplicates_are_even_and_synthetic_distinct() -> None:
    real = _set(4, 4)
    dup = duplicate_real(real, {0: 10, 1: 0}, seed=0)
    ids = dup.images[:, 0, 0, 0].tolist()
    assert sorted(np.bincount(ids)[:4].tolist()) == [2, 2, 3, 3]
    syn = pick_synthetic(_set(20, 20), {0: 7, 1: 3}, seed=0)
    assert len(set(syn.images[:, 0, 0, 0].tolist())) == 10
    with pytest.raises(ValueError, match="pool has 20"):
        pick_synthetic(_set(20, 20), {0: 21, 1: 0}, seed=0)


def test_pretrain_condition_and_unknown_names() -> None:
    train, pre, added = build_training_set("pretrain_dcgan", _set(10, 30), {"dcgan": _set(40, 40)}, seed=0)
    assert len(train) == 40 and pre.class_counts() == {"NORMAL": 10, "PNEUMONIA": 30}
    with pytest.raises(ValueError, match="unknown condition"):
        parse_condition("gan_200")


def test_pretraining_on_real_images_is_the_schedule_control() -> None:
    """pretrain_real: the same two-phase schedule as pretrain_dcgan, its first phase on as many duplicated real
    images per class as pretrain_dcgan's synthetic ones (the real images only, nothing added); a control."""
    real = _set(10, 30)
    train, pre, added = build_training_set("pretrain_real", real, {}, seed=0)
    assert train is real and added == {0: 0, 1: 0}
    assert pre.class_counts() == {"NORMAL": 10, "PNEUMONIA": 30}
    assert sorted(pre.images[:, 0, 0, 0].tolist()) == list(range(40))  # each real image once, reordered
    c, g = parse_condition("pretrain_real"), parse_condition("pretrain_dcgan")
    assert c.kind == "pretrain" and c.gan is None and c.is_control and c.control is None
    assert g.schedule_control == "pretrain_real" and g.control == "dup_real_100" and not g.is_control
    assert parse_condition("dcgan_100").schedule_control is None and parse_condition("dup_real_100").is_control


def test_metrics_known_answers() -> None:
    y = np.array([0, 0, 1, 1, 1])
    m = binary_metrics(y, np.array([0.1, 0.6, 0.7, 0.8, 0.2]))
    assert m["accuracy"] == 0.6 and m["sensitivity"] == 2 / 3 and m["specificity"] == 0.5
    assert m["auc"] == pytest.approx(5 / 6)  # 5 of the 6 (positive, negative) pairs are ordered right
    assert (
        binary_metrics(y, np.array([0.1, 0.2, 0.3, 0.4, 0.5]), best_threshold(y, np.array([0.1, 0.2, 0.3, 0.4, 0.5])))[
            "balanced_accuracy"
        ]
        == 1.0
    )


def test_best_threshold_is_the_lowest_candidate_of_the_scan_that_reaches_the_best() -> None:
    """The one-sort threshold choice gives what scanning every candidate with binary_metrics gives (the lowest
    candidate with the highest validation balanced accuracy), on scores with ties, with 0.5 inside the best
    run of thresholds, and with one class only; the balanced accuracies are the same floats."""

    def scan(y, p):  # the reference: every candidate, in ascending order, through binary_metrics
        best, best_t = -1.0, 0.5
        for t in np.unique(np.concatenate([p, [0.5]])):
            ba = binary_metrics(y, p, float(t))["balanced_accuracy"]
            if ba > best + 1e-12:
                best, best_t = ba, float(t)
        return best_t

    rng = np.random.default_rng(0)
    cases = [(np.array([0, 0, 1, 1]), np.array([0.2, 0.3, 0.7, 0.9]))]  # 0.5 lies in the best run: it is chosen
    cases += [(np.array([1, 1, 1]), np.array([0.2, 0.4, 0.9])), (np.array([0, 0]), np.array([0.6, 0.7]))]
    for n in (5, 40, 300):
        y = rng.integers(0, 2, n)
        cases.append((y, np.round(np.clip(0.5 + 0.3 * (y - 0.5) + rng.normal(0, 0.3, n), 0, 1), 2)))  # ties
    for y, p in cases:
        assert best_threshold(y, p) == scan(y, p)
        cands = np.unique(np.concatenate([p, [0.5]]))
        fast = balanced_accuracy_at(y, p, cands)
        assert list(fast) == [binary_metrics(y, p, float(t))["balanced_accuracy"] for t in cands]
    assert best_threshold(*cases[0]) == 0.5


def test_wilcoxon_p_is_scipys_exact_permutation_p() -> None:
    """The fast Wilcoxon p equals scipy's on the cases scipy settles by a permutation test (ties or zeros,
    n <= 13; accuracy gains on one test set tie often) and elsewhere, and a known exact value."""
    from xraygan.study.stats import wilcoxon_p

    rng = np.random.default_rng(1)
    for n in (3, 5, 8, 10, 12, 13, 15):
        d = np.round(rng.normal(0.5, 2, n) * 2) / 2  # half-points: ties and zeros
        if np.any(d != 0):
            assert wilcoxon_p(d) == pytest.approx(stats.wilcoxon(d).pvalue, abs=1e-12)
    assert wilcoxon_p([1.0, 1.0, 1.0, 1.0]) == pytest.approx(2 / 16)  # all four positive: 1 of 16 patterns


def test_stats_known_answers() -> None:
    m, lo, hi = mean_ci([1.0, 2.0, 3.0])
    assert m == 2.0 and lo == pytest.approx(2 - 4.302653 / np.sqrt(3), 1e-5)
    rng = np.random.default_rng(0)
    b = rng.normal(70, 5, 40)
    d = paired_difference(b + 3 + rng.normal(0, 0.5, 40), b)
    assert d["low"] < 3 < d["high"] and d["p_wilcoxon"] < 1e-6 and d["n"] == 40
    assert paired_difference(b + rng.normal(0, 1, 40), b)["low"] < 0
    # three pairs: the interval is at least the Student-t one (a bootstrap alone would give about [4, 6])
    few = paired_difference(np.array([74.0, 75.0, 76.0]) + np.array([4.0, 5.0, 6.0]), np.array([74.0, 75.0, 76.0]))
    assert few["low"] == pytest.approx(5 - 4.302653 / np.sqrt(3), 1e-5) and few["high"] >= 5 + 2.48
    assert 25 <= seeds_needed(sd=7.5, delta=3.0, power=0.5) <= 28  # a 95 % CI half-width of 3 points
    assert seeds_needed(7.5, 3.0) > seeds_needed(7.5, 6.0)
    # a small SD needs few runs: the smallest n that the t criterion accepts (one t step from n = 2 said 32)
    n = seeds_needed(1.2, 3.0)
    crit = [((t_dist.ppf(0.975, k - 1) + t_dist.ppf(0.8, k - 1)) * 1.2 / 3.0) ** 2 for k in (n - 1, n)]
    assert n == 4 and crit[0] > n - 1 and crit[1] <= n


def test_a_grids_conditional_gans_are_checked_for_variety_on_each_class(tmp_path: Path) -> None:
    """A grid whose GAN condition is conditional: each replicate's one GAN is measured on each class (rows
    with gan "cgan"), the numbers of generator_diversity on that GAN and the replicate's real images."""
    exp = _phantom_exp(fractions=(0.5,), seeds=2, conditions=("baseline", "cgan_50"))
    run_study(exp, tmp_path / "res", tmp_path / "runs", device="cpu", progress=False)
    variety, missing = grid_gan_variety(tmp_path / "res", tmp_path / "runs")
    real = fraction_subset(xraygan.load_splits(exp.data).train, 0.5, 0)
    run = subset_gan_dir(exp, real, tmp_path / "runs", 0.5, 0) / "conditional"
    direct = generator_diversity({0: run, 1: run}, real, n=400)
    assert missing == [] and list(variety.gan) == ["cgan"] * 2 and list(variety["class"]) == ["NORMAL", "PNEUMONIA"]
    for _, row in variety.iterrows():
        assert row.near_twin_share == direct[row["class"]]["near_twin_share"]
        assert row.pairwise_ratio == direct[row["class"]]["pairwise_ratio"]


def test_sweep_resumes_and_reads_test_once_per_model(tmp_path: Path, monkeypatch) -> None:
    exp = _phantom_exp(fractions=(0.5,), seeds=2, conditions=("baseline", "dup_real_100", "dcgan_50"))
    df = run_study(exp, tmp_path / "res", tmp_path / "runs", device="cpu", progress=False)
    assert len(df) == 6 and set(df.test_reads) == {1}
    assert (tmp_path / "res" / "runs.csv").exists() and json.loads((tmp_path / "res" / "config.json").read_text())
    # the validation split, never the test split, selects the step: best_step is an eval step
    assert set(df.best_step) <= {10, 20}
    # every committed cell reruns bit for bit from config.json and the run folder; a changed row is named
    cells = [Cell(0.5, "baseline", 1), Cell(0.5, "dcgan_50", 0)]
    assert reproduce_cells(tmp_path / "res", tmp_path / "runs", cells) == {c.key: {} for c in cells}
    store = tmp_path / "res" / "runs.jsonl"
    committed = store.read_text()
    rows = read_rows(store)
    hit = next(r for r in rows if r["condition"] == "dcgan_50" and r["seed"] == 0)
    store.write_text("".join(json.dumps({**r, "best_step": -1} if r is hit else r) + "\n" for r in rows))
    assert reproduce_cells(tmp_path / "res", tmp_path / "runs", cells[1:]) == {
        cells[1].key: {"best_step": (-1, hit["best_step"])}
    }
    store.write_text(committed)
    # the grid's attention maps: its seed-0 baseline and first GAN classifiers, saved beside the rows
    record = grid_attention(tmp_path / "res", tmp_path / "runs", 0.5)
    saved_maps = load_attention(tmp_path / "res")
    assert list(record["maps"]) == list(saved_maps["maps"]) == ["baseline", "dcgan_50"]
    assert torch.equal(saved_maps["maps"]["dcgan_50"][1], record["maps"]["dcgan_50"][1])
    assert record["fraction"] == 0.5 and sum(record["counts"].values()) == len(df.test_logits.iloc[0])
    # every replicate's GANs against the variety limits, on that replicate's real images; absent GANs are named
    variety, missing = grid_gan_variety(tmp_path / "res", tmp_path / "runs")
    real = fraction_subset(xraygan.load_splits(exp.data).train, 0.5, 0)
    direct = generator_diversity(per_class_runs(subset_gan_dir(exp, real, tmp_path / "runs", 0.5, 0)), real, n=400)
    assert missing == [] and list(variety["class"]) == ["NORMAL", "PNEUMONIA"]
    for _, row in variety.iterrows():
        assert row.near_twin_share == direct[row["class"]]["near_twin_share"]
        assert row.pairwise_ratio == direct[row["class"]]["pairwise_ratio"]
    csv = tmp_path / "res" / "gan_variety.csv"
    assert len(pd.read_csv(csv)) == 2
    # the file is the grid's record: without the GAN folders (a fresh machine) its rows are kept, not remeasured
    kept, missing = grid_gan_variety(tmp_path / "res", tmp_path / "no_runs")
    assert missing == [] and kept.near_twin_share.tolist() == pd.read_csv(csv).near_twin_share.tolist()
    other = pd.read_csv(csv)
    other.assign(gan_seed=other.gan_seed + 7).to_csv(csv, index=False)  # another grid's GAN seed: refused
    with pytest.raises(ValueError, match="gan_variety.csv: fraction 0.5, replicate 0 has GAN seed"):
        grid_gan_variety(tmp_path / "res", tmp_path / "no_runs")
    csv.unlink()
    with monkeypatch.context() as m:  # too few real images to judge variety: a counted skip
        m.setattr(variety_mod, "MIN_REAL", 100)
        few, missing = grid_gan_variety(tmp_path / "res", tmp_path / "runs")
    assert few.empty and missing == ["fraction 0.5, replicate 0: fewer than 100 real images of a class"]
    assert not csv.exists()
    empty, missing = grid_gan_variety(tmp_path / "res", tmp_path / "no_runs")
    assert empty.empty and len(missing) == 1 and "replicate 0" in missing[0] and "f0.5_s0-" in missing[0]
    cfg = tmp_path / "res" / "config.json"
    saved = cfg.read_text()
    cfg.write_text(json.dumps({**json.loads(saved), "data_fingerprint": "other images"}))
    with pytest.raises(StaleResultsError, match="data_fingerprint"):  # other data than the grid's: refused
        reproduce_cells(tmp_path / "res", tmp_path / "runs", cells[:1])
    with pytest.raises(StaleResultsError, match="data_fingerprint"):
        grid_attention(tmp_path / "res", tmp_path / "runs", 0.5)
    cfg.write_text(saved)
    assert differences(hit, {**hit, "seconds": 0.0, "device": "cuda", "machine": "another"}) == {}
    assert hit["machine"] == machine_name("cpu") and "threads" in hit["machine"]  # what the row was made on
    assert made_elsewhere(tmp_path / "res", cells, "cpu") is None  # made here: nothing to say
    other = tmp_path / "other"
    other.mkdir()
    (other / "runs.jsonl").write_text("".join(json.dumps({**r, "machine": "a GPU"}) + "\n" for r in rows))
    assert "made on a GPU, this is " + machine_name("cpu") in made_elsewhere(other, cells[:1], "cpu")
    shifted = {**hit, "test_logits": [x + 0.5 for x in hit["test_logits"]]}
    assert differences(hit, shifted)["test_logits"] == ("max |difference|", pytest.approx(0.5))
    # every new row keeps its validation logits (the selected weights'), one per validation image
    assert len(hit["val_logits"]) == sum(hit[f"val_{k}"] for k in ("tp", "tn", "fp", "fn"))
    assert sum(x >= 0 for x in hit["val_logits"]) == hit["val_tp"] + hit["val_fp"]  # they made its val metrics
    older = {k: v for k, v in hit.items() if k != "val_logits"}  # rows written before they were stored
    # the threshold rules recomputed from the stored logits give the stored accuracies where they coincide
    from xraygan.study.analysis import compute_tables
    from xraygan.study.run import read_test_split, read_val_split

    val = read_val_split(tmp_path / "res")
    assert all(len(val[(r["fraction"], r["subset"])]) == len(r["val_logits"]) for r in rows)
    rules = compute_tables(df, read_test_split(tmp_path / "res"), val=val)["threshold_rules"]
    means = df.groupby(["fraction", "condition"])[["test_accuracy@t", "test_accuracy"]].mean() * 100
    for _, r in rules.iterrows():
        assert r["validation-chosen"] == pytest.approx(means.loc[(r.fraction, r.condition), "test_accuracy@t"])
        assert r["0.5"] == pytest.approx(means.loc[(r.fraction, r.condition), "test_accuracy"])
        assert 0 <= r["validation midpoint"] <= 100
    assert differences(older, hit) == {}
    moved = {**hit, "val_logits": [x - 0.25 for x in hit["val_logits"]]}
    assert differences(hit, moved)["val_logits"] == ("max |difference|", pytest.approx(0.25))
    lines = (tmp_path / "res" / "runs.jsonl").read_text().splitlines()
    (tmp_path / "res" / "runs.jsonl").write_text("\n".join(lines[:4]) + "\n" + lines[4][:30])  # torn write
    calls = []
    real = study_mod.run_cell
    monkeypatch.setattr(study_mod, "run_cell", lambda *a, **k: calls.append(a[3]) or real(*a, **k))
    df2 = run_study(exp, tmp_path / "res", tmp_path / "runs", device="cpu", progress=False)
    assert len(calls) == 2 and len(df2) == 6 and len(read_rows(tmp_path / "res" / "runs.jsonl")) == 6


def test_a_call_trains_at_most_max_replicates_whole_replicates_and_the_next_call_resumes(tmp_path: Path) -> None:
    """`max_replicates` (the CLI's --replicates): a session's share of a long grid stops between replicates, in
    the order a full run takes them (replicate 0 at every fraction first), with only those replicates' GANs."""
    exp = _phantom_exp(fractions=(0.5, 1.0), seeds=2, subsets=2, conditions=("baseline", "dcgan_50"))
    res, runs = tmp_path / "res", tmp_path / "runs"
    with pytest.raises(ValueError, match="max_replicates 0"):
        run_study(exp, res, runs, device="cpu", progress=False, max_replicates=0)
    df = run_study(exp, res, runs, device="cpu", progress=False, max_replicates=1)
    assert sorted(zip(df.fraction, df.condition, df.seed)) == [(0.5, "baseline", 0), (0.5, "dcgan_50", 0)]
    assert sorted(p.name.split("-")[0] for p in (runs / "gan").iterdir()) == ["f0.5_s0"]
    assert "Models finished: 2 of 8 (6 to do)" in (res / "PROGRESS.md").read_text()
    df = run_study(exp, res, runs, device="cpu", progress=False, max_replicates=1)  # the full split's one GAN set
    assert len(df) == 6 and sorted(df[df.fraction == 1.0].seed) == [0, 0, 1, 1]
    assert sorted(p.name.split("-")[0] for p in (runs / "gan").iterdir()) == ["f0.5_s0", "f1_s0"]
    df = run_study(exp, res, runs, device="cpu", progress=False, max_replicates=5)  # more than are left
    assert len(df) == 8 and set(df.test_reads) == {1}
    assert sorted(zip(df[df.fraction == 0.5].seed, df[df.fraction == 0.5].subset)) == [(0, 0), (0, 0), (1, 1), (1, 1)]


def test_full_training_split_is_one_subset_and_part_of_a_grid_resumes_without_its_finished_gans(
    tmp_path: Path,
) -> None:
    """The full split is one subset (one GAN set). `train_fractions` trains only those fractions' models while
    config.json and PROGRESS.md keep the whole grid; resuming on a fresh machine (its GAN folders gone) with
    workers makes only the GANs of replicates that still have models to train, not those of a finished
    fraction (which once cost a lent GPU call all its time)."""
    exp = _phantom_exp(fractions=(0.5, 1.0), seeds=2, subsets=2, conditions=("baseline", "dcgan_50"))
    res = tmp_path / "res"
    df = run_study(exp, res, tmp_path / "runs", device="cpu", progress=False, train_fractions=(0.5,))
    assert len(df) == 4 and set(df.fraction) == {0.5}
    assert json.loads((res / "config.json").read_text())["experiment"]["study"]["fractions"] == [0.5, 1.0]
    assert "Models finished: 4 of 8 (4 to do)" in (res / "PROGRESS.md").read_text()
    with pytest.raises(ValueError, match=r"train_fractions \[0.25\]"):
        run_study(exp, res, tmp_path / "runs", device="cpu", progress=False, train_fractions=(0.25,))
    workers = dataclasses.replace(exp, study=dataclasses.replace(exp.study, workers=2))
    df = run_study(workers, res, tmp_path / "fresh", device="cpu", progress=False)
    assert len(df) == 8 and set(df.test_reads) == {1}
    assert set(df[df.fraction == 1.0].subset) == {0} and set(df[df.fraction == 0.5].subset) == {0, 1}
    names = sorted(p.name.split("-")[0] for p in (tmp_path / "runs" / "gan").iterdir())
    assert names == ["f0.5_s0", "f0.5_s1"]
    fresh = sorted(p.name.split("-")[0] for p in (tmp_path / "fresh" / "gan").iterdir())
    assert fresh == ["f1_s0"]  # the 0.5 replicates' GANs were not trained again
    # a grid made over two machines: the variety of the GANs each has is measured there and the record grows
    part, missing = grid_gan_variety(res, tmp_path / "fresh")
    assert set(part.fraction) == {1.0} and len(part) == 2
    assert [m.split(":")[0] for m in missing] == ["fraction 0.5, replicate 0", "fraction 0.5, replicate 1"]
    first = (res / "gan_variety.csv").read_text()
    whole, missing = grid_gan_variety(res, tmp_path / "runs")  # the other machine's folders: 0.5 only
    assert missing == [] and len(whole) == 6 and list(whole.fraction) == [0.5] * 4 + [1.0] * 2
    after = (res / "gan_variety.csv").read_text().splitlines()
    assert after[0] == first.splitlines()[0] and after[-2:] == first.splitlines()[1:]  # the 100 % rows kept


def test_a_study_of_the_full_split_alone_keeps_the_presets_replicate_counts() -> None:
    """`--fractions 1.0` on a preset with 13 replicates below 100 % and 5 on the full split is a valid study
    (the bound on subsets applies to fractions below 100 %, of which it has none)."""
    st = build_experiment("full").study.with_fractions((1.0,))
    assert st.fractions == (1.0,) and st.seeds_at(1.0) == 5 and st.subsets == 13
    with pytest.raises(ValueError, match="subsets=3"):
        StudyConfig(fractions=(0.5, 1.0), seeds=(2, 4), subsets=3)


def test_more_replicates_extend_a_folder_while_no_finished_row_changes_replicate(tmp_path: Path, monkeypatch) -> None:
    """More GAN replicates on the full split (and seeds to use them) extend a results folder: the finished rows
    keep their replicate (seed modulo the count) and are not trained again. A count that would move a
    finished row to another replicate is refused, naming the row."""
    study = {"fractions": (1.0,), "independent_gans": True, "conditions": ("baseline",)}  # no GAN: quick
    res, runs = tmp_path / "res", tmp_path / "runs"
    first = run_study(_phantom_exp(**study, seeds=2, replicates_full=2), res, runs, device="cpu", progress=False)
    calls, real = [], study_mod.run_cell
    monkeypatch.setattr(study_mod, "run_cell", lambda *a, **k: calls.append(a[3]) or real(*a, **k))
    more = run_study(_phantom_exp(**study, seeds=3, replicates_full=3), res, runs, device="cpu", progress=False)
    assert len(first) == 2 and len(more) == 3 and sorted(set(more.subset)) == [0, 1, 2]
    assert [c.seed for c in calls] == [2]  # only the new replicate's model was trained
    kept = more[more.seed < 2].sort_values("seed").test_logits.tolist()
    assert kept == first.sort_values("seed").test_logits.tolist()
    with pytest.raises(StaleResultsError, match=r"1,baseline,2 \(replicate 2 there, 0 here\)"):
        run_study(_phantom_exp(**study, seeds=3, replicates_full=2), res, runs, device="cpu", progress=False)


def test_a_grid_from_a_first_replicate_draws_new_subsets_gans_and_seeds(tmp_path: Path) -> None:
    """first_replicate=k numbers a grid's replicates and classifier seeds from k: its training subsets, GAN
    seeds and classifier seeds are those a grid of k more replicates would have had past its own, none of a
    grid from 0; and a folder made with one first replicate refuses another."""
    from xraygan.study.run import planned_cells, replicate_of, replicates_at

    study = {"fractions": (0.5,), "independent_gans": True, "seeds": 2, "subsets": 2}
    new = _phantom_exp(**study, first_replicate=3, conditions=("baseline", "dcgan_50"))
    assert list(replicates_at(new, 0.5)) == [3, 4]
    assert sorted({c.seed for c in planned_cells(new)}) == [3, 4]
    assert [replicate_of(new, c) for c in planned_cells(new) if c.condition == "baseline"] == [3, 4]
    base = new.gan_subset.seed
    assert {gan_for(new, 0.5, r).seed for r in replicates_at(new, 0.5)} == {base + 3, base + 4}
    wide = _phantom_exp(**{**study, "seeds": 5, "subsets": 5})  # the same numbers, counted from 0
    assert [replicate_of(wide, c) for c in planned_cells(wide) if c.seed >= 3 and c.condition == "baseline"] == [3, 4]
    res = tmp_path / "res"
    only = {**study, "conditions": ("baseline",)}  # no GAN: quick
    df = run_study(_phantom_exp(**only, first_replicate=3), res, tmp_path / "runs", device="cpu", progress=False)
    assert sorted(df.seed) == [3, 4] and sorted(df.subset) == [3, 4]
    with pytest.raises(StaleResultsError, match="first_replicate"):
        run_study(_phantom_exp(**only), res, tmp_path / "runs", device="cpu", progress=False)
    with pytest.raises(ValueError, match="first_replicate"):
        StudyConfig(first_replicate=-1)


def test_a_grid_that_changes_only_its_gan_takes_the_gan_free_rows_of_another(tmp_path: Path) -> None:
    """--rows-from: a grid with another conditional-GAN recipe takes the first grid's baseline and duplicate-
    real rows as they are (recorded in rows_from.json), trains its own GAN condition, and reaches the same
    tables a full run would for the shared cells; a source made with another classifier is refused."""
    study = {"fractions": (0.5,), "seeds": 2, "conditions": ("baseline", "dup_real_50", "cgan_50")}
    first = phantom_experiment(study=study)
    run_study(first, tmp_path / "a", tmp_path / "runs", device="cpu", progress=False)
    other = phantom_experiment(study=study, gan_subset={"cgan_class_bn": True})
    df = run_study(other, tmp_path / "b", tmp_path / "runs", device="cpu", progress=False, rows_from=tmp_path / "a")
    a, b = read_rows(tmp_path / "a" / "runs.jsonl"), read_rows(tmp_path / "b" / "runs.jsonl")
    shared = [r for r in a if r["condition"] != "cgan_50"]
    assert [r for r in b if r["condition"] != "cgan_50"] == shared  # taken, not trained again ("seconds" too)
    assert len(df) == 6 and sorted(r["seed"] for r in b if r["condition"] == "cgan_50") == [0, 1]
    taken = json.loads((tmp_path / "b" / "rows_from.json").read_text())
    assert sorted(next(iter(taken.values()))) == sorted(f"0.5,{r['condition']},{r['seed']}" for r in shared)
    run_study(other, tmp_path / "b", tmp_path / "runs", device="cpu", progress=False, rows_from=tmp_path / "a")
    assert len(read_rows(tmp_path / "b" / "runs.jsonl")) == 6  # a resumed call takes nothing twice
    wider = phantom_experiment(study=study, classifier={"width": 4})
    with pytest.raises(StaleResultsError, match="width"):
        run_study(wider, tmp_path / "c", tmp_path / "runs", device="cpu", progress=False, rows_from=tmp_path / "a")


def test_replicates_gans_train_as_one_stack_where_stacking_pays(tmp_path: Path, monkeypatch) -> None:
    """On a GPU (forced here) the per-class GANs of every replicate train together, one stack per GAN config;
    the study then finds them trained and goes on as on CPU."""
    import xraygan.gan.runs as runs_mod
    from xraygan.checkpoint import load_checkpoint
    from xraygan.gan.stack import train_gan_stack

    exp = _phantom_exp(fractions=(0.5,), seeds=2, subsets=2, independent_gans=True, conditions=("baseline", "dcgan_50"))
    stacks = []
    monkeypatch.setattr(study_mod, "stacking_pays", lambda device: True)
    monkeypatch.setattr(runs_mod, "stacking_pays", lambda device: True)
    monkeypatch.setattr(
        runs_mod, "train_gan_stack", lambda jobs, *a, **k: stacks.append(len(jobs)) or train_gan_stack(jobs, *a, **k)
    )
    df = run_study(exp, tmp_path / "res", tmp_path / "runs", device="cpu", progress=False)
    assert stacks[0] == 4  # 2 replicates x 2 classes in one stack, first; later calls find them trained
    assert all(
        load_checkpoint(p / "checkpoint.pt")["step"] == exp.gan_at(0.5).steps
        for p in (tmp_path / "runs" / "gan").glob("*/*")
        if p.name in ("NORMAL", "PNEUMONIA")
    )
    assert len(df) == 4 and set(df.subset) == {0, 1}


def test_replicates_classifiers_train_as_one_stack_where_stacking_pays(tmp_path: Path, monkeypatch) -> None:
    """On a GPU (forced here) each replicate's classifiers without a pretraining phase train as one stack; the
    rows say what the one-at-a-time study says (the same selected steps, test metrics to float rounding),
    each model reads the test split once, and the pretraining condition still trains alone."""
    exp = _phantom_exp(
        fractions=(0.5,), seeds=2, subsets=2, conditions=("baseline", "classic_aug", "dup_real_100", "pretrain_dcgan")
    )
    # 40 steps, checked at 20 and 40: with the smoke preset's two checks 10 steps apart, float rounding can tip
    # a near-tied selection either way
    exp = dataclasses.replace(exp, classifier=dataclasses.replace(exp.classifier, steps=40, eval_every=20))
    serial = run_study(exp, tmp_path / "serial", tmp_path / "runs", device="cpu", progress=False)
    stacks, alone = [], []
    real_stack, real_cell = study_mod.train_classifiers, study_mod.run_cell
    monkeypatch.setattr(study_mod, "stacking_pays", lambda device: True)
    monkeypatch.setattr(
        study_mod, "train_classifiers", lambda c, *a, **k: stacks.append(len(c)) or real_stack(c, *a, **k)
    )
    monkeypatch.setattr(study_mod, "run_cell", lambda *a, **k: alone.append(a[3].condition) or real_cell(*a, **k))
    stacked = run_study(exp, tmp_path / "stacked", tmp_path / "runs", device="cpu", progress=False)
    assert stacks == [3, 3] and alone == ["pretrain_dcgan"] * 2  # one stack per replicate
    key = ["condition", "seed"]
    a, b = serial.sort_values(key).reset_index(drop=True), stacked.sort_values(key).reset_index(drop=True)
    assert (a[key] == b[key]).all().all() and set(b.test_reads) == {1}
    assert (a.best_step == b.best_step).all() and (a.subset == b.subset).all()
    # the same models to float rounding (other kernels: the serial path may run channels-last), which 40 Adam
    # steps grow to up to 0.2 of a logit, enough to swap near-tied pairs of the 16 test images
    assert all(np.corrcoef(x, y)[0, 1] > 0.99 for x, y in zip(a.test_logits, b.test_logits))
    assert np.allclose(a["test_auc"], b["test_auc"], atol=0.05)
    assert np.allclose(a["val_auc"], b["val_auc"], atol=1 / 16 + 1e-9)  # one swapped pair of 4 + 4 val images


@pytest.mark.parametrize("size", [64, 128])
def test_resnet18_option_is_one_channel_single_logit(size: int) -> None:
    from xraygan.models import build_classifier

    net = build_classifier("resnet18").eval()
    x = torch.randn(3, 1, size, size)
    assert net(x).shape == (3,) and net.embed(x).shape == (3, 512)
    assert net.net.conv1.in_channels == 1


def test_resnet18_classifier_learns_phantoms() -> None:
    tr, va, te = (phantom_set(n, TEST_SIZE, seed=0, split=sp) for n, sp in ((120, "train"), (30, "val"), (40, "test")))
    cfg = ClassifierConfig(model="resnet18", steps=30, batch_size=32, eval_every=15, lr=1e-3)
    tc = train_classifier(cfg, tr, va, device="cpu", progress=False)
    assert evaluate_test(tc, GuardedTest(te), "cpu")["test_auc"] > 0.8


def test_resnet18_imagenet_weights_become_one_gray_filter(monkeypatch) -> None:
    import torchvision

    import xraygan.models as models_mod

    rgb = torchvision.models.resnet18(weights=None).state_dict()  # stands in for the downloaded weights
    monkeypatch.setattr(models_mod, "imagenet_resnet18_state", lambda: rgb)
    net = models_mod.build_classifier("resnet18_imagenet")
    assert torch.equal(net.net.conv1.weight, rgb["conv1.weight"].sum(1, keepdim=True))
    assert torch.equal(net.net.layer4[1].conv2.weight, rgb["layer4.1.conv2.weight"])
    x = torch.rand(2, 1, 64, 64)
    assert net.eval()(x).shape == (2,)


def test_resnet18_imagenet_offline_is_a_clear_error(monkeypatch) -> None:
    import urllib.error

    import xraygan.models as models_mod

    def offline():
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(models_mod, "imagenet_resnet18_state", offline)
    with pytest.raises(RuntimeError, match="model='resnet18'.*from scratch"):
        models_mod.build_classifier("resnet18_imagenet")


def test_seed_counts_per_fraction() -> None:
    st = StudyConfig(fractions=(0.05, 1.0), seeds=(4, 2), conditions=("baseline",))
    assert st.seeds_at(0.05) == 4 and st.seeds_at(1.0) == 2 and StudyConfig(seeds=5).seeds_at(1.0) == 5
    # other fractions keep the counts of the fractions they share, new ones get the largest
    assert st.with_fractions((1.0, 0.2)).seeds == (2, 4)
    with pytest.raises(ValueError, match="one per fraction"):
        StudyConfig(fractions=(0.05, 1.0), seeds=(4, 2, 3))
    with pytest.raises(ValueError, match=">= 2"):
        StudyConfig(fractions=(0.05, 1.0), seeds=(4, 1))


def test_sweep_trains_the_seed_count_of_each_fraction(tmp_path: Path) -> None:
    exp = _phantom_exp(fractions=(0.5, 1.0), seeds=(3, 2), conditions=("baseline",))
    df = run_study(exp, tmp_path / "res", tmp_path / "runs", device="cpu", progress=False)
    assert sorted(df[df.fraction == 0.5].seed) == [0, 1, 2] and sorted(df[df.fraction == 1.0].seed) == [0, 1]


def test_power_table_from_paired_spread() -> None:
    import pandas as pd

    from xraygan.study.analysis import power_table

    paired = pd.DataFrame(
        {
            "fraction": [0.1, 0.1, 0.1, 1.0],
            "versus": ["baseline", "baseline", "dup_real_100", "baseline"],
            "test_accuracy sd": [6.0, 8.0, 99.0, 5.2],
        }
    )
    t = power_table(paired, 3.0, ("test_accuracy",))
    assert t.loc[0.1, "test_accuracy: median paired SD"] == 7.0  # the control comparison is left out
    assert t.loc[0.1, "test_accuracy: seeds for 3 points"] == seeds_needed(7.0, 3.0)
    assert t.loc[1.0, "test_accuracy: seeds for 3 points"] == seeds_needed(5.2, 3.0) == 26


def test_cluster_interval_covers_a_known_effect_where_the_naive_one_does_not() -> None:
    """Simulated grid with a known gain of 1 point: 6 replicates (each its own GAN set: a shared offset,
    SD 3) x 5 classifier seeds (SD 2). The replicate-level interval covers the truth at about the nominal
    95 %; treating the 30 runs as independent covers it far less often."""
    from xraygan.study.stats import cluster_difference

    rng = np.random.default_rng(0)
    clusters = np.repeat(np.arange(6), 5)
    hit_cluster = hit_naive = 0
    sims = 300
    for s in range(sims):
        d = 1.0 + rng.normal(0, 3, 6)[clusters] + rng.normal(0, 2, 30)
        c = cluster_difference(d, clusters, n_resamples=400, seed=s)
        _, lo, hi = mean_ci(d)
        hit_cluster += c["low"] <= 1.0 <= c["high"]
        hit_naive += lo <= 1.0 <= hi
    assert 0.92 <= hit_cluster / sims <= 0.995
    assert hit_naive / sims < 0.85
    one = cluster_difference([1.0, 3.0, 5.0, 7.0], ["a", "a", "b", "b"])
    assert one["mean"] == 4.0 and one["clusters"] == 2 and one["n"] == 4
    # two replicates that tie exactly (pretrain_cw's first two: +1.28 points each) give no interval, not [m, m]
    tie = cluster_difference([1.2821, 1.2821], [9, 10])
    assert tie["mean"] == 1.2821 and np.isnan(tie["low"]) and np.isnan(tie["high"])
    assert np.isnan(paired_difference(np.array([2.0, 3.0, 4.0]), np.array([1.0, 2.0, 3.0]))["low"])


def test_protocol_drives_the_verdict() -> None:
    """The verdict table reads the protocol: its endpoint picks the metric, its rule gives the verdict, and a
    comparison with one replicate (one GAN set) stays unresolved whatever its mean."""
    import dataclasses

    import pandas as pd

    from xraygan.study.analysis import verdict_table
    from xraygan.study.protocol import PROTOCOL

    rows = []
    for seed in range(8):
        for k, (cond, acc, bal) in enumerate(
            (("baseline", 0.70, 0.70), ("dup_real_100", 0.71, 0.70), ("dcgan_100", 0.76, 0.70))
        ):
            jitter = 0.002 * ((seed + k) % 3)  # per condition: paired gains that vary (exact ties have no interval)
            rows.append(
                {
                    "fraction": 0.1,
                    "condition": cond,
                    "seed": seed,
                    "subset": seed % 4,
                    "test_accuracy@t": acc + jitter,
                    "test_balanced_accuracy@t": bal + jitter,
                }
            )
            rows.append(
                {
                    "fraction": 1.0,
                    "condition": cond,
                    "seed": seed,
                    "subset": 0,
                    "test_accuracy@t": acc + jitter,
                    "test_balanced_accuracy@t": bal + jitter,
                }
            )
    df = pd.DataFrame(rows)
    t = verdict_table(df).set_index(["fraction", "condition"])
    assert t.loc[(0.1, "dcgan_100"), "verdict"] == "helps"  # +6 over baseline, +5 over the control
    assert t.loc[(0.1, "dcgan_100"), "vs baseline"] == pytest.approx(6.0, abs=0.2)
    assert t.loc[(0.1, "dup_real_100"), "verdict"] == "does not reach +3"
    assert t.loc[(1.0, "dcgan_100"), "verdict"] == "unresolved"  # one GAN set: no interval
    balanced = verdict_table(df, dataclasses.replace(PROTOCOL, endpoint="test_balanced_accuracy@t"))
    assert set(balanced.endpoint) == {"test_balanced_accuracy@t"}
    assert balanced.set_index(["fraction", "condition"]).loc[(0.1, "dcgan_100"), "verdict"] == "does not reach +3"
    assert PROTOCOL.verdict((4.0, 1.0, 7.0), (2.0, -1.0, 5.0)) == "unresolved"  # not clear of its control
    assert "vs schedule" not in t  # no pretraining in this grid: no schedule column
    alone = verdict_table(df[df.condition != "dup_real_100"]).set_index(["fraction", "condition"])
    assert alone.loc[(0.1, "dcgan_100"), "verdict"] == "unresolved"  # +6, but its control is not in the grid


def test_pretraining_is_compared_with_its_schedule_control_without_changing_the_verdict() -> None:
    import pandas as pd

    from xraygan.study.analysis import verdict_table

    gains = {"baseline": 0.70, "dup_real_100": 0.70, "pretrain_real": 0.73, "pretrain_dcgan": 0.74}
    rows = [
        {"fraction": 0.1, "condition": c, "seed": s, "subset": s, "test_accuracy@t": a + 0.002 * ((s + k) % 3)}
        for s in range(6)
        for k, (c, a) in enumerate(gains.items())  # gains that vary by replicate: exact ties have no interval
    ]
    t = verdict_table(pd.DataFrame(rows)).set_index("condition")
    assert t.loc["pretrain_dcgan", "vs baseline"] == pytest.approx(4.0, abs=0.2)
    assert t.loc["pretrain_dcgan", "vs control"] == pytest.approx(4.0, abs=0.2)  # its registered control
    assert t.loc["pretrain_dcgan", "vs schedule"] == pytest.approx(1.0, abs=0.2)  # what the GAN images add
    assert t.loc["pretrain_dcgan", "verdict"] == "helps"  # read on baseline and control, as registered
    assert pd.isna(t.loc["pretrain_real", "vs schedule"]) and pd.isna(t.loc["pretrain_real", "vs control"])
    from xraygan.study.analysis import paired_table

    paired = paired_table(pd.DataFrame(rows), metrics=("test_accuracy@t",)).set_index(["condition", "versus"])
    assert set(paired.loc["pretrain_dcgan"].index) == {"baseline", "dup_real_100", "pretrain_real"}
    assert paired.loc[("pretrain_dcgan", "pretrain_real"), "test_accuracy@t diff"] == pytest.approx(1.0, abs=0.2)
    assert parse_condition("pretrain_real").comparisons == (("vs baseline", "baseline"),)
    assert parse_condition("baseline").comparisons == ()


def test_validation_scales_with_the_fraction(monkeypatch) -> None:
    """With val_scaled, model selection at 25 % of the training split sees about 25 % of the validation
    images (at least the stated minimum per class); without it, all of them."""
    from xraygan.data import load_splits
    from xraygan.study.run import Cell, run_cell

    seen = []
    real = study_mod.train_classifier

    def spy(cfg, train, val, *a, **k):
        seen.append((len(train), val.class_counts()))
        return real(cfg, train, val, *a, **k)

    monkeypatch.setattr(study_mod, "train_classifier", spy)
    exp = _phantom_exp(fractions=(0.25,), seeds=2, conditions=("baseline",), val_scaled=True, val_min_per_class=3)
    splits = load_splits(exp.data, progress=False)
    full = splits.val.class_counts()
    row = run_cell(exp, splits, Path("unused"), Cell(0.25, "baseline", 0), device="cpu")
    counts = seen[-1][1]
    assert all(max(3, -(-full[c] // 4)) == counts[c] for c in full) and row["n_val"] == sum(counts.values())
    run_cell(
        dataclasses.replace(exp, study=dataclasses.replace(exp.study, val_scaled=False)),
        splits,
        Path("unused"),
        Cell(0.25, "baseline", 0),
        device="cpu",
    )
    assert seen[-1][1] == full


def test_estimate_times_stacks_where_the_study_stacks(monkeypatch) -> None:
    """On a GPU (forced here) the estimate printed before a study times what the study will run: a stack of
    one replicate's classifiers and a stack of GANs, per model; on CPU, one model at a time."""
    import xraygan.study.estimate as est
    from xraygan.data import load_splits

    exp = _phantom_exp(fractions=(0.5,), seeds=3, subsets=3, conditions=("baseline", "dup_real_100", "dcgan_50"))
    splits = load_splits(exp.data, progress=False)
    sizes: list[tuple[str, int]] = []
    real_c, real_g = est.train_classifiers, est.train_gan_stack
    monkeypatch.setattr(
        est, "train_classifiers", lambda c, *a, **k: sizes.append(("clf", len(c))) or real_c(c, *a, **k)
    )
    monkeypatch.setattr(est, "train_gan_stack", lambda j, *a, **k: sizes.append(("gan", len(j))) or real_g(j, *a, **k))
    alone = est.measure_rates(exp, splits.train, splits.val, "cpu", gans=("gan_subset",))
    assert sizes == [] and alone.classifier_step_s > 0
    monkeypatch.setattr(est, "stacking_pays", lambda device: True)
    stacked = est.measure_rates(exp, splits.train, splits.val, "cpu", gans=("gan_subset",))
    assert ("clf", 3) in sizes and ("gan", 6) in sizes  # 3 conditions; 2 classes x 3 replicates
    assert set(alone.gan_step_s) == set(stacked.gan_step_s) == {"gan_subset"}  # only the GANs still to train
    assert stacked.classifier_step_s > 0 and all(v > 0 for v in stacked.gan_step_s.values())


def test_estimate_counts_workers_side_by_side() -> None:
    """With StudyConfig.workers = W the estimate times W processes training at once and counts W steps per
    interval of their mean step time; one process's rate would make a W-worker grid look W times longer."""
    import xraygan.study.estimate as est
    from xraygan.data import load_splits

    assert est.side_by_side([0.2, 0.2]) == pytest.approx(0.1)  # two at 0.2 s each: a step every 0.1 s
    assert est.side_by_side([0.4, 0.2, 0.3, 0.3]) == pytest.approx(0.3 / 4)
    assert est.side_by_side([0.5]) == 0.5
    exp = _phantom_exp(fractions=(0.5,), seeds=2, subsets=2, workers=2, conditions=("baseline", "dcgan_50"))
    splits = load_splits(exp.data, progress=False)
    rates = est.measure_rates(exp, splits.train, splits.val, "cpu")  # one pool of two processes
    assert rates.workers == 2 and "with 2 workers side by side" in rates.describe()
    assert rates.classifier_step_s > 0 and rates.gan_step_s == {}


def test_estimate_only_prints_the_estimate_and_trains_or_writes_nothing(tmp_path: Path, capsys) -> None:
    """`study --estimate-only`: the time a grid will take is printed before anything is trained, so a grid
    can be sized (and a too-long one cut) without starting it; it writes nothing, and a results folder made
    with other settings (which a run refuses) only earns a note."""
    exp = _phantom_exp(fractions=(0.5,), seeds=2, conditions=("baseline", "dcgan_50"))
    df = run_study(exp, tmp_path / "res", tmp_path / "runs", device="cpu", progress=False, estimate_only=True)
    out = capsys.readouterr().out
    assert "GAN steps and 4 of 4 models to train; estimate" in out and df.empty
    assert not (tmp_path / "res").exists() and not list((tmp_path / "runs").rglob("checkpoint.pt"))
    stale = tmp_path / "stale"
    stale.mkdir()
    (stale / "config.json").write_text(json.dumps({"experiment": {"preset": "smoke"}}))
    (stale / "runs.jsonl").write_text(json.dumps({"fraction": 0.5, "condition": "baseline", "seed": 0}) + "\n")
    before = {p.name: p.read_bytes() for p in stale.iterdir()}
    run_study(exp, stale, tmp_path / "runs", device="cpu", progress=False, estimate_only=True)
    out = capsys.readouterr().out
    assert "a run would stop here" in out and "4 of 4 models to train" in out  # its row is not counted
    assert {p.name: p.read_bytes() for p in stale.iterdir()} == before


def test_channels_last_on_cpu_computes_the_same_model_to_rounding() -> None:
    """ClassifierConfig.channels_last: the same network in channels-last tensors on CPU gives the same logits
    and gradients to float rounding (other kernels, so not bit-equal; Adam then amplifies the rounding over a
    run, so whole runs are compared by what they learn), and a run with it trains in that layout."""
    import copy

    from xraygan.models import build_classifier

    x = torch.rand(16, 1, 64, 64, generator=torch.Generator().manual_seed(0)) * 2 - 1
    torch.manual_seed(0)
    plain = build_classifier("simple", 8).eval()
    last = copy.deepcopy(plain).to(memory_format=torch.channels_last)
    outs = []
    for m, inp in ((plain, x), (last, x.contiguous(memory_format=torch.channels_last))):
        out = m(inp).float()
        out.sum().backward()
        outs.append((out.detach(), [p.grad.clone() for p in m.parameters()]))
    assert torch.allclose(outs[0][0], outs[1][0], atol=1e-5)
    assert all(torch.allclose(a, b, atol=1e-5, rtol=1e-4) for a, b in zip(outs[0][1], outs[1][1]))
    tr, va, te = (
        phantom_set(n, TEST_SIZE, seed=s, split=sp) for n, s, sp in ((120, 0, "train"), (30, 0, "val"), (40, 0, "test"))
    )
    cfg = ClassifierConfig(width=8, steps=60, batch_size=32, eval_every=30, lr=3e-3, channels_last=True)
    tc = train_classifier(cfg, tr, va, device="cpu", progress=False)
    assert next(tc.model.parameters()).is_contiguous(memory_format=torch.channels_last)
    assert evaluate_test(tc, GuardedTest(te), "cpu")["test_auc"] > 0.9


def test_cpu_bf16_trains_in_bf16_and_keeps_fp32_weights_and_evaluation() -> None:
    """ClassifierConfig.cpu_bf16: the training steps' convolutions run in bf16 on CPU (as AMP does on CUDA),
    the weights stay fp32, validation and test predictions are computed in fp32, and the model still learns;
    without it every training convolution sees fp32."""
    tr, va, te = (
        phantom_set(n, TEST_SIZE, seed=s, split=sp) for n, s, sp in ((120, 0, "train"), (30, 0, "val"), (40, 0, "test"))
    )
    seen: dict[bool, set] = {}
    real_conv = torch.nn.Conv2d.forward

    def spy(self, x):
        out = real_conv(self, x)
        seen.setdefault(bf16, set()).add(("train" if self.training else "eval", out.dtype))
        return out

    for bf16 in (False, True):
        cfg = ClassifierConfig(width=8, steps=60, batch_size=32, eval_every=30, lr=3e-3, cpu_bf16=bf16)
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(torch.nn.Conv2d, "forward", spy)
            tc = train_classifier(cfg, tr, va, device="cpu", progress=False)
        assert all(p.dtype == torch.float32 for p in tc.model.parameters())
        metrics = evaluate_test(tc, GuardedTest(te), "cpu")
        assert metrics["test_auc"] > 0.9
    f32, b16 = torch.float32, torch.bfloat16
    assert seen == {False: {("train", f32), ("eval", f32)}, True: {("train", b16), ("eval", f32)}}


def test_a_short_training_phase_keeps_its_warm_up_and_a_too_short_one_is_refused() -> None:
    """A 10-step phase (a 20-step budget split for pretraining) trains: its warm-up is two steps, where a tenth
    of it made torch's one-cycle schedule divide by zero; under 4 steps the error names the setting."""
    from xraygan.classifier import optimiser

    cfg = ClassifierConfig(width=4, steps=20, eval_every=10)
    params = [torch.nn.Parameter(torch.zeros(1))]
    opt, sched = optimiser(params, cfg, 10)
    lrs = []
    for _ in range(10):
        opt.step()
        sched.step() if len(lrs) < 9 else None
        lrs.append(opt.param_groups[0]["lr"])
    assert max(lrs) == pytest.approx(cfg.lr) and lrs[-1] < 0.01 * cfg.lr  # warmed up, then decayed
    _, long = optimiser(params, cfg, 1200)
    assert long.total_steps == 1200 and long._schedule_phases[0]["end_step"] == pytest.approx(119)  # a tenth
    with pytest.raises(ValueError, match="at least 4"):
        optimiser(params, cfg, 3)


def test_across_grids_pairs_by_replicate_and_shared_models_differ_by_zero() -> None:
    """Two grids on the same replicates: a condition both trained is compared replicate by replicate (rows in
    another order pair up all the same), models they share differ by exactly 0 with no interval, and a condition
    only one grid has is left out."""
    from xraygan.study.analysis import across_grids

    rng = np.random.default_rng(0)
    seeds = np.arange(6)
    base = 0.80 + 0.02 * rng.standard_normal(6)
    theirs = pd.DataFrame(
        {
            "fraction": 0.1,
            "seed": np.tile(seeds, 2),
            "subset": np.tile(seeds, 2),
            "condition": ["baseline"] * 6 + ["dcgan_100"] * 6,
            "test_accuracy": np.r_[base, base - 0.01],
        }
    )
    noise = 0.002 * rng.standard_normal(6)
    ours = pd.DataFrame(
        {
            "fraction": 0.1,
            "seed": np.tile(seeds, 3),
            "subset": np.tile(seeds, 3),
            "condition": ["baseline"] * 6 + ["dcgan_100"] * 6 + ["cgan_100"] * 6,
            "test_accuracy": np.r_[base, base - 0.01 + 0.02 + noise, base],
        }
    ).sample(frac=1.0, random_state=1)  # another order: pairing is by replicate, not by row
    t = across_grids(ours, theirs).set_index("condition")
    assert list(t.index) == ["baseline", "dcgan_100"] and (t.pairs == 6).all()
    assert t.loc["baseline", "test_accuracy diff"] == 0 and np.isnan(t.loc["baseline", "test_accuracy low"])
    assert t.loc["dcgan_100", "test_accuracy diff"] == pytest.approx(2.0 + 100 * noise.mean())
    assert t.loc["dcgan_100", "test_accuracy low"] < t.loc["dcgan_100", "test_accuracy diff"]
    assert t.loc["dcgan_100", "test_accuracy low"] > 1.0  # the pairs' noise is small against the 2-point shift
