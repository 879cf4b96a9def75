"""Figure helpers shared by every stage's figures module: save under figures/ and return the figure for inline
display, image grids, class colours."""

from __future__ import annotations

import io

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure

from xraygan.data.imageset import to_uint8
from xraygan.info import CLASSES
from xraygan.paths import figures_dir

PHOTO_INLINE = {"dpi": 72, "quality": 70}  # X-ray grids inline: JPEG compresses them ~5x better than PNG


def _inline_backend() -> bool:
    return "inline" in matplotlib.get_backend()


def save(fig: Figure, name: str, photo: bool = False) -> Figure:
    """Save `fig` as figures/<name>.png (dpi 120, the full-size copy the README links) and return it, so a
    notebook cell shows it inline. A `photo` figure (grids of X-ray images) is shown inline as a smaller JPEG
    instead, which keeps executed notebooks light; end such a cell with `;` so it is not shown twice."""
    fig.savefig(figures_dir() / f"{name}.png", dpi=120, bbox_inches="tight")
    if photo and _inline_backend():
        from IPython.display import Image, display

        buf = io.BytesIO()
        fig.savefig(
            buf,
            format="jpeg",
            dpi=PHOTO_INLINE["dpi"],
            bbox_inches="tight",
            pil_kwargs={"quality": PHOTO_INLINE["quality"]},
        )
        plt.close(fig)  # the inline backend would otherwise add the PNG as well
        display(Image(buf.getvalue(), format="jpeg"))
    return fig


def palette_png(fig: Figure, dpi: int = 72, colors: int = 256) -> bytes:
    """`fig` as a PNG with a palette of `colors` (plots have few colours: about a third of the bytes of a
    full-colour PNG, alike to the eye)."""
    from PIL import Image

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    out = io.BytesIO()
    Image.open(buf).convert("RGB").quantize(colors).save(out, format="png", optimize=True)
    return out.getvalue()


def light_inline_figures(dpi: int = 72) -> None:
    """In a notebook: show every matplotlib figure inline as palette_png at `dpi`, so that a notebook of many
    figures stays light; the files save() writes under figures/ are unchanged. No-op outside IPython."""
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is None:
        return
    # pyplot picks its backend at the first figure, and the inline backend then registers its own PNG
    # formatter: make that happen first, so that this one replaces it
    plt.close(plt.figure())
    shell.display_formatter.formatters["image/png"].for_type(Figure, lambda fig: palette_png(fig, dpi))


def image_grid(images: torch.Tensor, nrow: int = 8) -> np.ndarray:
    """(N, 1, S, S) uint8 or [-1, 1] float images to one (H, W) array with 2 px gaps."""
    x = images.detach().cpu()
    if x.dtype != torch.uint8:
        x = to_uint8(x)
    n, _, s, _ = x.shape
    ncol = min(nrow, n)
    nr = (n + ncol - 1) // ncol
    out = np.full((nr * (s + 2) - 2, ncol * (s + 2) - 2), 255, np.uint8)
    for i in range(n):
        r, c = divmod(i, ncol)
        out[r * (s + 2) : r * (s + 2) + s, c * (s + 2) : c * (s + 2) + s] = x[i, 0].numpy()
    return out


def show_grid(ax: plt.Axes, images: torch.Tensor, title: str = "", nrow: int = 8) -> None:
    ax.imshow(image_grid(images, nrow), cmap="gray", vmin=0, vmax=255)
    ax.set_title(title)
    ax.axis("off")


def class_colors() -> dict[str, str]:
    return {CLASSES[0]: "#4c72b0", CLASSES[1]: "#dd8452"}
