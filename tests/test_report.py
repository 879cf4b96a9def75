"""The answer text comes from the results files only: ANSWER.md and the README's answer blocks are generated,
the tables regenerate bit for bit from runs.jsonl, and a README block that drifts from its files fails."""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest

from xraygan.study.analysis import compute_tables
from xraygan.study.protocol import PROTOCOL
from xraygan.study.report import (
    _markers,
    answer_markdown,
    interim_notes,
    interval,
    load_report,
    readme_block,
    results_key,
    signed,
    update_readme,
    write_report,
)
from xraygan.study.run import load_results, read_grid, read_test_split
from xraygan.study.variety import variety_text

ROOT = Path(__file__).resolve().parents[1]
PILOT = ROOT / "results" / "pilot"


def test_numbers_are_formatted_with_signs_and_missing_ends() -> None:
    assert signed(1.234) == "+1.2" and signed(-0.25) == "\u22120.2" and signed(float("inf")) == "+∞"
    assert signed(float("nan")) == "—"
    assert interval(2.0, -1.0, 5.04) == "+2.0 [\u22121.0, +5.0]"
    assert interval(81.0, 79.25, 82.75, sign=False) == "81.0 [79.2, 82.8]"
    assert interval(-1.0, float("nan"), float("nan")) == "\u22121.0, no interval"


def _pilot_copy(folder: Path, monkeypatch) -> Path:
    """The committed pilot's inputs (rows, config, test split) in `folder`; figures drawn beside it."""
    folder.mkdir()
    for f in ("runs.jsonl", "config.json", "test_split.json"):
        shutil.copy(PILOT / f, folder / f)
    monkeypatch.setenv("XRAYGAN_FIGURES", str(folder.parent / "figures"))
    return folder


def test_report_regenerates_the_committed_tables_and_quotes_them(tmp_path: Path, monkeypatch) -> None:
    """The committed pilot's tables recomputed from its rows, quoted in ANSWER.md. Written into another
    folder (as results/pilot_gpu/ is), the answer names that folder and its figures carry that name."""
    res = _pilot_copy(tmp_path / "pilot_elsewhere", monkeypatch)
    out = write_report(res, "pilot")
    for f in ("verdict.csv", "learning_curve.csv", "exchange.csv", "exchange_auc.csv", "summary.csv", "paired.csv"):
        assert (res / f).read_bytes() == (PILOT / f).read_bytes(), f  # the analysis reproduces the commit
    assert all((tmp_path / "figures" / Path(p).name).exists() for p in out["figures"])
    names = sorted(Path(p).name for p in out["figures"])
    assert names == ["04_learning_curve_pilot_elsewhere.png", "04_verdict_pilot_elsewhere.png"]
    text = (res / "ANSWER.md").read_text()
    assert "`results/pilot_elsewhere/`" in text
    verdict = pd.read_csv(PILOT / "verdict.csv")
    done, planned = len(load_results(PILOT)), sum(read_grid(PILOT).planned.values())
    assert planned == 27 and f"{done} of {planned} models" in text and ("partial" in text) == (done < planned)
    for _, r in verdict.iterrows():  # every comparison's row quotes its numbers from verdict.csv
        cells = (ln.split("|") for ln in text.splitlines() if ln.startswith(f"| {r.fraction * 100:g} % |"))
        line = "|".join(next(c for c in cells if c[2].strip(" *") == r.condition))
        assert interval(r["vs baseline"], r["vs baseline low"], r["vs baseline high"]) in line
        assert r.verdict in line
    curve = pd.read_csv(PILOT / "learning_curve.csv")
    assert interval(curve["mean"][0], curve.low[0], curve.high[0], sign=False) in text


def test_a_grid_run_outside_its_presets_folder_never_writes_the_presets_readme_block(
    tmp_path: Path, monkeypatch
) -> None:
    res = _pilot_copy(tmp_path / "pilot_elsewhere", monkeypatch)
    readme = tmp_path / "README.md"
    readme.write_text("<!-- answer:pilot begin; x -->\nthe pilot's own block\n<!-- answer:pilot end -->\n")
    with pytest.raises(
        ValueError,
        match=r"answer:pilot_elsewhere begin; written by `python -m xraygan study "
        r"--preset pilot --results results/pilot_elsewhere --tables-only",
    ):
        write_report(res, "pilot", readme=readme, figures=False)
    assert "the pilot's own block" in readme.read_text()


