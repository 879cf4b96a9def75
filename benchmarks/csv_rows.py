"""Resumable benchmark tables: which (recipe, fraction, seed) rows a CSV already holds, and appending one."""

from __future__ import annotations

import csv
from pathlib import Path


def finished(path: Path) -> set[tuple[str, float, int]]:
    """(recipe, fraction, seed) of the rows already in `path` (none if it does not exist)."""
    if not path.exists():
        return set()
    with open(path) as f:
        return {(r["recipe"], float(r["fraction"]), int(r["seed"])) for r in csv.DictReader(f)}


def append(path: Path, row: dict) -> None:
    """Append one row (with a header when the file is new); a stopped run loses at most the row in progress."""
    new = not path.exists()
    with open(path, "a", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(row))
        if new:
            w.writeheader()
        w.writerow(row)
