"""Progress bars that read well in a terminal, in Colab and in a notebook executed by papermill.

In a Jupyter kernel with ipywidgets (Colab) the widget bar is used. In a kernel without ipywidgets the text
bar is used with a 10 s refresh, because every refresh becomes a stored output line when a notebook is
executed headless (a 1200-step GAN would otherwise leave thousands of lines in the .ipynb).
"""

from __future__ import annotations

import importlib.util
import sys
from typing import Any

from tqdm.std import tqdm as _text_tqdm


def _kernel() -> bool:
    return "ipykernel" in sys.modules


def tqdm(*args: Any, **kwargs: Any) -> Any:
    """tqdm with the right front end for where the code runs (see the module docstring)."""
    if _kernel() and importlib.util.find_spec("ipywidgets") is not None:
        from tqdm.notebook import tqdm as widget_tqdm

        return widget_tqdm(*args, **kwargs)
    if _kernel():
        kwargs.setdefault("mininterval", 10.0)
    return _text_tqdm(*args, **kwargs)
