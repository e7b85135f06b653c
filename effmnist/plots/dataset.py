"""Figures of the data (notebook 01): sample grids, class balance, pixel values, mean digits."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch

from ..evaluate import NUM_CLASSES
from .style import Figure, as_images, bare, figure, legible


@legible
def sample_grid(images: torch.Tensor, labels: torch.Tensor, per_class: int = 8) -> Figure:
    """A grid of the first ``per_class`` images of each digit: one row per digit."""
    x, labels = as_images(images), torch.as_tensor(labels).cpu()
    fig = figure(1.1 * per_class + 0.8, 11.5)
    axes = fig.subplots(NUM_CLASSES, per_class, squeeze=False)
    for digit in range(NUM_CLASSES):
        idx = (labels == digit).nonzero().flatten()[:per_class].tolist()
        for col, ax in enumerate(axes[digit]):
            bare(ax)
            if col < len(idx):
                ax.imshow(x[idx[col]], cmap="gray_r")
        axes[digit][0].set_ylabel(str(digit), rotation=0, labelpad=14, va="center", fontsize=18)
    fig.supylabel("digit (label)")
    fig.supxlabel(f"the first {per_class} images of each digit, in file order")
    fig.suptitle("MNIST samples, one row per digit")
    return fig


@legible
def class_balance(labels_by_split: Mapping[str, torch.Tensor]) -> Figure:
    """Grouped bars: the share of each digit in every split, against the uniform 10%."""
    fig = figure(11, 5)
    ax = fig.subplots()
    width = 0.8 / len(labels_by_split)
    for i, (name, labels) in enumerate(labels_by_split.items()):
        counts = torch.bincount(torch.as_tensor(labels).cpu(), minlength=NUM_CLASSES).double()
        share = (100 * counts / counts.sum()).numpy()
        ax.bar(
            np.arange(NUM_CLASSES) + (i - (len(labels_by_split) - 1) / 2) * width,
            share,
            width,
            label=f"{name} ({int(counts.sum()):,})",
        )
    ax.axhline(100 / NUM_CLASSES, color="black", linestyle="--", linewidth=1, label="uniform (10%)")
    ax.set_xticks(range(NUM_CLASSES))
    ax.set_xlabel("digit")
    ax.set_ylabel("share of the split (%)")
    ax.set_ylim(0, 12.5)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.set_title("Class balance: the share of each digit in each split")
    return fig


@legible
def pixel_histogram(images: torch.Tensor) -> Figure:
    """Histogram of the 256 raw pixel values (uint8 images), log-scaled counts."""
    values = torch.as_tensor(images).cpu()
    if values.dtype != torch.uint8:
        raise TypeError(
            "pixel_histogram wants the raw uint8 images (load_mnist), not normalized ones"
        )
    counts = torch.bincount(values.flatten(), minlength=256).numpy()
    fig = figure(11, 4.8)
    ax = fig.subplots()
    ax.bar(np.arange(256), counts, width=1.0, color="tab:blue")
    ax.set_yscale("log")
    ax.set_xlim(-2, 257)
    ax.set_xlabel("pixel value (0 = background, 255 = full ink)")
    ax.set_ylabel("number of pixels (log scale)")
    ax.set_title(f"Pixel intensities of {len(values):,} images ({values.numel():,} pixels)")
    return fig


@legible
def mean_digits(images: torch.Tensor, labels: torch.Tensor) -> Figure:
    """The average image of each digit, side by side."""
    x, labels = as_images(images), torch.as_tensor(labels).cpu().numpy()
    fig = figure(15, 2.6)
    axes = fig.subplots(1, NUM_CLASSES)
    for digit, ax in enumerate(axes):
        ax.imshow(x[labels == digit].mean(axis=0), cmap="magma")
        ax.set_title(str(digit), fontsize=18)
        bare(ax)
    fig.supxlabel("digit (brighter = more ink at that pixel, on average)")
    fig.suptitle("The average image of each digit")
    return fig
