"""The benchmark tables in benchmarks/README.md are printed from their CSVs, not typed: each committed table must
equal what its script prints from the CSV (gan_recipes.py --table also applies the screens' rule to fill
`qualifies`)."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CSV = ROOT / "benchmarks" / "gan_recipes_paper_cw_cpu.csv"
README = ROOT / "benchmarks" / "README.md"


def _print(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    """A benchmark script run as its README runs it (from benchmarks/)."""
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT / "benchmarks", capture_output=True, text=True, check=check
    )


@pytest.mark.parametrize("recipe", ["pac2_cutout_mbstd_w24_ms1_4x_sub", "pac2_cutout_mbstd_w24_ms2_4x_sub"])
def test_committed_seed_table_is_the_csv(recipe):
    out = _print("gan_recipes.py", "--csv", str(CSV), "--table", recipe).stdout.strip()
    assert out.count("\n") == 6  # header, rule, five seeds
    assert out in README.read_text()


def test_table_refuses_an_unknown_recipe():
    got = _print("gan_recipes.py", "--csv", str(CSV), "--table", "no_such_recipe", check=False)
    assert got.returncode != 0 and "no_such_recipe" in got.stderr


def test_committed_variety_draws_table_is_the_csv():
    out = _print("variety_sample_size.py", "--table-only", "--csv", "variety_sample_size_cpu.csv").stdout.strip()
    assert out.count("\n") == 10  # header, rule, nine replicates
    assert out in README.read_text()
