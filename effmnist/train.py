"""Training: the optimizer, the learning-rate schedule and the loop that runs a recipe.

:func:`train` is the whole run (seeded model, batches, optimizer, schedule, one or more epochs,
then validation and test accuracy); :func:`train_one_epoch` is the loop a learner writes by hand
in notebook 03, step for step.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from .data import Splits, TensorLoader
from .evaluate import accuracy
from .model import EfficientMNIST, count_parameters
from .progress import progress_bar
from .recipe import Recipe, get_recipe

PIPELINES = ("fast", "conventional")


class DeviceError(RuntimeError):
    """The requested device is not available on this machine."""


@functools.cache
def keep_freed_memory() -> bool:
    """Let the C allocator keep freed memory for reuse instead of handing it back to the OS.

    A training step allocates and frees tens of MB of activations. By default glibc returns
    blocks this large to the OS at once and maps them again for the next batch, and each page
    comes back zeroed, as a page fault: 0.6 to 1.3 million of them in one reference epoch. With
    the mmap threshold at its 32 MB maximum and trimming at 1 GB, the freed blocks are reused:
    about 0.25 million faults, and `python -m effmnist train` 0.8 s faster (evaluation 0.6 s
    instead of 1.1 s; medians of 5 interleaved runs on a 2-core AMD EPYC). The process keeps
    its peak memory. Linux with glibc only; elsewhere it does nothing. Returns whether it did.
    """
    import ctypes
    import ctypes.util
    import sys

    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (e.g. musl)
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3  # from glibc's malloc.h
    # the mmap threshold first: fixing either one stops glibc adjusting the other itself
    return bool(mallopt(m_mmap_threshold, 32 * 2**20) and mallopt(m_trim_threshold, 2**30))


def pick_device(requested: str | None = None) -> torch.device:
    """The requested device, else cuda, then mps, then cpu."""
    if requested:
        device = torch.device(requested)
        if device.type == "cuda" and not torch.cuda.is_available():
            raise DeviceError("device 'cuda' was requested but no CUDA GPU is available")
        if device.type == "mps" and not torch.backends.mps.is_available():
            raise DeviceError("device 'mps' was requested but MPS is not available")
        return device
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def make_optimizer(model: nn.Module, recipe: Recipe, fused: bool = True) -> torch.optim.Optimizer:
    """Adam (or AdamW) with the recipe's lr and weight decay; fused where the device has it."""
    cls = torch.optim.AdamW if recipe.optimizer == "adamw" else torch.optim.Adam
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
    raise AssertionError(recipe.schedule)  # Recipe checks the name


@dataclass
class TrainResult:
    """What a training run produced. Accuracies are fractions in 0..1."""

    model: nn.Module  # an EfficientMNIST unless train() was given make_model
    recipe: Recipe
    seed: int
    params: int
    history: dict[str, list[float]] = field(default_factory=dict)  # per batch: loss, acc, lr
    # the running accuracy over the (last) epoch, as the reference prints it
    train_accuracy: float = math.nan
    val_accuracy: float = math.nan
    test_accuracy: float = math.nan
    train_seconds: float = math.nan  # the training loop alone
    eval_seconds: float = math.nan  # validation (and test) accuracy

    def metrics(self) -> dict:
        """The run's numbers and the full recipe that made them (JSON-ready)."""
        return {
            "params": self.params,
            "val_accuracy": self.val_accuracy,
            "test_accuracy": self.test_accuracy,
            "train_seconds": self.train_seconds,
            "eval_seconds": self.eval_seconds,
            "seed": self.seed,
            "recipe": self.recipe.to_dict(),
        }


