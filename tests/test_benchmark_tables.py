"""The GAN screens' seed tables in benchmarks/README.md are printed from their CSV, not typed: each committed table
must equal what `gan_recipes.py --table` prints (which also applies the screens' rule to fill `qualifies`)."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CSV = ROOT / "benchmarks" / "gan_recipes_paper_cw_cpu.csv"


@pytest.mark.parametrize("recipe", ["pac2_cutout_mbstd_w24_ms1_4x_sub", "pac2_cutout_mbstd_w24_ms2_4x_sub"])
def test_committed_seed_table_is_the_csv(recipe):
    out = subprocess.run(
        [sys.executable, "gan_recipes.py", "--csv", str(CSV), "--table", recipe],
        cwd=ROOT / "benchmarks",
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert out.count("\n") == 6  # header, rule, five seeds
    assert out in (ROOT / "benchmarks" / "README.md").read_text()


def test_table_refuses_an_unknown_recipe():
    got = subprocess.run(
        [sys.executable, "gan_recipes.py", "--csv", str(CSV), "--table", "no_such_recipe"],
        cwd=ROOT / "benchmarks",
        capture_output=True,
        text=True,
    )
    assert got.returncode != 0 and "no_such_recipe" in got.stderr


def test_committed_variety_draws_table_is_the_csv():
    out = subprocess.run(
        [sys.executable, "variety_sample_size.py", "--table-only", "--csv", "variety_sample_size_cpu.csv"],
        cwd=ROOT / "benchmarks",
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert out.count("\n") == 10  # header, rule, nine replicates
    assert out in (ROOT / "benchmarks" / "README.md").read_text()
