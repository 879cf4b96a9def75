"""Inline figures in a palette: the notebook shows the same picture, in fewer bytes."""

import io

import matplotlib.pyplot as plt  # headless under the test command (MPLBACKEND=Agg)
import numpy as np
from PIL import Image

from xraygan.figures import palette_png


def test_palette_png_is_the_same_picture_in_fewer_bytes() -> None:
    fig, ax = plt.subplots(figsize=(6, 3))
    x = np.linspace(0, 6, 200)
    for k in range(4):
        ax.plot(x, np.sin(x + k), label=f"curve {k}")
    ax.fill_between(x, -0.3, 0.3, color="0.9")
    ax.legend()
    full = io.BytesIO()
    fig.savefig(full, format="png", dpi=72, bbox_inches="tight")
    light = palette_png(fig, dpi=72)
    plt.close(fig)
    a, b = Image.open(io.BytesIO(full.getvalue())).convert("RGB"), Image.open(io.BytesIO(light))
    assert b.mode == "P" and b.size == a.size
    assert len(light) < 0.7 * len(full.getvalue())
    diff = np.abs(np.asarray(a, dtype=int) - np.asarray(b.convert("RGB"), dtype=int))
    assert diff.mean() < 2 and np.quantile(diff, 0.999) < 40  # alike to the eye: no pixel far off
