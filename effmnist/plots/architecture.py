"""The architecture as a block diagram: each stage with its layers, output shape and parameters,
computed from the model itself (notebook 02). Built in the one figure style of :mod:`effmnist.plots`.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from ..evaluate import eval_mode
from .style import Figure, figure, legible


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
    fig = figure(n * (width + gap) + 0.2, height + 1.1)
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
