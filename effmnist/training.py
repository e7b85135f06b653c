"""Training: a recipe in, a trained model and its accuracies out.

Read top to bottom, like pytorch/examples' ``mnist/main.py``: the device, the seeded model, the
optimizer and its schedule, :func:`train_one_epoch` (the loop notebook 03 writes by hand), and
:func:`train`, the whole run: model, batches, epochs, then validation (and test) accuracy.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from .data.augment import random_affine
from .data.mnist import Splits, TensorLoader, load_splits, torchvision_train_loader
from .evaluate import accuracy
from .model import EfficientMNIST, count_parameters
from .progress import progress_bar
from .recipe import Recipe, get_recipe

PIPELINES = ("fast", "conventional")


class DeviceError(RuntimeError):
    """The requested device is not available on this machine."""


def pick_device(requested: str | torch.device = "cpu") -> torch.device:
    """``"cpu"``, ``"cuda"`` or ``"mps"``, checked to exist; ``"auto"``: cuda, then mps, then cpu."""
    if str(requested) == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        return torch.device("mps" if torch.backends.mps.is_available() else "cpu")
    device = torch.device(requested)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise DeviceError("device 'cuda' was requested but no CUDA GPU is available")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise DeviceError("device 'mps' was requested but MPS (Apple silicon) is not available")
    return device


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


def make_optimizer(model: nn.Module, recipe: Recipe, fused: bool = True) -> torch.optim.Optimizer:
    """Adam (or AdamW) with the recipe's lr and weight decay; fused where the device has it."""
    cls = torch.optim.AdamW if recipe.optimizer == "adamw" else torch.optim.Adam
    # one kernel for all parameters: ~0.4 s less per CPU epoch
    fused = fused and next(model.parameters()).device.type in ("cpu", "cuda")
    return cls(
        model.parameters(), lr=recipe.lr, weight_decay=recipe.weight_decay, fused=fused or None
    )


def make_scheduler(optimizer: torch.optim.Optimizer, recipe: Recipe, total_steps: int):
    """The recipe's learning-rate schedule, stepped once per batch."""
    if recipe.schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(
            optimizer, T_max=total_steps, eta_min=recipe.min_lr
        )
    if recipe.schedule == "onecycle":
        beta1 = recipe.onecycle_beta1  # Adam's beta1 cycles against the lr, or stays put
        return torch.optim.lr_scheduler.OneCycleLR(
            optimizer,
            max_lr=recipe.lr,
            total_steps=total_steps,
            pct_start=recipe.pct_start,
            cycle_momentum=beta1 is not None,
            **({"base_momentum": beta1[0], "max_momentum": beta1[1]} if beta1 else {}),
        )
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)  # "constant"


@dataclass
class TrainResult:
    """What a training run produced. Accuracies are fractions in 0..1."""

    model: nn.Module  # an EfficientMNIST unless train() was given make_model
    recipe: Recipe
    seed: int
    params: int
    history: dict[str, list[float]] = field(default_factory=dict)  # per batch: loss, acc, lr
    train_accuracy: float = math.nan  # running accuracy over the last epoch, as the seed prints it
    val_accuracy: float = math.nan
    test_accuracy: float = math.nan  # NaN unless train() was asked to read the test set
    train_seconds: float = math.nan  # the training loop alone
    eval_seconds: float = math.nan  # validation (and test) accuracy
    device: str = "cpu"

    def metrics(self) -> dict:
        """The run's numbers (JSON-ready); a test accuracy only if the test set was read."""
        names = ["params", "train_accuracy", "val_accuracy", "test_accuracy", "train_seconds",
                 "eval_seconds"]  # fmt: skip
        return {n: getattr(self, n) for n in names if n != "test_accuracy" or self.read_test}

    @property
    def read_test(self) -> bool:
        """Whether the run read the test set (else its test accuracy is NaN)."""
        return not math.isnan(self.test_accuracy)


