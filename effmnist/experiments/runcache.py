"""A test suite's cache of finished trainings: :func:`reuse_trainings` wraps a train function.

Off unless the environment variable ``EFFMNIST_TRAIN_CACHE`` names a folder: then the wrapped
function calls straight through. The test suite sets it (``conftest.py``) to a fresh folder for
each run, which the notebook kernels, the command line and the pytest-xdist workers inherit,
and ``effmnist.train`` is then this wrapper around :func:`effmnist.training.train` (see
``effmnist/__init__.py``): the reference recipe's seed 0 is trained once, whichever test,
notebook or solution asks first, and loaded from the folder after that.

A run is keyed by everything that decides its result: the recipe (all fields but its name), the
seed, the exact bytes of the data it reads, the network and its initial weights, the device,
the pipeline, whether the test set is read, the thread count, the PyTorch version and the
package's own source code. To the code after it, a reused run is indistinguishable from a real
one: the same weights, history, accuracies and times, the same finished progress bar, and the
global random number generator left in the state the real run left it in.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

import torch
from filelock import FileLock

from ..data.fileio import atomic_path
from ..data.mnist import load_splits
from ..progress import progress_bar
from ..recipe import get_recipe
from ..training import TrainResult, initial_model, pick_device

ENV = "EFFMNIST_TRAIN_CACHE"
FORMAT = "effmnist-run-2"
NUMBERS = ("params", "train_accuracy", "val_accuracy", "test_accuracy")
TIMES = ("train_seconds", "eval_seconds")


def folder() -> Path | None:
    """The cache folder named by ``$EFFMNIST_TRAIN_CACHE``, or None (no caching)."""
    value = os.environ.get(ENV)
    return Path(value) if value else None


@functools.cache
def code_version() -> str:
    """A hash of the package's Python source: a change to any module starts a new cache."""
    package = Path(__file__).resolve().parents[1]
    digest = hashlib.blake2b(digest_size=16)
    for path in sorted(package.rglob("*.py")):
        digest.update(path.relative_to(package).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def data_fingerprint(tensors) -> str:
    """A hash of the tensors' exact bytes (a quarter of a second for all of MNIST)."""
    digest = hashlib.blake2b(digest_size=16)
    for tensor in tensors:
        array = tensor.detach().cpu().contiguous().numpy()
        digest.update(f"{array.dtype}{array.shape}".encode())
        digest.update(memoryview(array).cast("B"))
    return digest.hexdigest()


def run_key(recipe, seed: int, splits, start: torch.nn.Module, pipeline: str, test: bool) -> str:
    """The key of one training run, given the untrained network it starts from: equal keys,
    equal results. The test images are part of it only when the run reads them (``test``)."""
    fields = recipe.to_dict()
    fields.pop("name", None)  # a name does not change what is trained
    weights = list(start.state_dict().values())
    data = [splits.train_x, splits.train_y, splits.val_x, splits.val_y]
    if test:
        data += [splits.test_x, splits.test_y]
    description = {
        "recipe": fields,
        "seed": seed,
        "data": data_fingerprint(data),
        "network": repr(start),  # the architecture, layer by layer
        "initial weights": data_fingerprint(weights),
        "device": weights[0].device.type if weights else "cpu",
        "pipeline": pipeline,
        "reads test": test,
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "code": code_version(),
    }
    text = json.dumps(description, sort_keys=True)
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


@contextmanager
def locked(key: str):
    """Hold the key's lock: another process asking for the same run waits for this one."""
    root = folder()
    root.mkdir(parents=True, exist_ok=True)
    with FileLock(str(root / f"{key}.lock")):
        yield root / f"{key}.pt"


def save(path: Path, result: TrainResult) -> None:
    """Store a finished run: weights, history, numbers, and the global RNG state it left."""
    payload = {
        "format": FORMAT,
        "recipe": result.recipe.to_dict(),  # how the run was made, for whoever opens the file
        "seed": result.seed,
        "device": result.device,
        "state_dict": {k: v.detach().cpu() for k, v in result.model.state_dict().items()},
        "history": result.history,
        "numbers": {name: getattr(result, name) for name in NUMBERS + TIMES},
        "rng_state": torch.get_rng_state(),
    }
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)


def load(path: Path, recipe, seed: int, start: torch.nn.Module) -> TrainResult | None:
    """The stored run, its weights loaded into ``start`` (the untrained network of the same
    key), with the global RNG set as the run left it; None if there is none."""
    if not path.exists():
        return None
    payload = torch.load(path, map_location="cpu", weights_only=True)
    if payload.get("format") != FORMAT:
        return None
    start.load_state_dict(payload["state_dict"])
    torch.set_rng_state(payload["rng_state"])
    return TrainResult(
        start.train(),
        recipe,
        seed,
        history=payload["history"],
        device=payload["device"],
        **payload["numbers"],
    )


def _finished_bar(result: TrainResult) -> None:
    """What a real run leaves on screen: its progress bar at 100%, with its last loss and the
    last epoch's running accuracy."""
    steps = len(result.history["loss"])
    bar = progress_bar(steps, f"training ({result.recipe.name})")
    bar.update(steps)
    bar.set_postfix(loss=f"{result.history['loss'][-1]:.3f}", acc=f"{result.train_accuracy:.2%}")
    bar.close()


def reuse_trainings(train: Callable[..., TrainResult]) -> Callable[..., TrainResult]:
    """``train`` (with :func:`effmnist.training.train`'s signature), each run of which is trained
    once and then reused while ``$EFFMNIST_TRAIN_CACHE`` names a folder; without it, ``train``."""

    @functools.wraps(train)
    def reusing_train(
        recipe="reference", splits=None, *, seed=0, device="cpu", progress=True,
        data_dir=None, evaluate_test=True, pipeline="fast", make_model=None,
    ) -> TrainResult:  # fmt: skip
        kwargs = dict(seed=seed, device=device, progress=progress, data_dir=data_dir,
                      evaluate_test=evaluate_test, pipeline=pipeline, make_model=make_model)  # fmt: skip
        if folder() is None:
            return train(recipe, splits, **kwargs)
        recipe = get_recipe(recipe) if isinstance(recipe, str) else recipe
        splits = splits if splits is not None else load_splits(data_dir)
        start = initial_model(recipe, seed, pick_device(device), pipeline, make_model)
        key = run_key(recipe, seed, splits, start, pipeline, evaluate_test)
        with locked(key) as path:
            result = load(path, recipe, seed, start)
            if result is None:
                result = train(recipe, splits, **kwargs)
                save(path, result)
            elif progress:
                _finished_bar(result)
        return result

    return reusing_train
