"""Command line: ``python -m effmnist {train,data,where,clean,predict,bench,ablate} ...``.

``--help`` on each command lists its flags; the ``effmnist`` console script is the same program.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time
from pathlib import Path

from .data.fileio import atomic_write_text
from .model import PARAM_BUDGET

TARGET_ACCURACY = 0.95  # the reference's challenge: more than 95% test accuracy
EXIT_ERROR, EXIT_TARGET_MISSED = 1, 3  # and 0: done; 2: a usage error (argparse's own)
EXIT_CODES = f"""exit codes:
  0  done
  {EXIT_ERROR}  an error the message explains (data, checkpoint, recipe, device)
  2  a usage error: an unknown command, flag or value
  {EXIT_TARGET_MISSED}  train ran but missed the target: >{TARGET_ACCURACY:.0%} test accuracy with \
<{PARAM_BUDGET:,} parameters"""


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, not {text}")
    return value


def _top_k(text: str) -> int:
    value = _positive_int(text)
    if value > 10:
        raise argparse.ArgumentTypeError(f"there are 10 digits; choose 1 to 10, not {text}")
    return value


def _shared_flags() -> tuple[argparse.ArgumentParser, argparse.ArgumentParser]:
    """The flags several commands share, declared once: ``--data-dir`` and ``--device``."""
    data = argparse.ArgumentParser(add_help=False)
    data.add_argument(
        "--data-dir", default=None, help="folder for MNIST (default: effmnist's home; see `where`)"
    )
    device = argparse.ArgumentParser(add_help=False)
    device.add_argument(
        "--device",
        choices=["auto", "cpu", "cuda", "mps"],
        default="cpu",
        help="where to train (default: cpu; auto: cuda, then mps, then cpu)",
    )
    return data, device


def _key_value(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not (sep and key):
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, e.g. account=abc, not {text!r}")
    return key, value


def _cluster_flags(p: argparse.ArgumentParser) -> None:
    """ablate's --cluster and the settings of its jobs (docs/instructor-guide.md, On a cluster)."""
    from .data.folders import home

    group = p.add_argument_group(
        "on a cluster",
        "each (variant, seed) cell as a job of its own, through submitit (pip install submitit)",
    )
    group.add_argument(
        "--cluster",
        choices=["local", "slurm"],
        default=None,
        help="slurm: submit the cells to a SLURM cluster as one job array; local: run the "
        "same jobs on this machine, to try it out (default: neither, this machine's processes)",
    )
    group.add_argument(
        "--cluster-folder",
        metavar="PATH",
        default=None,
        help=f"the jobs' scripts, logs and data, on a filesystem the nodes share "
        f"(default: {home() / 'jobs'})",
    )
    group.add_argument("--partition", default=None, help="the SLURM partition to run in")
    group.add_argument(
        "--time",
        metavar="MINUTES",
        type=_positive_int,
        default=60,
        help="each cell's time limit in minutes (default: 60)",
    )
    group.add_argument(
        "--cpus-per-task",
        metavar="N",
        type=_positive_int,
        default=1,
        help="each cell's cores and threads (default: 1); a cell's numbers depend on it",
    )
    group.add_argument(
        "--sbatch",
        metavar="NAME=VALUE",
        type=_key_value,
        action="append",
        default=[],
        help="any other sbatch option, e.g. account=abc or mem=4G (repeat for more)",
    )


