"""Speed: one epoch of the reference recipe through the conventional and the fast input pipelines.

``python -m effmnist bench`` runs both in one process, interleaved, and prints medians: seconds,
images/s, the ratio fast/conventional, and achieved GFLOP/s against the model's FLOPs per training
image measured by PyTorch's FlopCounterMode (forward + backward of a real batch).
"""

from __future__ import annotations

import platform
import statistics

import torch
import torch.nn.functional as F

from .data import TRAIN_SIZE, Splits
from .model import EfficientMNIST, ModelConfig
from .recipe import get_recipe
from .train import train


def training_flops_per_image(config: ModelConfig | None = None, batch_size: int = 64) -> float:
    """FLOPs of one training step (forward + backward) per image, counted by FlopCounterMode."""
    from torch.utils.flop_counter import FlopCounterMode

    model = EfficientMNIST(config)
    x, y = torch.randn(batch_size, 1, 28, 28), torch.randint(0, 10, (batch_size,))
    with FlopCounterMode(display=False) as counter:
        F.cross_entropy(model(x), y).backward()
    return counter.get_total_flops() / batch_size


def cpu_name() -> str:
    """The processor's model name (from /proc/cpuinfo where there is one)."""
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def run_bench(
    splits: Splits,
    repeats: int = 3,
    device: str | None = None,
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


def profile_training(splits: Splits, n_images: int = 6_400, row_limit: int = 12) -> str:
    """Where the time goes: a torch.profiler table of the fast pipeline training on ``n_images``."""
    from torch.profiler import ProfilerActivity, profile

    subset = Splits(
        splits.train_x[:n_images],
        splits.train_y[:n_images],
        splits.val_x[:1000],
        splits.val_y[:1000],
        splits.test_x[:1000],
        splits.test_y[:1000],
    )
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        train("reference", subset, progress=False, evaluate_test=False)
    return prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=row_limit)


# --- the whole command, process against process ------------------------------------------------

WHOLE = {
    "seed-style script": ["-m", "effmnist.seed_style"],
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
                if proc.returncode not in (0, 1):  # train exits 1 when it misses its target
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