def test_a_partial_grid_says_so_and_a_changed_row_changes_the_answer(tmp_path: Path) -> None:
    df = load_results(PILOT)
    tables = compute_tables(df, read_test_split(PILOT))
    plan = read_grid(PILOT).planned
    full = answer_markdown(df, tables, "pilot", plan)
    assert "partial" in answer_markdown(df, tables, "pilot", {**plan, (0.25, "baseline"): 16})
    worse = df.copy()
    hit = (worse.condition == "dcgan_100") & (worse.fraction == 0.1)
    worse.loc[hit, "test_accuracy@t"] -= 0.05  # five points lower in every replicate
    changed = answer_markdown(worse, compute_tables(worse, None), "pilot", plan)
    assert changed != full
    before = re.search(r"\| 10 % \| dcgan_100 \| baseline \| ([^ ,]+)", full).group(1)
    after = re.search(r"\| 10 % \| dcgan_100 \| baseline \| ([^ ,]+)", changed).group(1)
    assert float(after.replace("\u2212", "-")) == pytest.approx(float(before.replace("\u2212", "-")) - 5, abs=0.11)


def test_a_grid_with_one_fraction_still_shows_its_baseline_score() -> None:
    """With one fraction there is no curve to read an exchange rate from, but the block still gives the
    baseline's score (endpoint and AUC, over replicates) that the gains are measured from."""
    df = load_results(PILOT)
    one = df[df.fraction == 0.1]
    tables, all_tables = compute_tables(one, None), compute_tables(df, None)
    assert "exchange" not in tables and "exchange" in all_tables
    point = tables["learning_curve"].iloc[0]
    curve = all_tables["learning_curve"]
    assert len(tables["learning_curve"]) == 1 and point["mean"] == curve[curve.fraction == 0.1].iloc[0]["mean"]
    text = answer_markdown(one, tables, "pilot", None)
    assert re.search(r"\| real training images \| \d+ \(10 %\) \|\n", text) and "test AUC |" in text


def test_a_verdict_on_unfinished_cells_is_marked_interim() -> None:
    """Given the plan per cell, a comparison that reads a cell with models still to train shows its verdict as
    interim, naming the least complete cell; finished comparisons are shown as they are."""
    df = load_results(PILOT)
    tables = compute_tables(df, read_test_split(PILOT))
    plan = read_grid(PILOT).planned
    assert sum(plan.values()) == 27 and plan[(0.1, "dcgan_100")] == 3
    assert "interim" not in answer_markdown(df, tables, "pilot", plan)
    more = {**plan, (1.0, "dup_real_100"): 4}  # one more control model planned on the full split
    text = answer_markdown(df, tables, "pilot", more)
    rows = {ln.split("|")[2].strip(" *") + ln.split("|")[1]: ln for ln in text.splitlines() if ln.startswith("| 1")}
    assert "(interim: 3 of 4 models)" in rows["dcgan_100 100 % "] and "interim" in rows["dup_real_100 100 % "]
    assert not any("interim" in ln for ln in text.splitlines() if ln.startswith("| 10 % |"))
    assert "28 models; partial" in text
    rep = load_report(PILOT, "pilot", fallback=pd.DataFrame(), fallback_preset="unused")
    assert rep.notes == interim_notes(df, tables["verdict"], plan) and not any(rep.notes.values())


