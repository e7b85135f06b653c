"""Figures for classifying your own digit: the preprocessing step by step, and the top-k answers.

They use the notebooks' one figure style (:mod:`effmnist.plots`): each function returns a
matplotlib ``Figure``, shown when it is a cell's last value, with fonts legible on a projector.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import matplotlib
import numpy as np
from matplotlib.patches import Rectangle
from PIL import Image

from ..data.fileio import atomic_path
from ..digits.preprocess import CENTRE, SIZE, Prediction, Preprocessed
from .style import Figure, figure, legible


@legible
def plot_steps(steps: Preprocessed) -> Figure:
    """The preprocessing of one image, step by step: as loaded, grayscale, ink (inverted when the
    background was light; cleaned) with the digit's bounding box, cropped (and thickened), scaled
    into the box (dashed; 20x20 as MNIST's unless the config says otherwise), and pasted into 28x28
    with the centre of mass (+) at the centre."""
    top, left, bottom, right = steps.bbox
    box = steps.config.box
    ink_title = "colour contrast" if steps.by_colour else ("inverted" if steps.inverted else "ink")
    panels = [
        (steps.original, "as loaded"),
        (steps.gray, "grayscale"),
        (steps.ink, ink_title + ", cleaned"),
        (steps.cropped, "cropped" + (", thicker" if steps.thickened else "")),
        (steps.boxed, f"{steps.boxed.shape[1]}x{steps.boxed.shape[0]}: fits {box}x{box}"),
        (steps.image.numpy(), "28x28, centred"),
    ]
    fig = figure(16, 3.2)
    axes = fig.subplots(1, 6)
    for ax, (image, title) in zip(axes, panels, strict=True):
        _show(ax, image, title)
    axes[2].add_patch(_rectangle(left - 0.5, top - 0.5, right - left, bottom - top))
    margin = (SIZE - box) / 2 - 0.5  # pixel centres are whole numbers: pixel 0 spans -0.5..0.5
    axes[5].add_patch(_rectangle(margin, margin, box, box, ls="--"))
    axes[5].plot([CENTRE], [CENTRE], "r+", ms=14, mew=2)
    return fig


@legible
def plot_prediction(prediction: Prediction, axes=None, title: str | None = None) -> Figure:
    """The image as loaded (when known), the 28x28 image the model saw, and a bar chart of the
    top-k probabilities. ``axes``: 2 or 3 matplotlib axes (default: a new figure)."""
    if axes is None:
        n = 3 if prediction.original is not None else 2
        fig = figure(8.5 if n == 3 else 6, 2.8)
        axes = fig.subplots(1, n, width_ratios=[1, 1, 1.5][-n:])
    _plot_prediction(prediction, axes, title)
    return axes[0].figure


@legible
def plot_predictions(
    predictions: Sequence[Prediction],
    path: str | os.PathLike | None = None,
    columns: int = 2,
    titles: Sequence[str] | None = None,
    originals: bool = True,
) -> Figure:
    """A grid of :func:`plot_prediction` panels (with the images as loaded, when ``originals`` and
    they are known); also saved to ``path`` when given (atomically), in the format its suffix
    names (PNG without one)."""
    n = len(predictions)
    if n == 0:
        raise ValueError("no predictions to plot")
    originals = originals and all(p.original is not None for p in predictions)
    columns = max(1, min(columns, n))
    rows = -(-n // columns)
    per = 3 if originals else 2
    fig = figure((8.5 if originals else 6) * columns, 2.8 * rows)
    axes = np.array(
        fig.subplots(rows, per * columns, width_ratios=[1, 1, 1.5][-per:] * columns, squeeze=False)
    )
    for i, pred in enumerate(predictions):
        r, c = divmod(i, columns)
        _plot_prediction(
            pred if originals else replace(pred, original=None),
            axes[r, per * c : per * (c + 1)],
            titles[i] if titles else None,
        )
    for j in range(n, rows * columns):
        r, c = divmod(j, columns)
        for ax in axes[r, per * c : per * (c + 1)]:
            ax.set_axis_off()
    if path is not None:
        suffix = Path(path).suffix.lstrip(".")
        with atomic_path(path) as tmp:  # the temporary file's name has no say in the format
            fig.savefig(tmp, format=suffix or matplotlib.rcParams["savefig.format"])
    return fig


def _plot_prediction(prediction: Prediction, axes, title: str | None) -> None:
    *ax_imgs, ax_bar = axes
    if len(ax_imgs) == 2:
        _show(ax_imgs[0], prediction.original, title if title is not None else prediction.name)
        _show(ax_imgs[1], prediction.image.numpy(), "model input")
    else:
        _show(ax_imgs[0], prediction.image.numpy(), title if title is not None else prediction.name)
    k = len(prediction.digits)
    probs = prediction.probabilities[::-1]
    ax_bar.barh(
        [str(d) for d in prediction.digits][::-1],
        probs,
        color=["tab:blue"] * (k - 1) + ["tab:green"],
    )
    for y, p in enumerate(probs):
        ax_bar.text(
            p + 0.02 if p < 0.6 else p - 0.02,
            y,
            f"{p:.1%}",
            va="center",
            ha="left" if p < 0.6 else "right",
            color="black" if p < 0.6 else "white",
        )
    ax_bar.set_xlim(0, 1)
    ax_bar.set_xlabel("probability")
    ax_bar.set_title(f"top {k}")


def _show(ax, image, title: str, gray: bool = True) -> None:
    """``image`` (PIL, or an array in 0..1 or 0..255) on ``ax``, titled, without ticks."""
    if isinstance(image, Image.Image):
        image = np.asarray(image if image.mode in ("RGB", "RGBA", "L") else image.convert("RGBA"))
        gray = image.ndim == 2
    ax.imshow(
        image,
        cmap="gray" if gray else None,
        vmin=0 if gray else None,
        vmax=(255 if image.dtype == np.uint8 or image.max() > 1 else 1) if gray else None,
        interpolation="nearest" if max(image.shape[:2]) <= 64 else "antialiased",
    )
    ax.set_title(title)
    ax.set_xticks([])
    ax.set_yticks([])


def _rectangle(x: float, y: float, w: float, h: float, ls: str = "-") -> Rectangle:
    return Rectangle((x, y), w, h, fill=False, ec="tab:red", lw=1.5, ls=ls)
