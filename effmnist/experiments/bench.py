"""Speed: one epoch of the reference recipe through the conventional and the fast input pipelines.

``python -m effmnist bench`` runs both in one process, interleaved, and prints medians: seconds,
images/s, the ratio fast/conventional, and achieved GFLOP/s against the model's FLOPs per training
image measured by PyTorch's FlopCounterMode (forward + backward of a real batch).
"""

from __future__ import annotations

import statistics
from collections.abc import Callable

import torch
import torch.nn.functional as F

from ..data.mnist import TRAIN_SIZE, Splits
from ..evaluate import eval_mode
from ..model import EfficientMNIST, ModelConfig
from ..provenance import cpu_name
from ..recipe import get_recipe
from ..training import train


def count_flops(step: Callable[[], object]) -> int:
    """The FLOPs ``step()`` runs, as FlopCounterMode counts them (matrix products and
    convolutions; elementwise work such as ReLU, BatchNorm or the loss counts none)."""
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        step()
    return counter.get_total_flops()


def training_flops_per_image(config: ModelConfig | None = None, batch_size: int = 64) -> float:
    """FLOPs of one training step (forward + backward) per image, counted by FlopCounterMode."""
    x, y = torch.randn(batch_size, 1, 28, 28), torch.randint(0, 10, (batch_size,))
    model = EfficientMNIST(config)
    return count_flops(lambda: F.cross_entropy(model(x), y).backward()) / batch_size


def run_bench(
    splits: Splits,
    repeats: int = 3,
    device: str = "cpu",
    seed: int = 0,
    pipelines: tuple[str, ...] = ("conventional", "fast"),
    log=print,
) -> dict:
    """Time one epoch of the reference recipe per pipeline, interleaved ``repeats`` times."""
    recipe = get_recipe("reference")
    flops = training_flops_per_image(recipe.model, recipe.batch_size)
    seconds: dict[str, list[float]] = {p: [] for p in pipelines}
    accuracy: dict[str, list[float]] = {p: [] for p in pipelines}
    for r in range(repeats):
        for pipeline in pipelines:
            result = train(
                recipe,
                splits,
                seed=seed,
                device=device,
                progress=False,
                evaluate_test=False,
                pipeline=pipeline,
            )
            seconds[pipeline].append(result.train_seconds)
            accuracy[pipeline].append(result.val_accuracy)
            log(
                f"  repeat {r + 1}/{repeats}  {pipeline:<12} {result.train_seconds:6.2f} s  "
                f"val {result.val_accuracy:.2%}"
            )
    report = {
        "flops_per_image": flops,
        "images": TRAIN_SIZE,
        "repeats": repeats,
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "cpu": cpu_name(),
        "pipelines": {},
    }
    for pipeline in pipelines:
        median = statistics.median(seconds[pipeline])
        report["pipelines"][pipeline] = {
            "seconds": seconds[pipeline],
            "median_seconds": median,
            "images_per_second": TRAIN_SIZE / median,
            "gflops": flops * TRAIN_SIZE / median / 1e9,
            "val_accuracy": accuracy[pipeline],
        }
    if {"conventional", "fast"} <= set(pipelines):
        report["ratio"] = (
            report["pipelines"]["fast"]["median_seconds"]
            / report["pipelines"]["conventional"]["median_seconds"]
        )
    return report


def format_report(report: dict) -> str:
    """The bench report as a small text table."""
    lines = [
        f"model: {report['flops_per_image'] / 1e6:.2f} MFLOP per training image "
        f"(forward + backward, FlopCounterMode); {report['images']:,} images per epoch",
        f"torch {report['torch']}, {report['threads']} threads, {report['cpu']}",
        f"{'pipeline':<14}{'median s':>10}{'images/s':>12}{'GFLOP/s':>10}"
        f"   (median of {report['repeats']})",
    ]
    for name, p in report["pipelines"].items():
        lines.append(
            f"{name:<14}{p['median_seconds']:>10.2f}{p['images_per_second']:>12,.0f}{p['gflops']:>10.1f}"
        )
    if "ratio" in report:
        lines.append(f"ratio fast/conventional: {report['ratio']:.2f}")
    return "\n".join(lines)


