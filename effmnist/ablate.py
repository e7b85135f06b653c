"""Ablations: each claim of the reference tested by changing one thing, over several seeds.

``python -m effmnist ablate`` trains every variant below on each seed, judges on the validation
split, and writes ``results/ablations.json`` with its provenance (command, seeds, torch, CPU,
date). Notebook 05 reads that file; the test suite re-runs one cell and checks it agrees.
"""

from __future__ import annotations

import datetime
import json
import statistics
import subprocess
from dataclasses import replace
from pathlib import Path

import torch

from .bench import cpu_name
from .data import Splits
from .fileio import atomic_write_text
from .model import ModelConfig
from .recipe import Recipe, get_recipe
from .train import train

DEFAULT_OUT = Path("results") / "ablations.json"

# group -> variant -> overrides of the reference recipe. The first variant of a group is its baseline.
ABLATIONS: dict[str, dict[str, dict]] = {
    "head": {"gap (reference)": {}, "flatten + linear": {"model": ModelConfig(head="flatten")}},
    "batchnorm": {
        "batchnorm (reference)": {},
        "no batchnorm": {"model": ModelConfig(batchnorm=False)},
    },
    "batch_size": {"64 (reference)": {}, "128": {"batch_size": 128}, "256": {"batch_size": 256}},
    "clipping": {"clip 1.0 (reference)": {}, "no clipping": {"clip_grad": None}},
    "schedule": {
        "cosine (reference)": {},
        "onecycle": {"schedule": "onecycle"},
        "constant": {"schedule": "constant"},
    },
    "dropout": {"dropout 0.1 (reference)": {}, "no dropout": {"model": ModelConfig(dropout=0.0)}},
}
RECIPE_GROUP = (
    "recipes"  # the named recipes (reference, best, small), for the accuracy-vs-parameters plot
)

# Notebook 05's exercise 3, worked: can anything under 25k beat the *best* recipe on validation? Each candidate
# changes the best recipe (not the reference); run only when asked for (``--groups search``).
SEARCH_GROUP = "search"
_BEST_MODEL = get_recipe("best").model
SEARCH: dict[str, dict] = {
    "best recipe": {},
    "no dropout": {"model": replace(_BEST_MODEL, dropout=0.0)},
    "no dropout, no clipping": {"model": replace(_BEST_MODEL, dropout=0.0), "clip_grad": None},
    "label smoothing 0.2": {"label_smoothing": 0.2},
    "warm-up 35%": {"pct_start": 0.35},
    "BN momentum 0.05": {"bn_momentum": 0.05},
    "AdamW, weight decay 0.02": {"optimizer": "adamw", "weight_decay": 0.02},
    "16-16 / 24-24 / 48": {"model": ModelConfig(stages=((16, 16), (24, 24), (48,)))},
    "16-16 / 28-28 / 40": {"model": ModelConfig(stages=((16, 16), (28, 28), (40,)))},
    "20-20 / 32 / 48": {"model": ModelConfig(stages=((20, 20), (32,), (48,)))},
    "16-16 / 32 / 40, flatten": {
        "model": ModelConfig(stages=((16, 16), (32,), (40,)), head="flatten")
    },
    "16-16 / 32 / 44, flatten": {
        "model": ModelConfig(stages=((16, 16), (32,), (44,)), head="flatten")
    },
}


def group_variants(group: str) -> dict[str, dict]:
    """A group's variants and their overrides: an ablation group, or the search."""
    return SEARCH if group == SEARCH_GROUP else ABLATIONS[group]


def variant_recipe(group: str, variant: str) -> Recipe:
    """The recipe of one cell: the reference with that variant's overrides (the search: the best recipe with them)."""
    if group == RECIPE_GROUP:
        return get_recipe(variant)
    base = "best" if group == SEARCH_GROUP else "reference"
    return replace(get_recipe(base), name=f"{group}: {variant}", **group_variants(group)[variant])


def run_cell(group: str, variant: str, seed: int, splits: Splits) -> dict:
    """Train one (group, variant, seed) cell and return its row."""
    result = train(variant_recipe(group, variant), splits, seed=seed, progress=False)
    return {
        "group": group,
        "variant": variant,
        "seed": seed,
        "params": result.params,
        "val_accuracy": result.val_accuracy,
        "test_accuracy": result.test_accuracy,
        "train_seconds": result.train_seconds,
        "recipe": result.recipe.to_dict(),  # how this row was made, field by field
    }


