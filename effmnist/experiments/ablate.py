"""Ablations: each claim of the reference tested by changing one thing, over several seeds.

``python -m effmnist ablate`` trains every variant below on each seed, judges on the validation
split, and writes ``results/ablations.json`` with its provenance (command, seeds, torch, CPU,
date). Notebook 05 reads that file; the test suite re-runs one cell and checks it agrees.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import torch

from ..data.fileio import atomic_write_text
from ..data.mnist import Splits
from ..model import ModelConfig
from ..provenance import provenance as machine_provenance
from ..recipe import Recipe, get_recipe
from ..training import train as train_for_real
from .runcache import reuse_trainings

DEFAULT_OUT = Path("results") / "ablations.json"

# group -> variant -> overrides of the reference recipe. The first variant of a group is its
# baseline.
ABLATIONS: dict[str, dict[str, dict]] = {
    # The flatten head has 5,120 more weights than GAP (29,168 parameters against 24,048). The last
    # two variants separate "uses where things are" from "has more weights": a flatten head at the
    # reference's budget (a narrower last stage, the widest that fits), and GAP widened to the
    # flatten head's size. verdicts() compares flatten 50 with the reference (~24k each); for the
    # ~29k pair, flatten + linear against gap 81, use stats.paired_difference on those two.
    "head": {
        "gap (reference)": {},
        "flatten + linear": {"model": ModelConfig(head="flatten")},
        "flatten, 3rd stage 50 (23,848)": {
            "model": ModelConfig(stages=((16,), (32,), (50,)), head="flatten")
        },
        "gap, 3rd stage 81 (29,148)": {"model": ModelConfig(stages=((16,), (32,), (81,)))},
    },
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

# Notebook 05's exercise 3, worked: can anything under 25k beat the *best* recipe on validation?
# Each candidate changes the best recipe (not the reference); run only when asked for
# (``--groups search``).
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


# What makes the best recipe better still? Candidates the search did not try (TTA, EMA, shifts), each
# changing the best recipe; compared paired on validation (``--groups finalists``; seeds 0-4).
FINALISTS_GROUP = "finalists"
FINALISTS: dict[str, dict] = {
    "best recipe": {},
    "test-time augmentation": {"tta": True},  # same training; evaluated on 1-pixel shifts too
    "EMA of weights 0.999": {"ema": 0.999},
    "random shifts 1 px": {"augment_shift": 1.0},
    "random shifts 2 px": {"augment_shift": 2.0},
}
# Groups that change the best recipe, not the reference; run only when asked for by name.
BEST_GROUPS: dict[str, dict[str, dict]] = {SEARCH_GROUP: SEARCH, FINALISTS_GROUP: FINALISTS}


def group_variants(group: str) -> dict[str, dict]:
    """A group's variants and their overrides: an ablation group, or the search."""
    return BEST_GROUPS[group] if group in BEST_GROUPS else ABLATIONS[group]


train = reuse_trainings(train_for_real)  # under the test suite, each cell is trained once


def variant_recipe(group: str, variant: str) -> Recipe:
    """The recipe of one cell: the reference with that variant's overrides (the search: the best
    recipe with them)."""
    if group == RECIPE_GROUP:
        return get_recipe(variant)
    base = "best" if group in BEST_GROUPS else "reference"
    return replace(get_recipe(base), name=f"{group}: {variant}", **group_variants(group)[variant])


