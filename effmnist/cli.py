"""Command line: ``python -m effmnist {train,data,predict,bench,ablate} ...`` (``--help`` on each)."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

from .fileio import atomic_write_text

PARAM_BUDGET = 25_000
TARGET_ACCURACY = 0.95


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, not {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    from .train import RECIPES

    parser = argparse.ArgumentParser(prog="python -m effmnist", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser(
        "train", help="train EfficientMNIST for one epoch and report validation/test accuracy"
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
        "--device",
        choices=["cpu", "cuda", "mps"],
        default=None,
        help="default: cuda, then mps, then cpu",
    )
    p.add_argument(
        "--data-dir", default=None, help="MNIST folder (default: $EFFMNIST_DATA or ./data)"
    )
    p.add_argument(
        "--save", metavar="PATH", default=None, help="write a checkpoint of the trained model here"
    )
    p.add_argument(
        "--metrics-json", metavar="PATH", default=None, help="write the run's metrics as JSON here"
    )
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")

    p = sub.add_parser("data", help="prepare and verify MNIST (for pre-fetching before a workshop)")
    p.add_argument(
        "--data-dir", default=None, help="MNIST folder (default: $EFFMNIST_DATA or ./data)"
    )

    p = sub.add_parser(
        "bench", help="time one epoch: torchvision DataLoader vs effmnist's tensor path"
    )
    p.add_argument(
        "--repeats",
        type=_positive_int,
        default=3,
        help="interleaved repeats; medians are reported (default: 3)",
    )
    p.add_argument(
        "--device",
        choices=["cpu", "cuda", "mps"],
        default=None,
        help="default: cuda, then mps, then cpu",
    )
    p.add_argument(
        "--data-dir", default=None, help="MNIST folder (default: $EFFMNIST_DATA or ./data)"
    )
    p.add_argument(
        "--profile", action="store_true", help="also print a torch.profiler table of the fast path"
    )
    p.add_argument("--json", metavar="PATH", default=None, help="write the report as JSON here")

    from .ablate import ABLATIONS, DEFAULT_OUT, SEARCH_GROUP

    p = sub.add_parser(
        "ablate", help="train the ablation variants on several seeds; write a results file"
    )
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="seeds (default: 0 1 2)")
    p.add_argument(
        "--groups",
        nargs="+",
        choices=[*ABLATIONS, SEARCH_GROUP],
        default=None,
        help=f"default: all groups but {SEARCH_GROUP!r} (changes to the best recipe, notebook 05's exercise 3)",
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
        "--data-dir", default=None, help="MNIST folder (default: $EFFMNIST_DATA or ./data)"
    )

    p = sub.add_parser(
        "predict", help="classify photos or drawings of digits with a trained checkpoint"
    )
    p.add_argument(
        "images", nargs="+", metavar="IMAGE", help="image files (PNG, JPEG, ...), one digit each"
    )
    p.add_argument(
        "--checkpoint",
        default="checkpoints/reference.pt",
        help="checkpoint from `train --save` (default: checkpoints/reference.pt)",
    )
    p.add_argument(
        "--top",
        type=_positive_int,
        default=3,
        help="how many digits to list per image (default: 3)",
    )
    p.add_argument(
        "--show",
        metavar="OUT.png",
        default=None,
        help="save each preprocessed 28x28 image beside its top probabilities here",
    )
    return parser


def cmd_train(args: argparse.Namespace) -> int:
    import torch

    from .data import load_splits
    from .model import EfficientMNIST, parameter_breakdown
    from .train import get_recipe, pick_device, save_checkpoint, train

    recipe = get_recipe(args.recipe, epochs=args.epochs)
    device = pick_device(args.device)
    rule = "=" * 60
    print(rule)
    print(f"EFFICIENT MNIST TRAINING (recipe: {recipe.name})")
    print(
        f"Target: <25k parameters, >95% accuracy in {recipe.epochs} epoch{'s' if recipe.epochs > 1 else ''}"
    )
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
    print(f"{'✅ Model within' if within else '❌ Model exceeds'} 25k parameter limit")
    print("Loading MNIST dataset...")
    splits = load_splits(args.data_dir)
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
        print(
            f"TARGET ACHIEVED: >95% accuracy in {recipe.epochs} epoch{'s' if recipe.epochs > 1 else ''}!"
        )
    else:
        print("TARGET MISSED: need <25,000 parameters and >95% test accuracy")
    print(f"Training completed in {result.train_seconds:.2f} seconds")
    print(rule)
    if args.save:
        path = save_checkpoint(args.save, result.model, result.metrics())
        print(f"Checkpoint saved to {path}")
    if args.metrics_json:
        atomic_write_text(args.metrics_json, json.dumps(result.metrics(), indent=2) + "\n")
        print(f"Metrics written to {args.metrics_json}")
    return 0 if met else 1


def cmd_data(args: argparse.Namespace) -> int:
    from .acquire import prepare_mnist, verify_raw

    root = prepare_mnist(args.data_dir, verbose=True)
    for name, state in verify_raw(root).items():
        print(f"  {name:<26} {state}")
    print(
        f"Ready. Point other machines at a copy of this folder with EFFMNIST_DATA={root.resolve()}"
    )
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from .bench import format_report, profile_training, run_bench
    from .data import load_splits

    splits = load_splits(args.data_dir)
    print(f"One epoch of the reference recipe, {args.repeats} interleaved repeats per pipeline:")
    report = run_bench(splits, repeats=args.repeats, device=args.device)
    print(format_report(report))
    if args.profile:
        report["profile"] = profile_training(splits)
        print("\nWhere the time goes (fast path, 100 batches):")
        print(report["profile"])
    if args.json:
        atomic_write_text(args.json, json.dumps(report, indent=2) + "\n")
    return 0


def cmd_ablate(args: argparse.Namespace) -> int:
    from .ablate import format_summary, run_ablations, save_results
    from .data import load_splits

    results = run_ablations(
        load_splits(args.data_dir),
        args.seeds,
        args.groups,
        tuple(args.recipes),
        command="python -m effmnist " + shlex.join(args.argv),
    )
    path = save_results(results, Path(args.out))
    print(format_summary(results))
    print(f"Results written to {path}")
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    from .predict import ImageError, classify, plot_predictions
    from .train import load_checkpoint

    if args.top > 10:
        raise ValueError(f"--top must be at most 10, not {args.top}")
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
                f"{d} ({p:.1%})" for d, p in zip(prediction.digits, prediction.probabilities)
            )
        )
    if args.show and predictions:
        plot_predictions(predictions, args.show)
        print(f"Figure saved to {args.show}")
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    from .acquire import DataError
    from .train import CheckpointError

    args = build_parser().parse_args(argv)
    args.argv = sys.argv[1:] if argv is None else list(argv)
    try:
        return {
            "train": cmd_train,
            "data": cmd_data,
            "bench": cmd_bench,
            "ablate": cmd_ablate,
            "predict": cmd_predict,
        }[args.command](args)
    except (DataError, CheckpointError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
