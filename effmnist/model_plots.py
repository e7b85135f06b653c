"""Figures of a trained model: its filters, feature maps, mistakes and confusions (notebook 04).

Built in the one figure style of :mod:`effmnist.plots`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from matplotlib.colors import LogNorm

from .evaluate import eval_mode
from .plots import Figure, _bare, _figure, _images, legible


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
    device = next(model.parameters()).device
    with eval_mode(model), torch.no_grad():
        maps = [m[0].float().cpu() for m in model.feature_maps(image.to(device))]
        pred = int(model(image.to(device)).argmax(1))
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
