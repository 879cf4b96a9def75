"""Rows another results folder already holds: a grid that changes only its GAN recipe takes the rows of the
conditions that use no GAN (the baseline, duplicated real images, pretraining on real images) from a grid made
with the same data, classifier, replicates and seeds, instead of training the same models again. What was
taken is recorded in `rows_from.json` beside the rows; `--reproduce` retrains any of them."""

from __future__ import annotations

import json
from pathlib import Path

from xraygan.checkpoint import describe_diff, flat_diff
from xraygan.paths import shown
from xraygan.study.conditions import parse_condition

RECORD = "rows_from.json"


def _without_gans(shaping: dict) -> dict:
    """A results record's row-shaping part without the GAN configs (what GAN-free rows do not depend on)."""
    exp = {k: v for k, v in shaping["experiment"].items() if k not in ("gan", "gan_subset", "preset")}
    return {**shaping, "experiment": exp}


def gan_free_rows(source: Path, record: dict, cells: list, replicate_of) -> list[dict]:
    """The rows of `source` (a results folder) that the grid of `record` (its results record) would make
    itself: conditions without GAN images, at cells in `cells`, on the same replicate. Refused, naming the
    difference, where the two grids differ in anything but their GANs, the grid, and replicate counts."""
    from xraygan.study.run import StaleResultsError, _row_shaping, read_rows

    cfg, store = source / "config.json", source / "runs.jsonl"
    if not (cfg.exists() and store.exists()):
        raise FileNotFoundError(f"{shown(source)}: no config.json and runs.jsonl to take rows from")
    diff = flat_diff(_without_gans(_row_shaping(json.loads(cfg.read_text()))), _without_gans(_row_shaping(record)))
    if diff:
        raise StaleResultsError(
            f"{shown(source)} was made with other settings than this grid's GANs ({describe_diff(diff)}): its "
            "rows are not the ones this grid would train; run without --rows-from"
        )
    wanted = {(c.fraction, c.condition, c.seed): c for c in cells if parse_condition(c.condition).gan is None}
    got = []
    for row in read_rows(store):
        cell = wanted.get((row["fraction"], row["condition"], row["seed"]))
        if cell is not None and row["subset"] == replicate_of(cell):
            got.append(row)
    return got


def take_rows(results: Path, source: Path, rows: list[dict]) -> None:
    """Append `rows` to results/runs.jsonl and record where they came from (results/rows_from.json)."""
    rec_path = results / RECORD
    rec = json.loads(rec_path.read_text()) if rec_path.exists() else {}
    taken = rec.setdefault(str(shown(source)), [])
    with open(results / "runs.jsonl", "a") as f:
        for row in rows:
            f.write(json.dumps(row) + "\n")
            taken.append(f"{row['fraction']:g},{row['condition']},{row['seed']}")
    rec_path.write_text(json.dumps(rec, indent=2) + "\n")
