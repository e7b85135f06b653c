"""The one-epoch training recipe: optimizer, schedule, loop, evaluation, checkpoints."""

from __future__ import annotations

import math
import os
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from .data import Splits, TensorLoader
from .fileio import atomic_path
from .model import EfficientMNIST, ModelConfig, count_parameters


@dataclass(frozen=True)
class Recipe:
    """A training recipe. The defaults are the reference's, exactly."""

    name: str = "reference"
    model: ModelConfig = ModelConfig()
    optimizer: str = "adam"  # "adam" (L2 weight decay, as the reference) or "adamw"
    lr: float = 0.015
    weight_decay: float = 1e-4
    batch_size: int = 64
    epochs: int = 1
    schedule: str = "cosine"  # "cosine" (per batch, lr -> min_lr), "onecycle", or "constant"
    min_lr: float = 0.001
    clip_grad: float | None = 1.0
    label_smoothing: float = 0.0
    # Beyond the reference (all off by default):
    pct_start: float = 0.25  # OneCycle: fraction of the steps spent warming up
    bn_momentum: float | None = None  # BatchNorm running-stat momentum (PyTorch's default: 0.1)
    ema: float | None = (
        None  # decay of an exponential moving average of the weights, evaluated instead
    )
    augment_shift: float = 0.0  # random translation of each training image, up to this many pixels
    augment_rotate: float = 0.0  # random rotation of each training image, up to this many degrees

    def to_dict(self) -> dict:
        d = asdict(self)
        d["model"] = self.model.to_dict()
        return d


RECIPES: dict[str, Recipe] = {
    "reference": Recipe(),
    # Beyond the reference, chosen on the 6k validation split only (notebook 05 says how):
    # a second 16-channel conv before the first pool, a narrower last stage to stay under 25k,
    # OneCycle at max lr 0.03, label smoothing 0.1, and batch 32 (twice the updates in one epoch).
    "best": Recipe(
        model=ModelConfig(stages=((16, 16), (32,), (56,))),
        schedule="onecycle",
        lr=0.03,
        label_smoothing=0.1,
        batch_size=32,
    ),
    # The same training under 10,000 parameters.
    "small": Recipe(
        model=ModelConfig(stages=((8, 8), (16, 16), (32,))),
        schedule="onecycle",
        lr=0.03,
        label_smoothing=0.1,
        batch_size=32,
    ),
}


def get_recipe(name: str, **overrides) -> Recipe:
    """A named recipe from :data:`RECIPES`, with fields overridden (``epochs=2``, ...)."""
    if name not in RECIPES:
        raise KeyError(f"unknown recipe {name!r}; choose from {', '.join(RECIPES)}")
    return replace(RECIPES[name], name=name, **overrides)


def pick_device(requested: str | None = None) -> torch.device:
    """The requested device, else cuda, then mps, then cpu."""
    if requested:
        device = torch.device(requested)
        if device.type == "cuda" and not torch.cuda.is_available():
            raise ValueError("--device cuda was requested but no CUDA GPU is available")
        if device.type == "mps" and not torch.backends.mps.is_available():
            raise ValueError("--device mps was requested but MPS is not available")
        return device
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def make_optimizer(model: nn.Module, recipe: Recipe, fused: bool = True) -> torch.optim.Optimizer:
    """Adam (or AdamW) with the recipe's lr and weight decay; the fused kernel where the device has one."""
    cls = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW}[recipe.optimizer]
    # one kernel for all parameters: ~0.4 s less per CPU epoch
    fused = fused and next(model.parameters()).device.type in ("cpu", "cuda")
    return cls(
        model.parameters(), lr=recipe.lr, weight_decay=recipe.weight_decay, fused=fused or None
    )


class _OnDevice:
    """Wraps a DataLoader so that each batch lands on ``device``."""

    def __init__(self, loader, device: torch.device):
        self.loader, self.device = loader, device

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self):
        for images, labels in self.loader:
            yield images.to(self.device), labels.to(self.device)


def make_scheduler(optimizer: torch.optim.Optimizer, recipe: Recipe, total_steps: int):
    """A learning-rate schedule stepped once per batch."""
    if recipe.schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(
            optimizer, T_max=total_steps, eta_min=recipe.min_lr
        )
    if recipe.schedule == "onecycle":
        return torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=recipe.lr, total_steps=total_steps, pct_start=recipe.pct_start
        )
    if recipe.schedule == "constant":
        return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
    raise ValueError(f"unknown schedule {recipe.schedule!r}")


