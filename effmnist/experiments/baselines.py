"""Why a CNN: simpler models trained the same way, for an honest comparison.

A logistic regression (one linear layer on the 784 pixels) and a multilayer perceptron (one
hidden layer) see the image as a flat list of pixels: they know nothing of which pixels are
neighbours. Trained with the very same recipe as EfficientMNIST (:func:`effmnist.training.train`
takes any model), they show what the convolutions are worth at the same parameter budget.
"""

from __future__ import annotations

from torch import nn

PIXELS = 28 * 28


def logistic_regression() -> nn.Module:
    """Flatten, then one Linear layer 784 -> 10: 7,850 parameters."""
    return nn.Sequential(nn.Flatten(), nn.Linear(PIXELS, 10))


def mlp(hidden: int = 30) -> nn.Module:
    """Flatten, Linear 784 -> ``hidden``, ReLU, Linear -> 10.

    ``hidden=30`` gives 23,860 parameters, just under EfficientMNIST's 24,048.
    """
    if hidden < 1:
        raise ValueError(f"hidden must be a positive integer, not {hidden}")
    return nn.Sequential(
        nn.Flatten(), nn.Linear(PIXELS, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, 10)
    )
