"""The figure style that every figure module shares.

Each figure function in :mod:`effmnist.plots` returns a matplotlib ``Figure`` (shown when it is a
cell's last value), built with :func:`figure` under :func:`legible`.

Figures are made without pyplot, so none is left open in pyplot's registry and a notebook shows each
exactly once: through :meth:`Figure._repr_png_`, or through the inline backend's formatter where
pyplot is in use. Fonts are sized to be read from the back of a room.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Callable

import matplotlib
import matplotlib.figure
import numpy as np
import PIL.Image
import torch

STYLE = {
    "font.size": 13,
    "axes.titlesize": 15,
    "axes.labelsize": 14,
    "xtick.labelsize": 12,
    "ytick.labelsize": 12,
    "legend.fontsize": 12,
    "figure.titlesize": 17,
    "figure.titleweight": "bold",
    "axes.grid": False,
}
DPI = 100  # fixed, so a figure's size in pixels does not depend on the notebook backend's defaults


class Figure(matplotlib.figure.Figure):
    """A matplotlib Figure that Jupyter shows as a PNG even when pyplot was never imported."""

    def _repr_png_(self) -> bytes:
        """The figure as a PNG of at most 256 colours: about 40% of the bytes of a full-colour
        one and no visible difference for these plots, so that a notebook with a dozen
        figures stays near half a megabyte (a maintainer reviews its diffs)."""
        buffer = io.BytesIO()
        self.savefig(buffer, format="png", bbox_inches="tight")
        image = PIL.Image.open(buffer).convert("RGB")  # opaque: the face colour is white
        small = io.BytesIO()
        image.quantize(256, method=PIL.Image.Quantize.MEDIANCUT).save(small, "PNG", optimize=True)
        return small.getvalue()


def legible(fn: Callable[..., Figure]) -> Callable[..., Figure]:
    """Build the figure under :data:`STYLE` (fonts legible on a projector)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs) -> Figure:
        with matplotlib.rc_context(STYLE):
            return fn(*args, **kwargs)

    return wrapper


def figure(width: float, height: float) -> Figure:
    """A new figure of ``width`` x ``height`` inches at :data:`DPI`, with constrained layout."""
    return Figure(figsize=(width, height), dpi=DPI, layout="constrained")


def as_images(x: torch.Tensor) -> np.ndarray:
    """(N, 28, 28) or (N, 1, 28, 28), any dtype -> float numpy (N, 28, 28)."""
    x = torch.as_tensor(x).detach().cpu()
    if x.dim() == 4:
        x = x[:, 0]
    return x.float().numpy()


def bare(ax) -> None:
    """No ticks or frame (for images), but keep the axis labels visible."""
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)
