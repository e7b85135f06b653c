"""Looking inside a model: shapes and receptive fields, what the head costs, class activation
maps, calibration, and the learning-rate range test."""

from .calibration import (
    Confidence,
    Reliability,
    confidence,
    expected_calibration_error,
    reliability,
)
from .cam import cell_centres, class_activation_maps, upsample
from .inspect_model import (
    HeadCost,
    ReceptiveField,
    apply_head,
    format_head_comparison,
    format_receptive_fields,
    head_comparison,
    permute_positions,
    receptive_fields,
    stage_shapes,
)
from .lr_range import LRRange, lr_range_test

__all__ = [
    "cell_centres",
    "Confidence",
    "HeadCost",
    "LRRange",
    "ReceptiveField",
    "Reliability",
    "apply_head",
    "class_activation_maps",
    "confidence",
    "expected_calibration_error",
    "format_head_comparison",
    "format_receptive_fields",
    "head_comparison",
    "lr_range_test",
    "permute_positions",
    "receptive_fields",
    "reliability",
    "stage_shapes",
    "upsample",
]
