"""Figures of a trained model: its filters, feature maps, mistakes, confusions, class activation
maps and calibration (notebook 04).

Built in the one figure style of :mod:`effmnist.plots`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch
from matplotlib.colors import LogNorm

from ..evaluate import eval_mode
from ..insight.calibration import Reliability
from ..insight.cam import cell_centres, upsample
from .style import Figure, as_images, bare, figure, legible


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
    fig = figure(1.7 * cols + 1.2, 1.9 * rows + 0.8)
    axes = np.atleast_2d(fig.subplots(rows, cols, squeeze=False))
    image = None
    for i, ax in enumerate(axes.flat):
        bare(ax)
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
    device = next(model.parameters()).device
    with eval_mode(model), torch.no_grad():
        maps = [m[0].float().cpu() for m in model.feature_maps(image.to(device))]
        pred = int(model(image.to(device)).argmax(1))
    fig = figure(1.55 * (channels + 1) + 0.5, 1.75 * len(maps) + 0.9)
    axes = fig.subplots(len(maps), channels + 1, squeeze=False)
    for row, fmap in enumerate(maps):
        order = fmap.mean(dim=(1, 2)).argsort(descending=True, stable=True)[:channels].tolist()
        ax = axes[row][0]
        bare(ax)
        if row == 0:
            ax.imshow(image[0, 0].numpy(), cmap="gray_r")
            ax.set_title("input", fontsize=12)
        else:
            ax.set_visible(False)
        for col, ax in enumerate(axes[row][1:]):
            bare(ax)
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
    x, labels = as_images(images), torch.as_tensor(labels).cpu()
    indices = [int(i) for i in indices]
    rows = max(1, -(-len(indices) // ncols))
    fig = figure(1.75 * ncols + 0.5, 2.05 * rows + 1.0)
    axes = fig.subplots(rows, ncols, squeeze=False)
    for k, ax in enumerate(axes.flat):
        bare(ax)
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
    fig = figure(9, 8)
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
    fig = figure(11, 5)
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
def cam_grid(
    images: torch.Tensor,
    maps: torch.Tensor,
    logits: torch.Tensor,
    labels: torch.Tensor,
    title: str = "Class activation maps",
) -> Figure:
    """Each digit (a column) with the class activation map of its predicted class over it, and,
    when it is misclassified, the map of its true class below.

    ``maps`` (N, 10, h, w) and ``logits`` (N, 10) come from
    :func:`effmnist.insight.cam.class_activation_maps` for ``images`` (N, 1, 28, 28); ``labels`` (N,).
    A map is drawn where its cells really sit (:func:`effmnist.insight.upsample`): linear
    between the cells' centres (pixels 3.5, 11.5, 19.5 for a 3x3 map), the nearest cell's
    value out to the image's edges; thin lines mark the borders between cells. Red is evidence
    for the class, blue against it, on one scale for the whole figure; a caption's logit is its
    map's mean.
    """
    x = as_images(images)
    maps = torch.as_tensor(maps).detach().cpu().double()
    logits = torch.as_tensor(logits).detach().cpu().double()
    labels = torch.as_tensor(labels).cpu().long()
    n, side = len(x), maps.shape[-1]
    centres = cell_centres(side).numpy()
    borders = (centres[:-1] + centres[1:]) / 2  # between neighbouring cells
    preds = logits.argmax(dim=1)
    confidence = logits.softmax(dim=1).max(dim=1).values
    wrong = preds != labels
    rows = 3 if bool(wrong.any()) else 2
    limit = float(maps[torch.arange(n), preds].abs().max())
    if rows == 3:
        limit = max(limit, float(maps[torch.arange(n), labels].abs().max()))
    limit = limit or 1.0
    fig = figure(1.9 * n + 1.6, 2.15 * rows + 1.1)
    axes = fig.subplots(rows, n, squeeze=False)
    image = None
    for col in range(n):
        t, p = int(labels[col]), int(preds[col])
        ax = axes[0][col]
        bare(ax)
        ax.imshow(x[col], cmap="gray_r")
        ax.set_title(
            f"true {t} → {p}\n{float(confidence[col]):.0%}",
            fontsize=13,
            color="darkred" if p != t else "black",
        )
        for row, cls in ((1, p), (2, t)):
            if row >= rows:
                continue
            ax = axes[row][col]
            bare(ax)
            if row == 2 and t == p:
                ax.set_visible(False)
                continue
            cam = maps[col, cls]
            ax.imshow(x[col], cmap="gray_r")
            image = ax.imshow(
                upsample(cam[None, None])[0, 0].numpy(),
                cmap="RdBu_r",
                vmin=-limit,
                vmax=limit,
                alpha=0.65,
                extent=(-0.5, 27.5, 27.5, -0.5),  # the whole image, pixel for pixel
            )
            for edge in borders:
                ax.axhline(edge, color="0.4", linewidth=0.6)
                ax.axvline(edge, color="0.4", linewidth=0.6)
            ax.set_xlim(-0.5, 27.5)
            ax.set_ylim(27.5, -0.5)
            ax.set_title(f"class {cls}: {float(cam.mean()):.1f}", fontsize=13)
    names = ("digit", "map of the\npredicted class", "map of the\ntrue class")
    for row in range(rows):
        axes[row][0].set_ylabel(names[row], fontsize=13)
    fig.colorbar(image, ax=axes[1:], shrink=0.85, label="evidence (logit units)")
    fig.supxlabel(
        f"each map is {side}x{side} cells, enlarged; a caption's number is the map's mean,"
        " which is that class's logit"
    )
    fig.suptitle(title)
    return fig


@legible
def reliability_diagram(reliabilities: Mapping[str, Reliability]) -> Figure:
    """One column per model: accuracy against confidence per bin (top), predictions per bin
    (bottom, log scale).

    ``reliabilities`` maps a name to an :class:`effmnist.insight.calibration.Reliability`. Bars are
    each bin's accuracy; a black tick marks its mean confidence, so the distance from the bar's
    top to the tick is the bin's calibration gap (bar above the tick: under-confident, below:
    over-confident). The dashed diagonal is perfect calibration.
    """
    n = len(reliabilities)
    fig = figure(5.6 * n + 0.6, 8.2)
    axes = fig.subplots(2, n, squeeze=False, height_ratios=(3, 1.3), sharex=True)
    for col, (name, rel) in enumerate(reliabilities.items()):
        edges = rel.edges.double().numpy()
        counts = rel.counts.numpy()
        full = counts > 0
        centres, width = (edges[:-1] + edges[1:]) / 2, np.diff(edges)
        top, bottom = axes[0][col], axes[1][col]
        top.bar(
            centres[full],
            rel.accuracy.numpy()[full],
            width[full] * 0.92,
            color="tab:blue",
            alpha=0.75,
            label="accuracy in the bin",
        )
        top.scatter(
            centres[full],
            rel.confidence.numpy()[full],
            marker="_",
            s=500,
            linewidths=3,
            color="black",
            zorder=3,
            label="mean confidence in the bin",
        )
        top.plot([0, 1], [0, 1], "--", color="gray", linewidth=1.5, label="perfect calibration")
        top.set_xlim(0, 1)
        top.set_ylim(0, 1.02)
        top.set_ylabel("accuracy")
        top.set_title(f"{name}: ECE {rel.ece:.2%}")
        bottom.bar(centres[full], counts[full], width[full] * 0.92, color="tab:gray")
        bottom.set_yscale("log")
        bottom.set_xlabel("confidence (the top probability)")
        bottom.set_ylabel("predictions")
    axes[0][0].legend(loc="upper left", fontsize=11)
    fig.suptitle(
        "Reliability diagrams: is a prediction made with confidence c right a fraction c of the time?"
    )
    return fig
