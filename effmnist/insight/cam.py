"""Class activation maps: where in the image the network finds evidence for each digit.

EfficientMNIST ends in global average pooling (GAP) and one bias-free linear layer, so the
logit of class ``c`` is a weighted sum of the last feature maps, averaged over positions::

    logit_c = mean_{h,w} sum_k W[c, k] * F_k(h, w)  =  mean_{h,w} CAM_c(h, w)

``CAM_c = sum_k W[c, k] F_k`` is therefore an exact decomposition of the logit over positions
(Zhou et al. 2016), not an approximation: its mean *is* the logit. With the reference network
the last map is 3x3, so a map has 9 cells, each seeing a 22x22 window of the image. For
display, :func:`upsample` enlarges the maps smoothly; the 3x3 cells are centred on pixels 3.5,
11.5 and 19.5, so enlarge them to 24x24 and draw them over pixels 0-23 (as
:func:`effmnist.plots.cam_grid` does) rather than stretching them over all 28.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

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


def upsample(maps: torch.Tensor, size: int = 24) -> torch.Tensor:
    """Maps (N, C, h, w) enlarged to ``size`` x ``size`` (bilinear), for drawing over the image
    (24: the extent of the reference's 3x3 cells, pixels 0-23)."""
    return F.interpolate(maps, size=(size, size), mode="bilinear", align_corners=False)
