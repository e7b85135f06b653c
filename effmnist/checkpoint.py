"""Checkpoints: a trained model's weights, saved with the recipe, seed and provenance that made it.

One record per file, a plain dict that ``torch.load(..., weights_only=True)`` reads safely:

    {"format": "effmnist-checkpoint-3",
     "recipe": {...},        # Recipe.to_dict(), the model config inside it
     "seed": 0,
     "metrics": {...},       # TrainResult.metrics(): accuracies, parameters, seconds
     "provenance": {...},    # effmnist.provenance: machine, software, git commit
     "state_dict": {...}}

Checkpoints live in one place, ``effmnist.data.checkpoints_dir()``, named
``<recipe>_seed<seed>.pt`` (:func:`default_path`): the command line, notebook 03 (which saves
the reference model) and notebooks 04 and 06 (which load it) all find the same file, whatever
folder they run in.
"""

from __future__ import annotations

import json
import os
import shlex
from dataclasses import dataclass, field
from pathlib import Path

import torch
from filelock import FileLock

from .data.fileio import atomic_path
from .data.folders import checkpoints_dir
from .data.mnist import Splits
from .model import EfficientMNIST, ModelConfig
from .provenance import provenance
from .recipe import Recipe, RecipeError, get_recipe
from .training import TrainResult

FORMAT = "effmnist-checkpoint-3"
OLDER = "effmnist-checkpoint-2"  # {"config", "state_dict", "metrics" with "recipe" and "seed"}
REMAKE = "make a new one with `python -m effmnist train --save` (or effmnist.save_checkpoint)"


class CheckpointError(RuntimeError):
    """A checkpoint could not be loaded or does not match; the message says why."""


@dataclass(frozen=True)
class CheckpointInfo:
    """How a checkpoint's model was made: its recipe and seed, its numbers, its machine."""

    recipe: Recipe
    seed: int
    metrics: dict = field(default_factory=dict)
    provenance: dict = field(default_factory=dict)


def default_path(recipe: str = "reference", seed: int | str = 0) -> Path:
    """Where a checkpoint of ``recipe`` trained on ``seed`` is saved by default."""
    return checkpoints_dir() / f"{recipe}_seed{seed}.pt"