def build_parser() -> argparse.ArgumentParser:
    from . import __version__
    from .checkpoint import default_path
    from .experiments.ablate import ABLATIONS, BEST_GROUPS, DEFAULT_OUT
    from .experiments.final import DEFAULT_OUT as FINAL_OUT
    from .experiments.final import FINAL_SEEDS, REPORTED
    from .recipe import RECIPES

    parser = argparse.ArgumentParser(
        prog="python -m effmnist",
        description=__doc__,
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"effmnist {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    data, device = _shared_flags()

    p = sub.add_parser(
        "train",
        parents=[data, device],
        help="train EfficientMNIST for one epoch and report validation/test accuracy",
        epilog=f"exits {EXIT_TARGET_MISSED} when the run misses the target: "
        f">{TARGET_ACCURACY:.0%} test accuracy with <{PARAM_BUDGET:,} parameters",
    )
    p.add_argument(
        "--recipe",
        choices=sorted(RECIPES),
        default="reference",
        help="training recipe (default: reference)",
    )
    p.add_argument(
        "--seed",
        type=int,
        default=0,
        help="random seed: initialization and batch order (default: 0)",
    )
    p.add_argument("--epochs", type=_positive_int, default=1, help="number of epochs (default: 1)")
    p.add_argument(
        "--save",
        metavar="PATH",
        nargs="?",
        const="",
        default=None,
        help=f"write a checkpoint here (no PATH: {default_path('RECIPE', 'SEED')})",
    )
    p.add_argument(
        "--metrics-json", metavar="PATH", default=None, help="write the run's metrics as JSON here"
    )
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")

    sub.add_parser(
        "data",
        parents=[data],
        help="prepare and verify MNIST (for pre-fetching before a workshop)",
    )

    sub.add_parser("where", help="show where MNIST and the checkpoints are kept, and what is there")
    p = sub.add_parser(
        "clean",
        help="delete the saved checkpoints (and, with --data, MNIST too), e.g. before a workshop",
    )
    p.add_argument("--data", action="store_true", help="delete the prepared MNIST files as well")

    p = sub.add_parser(
        "bench",
        parents=[data, device],
        help="time one epoch: torchvision DataLoader vs effmnist's tensor path",
    )
    p.add_argument(
        "--repeats",
        type=_positive_int,
        default=3,
        help="interleaved repeats; medians are reported (default: 3)",
    )
    p.add_argument(
        "--profile",
        action="store_true",
        help="also time one training step on the CPU part by part: each layer forward and "
        "backward, the loss, clipping, the optimizer",
    )
    p.add_argument(
        "--whole",
        action="store_true",
        help="instead: time whole processes, `python -m effmnist train` against the reference's "
        "script written the usual way (effmnist.seed_style), and where train's time goes",
    )
    p.add_argument("--json", metavar="PATH", default=None, help="write the report as JSON here")

    p = sub.add_parser(
        "ablate",
        parents=[data, device],
        help="train the ablation variants on several seeds; write a results file",
    )
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="seeds (default: 0 1 2)")
    p.add_argument(
        "--groups",
        nargs="+",
        choices=[*ABLATIONS, *BEST_GROUPS],
        default=None,
        help=f"default: every group but {' and '.join(map(repr, BEST_GROUPS))}, which change "
        "the best recipe (notebook 05's search and finalists)",
    )
    p.add_argument(
        "--recipes",
        nargs="*",
        choices=sorted(RECIPES),
        default=[],
        help="named recipes to run on the same seeds too (e.g. reference best small)",
    )
    p.add_argument("--out", default=str(DEFAULT_OUT), help=f"results file (default: {DEFAULT_OUT})")
    p.add_argument(
        "--jobs",
        type=_positive_int,
        default=1,
        help="train this many cells at once, splitting the threads between them (default: 1; "
        "with --cluster: at most this many jobs at once, each with --cpus-per-task threads)",
    )
    _cluster_flags(p)

    p = sub.add_parser(
        "final",
        parents=[data, device],
        help="the final step: the reported recipes on fresh seeds, the test set read once",
    )
    p.add_argument(
        "--seeds", type=int, nargs="+", default=list(FINAL_SEEDS),
        help=f"fresh seeds, used by no verdict (default: {FINAL_SEEDS[0]}-{FINAL_SEEDS[-1]})",
    )  # fmt: skip
    p.add_argument(
        "--recipes", nargs="+", choices=sorted(RECIPES), default=list(REPORTED),
        help=f"default: {' '.join(REPORTED)}",
    )  # fmt: skip
    p.add_argument("--out", default=str(FINAL_OUT), help=f"results file (default: {FINAL_OUT})")
    p.add_argument(
        "--jobs", type=_positive_int, default=1, help="train this many runs at once (default: 1)"
    )

    p = sub.add_parser(
        "predict", help="classify photos or drawings of digits with a trained checkpoint"
    )
    p.add_argument(
        "images", nargs="+", metavar="IMAGE", help="image files (PNG, JPEG, ...), one digit each"
    )
    p.add_argument(
        "--checkpoint",
        default=str(default_path("reference", 0)),
        help=f"checkpoint from `train --save` (default: {default_path('reference', 0)})",
    )
    p.add_argument(
        "--top", type=_top_k, default=3, help="how many digits to list per image (default: 3)"
    )
    p.add_argument(
        "--show",
        metavar="OUT.png",
        default=None,
        help="save each preprocessed 28x28 image beside its top probabilities here",
    )
    return parser


