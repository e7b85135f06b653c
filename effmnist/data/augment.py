"""Data augmentation on whole batches: random shifts and rotations of normalized images."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def random_affine(
    images: torch.Tensor, shift: float, rotate: float, generator: torch.Generator
) -> torch.Tensor:
    """Shift each image by up to ``shift`` pixels, rotate it up to ``rotate`` degrees (batched)."""
    u = torch.rand(len(images), 3, generator=generator).to(images.device) * 2 - 1
    angle = u[:, 0] * math.radians(rotate)
    cos, sin = torch.cos(angle), torch.sin(angle)
    move_x, move_y = u[:, 1] * shift * 2 / 28, u[:, 2] * shift * 2 / 28
    theta = torch.stack(
        [torch.stack([cos, -sin, move_x], 1), torch.stack([sin, cos, move_y], 1)], 1
    )
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    background = images.amin()  # the normalized value of a black pixel
    return F.grid_sample(images - background, grid, align_corners=False) + background