def conv_peak_gflops(repeats: int = 20) -> float:
    """This machine's practical peak: GFLOP/s of a large, compute-bound 3x3 convolution
    (128 to 128 channels on 32 maps of 14x14, channels-last, forward), best of ``repeats``.

    With that many channels oneDNN keeps the vector units busy, so the figure is what the
    hardware gives at the current thread count, clock boost included, rather than a
    datasheet number.
    """
    from time import perf_counter

    conv = torch.nn.Conv2d(128, 128, 3, padding=1, bias=False).to(memory_format=torch.channels_last)
    x = torch.randn(32, 128, 14, 14).contiguous(memory_format=torch.channels_last)
    flops = 2 * 32 * 14 * 14 * 128 * 128 * 9
    best = float("inf")
    with torch.no_grad():
        for i in range(repeats + 3):
            start = perf_counter()
            conv(x)
            if i >= 3:  # the first calls set oneDNN's kernels up
                best = min(best, perf_counter() - start)
    return flops / best / 1e9


REFERENCE = get_recipe("reference")
OVERHEAD_PARTS = ("loss", "zero_grad", "clipping", "optimizer", "schedule", "bookkeeping")


def step_anatomy(splits: Splits, steps: int = 100, warmup: int = 20) -> dict:
    """Where one training step's time goes, part by part, by the wall clock.

    The reference recipe on the fast path, step for step as
    :func:`effmnist.training.train_one_epoch` runs it: each layer's forward (timed around the
    call) and backward (from the moment autograd has the gradient of the layer's output to the
    moment it has the gradient of its input, marked by tensor hooks; for the first convolution,
    until its weight's gradient is stored), then the loss, zeroing the gradients, clipping, the
    optimizer, the schedule and the bookkeeping (the batch's loss and accuracy). Medians over
    ``steps`` batches after ``warmup``.

    ReLU runs out of place here, so that a hook can mark its input's gradient; the rest is the
    training step itself. torch.profiler is not used for this: on a 2-core AMD EPYC it made the
    first convolution and BatchNorm three to four times slower than they run without it.
    """
    from collections import defaultdict

    from ..data.mnist import TensorLoader
    from ..training import initial_model, make_optimizer, make_scheduler

    recipe = REFERENCE
    model = initial_model(recipe, 0, torch.device("cpu"))
    for module in model.modules():
        if isinstance(module, torch.nn.ReLU):
            module.inplace = False
    train_x = splits.train_x.contiguous(memory_format=torch.channels_last)
    first = (train_x[: recipe.batch_size], splits.train_y[: recipe.batch_size])
    layers = _layers_in_turn(model, first[0])
    flops, step_flops = _flops_by_layer(model, *first)
    loader = TensorLoader(train_x, splits.train_y, recipe.batch_size, shuffle=True, seed=0)
    if len(loader) < warmup + steps:
        raise ValueError(f"{warmup} + {steps} steps need more than {len(loader)} batches")
    optimizer = make_optimizer(model, recipe)
    scheduler = make_scheduler(optimizer, recipe, len(loader))

    times: dict[str, list[float]] = defaultdict(list)
    for i, (images, labels) in enumerate(loader):
        if i == warmup + steps:
            break
        step, outputs = _timed_step(model, layers, images, labels, optimizer, scheduler)
        if i >= warmup:
            for part, seconds in step.items():
                times[part].append(seconds)

    def ms(part: str) -> float:
        return 1e3 * statistics.median(times[part])

    return {
        "steps": steps,
        "batch_size": recipe.batch_size,
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "cpu": cpu_name(),
        "layers": [
            {
                "name": name,
                "layer": type(layer).__name__,
                "output": list(out.shape[1:]),
                "forward_ms": ms(f"{name} forward"),
                "backward_ms": ms(f"{name} backward"),
                "flops": flops.get(name, 0),
            }
            for (name, layer), out in zip(layers, outputs, strict=True)
        ],
        "other_ms": {part: ms(part) for part in OVERHEAD_PARTS},
        "step_ms": ms("step"),
        "step_flops": step_flops,
        "peak_gflops": conv_peak_gflops(),
    }


def _layers_in_turn(model: torch.nn.Module, probe: torch.Tensor) -> list:
    """``(name, layer)`` for the model's leaf layers, in the order its forward calls them
    (checked on ``probe``: calling them in turn must give the model's output)."""
    layers = [(n, m) for n, m in model.named_modules() if not any(m.children())]
    with torch.no_grad(), eval_mode(model):
        x = probe
        for _, layer in layers:
            x = layer(x)
        if not torch.equal(x, model(probe)):
            raise RuntimeError("the model's forward is not its layers called in turn")
    return layers


