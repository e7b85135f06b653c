"""The final step: the recipes the series reports, trained on fresh seeds, the test set read once.

Everything before it is a decision, and decisions are made on the 6,000 validation images: the
ablations, the search and the finalists (:mod:`.ablate`) read no test image. Once the recipes
are chosen, this step trains each reported recipe (reference, best, small) on seeds that no
verdict has used (20-29 by default) and measures validation and test accuracy. Its results file,
``results/final.json``, is the only one whose rows carry a test accuracy; the README's table and
notebook 05 report it.

What it guards against: choosing on the test set, and seeds that the choices were tuned on. What
it does not: the test images are the same 10,000 as ever, and the candidates' test accuracies
were looked at while the recipes were developed (before this rule), so the test set is no longer
pristine and the final figures may be a little optimistic.
"""

from __future__ import annotations

import statistics
from pathlib import Path

from ..data.mnist import Splits
from . import ablate, stats

FINAL_SEEDS = tuple(range(20, 30))
REPORTED = ("reference", "best", "small")
DEFAULT_OUT = Path("results") / "final.json"
DECISIONS = ("ablations", "finalists", "search")  # the committed results that chose the recipes


def seeds_used_by_decisions() -> set[int]:
    """Every seed of the committed results that verdicts were drawn from."""
    return {
        seed for name in DECISIONS for seed in ablate.shipped_results(name)["provenance"]["seeds"]
    }


def run_final(
    splits: Splits,
    seeds: tuple[int, ...] = FINAL_SEEDS,
    recipes: tuple[str, ...] = REPORTED,
    command: str = "effmnist.experiments.final.run_final",
    log=print,
    jobs: int = 1,
    device: str = "cpu",
) -> dict:
    """Train each of ``recipes`` on each of ``seeds`` and read the test set once for each run.

    Refuses a seed that a verdict has used: the final figures must come from fresh runs.
    """
    reused = sorted(set(seeds) & seeds_used_by_decisions())
    if reused:
        raise ValueError(
            f"seeds {reused} were used to choose the recipes; the final step needs fresh seeds "
            f"(e.g. {FINAL_SEEDS[0]}-{FINAL_SEEDS[-1]})"
        )
    results = ablate.run_ablations(
        splits, list(seeds), groups=[], recipes=recipes, command=command, log=log, jobs=jobs,
        device=device, read_test=True,
    )  # fmt: skip
    del results["provenance"]["judged_on"]  # nothing is judged here: the choices were made
    results["provenance"]["step"] = (
        "final: the reported recipes on fresh seeds, chosen before; the test set read once"
    )
    return results


def final_table(results: dict) -> str:
    """The final step's results as a Markdown table: per recipe, its parameters and its
    validation and test accuracy over the fresh seeds (mean ± sample std, in percent)."""
    lines = [
        "| recipe | parameters | validation | test | seeds |",
        "|---|---:|---:|---:|---|",
    ]
    for name in dict.fromkeys(r["variant"] for r in results["rows"]):
        rows = [r for r in results["rows"] if r["variant"] == name]
        seeds = sorted(r["seed"] for r in rows)
        lines.append(
            f"| {name} | {rows[0]['params']:,} | {_mean_std([r['val_accuracy'] for r in rows])} "
            f"| {_mean_std([r['test_accuracy'] for r in rows])} "
            f"| {seeds[0]}-{seeds[-1]} (n={len(seeds)}) |"
        )
    return "\n".join(lines)


def paired_test_difference(results: dict, variant: str = "best", baseline: str = "reference"):
    """``variant`` minus ``baseline`` on the test set, paired by seed, on counts of correct images:
    (mean difference in images, its 95% interval, n seeds), by :func:`.stats.paired_difference`."""
    test_runs = stats.runs_by_seed(results["rows"], ablate.RECIPE_GROUP, "test_correct")
    r = stats.paired_difference(test_runs[baseline], test_runs[variant], n_images=10_000)
    return r.mean_images, (r.ci_low * 10_000, r.ci_high * 10_000), r.n


def _mean_std(values: list[float]) -> str:
    spread = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{100 * statistics.mean(values):.2f} ± {100 * spread:.2f}%"
