"""Calibration: when the model says 90%, is it right 90% of the time?

The predictions are grouped by confidence (the top probability) into equal-width bins; in a
well-calibrated model each bin's accuracy equals its mean confidence. The expected calibration
error (ECE) is the gap between the two, averaged over bins weighted by how many predictions
each holds (Guo et al. 2017): 0 is perfect; an overconfident model has accuracy below its
confidence.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Reliability:
    """Per confidence bin: edges (bins + 1), and for each bin its count, mean confidence and
    accuracy (NaN for an empty bin)."""

    edges: torch.Tensor
    counts: torch.Tensor
    confidence: torch.Tensor
    accuracy: torch.Tensor

    @property
    def ece(self) -> float:
        """Expected calibration error: sum over bins of count/N * |accuracy - confidence|."""
        full = self.counts > 0
        gaps = (self.accuracy[full] - self.confidence[full]).abs()
        return float((self.counts[full] / self.counts.sum() * gaps).sum())

    @property
    def under_confident_bins(self) -> tuple[int, int]:
        """``(k, n)``: accuracy is above confidence in ``k`` of the ``n`` non-empty bins."""
        full = self.counts > 0
        return int((self.accuracy[full] > self.confidence[full]).sum()), int(full.sum())


@dataclass(frozen=True)
class Confidence:
    """How a model's confidence (its top probability) relates to being right, over a set of
    images; all fractions (0..1)."""

    mean: float  # mean confidence
    accuracy: float
    sure: float  # share of the predictions made with more than ``threshold`` confidence
    sure_accuracy: float  # how often those are right
    median_right: float  # median confidence of the right predictions
    threshold: float


def confidence(probs: torch.Tensor, labels: torch.Tensor, threshold: float = 0.95) -> Confidence:
    """Summarize ``probs`` (N, 10) against ``labels`` (N,): mean confidence against accuracy,
    and the predictions made with more than ``threshold`` confidence."""
    top, predicted = probs.double().max(dim=1)
    right = predicted == labels.to(predicted.device)
    sure = top > threshold
    return Confidence(
        mean=top.mean().item(),
        accuracy=right.double().mean().item(),
        sure=sure.double().mean().item(),
        sure_accuracy=right[sure].double().mean().item(),
        median_right=top[right].median().item(),
        threshold=threshold,
    )


def reliability(probs: torch.Tensor, labels: torch.Tensor, bins: int = 10) -> Reliability:
    """Bin predictions (N, 10) probabilities by confidence into ``bins`` equal-width bins of (0, 1].

    A confidence exactly on an edge goes to the bin below it (0.9 is in (0.8, 0.9]).
    """
    if bins < 1:
        raise ValueError(f"bins must be a positive integer, not {bins}")
    confidence, predicted = probs.double().max(dim=1)
    correct = (predicted == labels.to(predicted.device)).double()
    edges = torch.linspace(0, 1, bins + 1, dtype=torch.float64)
    index = (torch.bucketize(confidence, edges, right=False) - 1).clamp(0, bins - 1)
    counts = torch.bincount(index, minlength=bins)
    conf_sum = torch.bincount(index, weights=confidence, minlength=bins)
    acc_sum = torch.bincount(index, weights=correct, minlength=bins)
    with torch.no_grad():
        return Reliability(edges, counts, conf_sum / counts, acc_sum / counts)


def expected_calibration_error(probs: torch.Tensor, labels: torch.Tensor, bins: int = 10) -> float:
    """The ECE of ``probs`` (N, 10) against ``labels`` (N,), with ``bins`` equal-width bins."""
    return reliability(probs, labels, bins).ece
