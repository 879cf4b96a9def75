"""`python -m xraygan data describe` on the shared real data and on a bad folder."""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
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


def test_every_command_has_help_and_presets_are_checked(capsys) -> None:
    from xraygan.cli import main
    from xraygan.experiment import PRESETS

    r = subprocess.run([sys.executable, "-m", "xraygan", "--help"], capture_output=True, text=True)
    assert r.returncode == 0 and "{data,gan,study,review}" in r.stdout
    for cmd in (["data", "describe"], ["gan", "train"], ["gan", "export"], ["study"], ["review"]):
        with pytest.raises(SystemExit) as e:
            main([*cmd, "--help"])
        assert e.value.code == 0
    capsys.readouterr()
    with pytest.raises(SystemExit) as e:
        main(["study", "--preset", "laptop"])
    err = capsys.readouterr().err
    assert e.value.code == 2 and "invalid choice: 'laptop'" in err and all(p in err for p in PRESETS)


def test_study_no_estimate_and_replicates_reach_the_run(monkeypatch, tmp_path) -> None:
    """--no-estimate trains without the timing (estimate=False); without it the run decides (None).
    --replicates N is the run's max_replicates (unset: the whole grid)."""
    import xraygan.study.run as run
    from xraygan.cli import main

    seen = []
    monkeypatch.setattr(run, "run_study", lambda *a, **k: seen.append(k) or pd.DataFrame())
    common = ["study", "--preset", "smoke", "--source", "phantom", "--results", str(tmp_path / "r")]
    assert main([*common, "--no-estimate"]) == 0 and main(common) == 0
    assert [k["estimate"] for k in seen] == [False, None]
    assert main([*common, "--replicates", "3"]) == 0
    assert [k["max_replicates"] for k in seen] == [None, None, 3]
