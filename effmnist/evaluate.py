"""Judging a trained model class by class: the confusion matrix, per-class accuracy and its mistakes.

Everything here works on plain tensors: ``probs`` (N, 10) from :func:`effmnist.train.predict`,
integer ``labels`` (N,) and ``preds`` (N,). Rows of a confusion matrix are the true digit,
columns the predicted one.
"""

from __future__ import annotations

import torch

NUM_CLASSES = 10


def confusion_matrix(
    labels: torch.Tensor, preds: torch.Tensor, num_classes: int = NUM_CLASSES
) -> torch.Tensor:
    """Counts (num_classes, num_classes), int64: entry [t, p] is how many images of digit t were predicted p."""
    labels, preds = (
        torch.as_tensor(labels).long().cpu().flatten(),
        torch.as_tensor(preds).long().cpu().flatten(),
    )
    if labels.shape != preds.shape:
        raise ValueError(f"labels and preds differ in length: {len(labels)} vs {len(preds)}")
    for name, t in (("labels", labels), ("preds", preds)):
        if len(t) and (t.min() < 0 or t.max() >= num_classes):
            raise ValueError(f"{name} must lie in 0..{num_classes - 1}")
    flat = torch.bincount(labels * num_classes + preds, minlength=num_classes * num_classes)
    return flat.reshape(num_classes, num_classes)


def per_class_accuracy(cm: torch.Tensor) -> torch.Tensor:
    """Fraction of each true class predicted correctly: diagonal / row sums (NaN for a class never seen)."""
    cm = torch.as_tensor(cm).double()
    return cm.diagonal() / cm.sum(dim=1)


def mistakes(probs: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Indices of the misclassified images, in dataset order."""
    return (probs.argmax(dim=1) != labels).nonzero().flatten()


def most_confident_mistakes(
    probs: torch.Tensor, labels: torch.Tensor, k: int | None = None
) -> torch.Tensor:
    """Indices of misclassified images, most confident wrong prediction first (ties: dataset order); at most ``k``."""
    wrong = mistakes(probs, labels)
    confidence = probs[wrong].max(dim=1).values
    order = torch.sort(confidence, descending=True, stable=True).indices
    return wrong[order][:k]


def top_confusions(cm: torch.Tensor, k: int = 5) -> list[tuple[int, int, int]]:
    """The ``k`` most frequent off-diagonal cells as ``(true, predicted, count)``, most frequent first."""
    cm = torch.as_tensor(cm).clone()
    cm.fill_diagonal_(-1)
    n = cm.shape[1]
    cells = sorted(
        ((int(cm[t, p]), t, p) for t in range(n) for p in range(n) if cm[t, p] > 0),
        key=lambda c: (-c[0], c[1], c[2]),
    )
    return [(t, p, count) for count, t, p in cells[:k]]
