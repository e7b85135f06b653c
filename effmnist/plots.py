"""The notebooks' figures. Each function returns a matplotlib ``Figure`` (shown when it is a
cell's last value).

Figures are made without pyplot, so none is left open in pyplot's registry and a notebook shows each
exactly once: through :meth:`Figure._repr_png_`, or through the inline backend's formatter where
pyplot is in use. Fonts are sized to be read from the back of a room.
"""

from __future__ import annotations

import functools
import io
import textwrap
from collections.abc import Callable, Mapping, Sequence

import matplotlib
import matplotlib.figure
import matplotlib.lines
import numpy as np
import torch
from matplotlib.colors import LogNorm

from .evaluate import NUM_CLASSES
from .stats import FAILURE_THRESHOLD, count_failures, paired_difference, runs_by_seed

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
def first_layer_filters(model: torch.nn.Module) -> Figure:
    """The 3x3 kernels of the first convolution, one small image each, on a shared red-blue
    scale."""
    conv = next(m for m in model.modules() if isinstance(m, torch.nn.Conv2d))
    weights = conv.weight.detach().cpu().float()[:, 0].numpy()  # (out_channels, 3, 3)
    n = len(weights)
    cols = min(8, n)
    rows = -(-n // cols)
    limit = float(np.abs(weights).max())
    fig = _figure(1.7 * cols + 1.2, 1.9 * rows + 0.8)
    axes = np.atleast_2d(fig.subplots(rows, cols, squeeze=False))
    image = None
    for i, ax in enumerate(axes.flat):
        _bare(ax)
        if i < n:
            image = ax.imshow(weights[i], cmap="RdBu_r", vmin=-limit, vmax=limit)
            ax.set_title(f"filter {i}", fontsize=12)
        else:
            ax.set_visible(False)
    fig.colorbar(image, ax=axes, shrink=0.8, label="weight")
    fig.supxlabel("3x3 kernel (red: positive weight, blue: negative)")
    fig.suptitle(f"The {n} first-layer filters")
    return fig


@legible
def feature_maps(
    model: torch.nn.Module, image: torch.Tensor, label: int | None = None, channels: int = 8
) -> Figure:
    """The digit, then for each conv stage its ``channels`` most active maps (after ReLU, before
    the pool)."""
    image = torch.as_tensor(image).detach().cpu().reshape(1, 1, 28, 28)
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    with torch.no_grad():
        maps = [m[0].float().cpu() for m in model.feature_maps(image.to(device))]
        pred = int(model(image.to(device)).argmax(1))
    model.train(was_training)
    fig = _figure(1.55 * (channels + 1) + 0.5, 1.75 * len(maps) + 0.9)
    axes = fig.subplots(len(maps), channels + 1, squeeze=False)
    for row, fmap in enumerate(maps):
        order = fmap.mean(dim=(1, 2)).argsort(descending=True, stable=True)[:channels].tolist()
        ax = axes[row][0]
        _bare(ax)
        if row == 0:
            ax.imshow(image[0, 0].numpy(), cmap="gray_r")
            ax.set_title("input", fontsize=12)
        else:
            ax.set_visible(False)
        for col, ax in enumerate(axes[row][1:]):
            _bare(ax)
            if col < len(order):
                ax.imshow(fmap[order[col]].numpy(), cmap="viridis")
                ax.set_title(f"ch {order[col]}", fontsize=12)
        c, h, w = fmap.shape
        axes[row][1].set_ylabel(f"stage {row + 1}\n{h}x{w}", fontsize=13)
    truth = "" if label is None else f"true {int(label)}, "
    fig.supxlabel(
        f"the {channels} most active channels of each stage (after ReLU, before max-pool)"
    )
    fig.suptitle(f"Feature maps of one digit ({truth}predicted {pred})")
    return fig


@legible
def mistake_gallery(
    images: torch.Tensor,
    labels: torch.Tensor,
    probs: torch.Tensor,
    indices: Sequence[int],
    title: str = "Misclassified test digits",
    ncols: int = 8,
) -> Figure:
    """Images at ``indices``, each captioned true -> predicted (confidence of the prediction)."""
    x, labels = _images(images), torch.as_tensor(labels).cpu()
    indices = [int(i) for i in indices]
    rows = max(1, -(-len(indices) // ncols))
    fig = _figure(1.75 * ncols + 0.5, 2.05 * rows + 1.0)
    axes = fig.subplots(rows, ncols, squeeze=False)
    for k, ax in enumerate(axes.flat):
        _bare(ax)
        if k >= len(indices):
            ax.set_visible(False)
            continue
        i = indices[k]
        conf, pred = probs[i].max(dim=0)
        ax.imshow(x[i], cmap="gray_r")
        ax.set_title(
            f"true {int(labels[i])} → {int(pred)}\n{float(conf):.0%}  (#{i})",
            fontsize=13,
            color="darkred",
        )
    fig.supxlabel(
        "caption: true label → predicted label; the model's confidence in it (#image index)"
    )
    fig.suptitle(title)
    return fig


@legible
def confusion_heatmap(cm: torch.Tensor) -> Figure:
    """The confusion matrix as an annotated heat map (log colour scale, so the rare mistakes
    show)."""
    cm = torch.as_tensor(cm).cpu().numpy()
    n = len(cm)
    fig = _figure(9, 8)
    ax = fig.subplots()
    image = ax.imshow(cm + 1, cmap="Blues", norm=LogNorm(vmin=1, vmax=cm.max() + 1))
    for t in range(n):
        for p in range(n):
            if cm[t, p]:
                color = "white" if cm[t, p] > np.sqrt(cm.max()) else "black"
                ax.text(p, t, str(cm[t, p]), ha="center", va="center", fontsize=11, color=color)
    ax.set_xticks(range(n))
    ax.set_yticks(range(n))
    ax.set_xlabel("predicted digit")
    ax.set_ylabel("true digit")
    fig.colorbar(image, ax=ax, shrink=0.8, label="count + 1 (log scale)")
    ax.set_title(
        f"Confusion matrix ({int(cm.sum()):,} images, {int(cm.trace()):,} on the diagonal)"
    )
    return fig


@legible
def per_class_accuracy_bars(accuracy: torch.Tensor, overall: float | None = None) -> Figure:
    """Accuracy of each digit as bars (in %), optionally with the overall accuracy as a line."""
    acc = 100 * torch.as_tensor(accuracy).double().cpu().numpy()
    fig = _figure(11, 5)
    ax = fig.subplots()
    bars = ax.bar(range(len(acc)), acc, color="tab:green")
    ax.bar_label(bars, labels=[f"{a:.1f}" for a in acc], padding=3, fontsize=12)
    if overall is not None:
        ax.axhline(
            100 * overall,
            color="black",
            linestyle="--",
            linewidth=1.5,
            label=f"all digits: {overall:.2%}",
        )
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))
    bottom = max(0.0, min(float(np.nanmin(acc)) - 2, 95.0))
    ax.set_ylim(bottom, 100.8)
    ax.set_xticks(range(len(acc)))
    ax.set_xlabel("true digit")
    ax.set_ylabel("accuracy (%)")
    ax.set_title(
        "Accuracy per digit" + (f" (the axis starts at {bottom:g}%)" if bottom > 0 else "")
    )
    return fig


@legible
def paired_runs(
    results: Mapping, group: str, threshold: float = FAILURE_THRESHOLD, per_row: int = 4
) -> Figure:
    """Every run of one ablation group, paired by seed (``results``: as in results/ablations.json).

    Top, one panel per variant: each run is a dot on the validation-accuracy axis (the group's
    baseline on the left, the variant on the right) and each seed's two dots are joined by a line,
    so "better on every seed" reads as lines that all go up. The accuracy axis is zoomed in to the
    runs (its range is stated in the title) and shared by the panels; a dotted red line marks the
    "failed to train" threshold when a run falls below it. Bottom: the per-seed differences,
    variant minus baseline in percentage points, on an axis with zero marked, with their mean and
    unadjusted 95% interval (Student's t; not drawn for a variant with failed runs).
    """
    runs = runs_by_seed(results["rows"], group)
    if len(runs) < 2:
        raise ValueError(f"group {group!r} needs a baseline and a variant; it has {list(runs)}")
    (base_name, base), *others = runs.items()
    seeds = sorted({s for r in runs.values() for s in r})
    color = {s: f"C{i % 10}" for i, s in enumerate(seeds)}
    ncols = min(len(others), per_row)
    nrows = -(-len(others) // per_row)
    fig = _figure(max(7.0, 3.6 * ncols + 1.6), 4.3 * nrows + 4.4)
    grid = fig.add_gridspec(nrows + 1, ncols)
    accuracies = [100 * a for r in runs.values() for a in r.values()]
    lo, hi = min(accuracies), max(accuracies)
    pad = max(0.1, 0.06 * (hi - lo))
    ylim = (lo - pad if lo - pad > 20 else 0.0, min(100.0, hi + pad))  # from 0 when near it anyway
    failing = lo < 100 * threshold
    top = legend_ax = None
    for k, (name, variant) in enumerate(others):
        ax = fig.add_subplot(grid[k // per_row, k % per_row], sharey=top)
        top = top or ax
        legend_ax = ax if k < per_row else legend_ax  # the first row's last panel
        pairs = sorted(set(base) & set(variant))
        for s in pairs:
            ax.plot([0, 1], [100 * base[s], 100 * variant[s]], color=color[s], gid="pair")
        for x, r in ((0, base), (1, variant)):
            ax.scatter(
                [x] * len(r), [100 * a for a in r.values()], c=[color[s] for s in r],
                s=60, zorder=3, gid="runs",
            )  # fmt: skip
        if failing:
            ax.axhline(100 * threshold, color="tab:red", linestyle=":", linewidth=1.5)
        failed, n = count_failures((variant[s] for s in pairs), threshold)
        wins = sum(variant[s] > base[s] for s in pairs)
        ax.set_title(
            f"{failed} of {n} runs failed to train" if failed else f"higher on {wins} of {n} seeds"
        )
        ax.set_xticks([0, 1], [textwrap.fill(base_name, 14), textwrap.fill(name, 14)])
        ax.set_xlim(-0.4, 1.4)
        if k % per_row == 0:
            ax.set_ylabel("validation accuracy (%)")
        else:
            ax.tick_params(labelleft=False)
    top.set_ylim(*ylim)
    diff_ax = fig.add_subplot(grid[nrows, :])
    diff_ax.axhline(0, color="black", linewidth=1)
    for k, (_, variant) in enumerate(others):
        pairs = sorted(set(base) & set(variant))
        diffs = [100 * (variant[s] - base[s]) for s in pairs]
        offsets = np.linspace(-0.15, 0.15, len(pairs)) if len(pairs) > 1 else np.zeros(len(pairs))
        diff_ax.scatter(
            k + offsets, diffs, c=[color[s] for s in pairs], s=50, zorder=3, gid="differences"
        )
        failed, n = count_failures((variant[s] for s in pairs), threshold)
        base_failed = count_failures((base[s] for s in pairs), threshold)[0]
        if failed or base_failed:  # no mean or interval for runs that did and did not train
            who = f"{failed} of {n}" if failed else f"baseline:\n{base_failed} of {n}"
            diff_ax.text(
                k + 0.3, float(np.median(diffs)), f"no mean:\n{who}\nfailed",
                ha="center", va="center", color="tab:red", fontsize=11,
            )  # fmt: skip
        elif len(pairs) > 1:
            r = paired_difference(base, variant)
            diff_ax.errorbar(
                k + 0.3, 100 * r.mean,
                yerr=[[100 * (r.mean - r.ci_low)], [100 * (r.ci_high - r.mean)]],
                fmt="D", color="black", markersize=7, capsize=6, gid="mean_ci",
            )  # fmt: skip
    names = [textwrap.fill(name, 16) for name, _ in others]
    if len(others) > per_row:  # many variants: slanted names, so they do not overlap
        diff_ax.set_xticks(range(len(others)), names, rotation=25, ha="right")
    else:
        diff_ax.set_xticks(range(len(others)), names)
    diff_ax.set_xlim(-0.6, len(others) - 0.4)
    diff_ax.set_ylabel("variant − baseline (pp)")
    diff_ax.set_title("each seed's difference; black: mean and unadjusted 95% CI")
    handles = [
        matplotlib.lines.Line2D([], [], color=color[s], marker="o", label=f"seed {s}")
        for s in seeds
    ]
    if failing:
        handles.append(
            matplotlib.lines.Line2D(
                [], [], color="tab:red", linestyle=":", label=f"failed to train: < {threshold:.0%}"
            )
        )
    legend_ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    axis = f"from {ylim[0]:.2f}% to {ylim[1]:.2f}%" + (", not from 0" if ylim[0] > 0 else "")
    fig.suptitle(f"Ablation: {group}, every run paired by seed\n(accuracy axis {axis})")
    return fig


@legible
def accuracy_vs_parameters(points: Sequence[Mapping]) -> Figure:
    """Test accuracy (mean ± std over seeds) against parameter count, one labelled point per
    model."""
    fig = _figure(11, 5.5)
    ax = fig.subplots()
    for p in points:
        ax.errorbar(
            p["params"],
            100 * p["test_mean"],
            yerr=100 * p["test_std"],
            fmt="o",
            markersize=9,
            capsize=6,
        )
        ax.annotate(
            p["label"],
            (p["params"], 100 * p["test_mean"]),
            textcoords="offset points",
            xytext=(8, 6),
            fontsize=12,
        )
    ax.axvline(25_000, color="black", linestyle="--", linewidth=1, label="25k parameter budget")
    ax.axhline(95, color="tab:red", linestyle=":", linewidth=1.5, label="the 95% target")
    ax.set_xlabel("trainable parameters")
    ax.set_ylabel("test accuracy after one epoch (%)")
    ax.legend(loc="lower right")
    ax.set_title("One epoch of training: accuracy against model size")
    return fig