@torch.inference_mode()
def predict(model: nn.Module, images: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
    """Class probabilities (N, 10) for normalized images (N, 1, 28, 28), in eval mode."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    out = torch.cat(
        [
            F.softmax(model(images[i : i + batch_size].to(device)), dim=1).cpu()
            for i in range(0, len(images), batch_size)
        ]
    )
    model.train(was_training)
    return out


def accuracy(model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
    """Fraction of ``images`` classified correctly (0..1)."""
    return (predict(model, images).argmax(1) == labels.cpu()).float().mean().item()


@dataclass
class TrainResult:
    """What a training run produced. Accuracies are fractions in 0..1."""

    model: EfficientMNIST
    recipe: Recipe
    seed: int
    params: int
    history: dict[str, list[float]] = field(default_factory=dict)  # per batch: loss, acc, lr
    train_accuracy: float = (
        math.nan
    )  # running accuracy over the (last) epoch, as the reference prints
    val_accuracy: float = math.nan
    test_accuracy: float = math.nan
    train_seconds: float = math.nan

    def metrics(self) -> dict:
        return {
            "params": self.params,
            "val_accuracy": self.val_accuracy,
            "test_accuracy": self.test_accuracy,
            "train_seconds": self.train_seconds,
            "seed": self.seed,
            "recipe": self.recipe.name,
        }


def random_affine(
    images: torch.Tensor, shift: float, rotate: float, generator: torch.Generator
) -> torch.Tensor:
    """Shift each image by up to ``shift`` pixels and rotate it by up to ``rotate`` degrees (one batch op)."""
    n = len(images)
    u = torch.rand(n, 3, generator=generator).to(images.device) * 2 - 1
    angle = u[:, 0] * math.radians(rotate)
    cos, sin = torch.cos(angle), torch.sin(angle)
    theta = torch.stack(
        [
            torch.stack([cos, -sin, u[:, 1] * shift * 2 / 28], 1),
            torch.stack([sin, cos, u[:, 2] * shift * 2 / 28], 1),
        ],
        1,
    )
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    background = images.amin()  # the normalized value of a black pixel
    return F.grid_sample(images - background, grid, align_corners=False) + background


def train_one_epoch(
    model,
    loader,
    optimizer,
    scheduler,
    recipe: Recipe,
    history: dict,
    progress=None,
    ema=None,
    generator: torch.Generator | None = None,
) -> float:
    """One pass over ``loader``; appends per-batch loss, accuracy and lr to ``history``."""
    model.train()
    correct = seen = 0
    augment = recipe.augment_shift > 0 or recipe.augment_rotate > 0
    for images, labels in loader:
        if augment:
            images = random_affine(images, recipe.augment_shift, recipe.augment_rotate, generator)
        logits = model(images)
        loss = F.cross_entropy(logits, labels, label_smoothing=recipe.label_smoothing)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if recipe.clip_grad:
            nn.utils.clip_grad_norm_(model.parameters(), recipe.clip_grad)
        history["lr"].append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
        if ema is not None:
            ema.update_parameters(model)
        batch_correct = (logits.argmax(1) == labels).sum().item()
        correct, seen = correct + batch_correct, seen + len(labels)
        history["loss"].append(loss.item())
        history["acc"].append(batch_correct / len(labels))
        if progress is not None:
            progress.update(1)
            if len(history["loss"]) % 20 == 0:
                progress.set_postfix(loss=f"{loss.item():.3f}", acc=f"{correct / seen:.2%}")
    return correct / seen


def train(
    recipe: Recipe | str = "reference",
    splits: Splits | None = None,
    *,
    seed: int = 0,
    device: str | torch.device | None = None,
    progress: bool = True,
    data_dir=None,
    evaluate_test: bool = True,
    pipeline: str = "fast",
) -> TrainResult:
    """Train a fresh model with ``recipe`` on the 54k split; evaluate on validation and test.

    ``splits`` defaults to :func:`effmnist.data.load_splits` (preparing MNIST if needed).
    The same seed gives the same initialization and the same batches. ``pipeline="fast"``
    (the default) feeds batches from in-memory tensors to a channels-last model with fused
    Adam; ``"conventional"`` is the usual way, as the reference does it: a torchvision
    ``DataLoader`` with per-sample ``ToTensor`` + ``Normalize``, NCHW layout, plain Adam.
    """
    from .data import load_splits, torchvision_train_loader

    recipe = get_recipe(recipe) if isinstance(recipe, str) else recipe
    device = pick_device(str(device) if device else None)
    splits = (splits or load_splits(data_dir)).to(device)
    torch.manual_seed(seed)
    model = EfficientMNIST(recipe.model).to(device)
    if recipe.bn_momentum is not None:
        for module in model.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.momentum = recipe.bn_momentum
    fast = pipeline == "fast"
    if fast:
        train_x = splits.train_x
        if device.type in ("cpu", "cuda"):
            # NHWC layout: oneDNN's convolutions are ~25% faster per CPU epoch than with NCHW.
            model = model.to(memory_format=torch.channels_last)
            train_x = train_x.contiguous(memory_format=torch.channels_last)
        loader = TensorLoader(train_x, splits.train_y, recipe.batch_size, shuffle=True, seed=seed)
    elif pipeline == "conventional":
        loader = _OnDevice(torchvision_train_loader(splits, recipe.batch_size, seed), device)
    else:
        raise ValueError(f"pipeline must be 'fast' or 'conventional', not {pipeline!r}")
    optimizer = make_optimizer(model, recipe, fused=fast)
    scheduler = make_scheduler(optimizer, recipe, recipe.epochs * len(loader))
    history: dict[str, list[float]] = {"loss": [], "acc": [], "lr": []}
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(
            total=recipe.epochs * len(loader), desc=f"training ({recipe.name})", unit="batch"
        )
    ema = None
    if recipe.ema:
        from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

        ema = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(recipe.ema), use_buffers=True)
    generator = torch.Generator().manual_seed(seed + 12_345)
    start = time.perf_counter()
    for _ in range(recipe.epochs):
        train_acc = train_one_epoch(
            model, loader, optimizer, scheduler, recipe, history, bar, ema, generator
        )
    if ema is not None:
        model = ema.module  # evaluate (and save) the averaged weights
    if device.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    if bar is not None:
        bar.close()
    result = TrainResult(
        model,
        recipe,
        seed,
        count_parameters(model),
        history,
        train_acc,
        accuracy(model, splits.val_x, splits.val_y),
        math.nan,
        seconds,
    )
    if evaluate_test:
        result.test_accuracy = accuracy(model, splits.test_x, splits.test_y)
    return result


# --- checkpoints ------------------------------------------------------------------------------


class CheckpointError(RuntimeError):
    """A checkpoint could not be loaded; the message says why."""


def save_checkpoint(
    path: str | os.PathLike, model: EfficientMNIST, metrics: dict | None = None
) -> Path:
    """Save weights, the model config and metrics atomically (temporary file, then rename)."""
    path = Path(path)
    payload = {
        "format": "effmnist-checkpoint-1",
        "config": model.config.to_dict(),
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "metrics": metrics or {},
    }
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)
    return path


def load_checkpoint(
    path: str | os.PathLike, expected: ModelConfig | None = None, device: str | torch.device = "cpu"
) -> tuple[EfficientMNIST, dict]:
    """Load a checkpoint (``weights_only=True``) into a fresh model; returns ``(model, metrics)``.

    With ``expected``, a checkpoint of any other architecture is refused with a clear error.
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
    if not isinstance(payload, dict) or payload.get("format") != "effmnist-checkpoint-1":
        raise CheckpointError(
            f"{path} is not an effmnist checkpoint (made by effmnist.save_checkpoint)"
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
    """The checkpoint at ``path``, trained (``recipe``, ``seed``) and saved there first if it is missing.

    Notebooks 04 and 06 and the solutions share notebook 03's model this way; a fresh checkout or
    Colab session trains it once. A checkpoint of another architecture is refused, as in :func:`load_checkpoint`.
    """
    recipe = get_recipe(recipe) if isinstance(recipe, str) else recipe
    if not Path(path).exists():
        result = train(recipe, splits, seed=seed, progress=False)
        save_checkpoint(path, result.model, result.metrics())
    return load_checkpoint(path, expected=recipe.model)
