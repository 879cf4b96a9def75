"""The repository location is one parameter: README badges, notebook badges and the notebooks' REPO parameter
(read by the Colab install cell) agree, and scripts/set_repo.py moves all of them to a fork at once."""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("set_repo", ROOT / "scripts" / "set_repo.py")
set_repo_mod = importlib.util.module_from_spec(spec)
spec.loader.exec_module(set_repo_mod)


def test_every_place_names_the_same_repository() -> None:
    found = set_repo_mod.repo_locations(ROOT)
    assert len(found) == 2 + 2 * 4  # README, build script, and a badge and a parameter in each notebook
    names = set().union(*found.values())
    assert len(names) == 1 and all(len(v) == 1 for v in found.values()), found


def test_install_cell_reads_the_parameter() -> None:
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        cells = json.loads(path.read_text())["cells"]
        code = ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]
        assert code[0].startswith("import os\nREPO = ") and 'git+https://github.com/{REPO}"' in code[1], path.name


def test_set_repo_moves_everything_and_keeps_outputs(tmp_path: Path) -> None:
    for rel in ("README.md", "scripts/build_notebooks.py", "notebooks"):
        src, dst = ROOT / rel, tmp_path / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        (shutil.copytree if src.is_dir() else shutil.copy)(src, dst)
    before = {p.name: [c.get("outputs") for c in json.loads(p.read_text())["cells"]]
              for p in (tmp_path / "notebooks").glob("*.ipynb")}
    set_repo_mod.set_repo("alice/xraygan-fork", tmp_path)
    found = set_repo_mod.repo_locations(tmp_path)
    assert set().union(*found.values()) == {"alice/xraygan-fork"}
    after = {p.name: [c.get("outputs") for c in json.loads(p.read_text())["cells"]]
             for p in (tmp_path / "notebooks").glob("*.ipynb")}
    assert after == before
