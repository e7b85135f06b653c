"""Checkpoints: a trained model's weights saved with the recipe, seed and metrics that made it.

The file is a plain dict (``torch.load(..., weights_only=True)`` reads it safely) written
atomically. It stores the model config (to rebuild the network) and, since format 2, the full
training recipe and seed, so a checkpoint says how it was made.

Where checkpoints live, in one place: :func:`default_path` names them
``checkpoints/<recipe>_seed<seed>.pt`` relative to the current folder. The command line
(``train --save``, ``predict --checkpoint``) uses it from wherever it is run; the notebooks run
in ``notebooks/``, so notebook 03's model is ``notebooks/checkpoints/reference_seed0.pt``,
which notebooks 04 and 06 load.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from .data import Splits
from .fileio import atomic_path
from .model import EfficientMNIST, ModelConfig
from .recipe import Recipe, get_recipe

FORMATS = ("effmnist-checkpoint-1", "effmnist-checkpoint-2")  # 1: without the recipe


def default_path(recipe: str = "reference", seed: int | str = 0) -> Path:
    """Where a checkpoint of ``recipe`` trained on ``seed`` is saved by default."""
    return Path("checkpoints") / f"{recipe}_seed{seed}.pt"


class CheckpointError(RuntimeError):
    """A checkpoint could not be loaded or does not match; the message says why."""


def save_checkpoint(
    path: str | os.PathLike,
    model: EfficientMNIST,
    metrics: dict | None = None,
    recipe: Recipe | None = None,
) -> Path:
    """Save weights, the model config, the recipe and metrics atomically; returns the path.

    ``metrics`` is usually :meth:`effmnist.train.TrainResult.metrics`, which already holds the
    recipe and seed; a ``recipe`` given here is stored too.
    """
    metrics = dict(metrics or {})
    if recipe is not None:
        metrics["recipe"] = recipe.to_dict()
    payload = {
        "format": FORMATS[-1],
        "config": model.config.to_dict(),
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "metrics": metrics,
    }
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)
    return Path(path)


def load_checkpoint(
    path: str | os.PathLike,
    expected: ModelConfig | None = None,
    device: str | torch.device = "cpu",
) -> tuple[EfficientMNIST, dict]:
    """Load a checkpoint (``weights_only=True``) into a fresh model; returns ``(model, metrics)``.

    ``metrics["recipe"]`` (a dict; :meth:`Recipe.from_dict` rebuilds it) says how the model was
    trained. With ``expected``, a checkpoint of any other architecture is refused.
    """
    path = Path(path)
    if not path.exists():
        raise CheckpointError(
            f"no checkpoint at {path}; train one with `python -m effmnist train --save {path}`"
        )
    try:
        payload = torch.load(path, map_location=device, weights_only=True)
    except Exception as exc:
        raise CheckpointError(
            f"{path} is not a readable PyTorch checkpoint ({type(exc).__name__}: {exc})"
        ) from None
    if not isinstance(payload, dict) or payload.get("format") not in FORMATS:
        raise CheckpointError(
            f"{path} is not an effmnist checkpoint (made by effmnist.checkpoint.save_checkpoint)"
        )
    config = ModelConfig.from_dict(payload["config"])
    if expected is not None and config != expected:
        raise CheckpointError(
            f"{path} holds a different architecture: {config} (expected {expected})"
        )
    model = EfficientMNIST(config)
    try:
        model.load_state_dict(payload["state_dict"])
    except RuntimeError as exc:
        raise CheckpointError(
            f"{path}: the weights do not fit the architecture it names: {exc}"
        ) from None
    return model.to(device).eval(), payload.get("metrics", {})


def load_or_train(
    path: str | os.PathLike,
    recipe: Recipe | str = "reference",
    splits: Splits | None = None,
    *,
    seed: int = 0,
) -> tuple[EfficientMNIST, dict]:
    """The checkpoint at ``path``, trained (``recipe``, ``seed``) and saved there first if missing.

    Notebooks 04 and 06 and the solutions share notebook 03's model this way; a fresh checkout or
    Colab session trains it once. A checkpoint made by another recipe or seed is refused, so a
    notebook never silently reads a model other than the one its text describes.
    """
    from .train import train

    recipe = get_recipe(recipe) if isinstance(recipe, str) else recipe
    if not Path(path).exists():
        result = train(recipe, splits, seed=seed, progress=False)
        save_checkpoint(path, result.model, result.metrics())
    model, metrics = load_checkpoint(path, expected=recipe.model)
    made_by = metrics.get("recipe")
    if isinstance(made_by, dict) and (
        Recipe.from_dict(made_by) != recipe or metrics.get("seed") != seed
    ):
        raise CheckpointError(
            f"{path} was trained with another recipe or seed (seed {metrics.get('seed')}, "
            f"{Recipe.from_dict(made_by)}); delete it to train the one asked for"
        )
    return model, metrics