def _flops_by_layer(model, images, labels) -> tuple[dict[str, int], int]:
    """FLOPs of one training step on ``images``: each leaf layer's (by its name in ``model``),
    and the whole step's, on a copy of ``model``.

    Each layer is counted alone, forward and backward, on the input it gets in the step, that
    input needing a gradient only where it does in the network (not the image: the first
    convolution computes no input gradient). The layers' counts must add up to the step's.
    """
    from copy import deepcopy
    from functools import partial

    copy = deepcopy(model).train()
    layers = [(n, m) for n, m in copy.named_modules() if not any(m.children())]
    inputs: dict[str, torch.Tensor] = {}
    hooks = [
        layer.register_forward_pre_hook(lambda _, args, name=name: inputs.setdefault(name, args[0]))
        for name, layer in layers
    ]
    try:
        copy(images)  # to record each layer's input
    finally:
        for hook in hooks:
            hook.remove()
    step = count_flops(lambda: F.cross_entropy(copy(images), labels).backward())

    def alone(layer, x):
        x = x.detach().requires_grad_(x.requires_grad)
        out = layer(x.clone())  # a clone: an in-place ReLU may not write into a leaf tensor
        if out.requires_grad:
            out.backward(torch.ones_like(out))

    by_layer = {name: count_flops(partial(alone, layer, inputs[name])) for name, layer in layers}
    if sum(by_layer.values()) != step:
        raise RuntimeError(
            f"the layers' FLOPs ({sum(by_layer.values()):,}) do not add up to the step's "
            f"({step:,}): a layer runs twice, or work runs outside the layers"
        )
    return by_layer, step


def _timed_step(model, layers, images, labels, optimizer, scheduler):
    """One step of the reference recipe as train_one_epoch takes it, each part timed:
    ``({part: seconds}, the layers' outputs)``."""
    from time import perf_counter

    step: dict[str, float] = {}
    start = perf_counter()
    x, outputs = images, []
    for name, layer in layers:
        t = perf_counter()
        x = layer(x)
        step[f"{name} forward"] = perf_counter() - t
        outputs.append(x)
    t = perf_counter()
    loss = F.cross_entropy(x, labels, label_smoothing=REFERENCE.label_smoothing)
    step["loss"] = perf_counter() - t
    t = perf_counter()
    optimizer.zero_grad(set_to_none=True)
    step["zero_grad"] = perf_counter() - t

    marks: dict[int | str, float] = {}  # when autograd has the gradient of layer k's output
    for k, out in enumerate(outputs):
        out.register_hook(lambda g, k=k: marks.__setitem__(k, perf_counter()))
    stored = layers[0][1].weight.register_post_accumulate_grad_hook(  # the first layer's end
        lambda p: marks.__setitem__("first weight", perf_counter())
    )
    t = perf_counter()
    loss.backward()
    end = perf_counter()
    stored.remove()
    step["loss"] += marks[len(layers) - 1] - t
    for k, (name, _) in enumerate(layers):
        step[f"{name} backward"] = marks[k - 1 if k else "first weight"] - marks[k]
    step["bookkeeping"] = end - marks["first weight"]  # autograd ending the backward pass

    t = perf_counter()
    torch.nn.utils.clip_grad_norm_(model.parameters(), REFERENCE.clip_grad)
    step["clipping"] = perf_counter() - t
    t = perf_counter()
    optimizer.step()
    step["optimizer"] = perf_counter() - t
    t = perf_counter()
    scheduler.step()
    step["schedule"] = perf_counter() - t
    t = perf_counter()
    (x.argmax(1) == labels).sum().item(), loss.item()
    step["bookkeeping"] += perf_counter() - t
    step["step"] = perf_counter() - start
    return step, outputs


