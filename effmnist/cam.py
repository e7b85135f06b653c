"""Class activation maps: where in the image the network finds evidence for each digit.

EfficientMNIST ends in global average pooling (GAP) and one bias-free linear layer, so the
logit of class ``c`` is a weighted sum of the last feature maps, averaged over positions::

    logit_c = mean_{h,w} sum_k W[c, k] * F_k(h, w)  =  mean_{h,w} CAM_c(h, w)

``CAM_c = sum_k W[c, k] F_k`` is therefore an exact decomposition of the logit over positions
(Zhou et al. 2016), not an approximation: its mean *is* the logit. With the reference network
the last map is 3x3, so a map has 9 cells, each seeing a 22x22 window of the image;
:func:`upsample` enlarges it smoothly to 28x28 for display only.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .evaluate import eval_mode
from .model import EfficientMNIST


@torch.no_grad()
def class_activation_maps(
    model: EfficientMNIST, images: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(maps, logits)``: maps (N, 10, h, w) for every class, and the model's logits (N, 10).

    Needs a GAP head with a bias-free classifier (EfficientMNIST's); evaluated in eval mode, so
    dropout is off and each map's mean equals its class's logit.
    """
    if model.config.head != "gap" or model.classifier.bias is not None:
        raise ValueError("class activation maps need a GAP head and a bias-free linear layer")
    device = next(model.parameters()).device
    with eval_mode(model):
        features = model.features(images.to(device))  # (N, K, h, w)
        logits = model(images.to(device))
    weights = model.classifier.weight  # (10, K)
    maps = torch.einsum("ck,nkhw->nchw", weights, features)
    return maps.cpu(), logits.cpu()


def upsample(maps: torch.Tensor, size: int = 28) -> torch.Tensor:
    """Maps (N, C, h, w) enlarged to ``size`` x ``size`` (bilinear), for drawing over the image."""
    return F.interpolate(maps, size=(size, size), mode="bilinear", align_corners=False)
