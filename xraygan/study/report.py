"""The study's answer as text, from the committed results files only: ANSWER.md in the results folder, the same
block in the README between two markers, and the report figures. `python -m xraygan study --preset P
--tables-only --readme README.md` regenerates all of it, so no number in the answer is typed by hand."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from xraygan.study.analysis import exchange_key
from xraygan.study.conditions import parse_condition
from xraygan.study.protocol import PROTOCOL, Protocol, endpoint_label
from xraygan.study.thresholds import THRESHOLD_RULES

if TYPE_CHECKING:
    from xraygan.study.run import Grid

MINUS = "\u2212"


def signed(x: float, digits: int = 1) -> str:
    """+1.2 / −0.3 (a typographic minus), ∞ for infinities, — for a missing number."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "—"
    if math.isinf(x):
        return "+∞" if x > 0 else f"{MINUS}∞"
    return f"{x:+.{digits}f}".replace("-", MINUS)


def interval(mean: float, low: float, high: float, digits: int = 1, sign: bool = True) -> str:
    """'+1.2 [−0.3, +2.5]'; without `sign`, '81.0 [79.2, 82.8]'; no interval when either end is missing."""
    f = (lambda v: signed(v, digits)) if sign else (lambda v: "—" if math.isnan(v) else f"{v:.{digits}f}")
    if math.isnan(low) or math.isnan(high):
        return f"{f(mean)}, no interval"
    return f"{f(mean)} [{f(low)}, {f(high)}]"


def interim_notes(
    df: pd.DataFrame, verdict: pd.DataFrame, planned: dict[tuple[float, str], int] | None
) -> dict[tuple[float, str], str]:
    """Per verdict row (fraction, condition): '' when every cell it reads (the condition and each it is compared
    with: reference, count-matched control, schedule control) is complete, else ' (interim: k of n models)' for
    the least complete of them: a verdict on part of a planned grid is shown, never read as final."""
    done = df.groupby(["fraction", "condition"]).size() if len(df) else pd.Series(dtype=int)
    planned = planned or {}
    out = {}
    for r in verdict.itertuples():
        read = (r.condition, *(ref for _, ref in parse_condition(r.condition).comparisons))
        cells = [(r.fraction, c) for c in read if (r.fraction, c) in planned]
        short = [(int(done.get(k, 0)), planned[k]) for k in cells if done.get(k, 0) < planned[k]]
        out[(r.fraction, r.condition)] = " (interim: {} of {} models)".format(*min(short)) if short else ""
    return out


def _curve_table(curves: dict[str, pd.DataFrame]) -> list[str]:
    """Markdown rows of the baseline's learning curve: one column per fraction, one row per metric."""
    first = next(iter(curves.values()))
    head = " | ".join(f"{n:.0f} ({f * 100:g} %)" for n, f in zip(first.n_real, first.fraction))
    lines = [f"| real training images | {head} |", "|---" * (len(first) + 1) + "|"]
    for label, d in curves.items():
        digits = 3 if "AUC" in label else 1
        cells = " | ".join(interval(m, lo, hi, digits, sign=False) for m, lo, hi in zip(d["mean"], d.low, d.high))
        lines.append(f"| {label} | {cells} |")
    lines.append("| replicates (seeds where one) | " + " | ".join(str(int(r)) for r in first.replicates) + " |")
    return lines


def _exchange_cell(ex: pd.DataFrame, fraction: float, condition: str) -> str:
    if ex is None or not len(ex):
        return "—"
    row = ex[(ex.fraction == fraction) & (ex.condition == condition)]
    if not len(row):
        return "—"
    r = row.iloc[0]
    value = r["real images per 1000 added"]
    if pd.isna(value):  # no rate: the reading says why
        return r.reading
    text = f"{signed(value, 0)} [{signed(r.low, 0)}, {signed(r.high, 0)}]"
    if r.reading == "below the curve (bound)":  # scored below the smallest fraction's baseline: at most this
        return f"≤ {text}, below the curve"
    return text if r.reading == "on the curve" else f"{text}, {r.reading}"


