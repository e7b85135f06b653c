"""A cache of finished training runs, so that a test suite trains each run once.

Off unless the environment variable ``EFFMNIST_TRAIN_CACHE`` names a folder. Then
:func:`effmnist.train.train` keeps one file per run there, keyed by everything that decides
the result: the recipe (all fields but its name), the seed, the exact bytes of the data, the
network and its initial weights, the device, the pipeline, the thread count, the PyTorch
version and the package's own source code (its *code version*). A second call with the same
key loads the weights, the per-batch history, the accuracies and the measured times of the
first instead of training again; a run is deterministic on a given machine and thread count,
so nothing it returns differs.

The test suite sets the variable to a fresh folder for each run (``conftest.py``), which the
notebook kernels, the command line and every pytest-xdist worker inherit: the reference
recipe's seed 0 is trained once, whether a test, notebook 03 or a solution asks first. A file
lock makes a second process wait for a run in progress rather than train it too.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from contextlib import contextmanager
from importlib import resources
from pathlib import Path

import torch

ENV = "EFFMNIST_TRAIN_CACHE"
FORMAT = "effmnist-run-1"


def folder() -> Path | None:
    """The cache folder named by ``$EFFMNIST_TRAIN_CACHE``, or None (no caching)."""
    value = os.environ.get(ENV)
    return Path(value) if value else None


@functools.cache
def code_version() -> str:
    """A hash of the package's Python source: a change to any module starts a new cache."""
    digest = hashlib.blake2b(digest_size=16)
    package = resources.files("effmnist")
    for name in sorted(p.name for p in package.iterdir() if p.name.endswith(".py")):
        digest.update(name.encode() + b"\0" + package.joinpath(name).read_bytes())
    return digest.hexdigest()


def data_fingerprint(tensors) -> str:
    """A hash of the tensors' exact bytes (a quarter of a second for all of MNIST)."""
    digest = hashlib.blake2b(digest_size=16)
    for tensor in tensors:
        array = tensor.detach().cpu().contiguous().numpy()
        digest.update(f"{array.dtype}{array.shape}".encode())
        digest.update(memoryview(array).cast("B"))
    return digest.hexdigest()


def run_key(recipe, seed: int, splits, start: torch.nn.Module, pipeline: str) -> str:
    """The key of one training run, given the untrained network it starts from: equal keys,
    equal results."""
    fields = recipe.to_dict()
    fields.pop("name", None)  # a name does not change what is trained
    weights = list(start.state_dict().values())
    description = {
        "recipe": fields,
        "seed": seed,
        "data": data_fingerprint(splits._tensors()),
        "network": repr(start),  # the architecture, layer by layer
        "initial weights": data_fingerprint(weights),
        "device": weights[0].device.type if weights else "cpu",
        "pipeline": pipeline,
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "code": code_version(),
    }
    text = json.dumps(description, sort_keys=True)
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


@contextmanager
def locked(key: str):
    """Hold the key's lock: another process asking for the same run waits for this one."""
    from filelock import FileLock

    root = folder()
    root.mkdir(parents=True, exist_ok=True)
    with FileLock(str(root / f"{key}.lock")):
        yield root / f"{key}.pt"


NUMBERS = ("params", "train_accuracy", "val_accuracy", "test_accuracy")
TIMES = ("train_seconds", "eval_seconds")


def save(path: Path, result) -> None:
    """Store a :class:`~effmnist.train.TrainResult`'s weights, history and numbers (atomically)."""
    from .fileio import atomic_path

    payload = {
        "format": FORMAT,
        "recipe": result.recipe.to_dict(),  # how the run was made, for whoever opens the file
        "seed": result.seed,
        "state_dict": {k: v.detach().cpu() for k, v in result.model.state_dict().items()},
        "history": result.history,
        "numbers": {name: getattr(result, name) for name in NUMBERS + TIMES},
    }
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)


def load(path: Path, recipe, seed: int, start: torch.nn.Module):
    """The stored run, its weights loaded into ``start`` (the untrained network of the same
    key), as a TrainResult; None if there is none. Its times are the run's own."""
    from .train import TrainResult

    if not path.exists():
        return None
    payload = torch.load(path, map_location="cpu", weights_only=True)
    if payload.get("format") != FORMAT:
        return None
    start.load_state_dict(payload["state_dict"])
    return TrainResult(
        start.train(), recipe, seed, history=payload["history"], **payload["numbers"]
    )