def cells(groups: list[str] | None = None, recipes: tuple[str, ...] = ()) -> list[tuple[str, str]]:
    """(group, variant) pairs to run; a baseline shared by groups is listed once per group."""
    chosen = groups if groups is not None else list(ABLATIONS)
    pairs = [(g, v) for g in chosen for v in group_variants(g)]
    return pairs + [(RECIPE_GROUP, r) for r in recipes]


def run_ablations(
    splits: Splits,
    seeds: list[int],
    groups: list[str] | None = None,
    recipes: tuple[str, ...] = (),
    command: str = "effmnist.ablate.run_ablations",
    log=print,
    jobs: int = 1,
) -> dict:
    """Run every cell on every seed; a recipe shared by groups (the baseline) is trained once.

    ``jobs > 1`` trains that many cells at once in separate processes, splitting this
    process's threads between them (``torch.get_num_threads() // jobs`` each, at least 1). A
    cell's numbers depend on its thread count, not on how many run beside it, so ``jobs`` 2 at
    1 thread each gives exactly the rows of a serial run at 1 thread.
    """
    todo = [(g, v, s) for g, v in cells(groups, recipes) for s in seeds]
    unique: dict[tuple[Recipe, int], tuple[str, str, int]] = {}
    for g, v, s in todo:  # a recipe's name takes no part in equality
        unique.setdefault((variant_recipe(g, v), s), (g, v, s))
    threads = torch.get_num_threads() if jobs == 1 else max(1, torch.get_num_threads() // jobs)

    def done(row: dict) -> None:
        log(
            f"  {row['group']:<18} {row['variant']:<26} seed {row['seed']}  "
            f"val {row['val_accuracy']:.2%}  test {row['test_accuracy']:.2%}  "
            f"{row['train_seconds']:.1f} s"
        )

    trained = _run_cells(list(unique.values()), splits, jobs, threads, done)
    rows = [
        dict(trained[unique[(variant_recipe(g, v), s)]], group=g, variant=v) for g, v, s in todo
    ]
    return {"provenance": provenance(seeds, command, jobs=jobs, threads=threads), "rows": rows}


def _run_cells(todo: list[tuple[str, str, int]], splits: Splits, jobs: int, threads: int, done):
    """{cell: row} for each (group, variant, seed) cell, trained here or in ``jobs`` processes."""
    if jobs <= 1:
        out = {}
        for cell in todo:
            out[cell] = run_cell(*cell, splits)
            done(out[cell])
        return out
    import concurrent.futures
    import multiprocessing

    context = multiprocessing.get_context("spawn")  # no fork: the parent's thread pools stay out
    with concurrent.futures.ProcessPoolExecutor(
        max_workers=jobs, mp_context=context, initializer=_start_worker, initargs=(splits, threads)
    ) as pool:
        futures = {pool.submit(_worker_cell, cell): cell for cell in todo}
        out = {}
        for future in concurrent.futures.as_completed(futures):
            out[futures[future]] = future.result()
            done(out[futures[future]])
    return out


_WORKER_SPLITS: Splits | None = None


def _start_worker(splits: Splits, threads: int) -> None:
    global _WORKER_SPLITS
    torch.set_num_threads(threads)
    _WORKER_SPLITS = splits


def _worker_cell(cell: tuple[str, str, int]) -> dict:
    return run_cell(*cell, _WORKER_SPLITS)


def provenance(seeds: list[int], command: str, jobs: int = 1, threads: int | None = None) -> dict:
    """Where these numbers came from (``threads``: each training's thread count)."""
    try:
        commit = (
            subprocess.run(
                ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=10
            ).stdout.strip()
            or None
        )
    except (OSError, subprocess.SubprocessError):
        commit = None
    return {
        "command": command,
        "seeds": seeds,
        "torch": torch.__version__,
        "threads": threads or torch.get_num_threads(),
        "jobs": jobs,
        "cpu": cpu_name(),
        "date": datetime.date.today().isoformat(),
        "git_commit": commit,
        "judged_on": "validation accuracy (6,000 images held out of the 60k training set)",
    }


def summarize(results: dict) -> list[dict]:
    """Mean and spread (sample std) over seeds for each (group, variant), in file order."""
    groups: dict[tuple[str, str], list[dict]] = {}
    for row in results["rows"]:
        groups.setdefault((row["group"], row["variant"]), []).append(row)
    out = []
    for (group, variant), rows in groups.items():
        val = [r["val_accuracy"] for r in rows]
        test = [r["test_accuracy"] for r in rows]
        out.append(
            {
                "group": group,
                "variant": variant,
                "params": rows[0]["params"],
                "seeds": len(rows),
                "val_mean": statistics.mean(val),
                "val_std": statistics.stdev(val) if len(val) > 1 else 0.0,
                "test_mean": statistics.mean(test),
                "test_std": statistics.stdev(test) if len(test) > 1 else 0.0,
                "test_min": min(test),
                "seconds_median": statistics.median(r["train_seconds"] for r in rows),
            }
        )
    return out


def _pct(x: float, width: int, measured: bool, sign: str = "") -> str:
    """``x`` in percent (points), 2 decimals, right-aligned; ``~`` in front when freshly measured."""
    return f"{('~' if measured else '') + format(100 * x, sign + '.2f'):>{width + measured}}"


def format_summary(results: dict, measured: bool = False) -> str:
    """The summary as a fixed-width table (accuracies in percent, mean ± std over seeds).

    ``measured=True`` writes each accuracy as ``~98.62``, the notebooks' mark for a number measured
    on this run (nbval masks it); committed results are printed as they are.
    """
    lines = [
        f"{'group':<18}{'variant':<26}{'params':>8}{'validation %':>{16 + measured}}{'test %':>{16 + measured}}"
    ]
    for s in summarize(results):
        lines.append(
            f"{s['group']:<18}{s['variant']:<26}{s['params']:>8,}"
            f"{_pct(s['val_mean'], 9, measured)} ± {_pct(s['val_std'], 0, measured)}"
            f"{_pct(s['test_mean'], 9, measured)} ± {_pct(s['test_std'], 0, measured)}"
        )
    return "\n".join(lines)


def save_results(results: dict, path: Path = DEFAULT_OUT) -> Path:
    """Write the results file atomically."""
    atomic_write_text(path, json.dumps(results, indent=1) + "\n")
    return Path(path)


def load_results(path: Path = DEFAULT_OUT) -> dict:
    """Read a results file written by :func:`save_results`."""
    return json.loads(Path(path).read_text())


def verdicts(results: dict) -> list[dict]:
    """Each non-baseline variant against its group's baseline (the reference's choice), on validation.

    ``diff`` is baseline minus variant (positive: the reference's choice is better), ``se`` its standard
    error over seeds. The verdict: "reference better" / "variant better" when |diff| > 2 se, else
    "no clear difference" (within seed noise). In the search, whose baseline is the best recipe:
    "baseline better".
    """
    summary = summarize(results)
    out = []
    for group in dict.fromkeys(s["group"] for s in summary if s["group"] != RECIPE_GROUP):
        baseline, *others = [s for s in summary if s["group"] == group]
        for s in others:
            diff = baseline["val_mean"] - s["val_mean"]
            se = (
                baseline["val_std"] ** 2 / baseline["seeds"] + s["val_std"] ** 2 / s["seeds"]
            ) ** 0.5
            first = (
                "baseline" if group == SEARCH_GROUP else "reference"
            )  # the search starts from the best recipe
            verdict = (
                "no clear difference"
                if abs(diff) <= 2 * se
                else f"{first} better"
                if diff > 0
                else "variant better"
            )
            out.append(
                {
                    "group": group,
                    "baseline": baseline["variant"],
                    "variant": s["variant"],
                    "diff": diff,
                    "se": se,
                    "verdict": verdict,
                }
            )
    return out


def format_verdicts(results: dict, measured: bool = False) -> str:
    """The verdicts as a text table (differences in percentage points); ``measured`` as in :func:`format_summary`."""
    rows = verdicts(results)
    g = max([11] + [len(v["group"]) + 1 for v in rows])
    w = max([18] + [len(v["variant"]) + 2 for v in rows])
    first = (
        "baseline" if rows and all(v["group"] == SEARCH_GROUP for v in rows) else "reference choice"
    )
    lines = [f"{'group':<{g}}{first:<25}{'vs':<{w}}{'difference (pp)':>{18 + measured}}   verdict"]
    for v in rows:
        lines.append(
            f"{v['group']:<{g}}{v['baseline']:<25}{v['variant']:<{w}}"
            f"{_pct(v['diff'], 9, measured, sign='+')} ± {_pct(v['se'], 0, measured)}   {v['verdict']}"
        )
    return "\n".join(lines)