def _threshold_rules_lines(tables: dict[str, pd.DataFrame]) -> list[str]:
    """Markdown of the threshold rules' test accuracy per fraction and condition and of its rise from 10 % to
    100 % (where the rows keep their validation logits); nothing for grids without them."""
    rules, rise = tables.get("threshold_rules"), tables.get("threshold_rise")
    if rules is None or not len(rules):
        return []
    out = [
        "",
        "Test accuracy (%) under each threshold rule, from the same models (mean [95 % interval] over "
        "replicates): " + "; ".join(f"*{k}*: {v}" for k, v in THRESHOLD_RULES.items()) + ".",
        "",
        "| fraction | condition | replicates | " + " | ".join(THRESHOLD_RULES) + " |",
        "|---:|---|---:|" + "---|" * len(THRESHOLD_RULES),
    ]
    for _, r in rules.iterrows():
        cells = [interval(r[k], r[f"{k} low"], r[f"{k} high"], sign=False) for k in THRESHOLD_RULES]
        out.append(f"| {r.fraction * 100:g} % | {r.condition} | {r.replicates} | " + " | ".join(cells) + " |")
    if rise is not None and len(rise):
        out += ["", "Rise of test accuracy with real data (points; Welch 95 % interval):", ""]
        out += ["| condition | rule | from | to | rise |", "|---|---|---:|---:|---|"]
        for _, r in rise.iterrows():
            span = f"{r['from'] * 100:g} % | {r['to'] * 100:g} %"
            out.append(f"| {r.condition} | {r.rule} | {span} | {interval(r.rise, r.low, r.high)} |")
    return out


def _schedule_lines(
    verdict: pd.DataFrame, notes: dict[tuple[float, str], str], protocol: Protocol = PROTOCOL
) -> list[str]:
    """A sentence per pretraining condition that has its schedule control in the grid (pretrain_real), marked
    interim (`notes`, from interim_notes) while a cell it reads is incomplete; where the grid was written down
    to ask exactly this (protocol.reads_schedule), each comparison is also read by the rule fixed for it."""
    if "vs schedule" not in verdict:
        return []
    rows = verdict[verdict["vs schedule"].notna()]
    said = []
    for _, r in rows.iterrows():
        n = int(r["vs schedule replicates"])
        low, high = r["vs schedule low"], r["vs schedule high"]
        reading = f": **{protocol.schedule_reading(low, high, n)}**" if protocol.reads_schedule else ""
        said.append(
            f"`{r.condition}` at {r.fraction * 100:g} %: "
            + interval(r["vs schedule"], r["vs schedule low"], r["vs schedule high"])
            + f" ({n} replicate{'s' if n != 1 else ''}){reading}{notes[(r.fraction, r.condition)]}"
        )
    if not said:
        return []
    reads = (
        "this grid's question, read by the rule written down for it before it ran: above 0 adds something, below 0 "
        "costs something, otherwise adds nothing measurable"
        if protocol.reads_schedule
        else "the verdict does not read it"
    )
    return [
        "",
        "Pretraining on synthetic images against pretraining on as many duplicated real images (`pretrain_real`: "
        "the same two-phase schedule, so what remains is the synthetic images' own effect; paired gain with the "
        f"protocol's interval; {reads}): " + "; ".join(said) + ".",
    ]


