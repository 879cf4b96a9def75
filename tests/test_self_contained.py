"""The repository stands on its own: README and notebooks link only inside it, and no committed notebook output
shows a path of the machine it ran on."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
LINK = re.compile(r"\]\(([^)\s]+)\)")
# an absolute path: a slash at the start of a token (not inside a URL, a number like 3/4 or a relative path)
ABSOLUTE = re.compile(r"(?<![\w.$/~\\<>*-])/(?:[A-Za-z0-9_.-]+/)+[A-Za-z0-9_.-]*")
URL = re.compile(r"[a-z]+://\S+")


def bad_links(text: str, base: Path) -> list[str]:
    """Markdown link targets that leave the repository or point at nothing."""
    bad = []
    for target in LINK.findall(text):
        if re.match(r"(https?:|mailto:|#)", target):
            continue
        path = (base / target.split("#")[0]).resolve()
        if ROOT not in (path, *path.parents) or not path.exists():
            bad.append(target)
    return bad


def absolute_paths(text: str) -> list[str]:
    return ABSOLUTE.findall(URL.sub("", text))


def outputs_text(nb: dict) -> str:
    """All text a notebook's saved outputs show (streams, plain-text results, errors); not images."""
    parts = []
    for cell in nb["cells"]:
        for out in cell.get("outputs", []):
            parts.append("".join(out.get("text", "")))
            for kind, value in out.get("data", {}).items():
                if kind.startswith("text/"):
                    parts.append("".join(value))
            parts.extend(out.get("traceback", []))
    return "\n".join(parts)


def test_the_checks_catch_what_they_should() -> None:
    assert bad_links("see [refs](../shared/REFERENCES.md) and [x](figures/none.png)", ROOT) == [
        "../shared/REFERENCES.md",
        "figures/none.png",
    ]
    assert bad_links("[ok](notebooks/01_data_exploration.ipynb) [web](https://x.org/a/b) [#](#references)", ROOT) == []
    found = absolute_paths("{'source': 'folder:/work/main/../shared/data'} and PosixPath('/tmp/x/runs')")
    assert found == ["/work/main/../shared/data", "/tmp/x/runs"]
    assert absolute_paths("353 img/s, 3/2000 flagged, https://colab.research.google.com/github/a/b, runs/cpu/gan") == []


def test_readme_links_stay_inside_the_repository() -> None:
    text = (ROOT / "README.md").read_text()
    assert bad_links(text, ROOT) == []
    assert "../shared" not in text and absolute_paths(text) == []


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebooks_show_no_machine_paths(path: Path) -> None:
    nb = json.loads(path.read_text())
    markdown = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")
    assert bad_links(markdown, path.parent) == [] and "../shared" not in markdown
    assert absolute_paths(outputs_text(nb)) == []


def test_executed_notebooks_stay_light() -> None:
    """Each committed notebook at most 1 MB and all four at most 3 MB, so they open quickly in Colab and on
    GitHub (X-ray grids are embedded as JPEG; the full-size PNGs are under figures/)."""
    sizes = {p.name: p.stat().st_size for p in NOTEBOOKS}
    assert len(sizes) == 4 and max(sizes.values()) <= 1_000_000 and sum(sizes.values()) <= 3_000_000, sizes