def random_affine(
    images: torch.Tensor, shift: float, rotate: float, generator: torch.Generator
) -> torch.Tensor:
    """Shift each image by up to ``shift`` pixels, rotate it up to ``rotate`` degrees (batched)."""
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
    make_model: Callable[[], nn.Module] | None = None,
) -> TrainResult:
    """Train a fresh model with ``recipe`` on the 54k split; evaluate on validation and test.

    ``splits`` defaults to :func:`effmnist.data.load_splits` (preparing MNIST if needed).
    The same seed gives the same initialization and the same batches. ``pipeline="fast"``
    (the default) feeds batches from in-memory tensors to a channels-last model with fused
    Adam; ``"conventional"`` is the usual way, as the reference does it: a torchvision
    ``DataLoader`` with per-sample ``ToTensor`` + ``Normalize``, NCHW layout, plain Adam.
    ``make_model`` builds another network in place of ``EfficientMNIST(recipe.model)`` (called
    after the seed is set, e.g. :func:`effmnist.baselines.mlp`), trained the same way.
    """
    from . import runcache
    from .data import load_splits

    recipe = get_recipe(recipe) if isinstance(recipe, str) else recipe
    device = pick_device(str(device) if device else None)
    if device.type == "cpu":
        keep_freed_memory()
    splits = (splits or load_splits(data_dir)).to(device)
    if pipeline not in PIPELINES:
        raise ValueError(f"pipeline must be one of {PIPELINES}, not {pipeline!r}")

    def fresh(progress: bool, evaluate_test: bool) -> TrainResult:
        return _train(recipe, splits, seed, device, progress, evaluate_test, pipeline, make_model)

    if runcache.folder() is None:
        return fresh(progress, evaluate_test)
    # a test suite's cache ($EFFMNIST_TRAIN_CACHE): each run trained once, then loaded
    start = initial_model(recipe, seed, device, pipeline, make_model)
    with runcache.locked(runcache.run_key(recipe, seed, splits, start, pipeline)) as path:
        result = runcache.load(path, recipe, seed, start)
        if result is None:
            result = fresh(progress, evaluate_test=True)
            runcache.save(path, result)
        elif progress:  # what a fresh run leaves on screen: its finished bar
            steps, loss = len(result.history["loss"]), result.history["loss"][-1]
            bar = progress_bar(steps, f"training ({recipe.name})")
            bar.update(steps)
            bar.set_postfix(loss=f"{loss:.3f}", acc=f"{result.train_accuracy:.2%}")
            bar.close()
    if not evaluate_test:
        result.test_accuracy = math.nan
    return result


def initial_model(
    recipe: Recipe,
    seed: int,
    device: torch.device,
    pipeline: str = "fast",
    make_model: Callable[[], nn.Module] | None = None,
) -> nn.Module:
    """The seeded, untrained network that :func:`train` starts from."""
    torch.manual_seed(seed)
    model = (make_model() if make_model else EfficientMNIST(recipe.model)).to(device)
    if recipe.bn_momentum is not None:
        for module in model.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.momentum = recipe.bn_momentum
    if pipeline == "fast" and device.type in ("cpu", "cuda"):
        # NHWC layout: oneDNN's convolutions are ~25% faster per CPU epoch than with NCHW.
        model = model.to(memory_format=torch.channels_last)
    return model


def _train(
    recipe: Recipe,
    splits: Splits,
    seed: int,
    device: torch.device,
    progress: bool,
    evaluate_test: bool,
    pipeline: str,
    make_model: Callable[[], nn.Module] | None,
) -> TrainResult:
    """:func:`train` itself, always training (its arguments resolved)."""
    from .data import torchvision_train_loader

    model = initial_model(recipe, seed, device, pipeline, make_model)
    fast = pipeline == "fast"
    if fast:
        train_x = splits.train_x
        if device.type in ("cpu", "cuda"):
            train_x = train_x.contiguous(memory_format=torch.channels_last)
        loader = TensorLoader(train_x, splits.train_y, recipe.batch_size, shuffle=True, seed=seed)
    else:
        loader = _OnDevice(torchvision_train_loader(splits, recipe.batch_size, seed), device)
    optimizer = make_optimizer(model, recipe, fused=fast)
    scheduler = make_scheduler(optimizer, recipe, recipe.epochs * len(loader))
    history: dict[str, list[float]] = {"loss": [], "acc": [], "lr": []}
    bar = (
        progress_bar(recipe.epochs * len(loader), f"training ({recipe.name})") if progress else None
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
    start = time.perf_counter()
    result = TrainResult(
        model,
        recipe,
        seed,
        count_parameters(model),
        history,
        train_acc,
        accuracy(model, splits.val_x, splits.val_y, recipe.tta),
        math.nan,
        seconds,
    )
    if evaluate_test:
        result.test_accuracy = accuracy(model, splits.test_x, splits.test_y, recipe.tta)
    result.eval_seconds = time.perf_counter() - start
    return result
