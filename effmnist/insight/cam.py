"""Class activation maps: where in the image the network finds evidence for each digit.

EfficientMNIST ends in global average pooling (GAP) and one bias-free linear layer, so the
logit of class ``c`` is a weighted sum of the last feature maps, averaged over positions::

    logit_c = mean_{h,w} sum_k W[c, k] * F_k(h, w)  =  mean_{h,w} CAM_c(h, w)

``CAM_c = sum_k W[c, k] F_k`` is therefore an exact decomposition of the logit over positions
(Zhou et al. 2016), not an approximation: its mean *is* the logit. With the reference network
the last map is 3x3, so a map has 9 cells, each seeing a 22x22 window of the image. For
display, :func:`upsample` enlarges a map to the whole image: the 3x3 cells are centred on
pixels 3.5, 11.5 and 19.5, each pixel between two centres gets the linear blend of their
values, and the pixels beyond the outermost centres (0-3 and 20-27) keep the value of the
nearest cell, whose window covers them too.
"""

from __future__ import annotations

import torch

from ..evaluate import eval_mode
from ..model import EfficientMNIST


@torch.no_grad()
def class_activation_maps(
    model: EfficientMNIST, images: torch.Tensor, batch_size: int = 1000
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(maps, logits)``: maps (N, 10, h, w) for every class, and the model's logits (N, 10).

    Needs a GAP head with a bias-free classifier (EfficientMNIST's); evaluated in eval mode, so
    dropout is off and each map's mean equals its class's logit.
    """
    if model.config.head != "gap" or model.classifier.bias is not None:
        raise ValueError("class activation maps need a GAP head and a bias-free linear layer")
    device = next(model.parameters()).device
    weights = model.classifier.weight  # (10, K)
    maps, logits = [], []
    with eval_mode(model):
        for i in range(0, len(images), batch_size):
            batch = images[i : i + batch_size].to(device)
            features = model.features(batch)  # (n, K, h, w)
            maps.append(torch.einsum("ck,nkhw->nchw", weights, features).cpu())
            logits.append(model(batch).cpu())
    return torch.cat(maps), torch.cat(logits)


def cell_centres(side: int, image_side: int = 28) -> torch.Tensor:
    """The pixel coordinates of the centres of a ``side`` x ``side`` map's cells, for a map
    made from the image by padded 3x3 convs and 2x2 max-pools: 3.5, 11.5 and 19.5 for 3x3."""
    pools = 0
    while image_side >> pools > side:
        pools += 1
    if image_side >> pools != side:
        raise ValueError(f"a {side}x{side} map is not {image_side} halved a whole number of times")
    jump = 2**pools
    return (jump - 1) / 2 + jump * torch.arange(side, dtype=torch.float64)


def upsample(maps: torch.Tensor, image_side: int = 28) -> torch.Tensor:
    """Maps (N, C, h, w) enlarged to the image, (N, C, 28, 28), for drawing over it: linear
    between the cells' centres (:func:`cell_centres`), the nearest cell's value beyond them."""
    side = maps.shape[-1]
    centres = cell_centres(side, image_side)
    jump = float(centres[1] - centres[0]) if side > 1 else float(image_side)
    # where each pixel lies between the centres, in cells, clamped to the outermost ones
    u = ((torch.arange(image_side) - centres[0]) / jump).clamp(0, side - 1)
    low = u.floor().long()
    high = (low + 1).clamp(max=side - 1)
    blend = torch.zeros(image_side, side, dtype=torch.float64)
    rows = torch.arange(image_side)
    blend[rows, low] += 1 - (u - low)
    blend[rows, high] += u - low
    blend = blend.to(maps.dtype)
    return blend @ maps @ blend.T