def run_cell(
    group: str,
    variant: str,
    seed: int,
    splits: Splits,
    device: str = "cpu",
    read_test: bool = False,
) -> dict:
    """Train one (group, variant, seed) cell and return its row: accuracies as fractions and as
    counts of correct images. A candidate is judged on validation only, so no test image is read
    unless ``read_test`` (the final step, :mod:`.final`)."""
    recipe = variant_recipe(group, variant)
    result = train(
        recipe, splits, seed=seed, device=device, progress=False, evaluate_test=read_test
    )
    row = {
        "group": group,
        "variant": variant,
        "seed": seed,
        "params": result.params,
        "val_accuracy": result.val_accuracy,
        "val_correct": round(result.val_accuracy * len(splits.val_y)),
        "train_seconds": result.train_seconds,
        "recipe": result.recipe.to_dict(),  # how this row was made, field by field
    }
    if read_test:
        row["test_accuracy"] = result.test_accuracy
        row["test_correct"] = round(result.test_accuracy * len(splits.test_y))
    return row


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
    command: str = "effmnist.experiments.ablate.run_ablations",
    log=print,
    jobs: int = 1,
    device: str = "cpu",
    read_test: bool = False,
    cluster=None,
) -> dict:
    """Run every cell on every seed; a recipe shared by groups (the baseline) is trained once.

    ``jobs > 1`` trains that many cells at once in separate processes, splitting this
    process's threads between them (``torch.get_num_threads() // jobs`` each, at least 1). A
    cell's numbers depend on its thread count, not on how many run beside it, so ``jobs`` 2 at
    1 thread each gives exactly the rows of a serial run at 1 thread. ``read_test``: only for
    the final step (:mod:`.final`); every other run is judged on validation. ``cluster``
    (a :class:`.cluster.Cluster`): each cell is a submitit job instead, SLURM's or a local
    one, at most ``jobs`` at once, with ``cluster.cpus_per_task`` threads each.
    """
    todo = [(g, v, s) for g, v in cells(groups, recipes) for s in seeds]
    unique: dict[tuple[Recipe, int], tuple[str, str, int]] = {}
    for g, v, s in todo:  # a recipe's name takes no part in equality
        unique.setdefault((variant_recipe(g, v), s), (g, v, s))
    threads = torch.get_num_threads() if jobs == 1 else max(1, torch.get_num_threads() // jobs)
    if cluster is not None:  # each job's own
        threads = cluster.cpus_per_task
    made_by = provenance(
        seeds, command, jobs=jobs, threads=threads, device=device
    )  # the code as it starts
    if cluster is not None:
        made_by["cluster"] = cluster.describe()

    def done(row: dict) -> None:
        log(
            f"  {row['group']:<18} {row['variant']:<26} seed {row['seed']}  "
            f"val {row['val_accuracy']:.2%}  "
            f"{row['train_seconds']:.1f} s"
        )

    how = {"device": device, "read_test": read_test}
    trained = _run_cells(list(unique.values()), splits, jobs, threads, how, done, cluster)
    rows = [
        dict(trained[unique[(variant_recipe(g, v), s)]], group=g, variant=v) for g, v, s in todo
    ]
    return {"provenance": made_by, "rows": rows}


def _run_cells(
    todo: list[tuple[str, str, int]],
    splits: Splits,
    jobs: int,
    threads: int,
    how: dict,
    done,
    cluster=None,
):
    """{cell: row} for each (group, variant, seed) cell, trained here, in ``jobs`` processes,
    or as jobs on a cluster."""
    if cluster is not None:
        from .cluster import run_cells  # which imports submitit, needed by no other run

        return run_cells(cluster, run_cell, todo, splits, jobs, how, done)
    if jobs <= 1:
        out = {}
        for cell in todo:
            out[cell] = run_cell(*cell, splits, **how)
            done(out[cell])
        return out
    import concurrent.futures
    import multiprocessing

    context = multiprocessing.get_context("spawn")  # no fork: the parent's thread pools stay out
    with concurrent.futures.ProcessPoolExecutor(
        max_workers=jobs,
        mp_context=context,
        initializer=_start_worker,
        initargs=(splits, threads, how),
    ) as pool:
        futures = {pool.submit(_worker_cell, cell): cell for cell in todo}
        out = {}
        for future in concurrent.futures.as_completed(futures):
            out[futures[future]] = future.result()
            done(out[futures[future]])
    return out


_WORKER: dict = {}  # in each worker process: its splits, and how to run a cell


def _start_worker(splits: Splits, threads: int, how: dict) -> None:
    torch.set_num_threads(threads)
    _WORKER.update(splits=splits, how=how)


def _worker_cell(cell: tuple[str, str, int]) -> dict:
    return run_cell(*cell, _WORKER["splits"], **_WORKER["how"])


def provenance(
    seeds: list[int], command: str, jobs: int = 1, threads: int | None = None, device: str = "cpu"
) -> dict:
    """Where these numbers came from (``threads``: each training's thread count)."""
    return {
        "command": command,
        "seeds": seeds,
        **machine_provenance(device),
        "threads": threads or torch.get_num_threads(),
        "jobs": jobs,
        "judged_on": "validation accuracy (6,000 images held out of the 60k training set)",
    }


def save_results(results: dict, path: Path = DEFAULT_OUT) -> Path:
    """Write the results file atomically."""
    atomic_write_text(path, json.dumps(results, indent=1) + "\n")
    return Path(path)


def shipped_results(name: str = "ablations") -> dict:
    """A results file that ships with effmnist (``effmnist/results/<name>.json``: ``ablations``,
    ``search``, ``finalists``, ``bench``), read as package data, so it is there wherever effmnist
    is installed (a clone, a wheel, Colab)."""
    from importlib.resources import files

    resource = files("effmnist.experiments") / "results" / f"{name}.json"
    if not resource.is_file():
        raise FileNotFoundError(f"effmnist ships no results file {name!r}")
    return json.loads(resource.read_text(encoding="utf-8"))


def load_results(path: Path = DEFAULT_OUT) -> dict:
    """Read a results file written by :func:`save_results`."""
    return json.loads(Path(path).read_text())
