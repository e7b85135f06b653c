"""Figures of training (notebook 03): per-batch curves, the learning-rate range test, losses by seed."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib
import matplotlib.figure
import matplotlib.lines
import numpy as np

from .style import Figure, figure, legible


def _moving_average(values: np.ndarray, window: int) -> np.ndarray:
    """Means of each run of ``window`` consecutive values (``len(values) - window + 1`` of them)."""
    window = max(1, min(window, len(values)))
    kernel = np.ones(window) / window
    return np.convolve(values, kernel, mode="valid")


LR_SCHEDULES = {  # effmnist.recipe.Recipe.schedule -> how the learning-rate panel describes it
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
    fig = figure(11, 9)
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

    ``runs`` maps a label to an :class:`effmnist.insight.lr_range.LRRange`. Each curve's lowest point is
    a dot; where a test stopped because its loss blew up, a cross. ``mark`` draws a dashed line
    at a learning rate of interest (the reference's 0.015 by default; ``None``: no line).
    """
    colors = ("tab:blue", "tab:red", "tab:green", "tab:purple", "tab:orange")
    fig = figure(11, 5.5)
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
    fig = figure(5.5 * len(panels), 4.8)
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
