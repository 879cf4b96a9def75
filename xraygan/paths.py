"""Where outputs go: an environment variable, else a folder at the repository root (also from notebooks/)."""

from __future__ import annotations

import os
from pathlib import Path


def output_dir(env: str, name: str) -> Path:
    """$env if set, else <repo>/<name>, where <repo> is the working directory or, inside notebooks/, its parent."""
    if os.environ.get(env):
        return Path(os.environ[env])
    cwd = Path.cwd()
    return (cwd.parent if cwd.name == "notebooks" else cwd) / name