def format_anatomy(report: dict) -> str:
    """The step anatomy as a text table: each layer forward and backward, then the rest."""
    lines = [
        f"one training step (batch {report['batch_size']}), torch {report['torch']}, "
        f"{report['threads']} threads, {report['cpu']}",
        f"milliseconds, median of {report['steps']} steps",
        f"{'layer':<14}{'kind':<19}{'output':<12}{'forward':>8}{'backward':>9}{'GFLOP/s':>9}",
    ]
    layer_ms = 0.0
    for row in report["layers"]:
        both = row["forward_ms"] + row["backward_ms"]
        layer_ms += both
        rate = f"{row['flops'] / both / 1e6:9.1f}" if row["flops"] else ""
        shape = "x".join(str(n) for n in row["output"])
        lines.append(
            f"{row['name']:<14}{row['layer']:<19}{shape:<12}"
            f"{row['forward_ms']:8.2f}{row['backward_ms']:9.2f}{rate}"
        )
    lines.append(f"{'all layers':<45}{layer_ms:17.2f}")
    for part, value in report["other_ms"].items():
        lines.append(f"{part:<45}{value:17.2f}")
    rest = sum(report["other_ms"].values())
    lines.append(f"{'sum of the parts':<45}{layer_ms + rest:17.2f}")
    rate = report["step_flops"] / report["step_ms"] / 1e6
    lines.append(f"{'whole step':<45}{report['step_ms']:17.2f}{rate:9.1f}")
    lines.append(
        f"a large convolution (128 to 128 channels) on this machine: {report['peak_gflops']:.0f}"
        " GFLOP/s, the practical peak"
    )
    return "\n".join(lines)


# --- the whole command, process against process ------------------------------------------------

WHOLE = {
    "seed-style script": ["-m", "effmnist.experiments.seed_style"],
    "effmnist train": ["-m", "effmnist", "train", "--no-progress"],
}


def run_whole(data_dir: str, repeats: int = 5, log=print) -> dict:
    """Wall time of whole processes, interleaved ``repeats`` times: the reference's script
    written the usual way (:mod:`effmnist.seed_style`) and ``python -m effmnist train``.

    For effmnist's command, its metrics say where the time went: data (load and verify),
    the training loop, evaluation; the rest of the wall time is the interpreter, imports and
    start-up, measured as wall time minus the command's own.
    """
    import json
    import subprocess
    import sys
    import tempfile
    import time
    from pathlib import Path

    walls: dict[str, list[float]] = {name: [] for name in WHOLE}
    parts: dict[str, list[float]] = {"start-up and imports": [], "data": [], "training loop": [],
                                     "evaluation": [], "other": []}  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        metrics_path = Path(tmp) / "metrics.json"
        for r in range(repeats):
            for name, args in WHOLE.items():
                extra = ["--metrics-json", str(metrics_path)] if name == "effmnist train" else []
                start = time.perf_counter()
                proc = subprocess.run(
                    [sys.executable, *args, "--data-dir", str(data_dir), *extra],
                    capture_output=True, text=True,
                )  # fmt: skip
                wall = time.perf_counter() - start
                if proc.returncode not in (0, 3):  # train exits 3 when it misses its target
                    raise RuntimeError(f"{name} failed:\n{proc.stderr[-2000:]}")
                walls[name].append(wall)
                if extra:
                    m = json.loads(metrics_path.read_text())
                    parts["start-up and imports"].append(wall - m["command_seconds"])
                    parts["data"].append(m["data_seconds"])
                    parts["training loop"].append(m["train_seconds"])
                    parts["evaluation"].append(m["eval_seconds"])
                    parts["other"].append(
                        m["command_seconds"]
                        - m["data_seconds"] - m["train_seconds"] - m["eval_seconds"]
                    )  # fmt: skip
                log(f"  repeat {r + 1}/{repeats}  {name:<18} {wall:6.2f} s")
    medians = {name: statistics.median(w) for name, w in walls.items()}
    return {
        "repeats": repeats, "torch": torch.__version__, "threads": torch.get_num_threads(),
        "cpu": cpu_name(), "wall_seconds": walls, "median_seconds": medians,
        "ratio": medians["effmnist train"] / medians["seed-style script"],
        "breakdown_median_seconds": {k: statistics.median(v) for k, v in parts.items()},
    }  # fmt: skip


def format_whole(report: dict) -> str:
    """The whole-process comparison and where effmnist's time goes, as text."""
    lines = [
        f"torch {report['torch']}, {report['threads']} threads, {report['cpu']}",
        f"whole process, median of {report['repeats']} interleaved runs:",
    ]
    for name, seconds in report["median_seconds"].items():
        lines.append(f"  {name:<20}{seconds:8.2f} s")
    lines.append(f"  ratio effmnist / seed-style: {report['ratio']:.2f}")
    lines.append("where `python -m effmnist train` spends its time (medians):")
    for part, seconds in report["breakdown_median_seconds"].items():
        lines.append(f"  {part:<22}{seconds:8.2f} s")
    return "\n".join(lines)