def train_one_epoch(
    model, loader, optimizer, scheduler, recipe: Recipe, history: dict, bar=None, ema=None,
    generator: torch.Generator | None = None,
) -> float:  # fmt: skip
    """One pass over ``loader``; appends per-batch loss, accuracy and lr to ``history``."""
    model.train()
    device = next(model.parameters()).device
    correct = seen = 0
    for step, (images, labels) in enumerate(loader, 1):
        images, labels = images.to(device), labels.to(device)  # no copy when already there
        if recipe.augment_shift > 0 or recipe.augment_rotate > 0:
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
        if bar is not None:
            bar.update(1)
            if step % 20 == 0 or step == len(loader):
                bar.set_postfix(loss=f"{loss.item():.3f}", acc=f"{correct / seen:.2%}")
    return correct / seen


def train(
    recipe: Recipe | str = "reference",
    splits: Splits | None = None,
    *,
    seed: int = 0,
    device: str | torch.device = "cpu",
    progress: bool = True,
    data_dir=None,
    evaluate_test: bool = True,
    pipeline: str = "fast",
    make_model: Callable[[], nn.Module] | None = None,
) -> TrainResult:
    """Train a fresh model with ``recipe`` on the 54k split; report validation (and test) accuracy.

    ``splits`` defaults to :func:`effmnist.data.load_splits` (preparing MNIST if needed). The
    same seed gives the same initial weights and the same batches. With ``evaluate_test=False``
    no test image is read. ``pipeline="fast"`` feeds batches from one in-memory tensor to a
    channels-last model with fused Adam; ``"conventional"`` is the usual way, as the seed does
    it: a torchvision ``DataLoader`` with per-sample ``ToTensor`` + ``Normalize``, NCHW, plain
    Adam. ``make_model`` builds another network in place of ``EfficientMNIST(recipe.model)``
    (e.g. :func:`effmnist.experiments.baselines.mlp`), trained the same way.
    """
    recipe = get_recipe(recipe) if isinstance(recipe, str) else recipe
    device = pick_device(device)
    if pipeline not in PIPELINES:
        raise ValueError(f"pipeline must be one of {PIPELINES}, not {pipeline!r}")
    splits = splits if splits is not None else load_splits(data_dir)

    model = initial_model(recipe, seed, device, pipeline, make_model)
    if pipeline == "fast":
        train_x = splits.train_x.to(device)
        if device.type in ("cpu", "cuda"):
            train_x = train_x.contiguous(memory_format=torch.channels_last)
        train_y = splits.train_y.to(device)
        loader = TensorLoader(train_x, train_y, recipe.batch_size, shuffle=True, seed=seed)
    else:
        loader = torchvision_train_loader(splits, recipe.batch_size, seed)
    optimizer = make_optimizer(model, recipe, fused=pipeline == "fast")
    scheduler = make_scheduler(optimizer, recipe, recipe.epochs * len(loader))
    ema = None
    if recipe.ema:  # an exponential moving average of the weights, evaluated instead of them
        ema = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(recipe.ema), use_buffers=True)
    generator = torch.Generator().manual_seed(seed + 12_345)  # the augmentation's own
    history: dict[str, list[float]] = {"loss": [], "acc": [], "lr": []}
    bar = (
        progress_bar(recipe.epochs * len(loader), f"training ({recipe.name})") if progress else None
    )

    start = time.perf_counter()
    train_acc = math.nan  # stays NaN only where there is no epoch to run
    for _ in range(recipe.epochs):
        train_acc = train_one_epoch(
            model, loader, optimizer, scheduler, recipe, history, bar, ema, generator
        )
    if ema is not None:
        model = ema.module  # evaluate (and save) the averaged weights
    if device.type == "cuda":
        torch.cuda.synchronize()
    train_seconds = time.perf_counter() - start
    if bar is not None:
        bar.close()

    start = time.perf_counter()
    val_acc = accuracy(model, splits.val_x, splits.val_y, recipe.tta)
    test_acc = (
        accuracy(model, splits.test_x, splits.test_y, recipe.tta) if evaluate_test else math.nan
    )
    return TrainResult(
        model, recipe, seed, count_parameters(model), history, train_acc, val_acc, test_acc,
        train_seconds, time.perf_counter() - start, device.type,
    )  # fmt: skip
