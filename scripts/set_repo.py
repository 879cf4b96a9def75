"""Point the notebooks' Colab install cells and badges, and the README's badges, at another GitHub repository.

Run from the repository root: python scripts/set_repo.py OWNER/NAME
It rewrites README.md, scripts/build_notebooks.py and notebooks/*.ipynb in place; executed outputs are kept.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
REPO_NAME = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
BADGE = re.compile(r"(https://colab\.research\.google\.com/github/)([A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+)(/blob/)")
PARAM = re.compile(r'^(REPO = ")([A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+)(")', re.M)


def _notebooks(root: Path) -> list[Path]:
    return sorted((root / "notebooks").glob("*.ipynb"))


def repo_locations(root: Path = ROOT) -> dict[str, set[str]]:
    """Every place that names the repository, with the names found there (one name each when they agree)."""
    found = {
        "README.md badges": {m[1] for m in BADGE.findall((root / "README.md").read_text())},
        "scripts/build_notebooks.py REPO": {
            m[1] for m in PARAM.findall((root / "scripts/build_notebooks.py").read_text())
        },
    }
    for path in _notebooks(root):
        nb = nbformat.read(path, as_version=4)
        md = "".join(c.source for c in nb.cells if c.cell_type == "markdown")
        params = "".join(c.source for c in nb.cells if "parameters" in c.metadata.get("tags", []))
        found[f"{path.name} badge"] = {m[1] for m in BADGE.findall(md)}
        found[f"{path.name} REPO parameter"] = {m[1] for m in PARAM.findall(params)}
    return found


def set_repo(repo: str, root: Path = ROOT) -> None:
    """Rewrite every place that names the repository to `repo` (OWNER/NAME)."""
    if not REPO_NAME.match(repo):
        raise SystemExit(f"set_repo: {repo!r} is not OWNER/NAME (e.g. 'alice/xraygan')")
    badge, param = rf"\g<1>{repo}\g<3>", rf"\g<1>{repo}\g<3>"
    for rel, pattern, new in (("README.md", BADGE, badge), ("scripts/build_notebooks.py", PARAM, param)):
        p = root / rel
        p.write_text(pattern.sub(new, p.read_text()))
    for path in _notebooks(root):
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            if cell.cell_type == "markdown":
                cell.source = BADGE.sub(badge, cell.source)
            elif "parameters" in cell.metadata.get("tags", []):
                cell.source = PARAM.sub(param, cell.source)
        nbformat.write(nb, path)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    set_repo(sys.argv[1])
    print({k: sorted(v) for k, v in repo_locations().items()})