def test_readme_block_is_replaced_between_its_markers_only(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text("# title\n\nbefore\n")
    with pytest.raises(ValueError, match=r"(?s)README.md has no answer block for preset 'pilot'.*answer:pilot begin"):
        update_readme(readme, "pilot", "x\n")
    begin = "<!-- answer:pilot begin; written by `python -m xraygan study --preset pilot --tables-only --readme "
    readme.write_text(f"# title\n\n{begin}README.md`, do not edit -->\nold\n<!-- answer:pilot end -->\nafter\n")
    update_readme(readme, "pilot", "new | 1.0\n")
    body = readme.read_text()
    assert "old" not in body and body.startswith("# title\n\n") and body.endswith("<!-- answer:pilot end -->\nafter\n")
    assert readme_block(readme, "pilot") == "new | 1.0\n" and readme_block(readme, "paper") is None


def test_committed_readme_blocks_match_their_results() -> None:
    """Each generated block of the README equals what its committed results give: nobody typed its numbers."""
    readme = ROOT / "README.md"
    folders = re.findall(r"<!-- answer:([\w/]+) begin", readme.read_text())
    assert folders, "the README has no generated answer block"
    for folder in folders:  # a block is keyed by its results folder; the preset that made it is in config.json
        preset = json.loads((ROOT / "results" / folder / "config.json").read_text())["experiment"]["preset"]
        rep = load_report(ROOT / "results" / folder, preset, fallback=pd.DataFrame(), fallback_preset="unused")
        assert rep.committed and rep.preset == preset
        assert readme_block(readme, preset, folder) == rep.text, folder


def test_report_falls_back_to_the_callers_models_where_nothing_is_committed(tmp_path: Path) -> None:
    """Under the test command notebook 04 has no committed grid to read: it reports its own run instead,
    without a test-set bootstrap and without claiming a planned total."""
    own = load_results(PILOT)
    rep = load_report(tmp_path / "paper", "paper", fallback=own, fallback_preset="pilot")
    assert not rep.committed and rep.preset == "pilot" and rep.df is own
    assert rep.text == answer_markdown(own, compute_tables(own, None), "pilot", None)
    assert "partial" not in rep.text


def test_a_results_folder_is_named_by_its_path_under_results() -> None:
    """Archived grids keep their own README block and command: the key is the path under results/."""
    assert results_key("results/paper") == "paper"
    assert results_key(ROOT / "results" / "archive" / "paper_w8") == "archive/paper_w8"
    assert results_key("/elsewhere/pilot_gpu") == "pilot_gpu"
    begin, end = _markers("paper", "archive/paper_w8")
    assert "answer:archive/paper_w8 begin" in begin and "--results results/archive/paper_w8 --tables-only" in begin
    assert end == "<!-- answer:archive/paper_w8 end -->"


def test_a_grid_written_down_with_another_endpoint_is_read_on_it(tmp_path: Path, monkeypatch) -> None:
    """The pilot's rows, with its config.json naming accuracy at 0.5 as the primary endpoint (as paper_cw's
    does): verdicts, answer block and learning curve are read on it, the rows stay resumable (the endpoint
    does not shape a row), and an unknown endpoint is refused."""
    from xraygan.config import StudyConfig
    from xraygan.study.run import check_results_folder, read_grid

    res = _pilot_copy(tmp_path / "pilot_at_half", monkeypatch)
    saved = json.loads((res / "config.json").read_text())
    other = json.loads(json.dumps(saved))
    other["experiment"]["study"]["endpoint"] = "test_accuracy"
    (res / "config.json").write_text(json.dumps(other))
    assert read_grid(res).protocol.endpoint == "test_accuracy"
    assert read_grid(PILOT).protocol.endpoint == "test_accuracy@t"
    check_results_folder(res, saved)  # resuming with the protocol's endpoint is not refused
    write_report(res, "pilot", figures=False)
    verdict = pd.read_csv(res / "verdict.csv")
    assert set(verdict.endpoint) == {"test_accuracy"}
    df = load_results(res)
    gain = compute_tables(df, read_test_split(res))["paired"]
    row = gain[(gain.fraction == 0.1) & (gain.condition == "dcgan_100") & (gain.versus == "baseline")].iloc[0]
    assert verdict[(verdict.fraction == 0.1) & (verdict.condition == "dcgan_100")]["vs baseline"].iloc[0] == (
        pytest.approx(row["test_accuracy diff"], abs=1e-3)
    )
    text = (res / "ANSWER.md").read_text()
    assert "Endpoint: test accuracy at 0.5" in text and "| test accuracy at 0.5 (%) |" in text
    with pytest.raises(ValueError, match="StudyConfig.endpoint"):
        StudyConfig(endpoint="val_auc")


def test_the_schedule_control_sentence_names_each_pretraining_comparison() -> None:
    from xraygan.study.report import _schedule_lines

    verdict = pd.DataFrame(
        [
            {
                "fraction": 0.1,
                "condition": "pretrain_dcgan",
                "vs schedule": 1.28,
                "vs schedule low": -0.27,
                "vs schedule high": 2.84,
                "vs schedule replicates": 9,
            },
            {"fraction": 0.1, "condition": "pretrain_real", "vs schedule": float("nan")},
        ]
    )
    done = {(0.1, "pretrain_dcgan"): "", (0.1, "pretrain_real"): ""}
    text = "".join(_schedule_lines(verdict, done))
    assert "`pretrain_dcgan` at 10 %: +1.3 [\u22120.3, +2.8] (9 replicates)." in text
    assert "pretrain_real` at" not in text
    assert _schedule_lines(verdict.drop(columns=[c for c in verdict if c.startswith("vs schedule")]), done) == []
    assert "the verdict does not read it" in text and "adds nothing" not in text  # paper_cw: nothing reads it
    # pretrain_cw was written down to ask this: its rule reads each comparison
    asks = dataclasses.replace(PROTOCOL, reads_schedule=True)
    asked = "".join(_schedule_lines(verdict, done, asks))
    assert "(9 replicates): **adds nothing measurable with 9 replicates**." in asked
    assert "written down for it before it ran" in asked
    assert (
        asks.schedule_reading(0.1, 2.0, 21) == "adds something"
        and asks.schedule_reading(-2.0, -0.1, 21) == "costs something"
    )
    assert asks.schedule_reading(0.0, 2.0, 21) == "adds nothing measurable with 21 replicates"  # 0 inside: not above
    assert asks.schedule_reading(float("nan"), float("nan"), 1).startswith("unresolved")
    one = verdict.assign(**{"vs schedule replicates": 1})
    assert "+2.8] (1 replicate): **adds nothing measurable with 1 replicate**." in "".join(
        _schedule_lines(one, done, asks)
    )
    # part of the grid: the sentence is marked interim, as the verdict table is
    rows = [
        {"fraction": 0.1, "condition": c, "seed": s, "subset": s, "test_accuracy@t": 0.8}
        for c, k in (("baseline", 3), ("pretrain_real", 2), ("pretrain_dcgan", 3))
        for s in range(k)
    ]
    plan = {(0.1, c): 3 for c in ("baseline", "pretrain_real", "pretrain_dcgan")}
    notes = interim_notes(pd.DataFrame(rows), verdict.assign(reference="baseline"), plan)
    assert notes[(0.1, "pretrain_dcgan")] == " (interim: 2 of 3 models)"  # its schedule control is short
    text = "".join(_schedule_lines(verdict, notes))
    assert "(9 replicates) (interim: 2 of 3 models)." in text


def test_the_gan_variety_record_is_summarised_in_the_answer(tmp_path: Path, monkeypatch) -> None:
    """gan_variety.csv beside the rows: the answer counts its GANs and those outside the limits, and gives each
    class's ranges from the file (so no session copies them by hand); without the file, no such paragraph."""
    res = _pilot_copy(tmp_path / "pilot", monkeypatch)
    write_report(res, "pilot", figures=False)
    assert "GAN variety" not in (res / "ANSWER.md").read_text()
    rows = [  # two replicates at 10 %, the second NORMAL GAN repeats chests; one at 100 %
        (0.1, 0, "NORMAL", 0.0, 0.0165, 1.0227),
        (0.1, 0, "PNEUMONIA", 0.0, 0.0086, 1.189),
        (0.1, 1, "NORMAL", 0.4792, 0.0124, 0.8734),
        (0.1, 1, "PNEUMONIA", 0.0025, 0.0100, 1.1201),
        (1.0, 0, "NORMAL", 0.01, 0.01, 0.97),
        (1.0, 0, "PNEUMONIA", 0.01, 0.01, 1.0),
    ]
    df = pd.DataFrame(rows, columns=["fraction", "replicate", "class", "near_twin_share", "near_twin_share_real",
                                     "pairwise_ratio"])
    df["gan_seed"], df["gan"], df["ms_ssim"], df["ms_ssim_real"] = df.replicate, "dcgan", 0.5, 0.5
    df["collapsed"] = (df.near_twin_share > 0.05) | (df.pairwise_ratio < 0.95)
    df.to_csv(res / "gan_variety.csv", index=False)
    write_report(res, "pilot", figures=False)
    text = (res / "ANSWER.md").read_text()
    assert text.endswith(variety_text(df)) and variety_text(df.iloc[:0]) == ""
    assert "At 10 %: 4 per-class GANs of 2 replicates, 1 outside the limits." in text
    assert "NORMAL: near-twins 0.0–47.9 % (real images: at most 1.7 %), spread 0.87–1.02." in text
    assert "PNEUMONIA: near-twins 0.0–0.2 % (real images: at most 1.0 %), spread 1.12–1.19." in text
    assert "At 100 %: 2 per-class GANs of 1 replicates, 0 outside the limits." in text
    # a grid's conditional GANs: one per replicate, measured on each class, counted once if a class fails
    cgan = df[df.fraction == 0.1].assign(gan="cgan")
    both = variety_text(pd.concat([df, cgan]))
    assert "each replicate's per-class GANs and conditional GANs" in both
    counted = "At 10 %: 2 conditional GANs, one per replicate, measured on each class; 1 outside the limits on a class."
    assert counted in both
    assert "each replicate's conditional GANs, measured" in variety_text(cgan)
    assert "NORMAL: near-twins 1.0 % (real images: at most 1.0 %), spread 0.97." in text
    rep = load_report(res, "pilot", fallback=pd.DataFrame(), fallback_preset="unused")
    assert rep.text == text.split("\n\n", 1)[1]  # the notebook's block is the same text


def test_show_committed_shows_the_readme_block_and_saves_the_verdict_figure(tmp_path: Path, monkeypatch) -> None:
    """The notebook's helper shows a committed grid's answer block, the same text the README carries, and draws
    its verdict figure; a folder with no grid says so instead of showing an empty answer."""
    from xraygan.study.report import show_committed

    shutil.copytree(PILOT, tmp_path / "results" / "pilot")
    monkeypatch.setenv("XRAYGAN_RESULTS", str(tmp_path / "results"))
    monkeypatch.setenv("XRAYGAN_FIGURES", str(tmp_path / "figures"))
    rep = show_committed("pilot")
    assert rep is not None and rep.committed
    assert rep.text == load_report(PILOT, "pilot", fallback=pd.DataFrame(), fallback_preset="unused").text
    assert (tmp_path / "figures" / "04_verdict_pilot.png").exists()
    assert show_committed("paper", "nothing_here") is None