def save_checkpoint(result: TrainResult, path: str | os.PathLike | None = None) -> Path:
    """Save a training run's model with its recipe, seed, metrics and provenance, atomically;
    returns the path (default: :func:`default_path` of its recipe and seed)."""
    path = Path(path) if path is not None else default_path(result.recipe.name, result.seed)
    record = {
        "format": FORMAT,
        "recipe": result.recipe.to_dict(),
        "seed": result.seed,
        "metrics": result.metrics(),
        # through JSON: plain strings (torch.__version__ is a TorchVersion, which a
        # weights_only load refuses to unpickle)
        "provenance": json.loads(json.dumps(provenance(result.device))),
        "state_dict": {k: v.detach().cpu() for k, v in result.model.state_dict().items()},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        torch.save(record, tmp)
    return path


FIELDS = {"recipe": dict, "seed": int, "metrics": dict, "state_dict": dict}
OPTIONAL = {"provenance": dict}  # format 2 has none


def _check(record: dict, key: str, kind: type, path: Path) -> None:
    """A CheckpointError unless ``record[key]`` is there (or optional) and a ``kind``."""
    a = {dict: "a dict", int: "an int"}[kind]
    if key not in record:
        if key in OPTIONAL:
            return
        problem = f"is missing (it should be {a})"
    elif not isinstance(record[key], kind):
        problem = f"is a {type(record[key]).__name__}, not {a}"
    else:
        return
    raise CheckpointError(
        f"{path}: its {key!r} {problem} (the file is incomplete or was written by something "
        f"else); {REMAKE}"
    )


def _from_format_2(record: dict, path: Path) -> dict:
    """A format-2 record as format 3 lays it out: the recipe and seed were kept among the
    metrics, and the architecture the weights were saved with beside them (``config``)."""
    _check(record, "metrics", dict, path)
    metrics = dict(record["metrics"])
    moved = {key: metrics.pop(key) for key in ("recipe", "seed") if key in metrics}
    if isinstance(moved.get("recipe"), dict) and isinstance(record.get("config"), dict):
        moved["recipe"] = {**moved["recipe"], "model": record["config"]}
    return {k: v for k, v in record.items() if k != "metrics"} | moved | {"metrics": metrics}


def _info(record: object, path: Path) -> tuple[CheckpointInfo, dict]:
    """The record's info and weights, or a CheckpointError naming what is missing or wrong."""
    if not isinstance(record, dict) or record.get("format") not in (FORMAT, OLDER):
        made = record.get("format") if isinstance(record, dict) else type(record).__name__
        raise CheckpointError(
            f"{path} is not an effmnist checkpoint of a format this version reads "
            f"({made!r}; it reads {FORMAT!r} and {OLDER!r}); {REMAKE}"
        )
    if record["format"] == OLDER:
        record = _from_format_2(record, path)
    for key, kind in (FIELDS | OPTIONAL).items():
        _check(record, key, kind, path)
    try:
        recipe = Recipe.from_dict(record["recipe"])
    except KeyError as exc:  # a model config without one of its fields
        raise CheckpointError(
            f"{path}: its recipe cannot be read (its model config has no {exc}); {REMAKE}"
        ) from None
    except (RecipeError, TypeError, ValueError) as exc:
        raise CheckpointError(f"{path}: its recipe cannot be read ({exc}); {REMAKE}") from None
    info = CheckpointInfo(recipe, record["seed"], record["metrics"], record.get("provenance", {}))
    return info, record["state_dict"]


def load_checkpoint(
    path: str | os.PathLike,
    expected: ModelConfig | None = None,
    device: str | torch.device = "cpu",
) -> tuple[EfficientMNIST, CheckpointInfo]:
    """A checkpoint's model, in eval mode, and how it was made (:class:`CheckpointInfo`).

    With ``expected``, a checkpoint of any other architecture is refused. Anything that is not
    a complete effmnist checkpoint raises :class:`CheckpointError`, which says what to do.
    """
    path = Path(path)
    if not path.exists():
        where = "" if path == default_path() else f" {shlex.quote(str(path))}"
        raise CheckpointError(
            f"no checkpoint at {path}; train one with `python -m effmnist train --save{where}`"
        )
    try:
        record = torch.load(path, map_location=device, weights_only=True)
    except Exception as exc:  # truncated, not a torch file, unsafe pickle ...
        raise CheckpointError(
            f"{path} is not a readable PyTorch checkpoint ({type(exc).__name__}: {exc}); {REMAKE}"
        ) from None
    info, state_dict = _info(record, path)
    config = info.recipe.model
    if expected is not None and config != expected:
        raise CheckpointError(
            f"{path} holds a different architecture: {config} (expected {expected})"
        )
    model = EfficientMNIST(config)
    try:
        model.load_state_dict(state_dict)
    except RuntimeError as exc:
        raise CheckpointError(
            f"{path}: the weights do not fit the architecture it names: {exc}"
        ) from None
    return model.to(device).eval(), info


def load_or_train(
    recipe: Recipe | str = "reference",
    seed: int = 0,
    splits: Splits | None = None,
    path: str | os.PathLike | None = None,
    device: str | torch.device = "cpu",
) -> tuple[EfficientMNIST, CheckpointInfo]:
    """The checkpoint of ``recipe`` and ``seed`` (at ``path``, default :func:`default_path`),
    trained and saved first if it is missing.

    Notebooks 04 and 06 and the solutions load notebook 03's model this way; a fresh machine or
    Colab session trains it once (about 15 s on a laptop CPU). A file lock makes a second
    notebook wait for a training in progress instead of starting its own. A checkpoint made by
    another recipe or seed is refused, so a notebook never reads a model other than the one
    its text describes. The test set is read only to report it, as ``train`` does.
    """
    import effmnist  # the package's train, which a test suite may wrap to reuse its runs

    recipe = get_recipe(recipe) if isinstance(recipe, str) else recipe
    path = Path(path) if path is not None else default_path(recipe.name, seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(f"{path}.lock"):
        if not path.exists():
            save_checkpoint(
                effmnist.train(recipe, splits, seed=seed, device=device, progress=False), path
            )
    model, info = load_checkpoint(path, expected=recipe.model, device=device)
    if info.recipe != recipe or info.seed != seed:
        raise CheckpointError(
            f"{path} was trained with another recipe or seed (seed {info.seed}, {info.recipe}); "
            "delete it to train the one asked for"
        )
    return model, info


__all__ = [
    "CheckpointError",
    "CheckpointInfo",
    "default_path",
    "load_checkpoint",
    "load_or_train",
    "save_checkpoint",
]
