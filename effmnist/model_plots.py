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


def _layer_line(layer: torch.nn.Module) -> str | None:
    """One short line naming a layer for :func:`architecture_diagram` (None: not drawn)."""
    nn = torch.nn
    if isinstance(layer, nn.Conv2d):
        k = layer.kernel_size[0]
        return f"conv {layer.in_channels}→{layer.out_channels}, {k}×{k}"
    if isinstance(layer, nn.BatchNorm2d):
        return "BatchNorm"
    if isinstance(layer, nn.ReLU):
        return "ReLU"
    if isinstance(layer, nn.MaxPool2d):
        k = layer.kernel_size if isinstance(layer.kernel_size, int) else layer.kernel_size[0]
        return f"max-pool {k}×{k}"
    if isinstance(layer, nn.AdaptiveAvgPool2d):
        return "average of each map"
    if isinstance(layer, nn.Flatten):
        return "flatten"
    return None


def _shape_text(shape: Sequence[int]) -> str:
    """(1, C, H, W) -> "H×W×C" (the reference's way of writing it); (1, N) -> "N"."""
    if len(shape) == 4:
        return f"{shape[2]}×{shape[3]}×{shape[1]}"
    return "×".join(str(s) for s in shape[1:])


def architecture_blocks(model: torch.nn.Module) -> list[dict]:
    """The blocks of an EfficientMNIST, in order: ``name``, ``lines`` (its layers),
    ``shape`` (its output, as H×W×C) and ``params`` (its trainable parameters, counted from
    the model). The blocks are the input, each stage of ``model.features``, ``model.pool``,
    ``model.dropout`` and ``model.classifier``."""
    device = next(model.parameters()).device
    x = torch.zeros(1, 1, 28, 28, device=device)
    blocks = [{"name": "input", "lines": ["a greyscale digit"], "shape": _shape_text(x.shape),
               "params": 0}]  # fmt: skip

    def block(name: str, module: torch.nn.Module, lines: list[str]) -> None:
        params = sum(p.numel() for p in module.parameters() if p.requires_grad)
        blocks.append({"name": name, "lines": lines, "shape": _shape_text(x.shape),
                       "params": params})  # fmt: skip

    with eval_mode(model), torch.no_grad():
        for i, stage in enumerate(model.features, 1):
            x = stage(x)
            lines = [line for line in map(_layer_line, stage) if line]
            merged: list[str] = []
            for line in lines:  # "BatchNorm", "ReLU" -> "BatchNorm, ReLU"
                if line == "ReLU" and merged and merged[-1] == "BatchNorm":
                    merged[-1] = "BatchNorm, ReLU"
                else:
                    merged.append(line)
            block(f"stage {i}", stage, merged)
        x = model.pool(x)
        gap = any(isinstance(m, torch.nn.AdaptiveAvgPool2d) for m in model.pool.modules())
        pool_lines = ["average of each map"] if gap else ["flatten the map"]
        block("global avg pool" if gap else "flatten", model.pool, pool_lines)
        x = model.dropout(x)
        block("dropout", model.dropout, [f"p = {model.dropout.p:g}", "(training only)"])
        x = model.classifier(x)
        linear = model.classifier
        bias = "" if linear.bias is not None else ", no bias"
        block("linear", linear, [f"{linear.in_features}→{linear.out_features}{bias}"])
    return blocks


@legible
def architecture_diagram(model: torch.nn.Module) -> Figure:
    """A block diagram of an EfficientMNIST: one box per block (input, each conv stage, the
    pooling head, dropout, the linear classifier), each with its layers, its output shape and
    its parameter count, all read from ``model`` (see :func:`architecture_blocks`)."""
    from matplotlib.patches import FancyBboxPatch

    blocks = architecture_blocks(model)
    colors = {"input": "#e1f5fe", "stage": "#fff3e0", "linear": "#f3e5f5"}
    n = len(blocks)
    most_lines = max(len(b["lines"]) for b in blocks)
    width, gap, height = 1.62, 0.36, 1.45 + 0.24 * most_lines
    fig = _figure(n * (width + gap) + 0.2, height + 1.1)
    ax = fig.subplots()
    ax.set_axis_off()
    for i, b in enumerate(blocks):
        left = i * (width + gap)
        kind = b["name"].split()[0]
        box = FancyBboxPatch(
            (left, 0), width, height, boxstyle="round,pad=0,rounding_size=0.1",
            facecolor=colors.get(kind, "#eeeeee"), edgecolor="black", linewidth=1.2,
            gid="block",
        )  # fmt: skip
        ax.add_patch(box)
        center = left + width / 2
        ax.text(center, height - 0.22, b["name"], ha="center", va="center",
                fontsize=13, fontweight="bold")  # fmt: skip
        ax.text(center, height - 0.45, "\n".join(b["lines"]), ha="center", va="top",
                fontsize=11, linespacing=1.25)  # fmt: skip
        ax.text(center, 0.58, b["shape"], ha="center", va="center", fontsize=14,
                fontweight="bold", color="tab:blue", gid="shape")  # fmt: skip
        params = f"{b['params']:,} params" if b["params"] else "no params"
        ax.text(center, 0.22, params, ha="center", va="center", fontsize=12,
                color="black" if b["params"] else "grey", gid="params")  # fmt: skip
        if i:
            ax.annotate("", xy=(left, height / 2), xytext=(left - gap, height / 2),
                        arrowprops={"arrowstyle": "-|>", "color": "black", "lw": 1.5})  # fmt: skip
    ax.set_xlim(-0.05, n * (width + gap) - gap + 0.05)
    ax.set_ylim(-0.05, height + 0.05)
    total = sum(b["params"] for b in blocks)
    fig.suptitle(f"EfficientMNIST block by block: {total:,} parameters")
    fig.supxlabel("blue: the block's output, height × width × channels (or a vector's length)")
    return fig
