"""Progress bars: text bars refresh rarely inside a headless kernel so executed notebooks stay small."""

import importlib.util
import io
import sys
import types

import pytest
from tqdm.std import tqdm as text_tqdm

from xraygan.progress import tqdm


def test_terminal_bar_keeps_tqdm_default_refresh(monkeypatch):
    monkeypatch.delitem(sys.modules, "ipykernel", raising=False)
    bar = tqdm(total=3, file=io.StringIO())
    assert isinstance(bar, text_tqdm) and bar.mininterval == pytest.approx(0.1)


def test_kernel_without_widgets_refreshes_every_10_s(monkeypatch):
    monkeypatch.setitem(sys.modules, "ipykernel", types.ModuleType("ipykernel"))
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda n, *a: None if n == "ipywidgets" else real_find_spec(n, *a))
    bar = tqdm(total=3, file=io.StringIO())
    assert isinstance(bar, text_tqdm) and bar.mininterval == 10.0
    assert tqdm(total=3, file=io.StringIO(), mininterval=1.0).mininterval == 1.0
