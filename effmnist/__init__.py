"""effmnist: a 24,048-parameter CNN that passes 95% MNIST test accuracy in one epoch."""

from .acquire import prepare_mnist
from .checkpoint import load_checkpoint, load_or_train, save_checkpoint
from .data import load_mnist, load_splits
from .evaluate import accuracy, eval_mode, predict
from .model import EfficientMNIST, ModelConfig, count_parameters, parameter_breakdown
from .recipe import Recipe, get_recipe
from .train import TrainResult, train

__version__ = "0.2.0"  # the one place the version is written (pyproject reads it)

__all__ = [
    "EfficientMNIST",
    "ModelConfig",
    "Recipe",
    "TrainResult",
    "accuracy",
    "count_parameters",
    "eval_mode",
    "get_recipe",
    "load_checkpoint",
    "load_mnist",
    "load_or_train",
    "load_splits",
    "parameter_breakdown",
    "predict",
    "prepare_mnist",
    "save_checkpoint",
    "train",
]
