"""Where outputs go (figures, runs, results): an environment variable, else a folder at the repository root
(also when run from notebooks/); and how a path is shown to readers (never as this machine's absolute path)."""

from __future__ import annotations

import os
from pathlib import Path


def repo_root() -> Path:
    """The working directory or, inside notebooks/, its parent."""
    cwd = Path.cwd()
    return cwd.parent if cwd.name == "notebooks" else cwd


def output_dir(env: str, name: str) -> Path:
    """$env if set, else <repo>/<name>."""
    if os.environ.get(env):
        return Path(os.environ[env])
    return repo_root() / name


def runs_dir(preset: str) -> Path:
    """GAN run folders of a preset: XRAYGAN_RUNS/<preset>, else runs/<preset>."""
    return output_dir("XRAYGAN_RUNS", "runs") / preset


def results_dir(preset: str) -> Path:
    """Study results of a preset: XRAYGAN_RESULTS/<preset>, else results/<preset>."""
    return output_dir("XRAYGAN_RESULTS", "results") / preset


def figures_dir() -> Path:
    """XRAYGAN_FIGURES, else the repository's figures/ (created)."""
    d = output_dir("XRAYGAN_FIGURES", "figures")
    d.mkdir(parents=True, exist_ok=True)
    return d


def shown(path: str | Path) -> str:
    """A path as readers should see it in notebook outputs and messages: relative to the repository, or
    from the output folder's environment variable, or only its last two parts."""
    p = Path(path).resolve()
    for env in ("XRAYGAN_RUNS", "XRAYGAN_RESULTS", "XRAYGAN_FIGURES", "XRAYGAN_DATA"):
        if os.environ.get(env):
            base = Path(os.environ[env]).resolve()
            if p == base or base in p.parents:
                return str(Path(f"${env}") / p.relative_to(base))
    root = repo_root().resolve()
    if p == root or root in p.parents:
        return str(p.relative_to(root)) or "."
    return str(Path("...", *p.parts[-2:]))
