"""Rerun committed cells of a results folder and compare them with their rows, field by field: the check that a
grid reproduces bit for bit from its config.json, the data and the GAN run folders."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

from xraygan.data import Splits, load_splits
from xraygan.device import machine_name
from xraygan.experiment import Experiment
from xraygan.study.run import Cell, cell_key, check_results_folder, read_rows, results_record, run_cell

# Fields that describe the run rather than the model: how long it took and on what.
_NOT_COMPARED = ("seconds", "device", "machine")


def experiment_of(results: str | Path, data_root: str | None = None) -> Experiment:
    """The experiment a results folder was made with (its config.json), reading the data from `data_root`
    (None: XRAYGAN_DATA, ./data, ... as everywhere; config.json keeps no machine path to it)."""
    cfg = Path(results) / "config.json"
    if not cfg.exists():
        raise FileNotFoundError(f"{cfg}: no config.json; give the results folder of a study run")
    exp = Experiment.from_dict(json.loads(cfg.read_text())["experiment"])
    root = None if data_root is None else str(data_root)
    return dataclasses.replace(exp, data=dataclasses.replace(exp.data, root=root, cache_dir=None))


def open_grid(results: str | Path, data_root: str | None = None) -> tuple[Experiment, Splits]:
    """The experiment of a committed results folder and its data, refused (StaleResultsError) where the images
    at `data_root` are not the ones the folder was made from: what retraining any of its cells starts from."""
    exp = experiment_of(results, data_root)
    splits = load_splits(exp.data)
    check_results_folder(Path(results), results_record(exp, splits))
    return exp, splits


def differences(old: dict, new: dict) -> dict[str, tuple]:
    """Fields whose values differ (logits: the largest absolute difference), skipping timing fields and the
    validation logits that rows written before 2026-11-27 do not store."""
    out: dict[str, tuple] = {}
    for k in sorted(set(old) | set(new)):
        if k in _NOT_COMPARED:
            continue
        a, b = old.get(k), new.get(k)
        if k == "val_logits" and a is None:
            continue
        if k in ("test_logits", "val_logits") and a is not None and b is not None and len(a) == len(b):
            gap = max((abs(x - y) for x, y in zip(a, b)), default=0.0)
            if gap:
                out[k] = ("max |difference|", gap)
        elif a != b and not (isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b)):
            out[k] = (a, b)
    return out


def reproduce_cells(
    results: str | Path, runs: str | Path, cells: list[Cell], data_root: str | None = None, device: str | None = None
) -> dict[str, dict[str, tuple]]:
    """Retrain each of `cells` as the study did (same experiment, same GAN run folders) and return, per cell
    key, the fields that differ from its committed row (empty: identical). The GANs of a cell must be in `runs`
    (the grid's run folder); a missing one is trained, which reproduces only where GAN training does."""
    results = Path(results)
    rows = {cell_key(r["fraction"], r["condition"], r["seed"]): r for r in read_rows(results / "runs.jsonl")}
    missing = [c.key for c in cells if c.key not in rows]
    if missing:
        raise KeyError(f"{results / 'runs.jsonl'} has no row for {missing}; committed cells: {sorted(rows)[:6]} ...")
    exp, splits = open_grid(results, data_root)  # other images than the grid's: refused
    return {c.key: differences(rows[c.key], run_cell(exp, splits, Path(runs), c, device)) for c in cells}


def made_elsewhere(results: str | Path, cells: list[Cell], device: str | None = None) -> str | None:
    """A note where some of `cells` were made on another kind of machine than this one (their rows' `machine`;
    rows before 2026-11-28 do not say): a row reproduces bit for bit only on the kind that made it."""
    keys = {c.key for c in cells}
    rows = read_rows(Path(results) / "runs.jsonl")
    made_on = {
        r["machine"] for r in rows if r.get("machine") and cell_key(r["fraction"], r["condition"], r["seed"]) in keys
    }
    here = machine_name(device)
    if not made_on - {here}:
        return None
    return (
        f"the rows were made on {'; '.join(sorted(made_on))}, this is {here}: a row reproduces bit for bit only "
        "on the kind of machine that made it (elsewhere a retrained model is another draw)"
    )