def answer_markdown(
    df: pd.DataFrame,
    tables: dict[str, pd.DataFrame],
    preset: str,
    planned: dict[tuple[float, str], int] | None,
    protocol: Protocol = PROTOCOL,
    folder: str | None = None,
) -> str:
    """The answer block: how much of the grid is done, the baseline's learning curve, and per fraction and
    condition the paired gain of the protocol's endpoint with its intervals, the verdict and the exchange
    rate. Every number comes from `df` (runs.jsonl) and the tables computed from it. `planned`: the grid's
    models per (fraction, condition) (run.planned_per_cell; None if unknown), which also marks the verdicts of
    unfinished cells as interim. `folder`: the results folder's path under results/ (default: the preset's;
    see results_key)."""
    done, total = len(df), sum((planned or {}).values())
    status = f"{done} of {total} models" if total else f"{done} models"
    if done < total:
        status += "; partial: `PROGRESS.md` lists the models still to train, and the same command resumes"
    end = endpoint_label(protocol.endpoint)
    out = [
        f"**`{preset}` grid** (`results/{folder or preset}/`; {status}). Endpoint: {end}, in points; intervals are "
        "95 % over replicates (a training subset with its own GANs; over seeds on the full split where it has one "
        "GAN set), as the protocol fixes.",
        "",
    ]
    curves = {f"{end} (%)": tables.get("learning_curve"), "test AUC": tables.get("learning_curve_auc")}
    curves = {k: v for k, v in curves.items() if v is not None and len(v)}
    if curves:
        out += ["Baseline (real images only) against the number of real training images:", ""]
        out += _curve_table(curves)
        out.append("")
    verdict = tables.get("verdict")
    also = [e for e in protocol.exchange_also if exchange_key(e) in tables]
    if verdict is not None and len(verdict):
        out += [
            "Paired gains (same seed, same real images) and the protocol's verdict. *Controls in italics*"
            + (
                "; `dup_real_100` against the baseline is a null (it shows the size of seed noise)"
                if "dup_real_100" in set(verdict.condition)
                else ""
            )
            + ". The test-set interval resamples test patients (the test split's own sampling error). The "
            "exchange rate is "
            "the real images the baseline would need for the same score, per 1,000 added images, read off "
            "its learning curve (unidentifiable where that curve is flat at the condition's fraction)"
            + (
                "; the last column reads it on the learning curve of "
                + " and ".join(endpoint_label(e) for e in also)
                + " instead (secondary: it decides nothing)"
                if also
                else ""
            )
            + ":",
            "",
            "| fraction | condition | compared with | gain (replicates) | test-set interval | gain over the "
            "count-matched control (replicates) | verdict | real images worth 1,000 added |"
            + "".join(f" the same, on {endpoint_label(e)} |" for e in also),
            "|---:|---|---|---|---|---|---|---|" + "---|" * len(also),
        ]
        verdicts = []
        notes = interim_notes(df, verdict, planned)
        for _, r in verdict.iterrows():
            c = r.condition
            name = f"*{c}*" if parse_condition(c).is_control else c
            vs_ref = interval(r["vs baseline"], r["vs baseline low"], r["vs baseline high"])
            vs_ref += f" ({int(r['vs baseline replicates'])})"
            test_iv = (
                f"[{signed(r['vs baseline test-set low'])}, {signed(r['vs baseline test-set high'])}]"
                if "vs baseline test-set low" in r and not math.isnan(r["vs baseline test-set low"])
                else "—"
            )
            vs_ctl = (
                interval(r["vs control"], r["vs control low"], r["vs control high"])
                + f" ({int(r['vs control replicates'])})"
                if "vs control" in r and not math.isnan(r["vs control"])
                else "—"
            )
            said = r.verdict + notes[(r.fraction, c)]
            verdicts.append(said)
            out.append(
                f"| {r.fraction * 100:g} % | {name} | {r.reference} | {vs_ref} | {test_iv} | {vs_ctl} | {said} | "
                f"{_exchange_cell(tables.get('exchange'), r.fraction, c)} |"
                + "".join(f" {_exchange_cell(tables[exchange_key(e)], r.fraction, c)} |" for e in also)
            )
        out.append("")
        counts = pd.Series(verdicts).value_counts()
        out.append("Verdicts: " + ", ".join(f"{v}: {n}" for v, n in counts.items()) + ".")
        out += _schedule_lines(verdict, notes, protocol)
    out += _threshold_rules_lines(tables)
    return "\n".join(out).rstrip() + "\n"


def results_key(results: str | Path) -> str:
    """How a results folder is named in the README and its answer: its path under the last `results/` of
    its own path ("paper", "pilot_gpu", "archive/paper_w8"), else its name."""
    parts = Path(results).parts
    if "results" in parts[:-1]:
        i = len(parts) - 1 - parts[::-1].index("results")
        return "/".join(parts[i + 1 :])
    return Path(results).name


def _markers(preset: str, folder: str | None = None) -> tuple[str, str]:
    """The README block's two markers: keyed by the results folder's name (the preset's, unless the grid was
    run into another folder), naming the command that writes it."""
    key = folder or preset
    where = f" --results results/{key}" if key != preset else ""
    cmd = f"python -m xraygan study --preset {preset}{where} --tables-only --readme README.md"
    return f"<!-- answer:{key} begin; written by `{cmd}`, do not edit -->", f"<!-- answer:{key} end -->"


def update_readme(readme: str | Path, preset: str, text: str, folder: str | None = None) -> None:
    """Replace the README's answer block of `preset` (of its results `folder`, where not the preset's own)
    between its two markers with `text`."""
    readme = Path(readme)
    begin, end = _markers(preset, folder)
    body = readme.read_text()
    if begin not in body or end not in body or body.index(begin) > body.index(end):
        raise ValueError(
            f"{readme.name} has no answer block for preset '{preset}': put these two lines where the answer "
            f"belongs, then run the command again:\n{begin}\n{end}"
        )
    head, rest = body.split(begin, 1)
    _, tail = rest.split(end, 1)
    readme.write_text(f"{head}{begin}\n{text}{end}{tail}")


def readme_block(readme: str | Path, preset: str, folder: str | None = None) -> str | None:
    """The text of the README's answer block of `preset` (and results `folder`), None when it has none."""
    begin, end = _markers(preset, folder)
    body = Path(readme).read_text()
    if begin not in body or end not in body:
        return None
    return body.split(begin, 1)[1].split(end, 1)[0].removeprefix("\n")


@dataclass(frozen=True)
class Report:
    """What the report part of notebook 04 shows: the models, their tables, whose grid, and the answer text."""

    df: pd.DataFrame
    tables: dict
    preset: str  # the grid shown: the committed one, or the run this notebook just made
    committed: bool
    text: str  # the answer block, as in the README
    notes: dict  # (fraction, condition) -> '' or ' (interim: k of n models)', for plot_verdict
    protocol: Protocol = PROTOCOL  # the protocol its verdicts are read by (its grid's endpoint)