def cmd_train(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    import torch

    from . import train  # the package's train (which a test suite may wrap)
    from .checkpoint import save_checkpoint
    from .data.mnist import load_splits
    from .model import EfficientMNIST, parameter_breakdown
    from .recipe import get_recipe
    from .training import pick_device

    recipe = get_recipe(args.recipe, epochs=args.epochs)
    device = pick_device(args.device)
    epochs = f"{recipe.epochs} epoch{'s' if recipe.epochs > 1 else ''}"
    rule = "=" * 60
    print(rule)
    print(f"EFFICIENT MNIST TRAINING (recipe: {recipe.name})")
    print(f"Target: <{PARAM_BUDGET:,} parameters, >{TARGET_ACCURACY:.0%} accuracy in {epochs}")
    print(rule)
    breakdown = {name: n for name, n, _ in parameter_breakdown(EfficientMNIST(recipe.model))}
    params = breakdown["Total"]
    print("Model Architecture:")
    print(f"  Total parameters: {params:,}")
    print(f"  Conv layers: {sum(n for k, n in breakdown.items() if k.startswith('Conv')):,}")
    print(f"  Batch norm: {breakdown.get('BatchNorm', 0):,}")
    print(f"  Classifier: {breakdown['Classifier']:,}")
    print()
    within = params < PARAM_BUDGET
    # plain ASCII: a Windows console (cp1252) must be able to print it when redirected
    print(f"{'[ok] Model within' if within else '[!!] Model exceeds'} the parameter limit")
    print("Loading MNIST dataset...")
    before_data = time.perf_counter()
    splits = load_splits(args.data_dir)
    data_seconds = time.perf_counter() - before_data
    sizes = splits.sizes()
    print(f"Training samples: {sizes['train']:,}")
    print(f"Validation samples: {sizes['validation']:,}")
    print(f"Test samples: {sizes['test']:,}")
    print()
    print(
        f"Training on {device} ({torch.get_num_threads()} CPU threads)"
        if device.type == "cpu"
        else f"Training on {device}"
    )
    print(f"Model parameters: {params:,}")
    result = train(recipe, splits, seed=args.seed, device=device, progress=not args.no_progress)
    print()
    print("Final Results:")
    print(f"- Training Accuracy: {result.train_accuracy:.2%}")
    print(f"- Validation Accuracy: {result.val_accuracy:.2%}")
    print(f"- Test Accuracy: {result.test_accuracy:.2%}")
    met = within and result.test_accuracy > TARGET_ACCURACY
    if met:
        print(f"TARGET ACHIEVED: >{TARGET_ACCURACY:.0%} accuracy in {epochs}!")
    else:
        print(
            f"TARGET MISSED: need <{PARAM_BUDGET:,} parameters "
            f"and >{TARGET_ACCURACY:.0%} test accuracy"
        )
    print(f"Training completed in {result.train_seconds:.2f} seconds")
    print(rule)
    if args.save is not None:
        path = save_checkpoint(result, args.save or None)
        print(f"Checkpoint saved to {path}")
    if args.metrics_json:
        metrics = (
            {"recipe": result.recipe.to_dict(), "seed": result.seed}
            | result.metrics()
            | {
                # where this command's time went (the interpreter and imports before it: the
                # whole process's wall time minus command_seconds; `bench --whole` measures it)
                "data_seconds": data_seconds,
                "command_seconds": time.perf_counter() - started,
            }
        )
        atomic_write_text(args.metrics_json, json.dumps(metrics, indent=2) + "\n")
        print(f"Metrics written to {args.metrics_json}")
    return 0 if met else EXIT_TARGET_MISSED


def cmd_data(args: argparse.Namespace) -> int:
    from .data.acquire import prepare_mnist, verify_raw

    root = prepare_mnist(args.data_dir, verbose=True)
    for name, state in verify_raw(root).items():
        print(f"  {name:<26} {state}")
    print(
        f"Ready. Point other machines at a copy of this folder with EFFMNIST_DATA={root.resolve()}"
    )
    return 0


def _size(folder: Path) -> str:
    files = [p for p in folder.rglob("*") if p.is_file()] if folder.is_dir() else []
    return f"{len(files)} files, {sum(p.stat().st_size for p in files) / 1e6:.1f} MB"


def cmd_where(args: argparse.Namespace) -> int:
    from .data.acquire import raw_folder
    from .data.folders import ENV_VAR, checkpoints_dir, home

    how = f"from ${ENV_VAR}" if os.environ.get(ENV_VAR) else f"default; set {ENV_VAR} to move it"
    print(f"effmnist's home: {home()} ({how})")
    print(f"  MNIST:       {raw_folder()} ({_size(raw_folder())})")
    print(f"  checkpoints: {checkpoints_dir()} ({_size(checkpoints_dir())})")
    for path in sorted(checkpoints_dir().glob("*.pt")):
        print(f"    {path.name}")
    return 0


def cmd_clean(args: argparse.Namespace) -> int:
    import shutil

    from .data.acquire import raw_folder
    from .data.folders import checkpoints_dir

    folders = [checkpoints_dir()] + ([raw_folder().parent] if args.data else [])
    for folder in folders:
        if folder.is_dir():
            print(f"deleting {folder} ({_size(folder)})")
            shutil.rmtree(folder)
        else:
            print(f"nothing at {folder}")
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from .data.acquire import prepare_mnist
    from .data.mnist import load_splits
    from .experiments.bench import (
        format_anatomy,
        format_report,
        format_whole,
        run_bench,
        run_whole,
        step_anatomy,
    )

    if args.whole:
        root = prepare_mnist(args.data_dir)
        print(f"Whole processes, {args.repeats} interleaved repeats each:")
        report = run_whole(str(root), repeats=args.repeats)
        print(format_whole(report))
        if args.json:
            atomic_write_text(args.json, json.dumps(report, indent=2) + "\n")
        return 0

    splits = load_splits(args.data_dir)
    print(f"One epoch of the reference recipe, {args.repeats} interleaved repeats per pipeline:")
    report = run_bench(splits, repeats=args.repeats, device=args.device)
    print(format_report(report))
    if args.profile:
        report["anatomy"] = step_anatomy(splits)
        print("\nWhere a training step's time goes (fast path, on the CPU):")
        print(format_anatomy(report["anatomy"]))
    if args.json:
        atomic_write_text(args.json, json.dumps(report, indent=2) + "\n")
    return 0


def cmd_ablate(args: argparse.Namespace) -> int:
    from .data.mnist import load_splits
    from .experiments.ablate import run_ablations, save_results
    from .experiments.analysis import format_summary, format_verdicts

    cluster = None
    if args.cluster:
        from .data.folders import home
        from .experiments.cluster import Cluster

        cluster = Cluster(
            kind=args.cluster,
            folder=Path(args.cluster_folder) if args.cluster_folder else home() / "jobs",
            cpus_per_task=args.cpus_per_task,
            partition=args.partition,
            time_min=args.time,
            sbatch=tuple(args.sbatch),
        )
    results = run_ablations(
        load_splits(args.data_dir),
        args.seeds,
        args.groups,
        tuple(args.recipes),
        command="python -m effmnist " + shlex.join(args.argv),
        jobs=args.jobs,
        device=args.device,
        cluster=cluster,
    )
    path = save_results(results, Path(args.out))
    print(format_summary(results))
    print()
    print(format_verdicts(results))
    print(f"Results written to {path}")
    return 0


def cmd_final(args: argparse.Namespace) -> int:
    from .data.mnist import load_splits
    from .experiments.ablate import save_results
    from .experiments.final import final_table, paired_test_difference, run_final

    results = run_final(
        load_splits(args.data_dir), tuple(args.seeds), tuple(args.recipes),
        command="python -m effmnist " + shlex.join(args.argv), jobs=args.jobs, device=args.device,
    )  # fmt: skip
    path = save_results(results, Path(args.out))
    print(final_table(results))
    names = {r["variant"] for r in results["rows"]}
    if {"best", "reference"} <= names:
        mean, (low, high), n = paired_test_difference(results)
        print(f"best - reference on test, paired by seed (n={n}): {mean:+.1f} images "
              f"(95% CI {low:+.1f} to {high:+.1f}) of 10,000")  # fmt: skip
    print(f"Results written to {path}")
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    from .checkpoint import load_checkpoint
    from .data.images import ImageError
    from .digits.preprocess import classify
    from .plots.predictions import plot_predictions

    model, _ = load_checkpoint(args.checkpoint)
    predictions, failed = [], 0
    for image in args.images:
        try:
            prediction = classify(image, model, k=args.top)[0]
        except ImageError as exc:
            print(f"error: {exc}", file=sys.stderr)
            failed += 1
            continue
        predictions.append(prediction)
        print(
            f"{image}: "
            + "  ".join(
                f"{d} ({p:.1%})"
                for d, p in zip(prediction.digits, prediction.probabilities, strict=True)
            )
        )
    if args.show and predictions:
        plot_predictions(predictions, args.show)
        print(f"Figure saved to {args.show}")
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    """Run one command; the package's own errors become a one-line message and exit code 1.

    Any other exception is a bug and keeps its traceback.
    """
    from .checkpoint import CheckpointError
    from .data.acquire import DataError
    from .recipe import RecipeError
    from .training import DeviceError

    args = build_parser().parse_args(argv)
    args.argv = sys.argv[1:] if argv is None else list(argv)
    try:
        return {
            "train": cmd_train,
            "data": cmd_data,
            "where": cmd_where,
            "clean": cmd_clean,
            "bench": cmd_bench,
            "ablate": cmd_ablate,
            "final": cmd_final,
            "predict": cmd_predict,
        }[args.command](args)
    except (DataError, CheckpointError, RecipeError, DeviceError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR


def run() -> None:
    """The ``effmnist`` command (and ``python -m effmnist``)."""
    sys.exit(main())


if __name__ == "__main__":
    run()
