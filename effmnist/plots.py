"""The figure style, and the figures of the data and of training (notebooks 01 and 03).

Each function returns a matplotlib ``Figure`` (shown when it is a cell's last value). The other
figure modules use this module's style: :mod:`effmnist.model_plots` (a trained model's filters,
maps and mistakes), :mod:`effmnist.experiment_plots` (ablations) and
:mod:`effmnist.prediction_plots` (classifying your own digit).

Figures are made without pyplot, so none is left open in pyplot's registry and a notebook shows each
exactly once: through :meth:`Figure._repr_png_`, or through the inline backend's formatter where
pyplot is in use. Fonts are sized to be read from the back of a room.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Callable, Mapping, Sequence

import matplotlib
import matplotlib.figure
import matplotlib.lines
import numpy as np
import torch

from .evaluate import NUM_CLASSES

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
        buffer = io.BytesIO()
        self.savefig(buffer, format="png", bbox_inches="tight")
        return buffer.getvalue()


def legible(fn: Callable[..., Figure]) -> Callable[..., Figure]:
    """Build the figure under :data:`STYLE` (fonts legible on a projector)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs) -> Figure:
        with matplotlib.rc_context(STYLE):
            return fn(*args, **kwargs)

    return wrapper


def _figure(width: float, height: float) -> Figure:
    """A new figure of ``width`` x ``height`` inches at :data:`DPI`, with constrained layout."""
    return Figure(figsize=(width, height), dpi=DPI, layout="constrained")


def _images(x: torch.Tensor) -> np.ndarray:
    """(N, 28, 28) or (N, 1, 28, 28), any dtype -> float numpy (N, 28, 28)."""
    x = torch.as_tensor(x).detach().cpu()
    if x.dim() == 4:
        x = x[:, 0]
    return x.float().numpy()


def _bare(ax) -> None:
    """No ticks or frame (for images), but keep the axis labels visible."""
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)


@legible
def sample_grid(images: torch.Tensor, labels: torch.Tensor, per_class: int = 8) -> Figure:
    """A grid of the first ``per_class`` images of each digit: one row per digit."""
    x, labels = _images(images), torch.as_tensor(labels).cpu()
    fig = _figure(1.1 * per_class + 0.8, 11.5)
    axes = fig.subplots(NUM_CLASSES, per_class, squeeze=False)
    for digit in range(NUM_CLASSES):
        idx = (labels == digit).nonzero().flatten()[:per_class].tolist()
        for col, ax in enumerate(axes[digit]):
            _bare(ax)
            if col < len(idx):
                ax.imshow(x[idx[col]], cmap="gray_r")
        axes[digit][0].set_ylabel(str(digit), rotation=0, labelpad=14, va="center", fontsize=18)
    fig.supylabel("digit (label)")
    fig.supxlabel(f"the first {per_class} images of each digit, in file order")
    fig.suptitle("MNIST samples, one row per digit")
    return fig


@legible
def class_balance(labels_by_split: Mapping[str, torch.Tensor]) -> Figure:
    """Grouped bars: the share of each digit in every split, against the uniform 10%."""
    fig = _figure(11, 5)
    ax = fig.subplots()
    width = 0.8 / len(labels_by_split)
    for i, (name, labels) in enumerate(labels_by_split.items()):
        counts = torch.bincount(torch.as_tensor(labels).cpu(), minlength=NUM_CLASSES).double()
        share = (100 * counts / counts.sum()).numpy()
        ax.bar(
            np.arange(NUM_CLASSES) + (i - (len(labels_by_split) - 1) / 2) * width,
            share,
            width,
            label=f"{name} ({int(counts.sum()):,})",
        )
    ax.axhline(100 / NUM_CLASSES, color="black", linestyle="--", linewidth=1, label="uniform (10%)")
    ax.set_xticks(range(NUM_CLASSES))
    ax.set_xlabel("digit")
    ax.set_ylabel("share of the split (%)")
    ax.set_ylim(0, 12.5)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.set_title("Class balance: the share of each digit in each split")
    return fig


@legible
def pixel_histogram(images: torch.Tensor) -> Figure:
    """Histogram of the 256 raw pixel values (uint8 images), log-scaled counts."""
    values = torch.as_tensor(images).cpu()
    if values.dtype != torch.uint8:
        raise TypeError(
            "pixel_histogram wants the raw uint8 images (load_mnist), not normalized ones"
        )
    counts = torch.bincount(values.flatten(), minlength=256).numpy()
    fig = _figure(11, 4.8)
    ax = fig.subplots()
    ax.bar(np.arange(256), counts, width=1.0, color="tab:blue")
    ax.set_yscale("log")
    ax.set_xlim(-2, 257)
    ax.set_xlabel("pixel value (0 = background, 255 = full ink)")
    ax.set_ylabel("number of pixels (log scale)")
    ax.set_title(f"Pixel intensities of {len(values):,} images ({values.numel():,} pixels)")
    return fig


@legible
def mean_digits(images: torch.Tensor, labels: torch.Tensor) -> Figure:
    """The average image of each digit, side by side."""
    x, labels = _images(images), torch.as_tensor(labels).cpu().numpy()
    fig = _figure(15, 2.6)
    axes = fig.subplots(1, NUM_CLASSES)
    for digit, ax in enumerate(axes):
        ax.imshow(x[labels == digit].mean(axis=0), cmap="magma")
        ax.set_title(str(digit), fontsize=18)
        _bare(ax)
    fig.supxlabel("digit (brighter = more ink at that pixel, on average)")
    fig.suptitle("The average image of each digit")
    return fig