def _report(grid: Grid, tables: dict, preset: str, committed: bool, results: Path | None) -> Report:
    """The answer of `grid`; from a results folder (None: the caller's own models) it names that folder and
    ends with the summary of its GAN-variety record, where it has one."""
    folder = results_key(results) if results is not None else None
    text = answer_markdown(grid.df, tables, preset, grid.planned, grid.protocol, folder)
    if results is not None and (results / "gan_variety.csv").exists():
        from xraygan.study.variety import variety_text

        text += "\n" + variety_text(pd.read_csv(results / "gan_variety.csv"))
    notes = interim_notes(grid.df, tables["verdict"], grid.planned)
    return Report(grid.df, tables, preset, committed, text, notes, grid.protocol)


def load_report(results: str | Path, preset: str, fallback: pd.DataFrame, fallback_preset: str) -> Report:
    """The committed grid of `results` (its runs.jsonl and test_split.json), or where none is committed (as
    under the test command, on a fresh clone without results) the caller's own models `fallback`."""
    from xraygan.study.run import Grid, read_grid

    results = Path(results)
    if (results / "runs.jsonl").exists():
        grid = read_grid(results)
        return _report(grid, grid.tables(), preset, True, results)
    own = Grid(fallback)
    return _report(own, own.tables(), fallback_preset, False, None)


def report_figures(rep: Report, name: str, rules: bool = True) -> list[str]:
    """Draw (inline in a notebook) and save a grid's report figures, named after `name` (its results folder):
    the learning curve with the conditions on it and, where it has one, a curve per threshold rule (`rules`),
    both only with more than one fraction; the verdict figure where there are comparisons. Returns the names."""
    from xraygan.study.figures import plot_learning_curve, plot_threshold_rules, plot_verdict

    df, protocol, tables, names = rep.df, rep.protocol, rep.tables, []
    if df.fraction.nunique() > 1:
        plot_learning_curve(df, (protocol.endpoint, *protocol.exchange_also), f"04_learning_curve_{name}")
        names.append(f"04_learning_curve_{name}")
        if rules and len(tables.get("threshold_rules", [])):
            plot_threshold_rules(tables["threshold_rules"], f"04_threshold_rules_{name}")
            names.append(f"04_threshold_rules_{name}")
    if len(tables.get("verdict", [])):
        plot_verdict(tables["verdict"], protocol, f"04_verdict_{name}", rep.notes)
        names.append(f"04_verdict_{name}")
    return names


def show_committed(preset: str, folder: str | None = None, figures: bool = True) -> Report | None:
    """In a notebook: the committed grid of results/<folder, else preset> shown inline — its answer block (the
    README's) and, with `figures`, its report figures drawn and saved under the folder's name. None, with a line
    saying so, where nothing with comparisons is committed there (the grid has not run in this checkout)."""
    from IPython.display import Markdown, display

    from xraygan.paths import results_dir, shown

    results = results_dir(folder or preset)
    rep = load_report(results, preset, pd.DataFrame(), preset) if (results / "runs.jsonl").exists() else None
    if rep is None or not len(rep.tables["verdict"]):
        print(f"{preset}: no committed grid with comparisons in {shown(results)}")
        return None
    display(Markdown(rep.text))
    if figures:
        report_figures(rep, results.name, rules=False)
    return rep


def write_report(results: str | Path, preset: str, readme: str | Path | None = None, figures: bool = True) -> dict:
    """From runs.jsonl only: the tables (run.save_tables), ANSWER.md, the report figures (learning curve with the
    conditions on it; paired gains with the protocol's band; named after the results folder, which is the
    preset's name unless the grid was run elsewhere) and, given `readme`, its answer block."""
    from xraygan.paths import figures_dir, shown
    from xraygan.study.run import read_grid, save_tables

    results = Path(results)
    grid = read_grid(results)
    tables = grid.tables()
    save_tables(grid.df, tables, results)
    key = results_key(results)
    rep = _report(grid, tables, preset, True, results)
    (results / "ANSWER.md").write_text(f"# The answer of the `{preset}` grid\n\n{rep.text}")
    out = {"tables": str(shown(results)), "answer": str(shown(results / "ANSWER.md"))}
    if figures:
        out["figures"] = [str(shown(figures_dir() / f"{n}.png")) for n in report_figures(rep, results.name)]
    if readme is not None:
        update_readme(readme, preset, rep.text, folder=key)
        out["readme"] = str(shown(readme))
    return out
