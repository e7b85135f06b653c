"""effmnist: a 24,048-parameter CNN that passes 95% MNIST test accuracy in one epoch."""

from .acquire import prepare_mnist
from .data import load_mnist, load_splits
from .model import EfficientMNIST, ModelConfig, count_parameters, parameter_breakdown
from .train import Recipe, TrainResult, get_recipe, load_checkpoint, save_checkpoint, train

__version__ = "0.1.0"
__all__ = [
    "EfficientMNIST",
    "ModelConfig",
    "Recipe",
    "TrainResult",
    "count_parameters",
    "get_recipe",
    "load_checkpoint",
    "load_mnist",
    "load_splits",
    "parameter_breakdown",
    "prepare_mnist",
    "save_checkpoint",
    "train",
]
