"""Every figure of the series, in one style (:mod:`.style`): the data (01), the architecture
(02), training (03), a trained model's insides and mistakes (04), experiments (05), and
predictions on your own digits (06). Each function returns a matplotlib ``Figure``."""

from .architecture import architecture_blocks, architecture_diagram
from .dataset import class_balance, mean_digits, pixel_histogram, sample_grid
from .experiments import accuracy_vs_parameters, paired_runs, validation_vs_parameters
from .insight import (
    cam_grid,
    confusion_heatmap,
    feature_maps,
    first_layer_filters,
    mistake_gallery,
    per_class_accuracy_bars,
    reliability_diagram,
)
from .predictions import plot_prediction, plot_predictions, plot_steps
from .style import STYLE, Figure, as_images, bare, figure, legible
from .training import losses_by_seed, lr_range_curves, training_curves

__all__ = [
    "STYLE",
    "Figure",
    "accuracy_vs_parameters",
    "architecture_blocks",
    "architecture_diagram",
    "as_images",
    "bare",
    "cam_grid",
    "class_balance",
    "confusion_heatmap",
    "feature_maps",
    "figure",
    "first_layer_filters",
    "legible",
    "losses_by_seed",
    "lr_range_curves",
    "mean_digits",
    "mistake_gallery",
    "paired_runs",
    "per_class_accuracy_bars",
    "pixel_histogram",
    "plot_prediction",
    "plot_predictions",
    "plot_steps",
    "reliability_diagram",
    "sample_grid",
    "training_curves",
    "validation_vs_parameters",
]
