"""The learning-rate range test: what "a high learning rate" means for a given network.

Train from scratch while the learning rate grows geometrically, batch by batch, from ``start``
to ``end``, and record the loss (Smith 2017; fastai's learning-rate finder). The loss first
barely moves (the rate is too small to matter), then falls (useful rates), then blows up (too
large). Comparing the curves of two networks shows which learning rates each can take: run it
with and without BatchNorm to see why the reference can train at 0.015.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..data.mnist import Splits, TensorLoader
from ..model import EfficientMNIST
from ..recipe import Recipe
from ..training import make_optimizer


@dataclass(frozen=True)
class LRRange:
    """One range test: the learning rate, raw loss and smoothed loss of each batch trained."""

    lrs: list[float]
    losses: list[float]
    smoothed: list[float]  # exponential moving average, bias-corrected (fastai's)
    diverged: bool  # stopped early because the smoothed loss exceeded `diverge` x its minimum

    def best_lr(self) -> float:
        """The learning rate at the lowest smoothed loss (the edge of the useful range)."""
        return self.lrs[min(range(len(self.smoothed)), key=self.smoothed.__getitem__)]


def lr_range_test(
    recipe: Recipe,
    splits: Splits,
    *,
    start: float = 1e-5,
    end: float = 1.0,
    steps: int = 300,
    seed: int = 0,
    beta: float = 0.9,
    diverge: float = 4.0,
) -> LRRange:
    """Train ``EfficientMNIST(recipe.model)`` for up to ``steps`` batches at a growing rate.

    The optimizer, weight decay, clipping and batch size are the recipe's; the schedule is
    replaced by ``lr = start * (end / start) ** (step / (steps - 1))``. The same seed gives the
    same initial weights and batches as :func:`effmnist.training.train`.
    """
    if not 0 < start < end or steps < 2:
        raise ValueError("need 0 < start < end and at least 2 steps")
    torch.manual_seed(seed)
    model = EfficientMNIST(recipe.model).train()
    optimizer = make_optimizer(model, recipe, fused=False)  # its rate is set before each step
    loader = TensorLoader(
        splits.train_x, splits.train_y, recipe.batch_size, shuffle=True, seed=seed
    )
    lrs, losses, smoothed, average, diverged = [], [], [], 0.0, False
    for step, (images, labels) in enumerate(loader):
        if step == steps:
            break
        lr = start * (end / start) ** (step / (steps - 1))
        for group in optimizer.param_groups:
            group["lr"] = lr
        loss = F.cross_entropy(model(images), labels, label_smoothing=recipe.label_smoothing)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if recipe.clip_grad:
            nn.utils.clip_grad_norm_(model.parameters(), recipe.clip_grad)
        optimizer.step()
        value = loss.item()
        average = beta * average + (1 - beta) * value
        lrs.append(lr)
        losses.append(value)
        smoothed.append(average / (1 - beta ** (step + 1)))
        if not math.isfinite(value) or smoothed[-1] > diverge * min(smoothed):
            diverged = True
            break
    return LRRange(lrs, losses, smoothed, diverged)
