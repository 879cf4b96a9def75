"""`python -m xraygan data describe` on the shared real data and on a bad folder."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import shared_data
from xraygan.cli import main


def test_describe_shared_real_data(capsys) -> None:
    root = shared_data()
    if root is None:
        pytest.skip("../shared/data/chest_xray_224 is not here")
    assert main(["data", "describe", "--root", str(root)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["splits"]["train"] == {"NORMAL": 1341, "PNEUMONIA": 3875}
    assert out["splits"]["test"] == {"NORMAL": 234, "PNEUMONIA": 390}
    assert out["skipped"]["not_image"] >= 1  # the stray .DS_Store files
    assert 1500 < out["patients"]["train"]["PNEUMONIA"] < 1700


def test_describe_wrong_folder_is_clear(tmp_path) -> None:
    r = subprocess.run([sys.executable, "-m", "xraygan", "data", "describe", "--root", str(tmp_path)],
                       capture_output=True, text=True)
    assert r.returncode == 2 and "not in the Kaggle layout" in r.stderr and "Traceback" not in r.stderr


def test_help_lists_subcommands() -> None:
    r = subprocess.run([sys.executable, "-m", "xraygan", "--help"], capture_output=True, text=True)
    assert r.returncode == 0 and "data" in r.stdout
