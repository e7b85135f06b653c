"""Looking inside EfficientMNIST without training it: shapes, receptive fields and what the head costs.

These are the computations behind notebook 02: the tensor shape after each stage, how far each
layer's receptive field reaches into the 28x28 image, the parameter cost of a global-average-pooling
head against a flatten + Linear head, and a spatial shuffle of the last feature map that shows what
global average pooling throws away.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch
from torch import nn

from ..evaluate import eval_mode
from ..model import PARAM_BUDGET, EfficientMNIST, ModelConfig, count_parameters


def stage_shapes(
    model: EfficientMNIST, input_shape: tuple[int, ...] = (1, 1, 28, 28)
) -> list[tuple[str, tuple]]:
    """``(name, shape)`` for the input, the output of each stage, the pooled features and the logits."""
    x = torch.zeros(input_shape, device=next(model.parameters()).device)
    rows = [("input", tuple(x.shape))]
    with eval_mode(model), torch.no_grad():
        for i, stage in enumerate(model.features, 1):
            x = stage(x)
            rows.append((f"stage {i}", tuple(x.shape)))
        x = model.pool(x)
        rows.append(("head pool", tuple(x.shape)))
        rows.append(("classifier", tuple(model.classifier(x).shape)))
    return rows


@dataclass(frozen=True)
class ReceptiveField:
    """One layer's geometry: ``size`` is its output side length, ``jump`` the input-pixel distance between
    neighbouring output units, ``rf`` the side of the input square one output unit sees."""

    layer: str
    kernel: int
    stride: int
    padding: int
    size: int
    jump: int
    rf: int


def _int(v) -> int:
    return int(v[0] if isinstance(v, tuple) else v)


def receptive_fields(model: EfficientMNIST, input_size: int = 28) -> list[ReceptiveField]:
    """The receptive field after every conv and pool, then after global average pooling (if the head has it).

    The recurrence: ``rf_out = rf_in + (kernel - 1) * jump_in`` and ``jump_out = jump_in * stride``.
    """
    rows, size, jump, rf = [], input_size, 1, 1
    counts = {"conv": 0, "pool": 0}
    for module in model.features.modules():
        if isinstance(module, (nn.Conv2d, nn.MaxPool2d)):
            kind = "conv" if isinstance(module, nn.Conv2d) else "pool"
            counts[kind] += 1
            k, s, p = _int(module.kernel_size), _int(module.stride), _int(module.padding)
            size = (size + 2 * p - k) // s + 1
            rf, jump = rf + (k - 1) * jump, jump * s
            rows.append(ReceptiveField(f"{kind}{counts[kind]}", k, s, p, size, jump, rf))
    if (
        model.config.head == "gap"
    ):  # averaging the whole size x size map: a kernel as wide as the map
        rows.append(
            ReceptiveField("global avg pool", size, size, 0, 1, jump * size, rf + (size - 1) * jump)
        )
    return rows


def format_receptive_fields(rows: list[ReceptiveField], input_size: int = 28) -> str:
    """The receptive-field rows as a text table; a field wider than the image is marked."""
    lines = [f"{'layer':<16}{'kernel':>7}{'stride':>7}{'map':>7}{'jump':>6}{'receptive field':>17}"]
    for r in rows:
        note = "  (whole image)" if r.rf >= input_size else ""
        lines.append(
            f"{r.layer:<16}{r.kernel:>7}{r.stride:>7}{f'{r.size}x{r.size}':>7}{r.jump:>6}"
            f"{f'{r.rf}x{r.rf}':>17}{note}"
        )
    return "\n".join(lines)


@dataclass(frozen=True)
class HeadCost:
    """What one choice of head costs: the map it reads, its Linear layer's weights, the model's total."""

    head: str
    map_shape: tuple[int, int, int]  # (channels, height, width) of the last feature map
    features: int  # inputs of the Linear layer
    classifier_params: int
    total_params: int

    @property
    def within_budget(self) -> bool:
        return self.total_params < PARAM_BUDGET


def head_comparison(config: ModelConfig | None = None, claimed_side: int = 7) -> list[HeadCost]:
    """GAP head, flatten + Linear head at the real map size, and the reference's flatten arithmetic at a
    ``claimed_side`` x ``claimed_side`` map (which this model never produces; its total is the convs,
    BatchNorms and that Linear layer)."""
    config = config or ModelConfig()
    rows = []
    for head, label in (("gap", "global average pooling"), ("flatten", "flatten + Linear")):
        model = EfficientMNIST(replace(config, head=head))
        channels, h, w = stage_shapes(model)[len(config.stages)][1][1:]
        n_classifier = model.classifier.weight.numel()
        rows.append(
            HeadCost(
                label,
                (channels, h, w),
                model.classifier.in_features,
                n_classifier,
                count_parameters(model),
            )
        )
    body = rows[0].total_params - rows[0].classifier_params
    channels = rows[0].map_shape[0]
    claimed = channels * claimed_side * claimed_side
    rows.append(
        HeadCost(
            f"flatten at {claimed_side}x{claimed_side} (claim)",
            (channels, claimed_side, claimed_side),
            claimed,
            claimed * 10,
            body + claimed * 10,
        )
    )
    return rows


def format_head_comparison(rows: list[HeadCost]) -> str:
    """The head comparison as a text table."""
    lines = [f"{'head':<30}{'map':>9}{'features':>10}{'Linear weights':>16}{'total':>9}  < 25k?"]
    for r in rows:
        c, h, w = r.map_shape
        lines.append(
            f"{r.head:<30}{f'{h}x{w}x{c}':>9}{r.features:>10,}{r.classifier_params:>16,}"
            f"{r.total_params:>9,}  {'yes' if r.within_budget else 'no'}"
        )
    return "\n".join(lines)


def permute_positions(fmap: torch.Tensor, perm: torch.Tensor) -> torch.Tensor:
    """Shuffle the spatial positions of feature maps (N, C, H, W): position ``i`` (row-major) of the result
    is position ``perm[i]`` of the input, the same shuffle in every channel."""
    n, c, h, w = fmap.shape
    if sorted(perm.tolist()) != list(range(h * w)):
        raise ValueError(f"perm must be a permutation of 0..{h * w - 1}")
    return fmap.reshape(n, c, h * w)[:, :, perm].reshape(n, c, h, w)


def apply_head(model: EfficientMNIST, fmap: torch.Tensor) -> torch.Tensor:
    """The logits that the model's head (pool, dropout, classifier) computes from a last feature map, in eval mode."""
    with eval_mode(model), torch.no_grad():
        return model.classifier(model.dropout(model.pool(fmap)))
