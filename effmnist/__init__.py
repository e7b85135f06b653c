"""effmnist: a 24,048-parameter CNN that passes 95% MNIST test accuracy in one epoch.

The core, a module each: :mod:`.model` (the network), :mod:`.recipe` (every setting of a run),
:mod:`.training` (the loop), :mod:`.evaluate` (accuracy and mistakes), :mod:`.checkpoint`
(saving and loading a run), :mod:`.provenance` and :mod:`.progress`. Around it, subpackages for
the extras: :mod:`.data` (MNIST and files; the lowest layer), :mod:`.digits` (your own
digits), :mod:`.insight` (inside a model), :mod:`.experiments` (ablations, statistics, speed)
and :mod:`.plots` (every figure). :mod:`.cli` is the command line.
"""

import os

from . import training
from .checkpoint import (
    CheckpointError,
    CheckpointInfo,
    default_path,
    load_checkpoint,
    load_or_train,
    save_checkpoint,
)
from .data import load_mnist, load_splits, prepare_mnist
from .evaluate import (
    accuracy,
    confusion_matrix,
    eval_mode,
    mistakes,
    most_confident_mistakes,
    per_class_accuracy,
    predict,
    top_confusions,
)
from .model import (
    PARAM_BUDGET,
    EfficientMNIST,
    ModelConfig,
    count_parameters,
    format_breakdown,
    parameter_breakdown,
)
from .recipe import Recipe, get_recipe
from .training import DeviceError, TrainResult, pick_device, train

__version__ = "0.4.0"  # the one place the version is written (pyproject reads it)

if os.environ.get("EFFMNIST_TRAIN_CACHE"):  # only under the test suite: reuse finished runs
    from .experiments.runcache import reuse_trainings

    train = reuse_trainings(training.train)

__all__ = [
    "PARAM_BUDGET",
    "CheckpointError",
    "CheckpointInfo",
    "DeviceError",
    "EfficientMNIST",
    "ModelConfig",
    "Recipe",
    "TrainResult",
    "accuracy",
    "confusion_matrix",
    "count_parameters",
    "default_path",
    "eval_mode",
    "format_breakdown",
    "get_recipe",
    "load_checkpoint",
    "load_mnist",
    "load_or_train",
    "load_splits",
    "mistakes",
    "most_confident_mistakes",
    "parameter_breakdown",
    "per_class_accuracy",
    "pick_device",
    "predict",
    "prepare_mnist",
    "save_checkpoint",
    "top_confusions",
    "train",
]