def _moving_average(values: np.ndarray, window: int) -> np.ndarray:
    """Means of each run of ``window`` consecutive values (``len(values) - window + 1`` of them)."""
    window = max(1, min(window, len(values)))
    kernel = np.ones(window) / window
    return np.convolve(values, kernel, mode="valid")


LR_SCHEDULES = {  # effmnist.train.Recipe.schedule -> how the learning-rate panel describes it
    "cosine": "cosine annealing",
    "onecycle": "one-cycle (warm-up, then annealing)",
    "constant": "constant",
}


@legible
def training_curves(
    history: Mapping[str, Sequence[float]], window: int = 50, schedule: str | None = None
) -> Figure:
    """Loss, accuracy and learning rate per batch (raw, and a ``window``-batch moving average).

    ``schedule``: the recipe's learning-rate schedule (``result.recipe.schedule``), named in the
    learning-rate panel's title; ``None`` leaves it unnamed.
    """
    if schedule is not None and schedule not in LR_SCHEDULES:
        raise ValueError(f"unknown schedule {schedule!r}: expected one of {list(LR_SCHEDULES)}")
    fig = _figure(11, 9)
    axes = fig.subplots(3, 1, sharex=True)
    batches = np.arange(len(history["loss"]))
    panels = (
        ("loss", "cross-entropy loss", 1.0, "Training loss per batch", "upper right"),
        ("acc", "batch accuracy (%)", 100.0, "Training accuracy per batch", "lower right"),
    )
    for ax, (key, ylabel, scale, title, legend_at) in zip(axes[:2], panels, strict=True):
        values = np.asarray(history[key], dtype=float) * scale
        ax.plot(batches, values, color="tab:blue", alpha=0.3, linewidth=1, label="each batch")
        smooth = _moving_average(values, window)
        ax.plot(
            batches[len(batches) - len(smooth) :],
            smooth,
            color="tab:blue",
            linewidth=2.5,
            label=f"mean of the last {window} batches",
        )
        ax.set_ylabel(ylabel)
        ax.set_title(title)
        ax.legend(loc=legend_at)
    axes[0].set_yscale("log")
    axes[1].set_ylim(0, 101)
    axes[2].plot(batches, history["lr"], color="tab:orange", linewidth=2.5)
    axes[2].set_ylabel("learning rate")
    named = f": {LR_SCHEDULES[schedule]}," if schedule is not None else ","
    axes[2].set_title(f"Learning rate{named} stepped every batch")
    axes[2].set_xlabel("batch")
    return fig


@legible
def lr_range_curves(runs: Mapping[str, object], mark: float | None = 0.015) -> Figure:
    """Learning-rate range tests side by side: smoothed loss against the learning rate (log x).

    ``runs`` maps a label to an :class:`effmnist.lr_range.LRRange`. Each curve's lowest point is
    a dot; where a test stopped because its loss blew up, a cross. ``mark`` draws a dashed line
    at a learning rate of interest (the reference's 0.015 by default; ``None``: no line).
    """
    colors = ("tab:blue", "tab:red", "tab:green", "tab:purple", "tab:orange")
    fig = _figure(11, 5.5)
    ax = fig.subplots()
    top = max(3.0, 1.15 * max(run.smoothed[0] for run in runs.values()))
    for i, (label, run) in enumerate(runs.items()):
        color = colors[i % len(colors)]
        lrs, smoothed = np.asarray(run.lrs), np.asarray(run.smoothed)
        ax.plot(lrs, run.losses, color=color, alpha=0.2, linewidth=1)
        ax.plot(lrs, smoothed, color=color, linewidth=2.5, label=label)
        best = int(np.argmin(smoothed))
        ax.plot(lrs[best], smoothed[best], "o", color=color, markersize=10)
        if run.diverged:  # the loss may be far off the top: draw the cross at the edge
            ax.plot(lrs[-1], min(smoothed[-1], 0.95 * top), "X", color=color, markersize=13)
    if mark is not None:
        ax.axvline(mark, color="black", linestyle="--", linewidth=1.5, label=f"lr {mark:g}")
    handles, labels = ax.get_legend_handles_labels()
    for marker, text in (("o", "lowest smoothed loss"), ("X", "stopped: the loss blew up")):
        handles.append(
            matplotlib.lines.Line2D([], [], marker=marker, color="gray", linestyle="", markersize=9)
        )
        labels.append(text)
    ax.legend(handles, labels, loc="lower left")
    ax.set_xscale("log")
    ax.set_ylim(0, top)
    ax.set_xlabel("learning rate (log scale; it grows every batch)")
    ax.set_ylabel("training loss (smoothed)")
    ax.set_title("Learning-rate range test: the loss as the learning rate grows")
    return fig


@legible
def losses_by_seed(
    panels: Mapping[str, Mapping[int, Sequence[float]]], chance: float | None = None
) -> Figure:
    """The training loss per batch of several seeds, one panel per setting, side by side.

    ``panels`` maps a panel title to ``{seed: losses}``. ``chance`` draws a dashed line at the
    loss of a uniform guess (``math.log(10)`` for ten classes); ``None``: no line. The panels
    share the y axis, so the settings compare at a glance.
    """
    fig = _figure(5.5 * len(panels), 4.8)
    axes = fig.subplots(1, len(panels), sharey=True, squeeze=False)[0]
    for ax, (title, runs) in zip(axes, panels.items(), strict=True):
        for seed, losses in runs.items():
            ax.plot(np.arange(len(losses)), losses, linewidth=2, label=f"seed {seed}")
        if chance is not None:
            ax.axhline(chance, color="black", linestyle="--", linewidth=1.5, label="chance")
        ax.set_title(title)
        ax.set_xlabel("batch")
    axes[0].set_ylabel("training loss")
    axes[0].set_ylim(bottom=0)
    axes[-1].legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return fig
