"""EfficientMNIST: the reference's 24,048-parameter CNN, and the knobs the ablations turn."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import torch
from torch import nn

REFERENCE_STAGES = ((16,), (32,), (64,))
PARAM_BUDGET = 25_000  # the challenge: fewer than 25,000 trainable parameters
HEADS = ("gap", "flatten")


@dataclass(frozen=True)
class ModelConfig:
    """Everything needed to rebuild a model (stored in checkpoints).

    ``stages`` lists the conv widths of each stage; every stage ends in a 2x2 max-pool.
    The reference is ``((16,), (32,), (64,))``.
    """

    stages: tuple[tuple[int, ...], ...] = REFERENCE_STAGES
    batchnorm: bool = True
    head: str = (
        "gap"  # "gap": global average pooling; "flatten": flatten + Linear over the whole map
    )
    dropout: float = 0.1

    def __post_init__(self) -> None:
        stages = self.stages
        if not 1 <= len(stages) <= 4 or not all(
            len(s) >= 1 and all(isinstance(c, int) and c > 0 for c in s) for s in stages
        ):
            raise ValueError(
                "stages must be 1 to 4 stages (each halves the 28x28 map), each a tuple of "
                f"positive channel counts, e.g. ((16,), (32,), (64,)); not {stages!r}"
            )
        if self.head not in HEADS:
            raise ValueError(f"head must be one of {HEADS}, not {self.head!r}")
        if not 0 <= self.dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), not {self.dropout!r}")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> ModelConfig:
        return cls(
            stages=tuple(tuple(s) for s in d["stages"]),
            batchnorm=d["batchnorm"],
            head=d["head"],
            dropout=d["dropout"],
        )


def conv_bn_relu(c_in: int, c_out: int, batchnorm: bool = True) -> list[nn.Module]:
    """A 3x3 conv (padding 1), BatchNorm and ReLU; the conv has a bias only without BatchNorm."""
    layers: list[nn.Module] = [nn.Conv2d(c_in, c_out, 3, padding=1, bias=not batchnorm)]
    if batchnorm:
        layers.append(nn.BatchNorm2d(c_out))
    layers.append(nn.ReLU(inplace=True))
    return layers


class EfficientMNIST(nn.Module):
    """Conv stages (3x3 conv, BN, ReLU, ..., 2x2 max-pool), global average pooling, dropout, Linear.

    With the default config: 1->16->32->64 channels, maps 28->14->7->3, 24,048 parameters.
    """

    def __init__(self, config: ModelConfig | None = None, **overrides):
        super().__init__()
        config = replace(config or ModelConfig(), **overrides)
        self.config = config
        stages, c_in = [], 1
        for widths in config.stages:
            layers: list[nn.Module] = []
            for c_out in widths:
                layers += conv_bn_relu(c_in, c_out, config.batchnorm)
                c_in = c_out
            layers.append(nn.MaxPool2d(2))
            stages.append(nn.Sequential(*layers))
        self.features = nn.Sequential(*stages)
        side = 28
        for _ in config.stages:
            side //= 2
        if config.head == "gap":
            self.pool = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())
            n_features = c_in
        else:  # "flatten" (ModelConfig has checked the name)
            self.pool = nn.Flatten()
            n_features = c_in * side * side
        self.dropout = nn.Dropout(config.dropout)
        self.classifier = nn.Linear(n_features, 10, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.dropout(self.pool(self.features(x))))

    def feature_maps(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The activation after each stage's ReLU (before its pool), for visualization."""
        maps = []
        for stage in self.features:
            for layer in stage:
                if isinstance(layer, nn.MaxPool2d):
                    maps.append(x)
                x = layer(x)
        return maps


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def parameter_breakdown(model: EfficientMNIST) -> list[tuple[str, int, float]]:
    """``(component, parameters, percent)`` rows in the reference's table layout: each conv,
    all BatchNorms together, the classifier, and the total."""
    rows, bn, conv_i = [], 0, 0
    for module in model.modules():
        n = sum(p.numel() for p in module.parameters(recurse=False))
        if isinstance(module, nn.Conv2d):
            conv_i += 1
            rows.append((f"Conv{conv_i}", n))
        elif isinstance(module, nn.BatchNorm2d):
            bn += n
    if bn:
        rows.append(("BatchNorm", bn))
    rows.append(("Classifier", sum(p.numel() for p in model.classifier.parameters())))
    total = count_parameters(model)
    return [(name, n, 100 * n / total) for name, n in rows] + [("Total", total, 100.0)]


def format_breakdown(model: EfficientMNIST) -> str:
    """The parameter breakdown as a fixed-width text table."""
    lines = [f"{'Component':<12}{'Parameters':>12}{'Percent':>10}"]
    lines += [f"{name:<12}{n:>12,}{pct:>9.1f}%" for name, n, pct in parameter_breakdown(model)]
    return "\n".join(lines)
