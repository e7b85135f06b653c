"""MNIST as tensors, and the files around it: acquiring and verifying the IDX files, loading and
splitting them, reading image files, writing files atomically, and where all of it lives.

The lowest layer of effmnist: nothing here imports the model or training.
"""

from .acquire import RAW_SHA256, DataError, prepare_mnist, raw_folder, sha256_of, verify_raw
from .folders import checkpoints_dir, home
from .images import ImageError, load_image
from .mnist import (
    MEAN,
    SPLIT_SEED,
    STD,
    TEST_SIZE,
    TRAIN_SIZE,
    VAL_SIZE,
    MNISTArrays,
    Splits,
    TensorLoader,
    load_mnist,
    load_splits,
    mnist_transform,
    normalize,
    split_indices,
    torchvision_mnist,
    torchvision_train_loader,
)

__all__ = [
    "MEAN",
    "RAW_SHA256",
    "SPLIT_SEED",
    "STD",
    "TEST_SIZE",
    "TRAIN_SIZE",
    "VAL_SIZE",
    "DataError",
    "ImageError",
    "MNISTArrays",
    "Splits",
    "TensorLoader",
    "checkpoints_dir",
    "home",
    "load_image",
    "load_mnist",
    "load_splits",
    "mnist_transform",
    "normalize",
    "prepare_mnist",
    "raw_folder",
    "sha256_of",
    "split_indices",
    "torchvision_mnist",
    "torchvision_train_loader",
    "verify_raw",
]
