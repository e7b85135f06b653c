"""Reading ablation results: means over seeds, and each variant against its baseline, paired.

:func:`summarize` and :func:`format_summary` give each variant's mean and spread (sample std)
over seeds. :func:`verdicts` and :func:`format_verdicts` compare each variant with its group's
baseline seed by seed (:mod:`effmnist.experiments.stats`): variant minus baseline, Student's t interval,
wins, failures counted rather than averaged, and Holm-Bonferroni over every comparison in the
results, so that a "real" difference is one that survives having looked at all of them.
"""

from __future__ import annotations

import statistics
import textwrap

from .ablate import RECIPE_GROUP
from .stats import (
    ALPHA,
    FAILURE_THRESHOLD,
    count_failures,
    expected_by_chance,
    holm_adjusted,
    paired_difference,
    runs_by_seed,
)


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
    """``x`` in percent (points), 2 decimals, right-aligned; ``~`` in front when freshly
    measured."""
    return f"{('~' if measured else '') + format(100 * x, sign + '.2f'):>{width + measured}}"


def format_summary(results: dict, measured: bool = False) -> str:
    """The summary as a fixed-width table (accuracies in percent, mean ± std over seeds).

    A variant with runs that failed to train (validation below ``FAILURE_THRESHOLD``) is shown
    by its failure count, not by a mean and std of two different outcomes. ``measured=True``
    writes each accuracy as ``~98.62``, the notebooks' mark for a number measured on this run
    (nbval masks it); committed results are printed as they are.
    """
    summary = summarize(results)
    w = max([26] + [len(s["variant"]) + 2 for s in summary])
    col = 26 + 2 * measured  # "98.62 ± 0.15", right-aligned under "validation %, mean ± std"
    lines = [
        f"{'group':<18}{'variant':<{w}}{'params':>8}"
        f"{'validation %, mean ± std':>{col}}{'test %, mean ± std':>{col}}"
    ]
    for s in summary:
        runs = runs_by_seed(results["rows"], s["group"])[s["variant"]].values()
        failed, n = count_failures(runs, FAILURE_THRESHOLD)
        if failed:
            mark = "~" if measured else ""
            counts = f"{mark}{failed} of {n} runs failed to train (val < {FAILURE_THRESHOLD:.0%})"
            lines.append(f"{s['group']:<18}{s['variant']:<{w}}{s['params']:>8,}    {counts}")
            continue
        lines.append(
            f"{s['group']:<18}{s['variant']:<{w}}{s['params']:>8,}"
            f"{_pct(s['val_mean'], 18, measured)} ± {_pct(s['val_std'], 5, measured)}"
            f"{_pct(s['test_mean'], 18, measured)} ± {_pct(s['test_std'], 5, measured)}"
        )
    return "\n".join(lines)


def verdicts(
    results: dict, alpha: float = ALPHA, threshold: float = FAILURE_THRESHOLD
) -> list[dict]:
    """Each variant against its group's baseline on validation accuracy, paired by seed.

    The baseline is the first variant of each group (the reference's choice; in the search, the
    best recipe). Each comparison uses only the seeds both were run on (see
    :func:`effmnist.experiments.stats.paired_difference`): ``mean_diff`` is **variant minus baseline**
    (positive: the variant is better), with its standard error ``se``, its unadjusted Student's t
    95% interval ``ci_low``..``ci_high``, its p-value ``p``, and ``wins`` / ``losses`` / ``ties``
    out of ``n``.

    The verdict is decided by Holm-Bonferroni over ALL the comparisons in ``results`` at ``alpha``
    (``p_holm``, the adjusted p-value, <= alpha): "variant better" or "variant worse", else "no
    clear difference". Without a correction, 8 comparisons of variants that change nothing would
    give at least one p < 0.05 about one time in three (1 - 0.95^8 = 34% if independent). Holm's
    guarantee (at most alpha for the whole family) holds however the comparisons depend on each
    other; here they share the baseline's runs.

    A comparison in which any run (of the variant or the baseline) scored below ``threshold`` is
    reported by its failures instead: e.g. "2 of 5 runs failed to train (val < 50%)", with
    ``mean_diff``, ``se``, the interval and the p-values set to None, since a mean ± std of runs
    that did and did not train describes none of them. It still counts in the family's size m,
    with p = 1, so that the correction is never weaker for the other comparisons.
    """
    rows = [r for r in results["rows"] if r["group"] != RECIPE_GROUP]
    out, pvalues = [], []
    for group in dict.fromkeys(r["group"] for r in rows):
        (baseline_name, baseline), *others = runs_by_seed(rows, group).items()
        for name, variant in others:
            seeds = sorted(set(baseline) & set(variant))
            baseline_failed, _ = count_failures((baseline[s] for s in seeds), threshold)
            failed, n = count_failures((variant[s] for s in seeds), threshold)
            v = {
                "group": group,
                "baseline": baseline_name,
                "variant": name,
                "n": n,
                "wins": sum(variant[s] > baseline[s] for s in seeds),
                "losses": sum(variant[s] < baseline[s] for s in seeds),
                "ties": sum(variant[s] == baseline[s] for s in seeds),
                "failed": failed,
                "baseline_failed": baseline_failed,
                "threshold": threshold,
                "mean_diff": None,
                "se": None,
                "ci_low": None,
                "ci_high": None,
                "p": None,
            }
            if n < 2:
                v["verdict"] = f"{n} paired seed{'s' * (n != 1)}: too few to compare"
            elif failed or baseline_failed:
                who = f"{failed} of {n}" if failed else f"baseline: {baseline_failed} of {n}"
                v["verdict"] = f"{who} runs failed to train (val < {threshold:.0%})"
            else:
                r = paired_difference(baseline, variant)
                v.update(mean_diff=r.mean, se=r.se, ci_low=r.ci_low, ci_high=r.ci_high, p=r.p_value)
            pvalues.append(1.0 if v["p"] is None else v["p"])
            out.append(v)
    for v, adjusted in zip(out, holm_adjusted(pvalues), strict=True):
        v["m"] = len(out)
        v["p_holm"] = None if v["p"] is None else adjusted
        if v["p"] is not None:
            v["verdict"] = (
                "no clear difference"
                if adjusted > alpha
                else "variant better"
                if v["mean_diff"] > 0
                else "variant worse"
            )
    return out


def _p(p: float, width: int, measured: bool) -> str:
    """A p-value, 3 decimals (1 significant digit below 0.001), right-aligned; ``~`` as in _pct."""
    text = f"{p:.3f}" if p >= 0.001 else f"{p:.0e}"
    return f"{('~' if measured else '') + text:>{width + measured}}"


def format_verdicts(results: dict, measured: bool = False, alpha: float = ALPHA) -> str:
    """The verdicts of :func:`verdicts` as a text table, differences in percentage points (pp).

    Columns: the mean difference (variant minus baseline) with its unadjusted 95% interval, the
    seeds the variant won, the Holm-adjusted p-value and the verdict; a footer says how to read
    them. ``measured`` as in :func:`format_summary`: every measured number (differences, wins,
    p-values, failure counts) is marked with ``~``.
    """
    rows = verdicts(results, alpha=alpha)
    if not rows:
        return "No comparisons: no group in these results has both a baseline and a variant."
    mark = "~" if measured else ""
    g = max([11] + [len(v["group"]) + 2 for v in rows])
    b = max([10] + [len(v["baseline"]) + 2 for v in rows])
    w = max([9] + [len(v["variant"]) + 2 for v in rows])
    diff_col, wins_col, p_col = 22 + 3 * measured, 7 + measured, 9 + measured
    lines = [
        "Validation accuracy, variant minus baseline on the same seed, in percentage points (pp)",
        f"{'group':<{g}}{'baseline':<{b}}{'variant':<{w}}{'mean diff [95% CI]':>{diff_col}}"
        f"{'wins':>{wins_col}}{'Holm p':>{p_col}}   verdict",
    ]
    for v in rows:
        if v["p"] is not None:
            diff = (
                f"{_pct(v['mean_diff'], 0, measured, '+')} "
                f"[{_pct(v['ci_low'], 0, measured, '+')}, {_pct(v['ci_high'], 0, measured, '+')}]"
            )
            p, verdict = _p(v["p_holm"], 0, measured), v["verdict"]
        else:
            diff, p, verdict = "-", "-", v["verdict"]  # no mean for failures; too few seeds
            failed = f"runs failed to train (val < {v['threshold']:.0%})"
            if v["failed"]:
                verdict = f"{mark}{v['failed']} of {v['n']} {failed}"
            elif v["baseline_failed"]:
                verdict = f"baseline: {mark}{v['baseline_failed']} of {v['n']} {failed}"
        lines.append(
            f"{v['group']:<{g}}{v['baseline']:<{b}}{v['variant']:<{w}}{diff:>{diff_col}}"
            f"{mark + str(v['wins']) + '/' + str(v['n']):>{wins_col}}{p:>{p_col}}   {verdict}"
        )
    m, threshold = len(rows), rows[0]["threshold"]
    notes = (
        "mean diff [95% CI]: variant minus baseline on the same seed, averaged over the n seeds"
        " (positive: the variant is better), with Student's t 95% interval, not adjusted for"
        " multiple comparisons.",
        f"wins: seeds on which the variant beat the baseline, of n. Verdict: Holm-Bonferroni over"
        f" all {m} comparison{'s' * (m != 1)} above at alpha = {alpha:g} (Holm p: the adjusted"
        " p-value);"
        f" unadjusted, chance alone would flag about {expected_by_chance(m, alpha):.2g} of {m}"
        f" at p < {alpha:g}.",
        f"Failed to train: validation accuracy below {threshold:.0%}; a comparison with a failed"
        " run is reported by its failure count, not a mean. ± elsewhere (the summary) is the"
        " sample std over seeds.",
    )
    lines += [textwrap.fill(note, width=96, subsequent_indent="  ") for note in notes]
    return "\n".join(lines)


def recipes_table(results: dict, confirm_from: int = 5) -> str:
    """The named recipes as a Markdown table: parameters, validation accuracy over all seeds, and
    test accuracy on seeds below ``confirm_from`` and, separately, on the held-out seeds from it
    (mean ± std over seeds, in percent). The README's results table is this, for the committed
    results (a test checks they agree)."""

    def cell(values: list[float]) -> str:
        if not values:
            return "-"
        spread = statistics.stdev(values) if len(values) > 1 else 0.0
        return f"{100 * statistics.mean(values):.2f} ± {100 * spread:.2f}% (n={len(values)})"

    lines = [
        "| recipe | parameters | validation, all seeds | test, seeds "
        f"0-{confirm_from - 1} | test, held-out seeds {confirm_from}+ |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, runs in runs_by_seed(results["rows"], RECIPE_GROUP, "val_accuracy").items():
        tests = runs_by_seed(results["rows"], RECIPE_GROUP, "test_accuracy")[name]
        params = next(r["params"] for r in results["rows"] if r["group"] == RECIPE_GROUP
                      and r["variant"] == name)  # fmt: skip
        lines.append(
            f"| {name} | {params:,} | {cell(list(runs.values()))} "
            f"| {cell([a for s, a in tests.items() if s < confirm_from])} "
            f"| {cell([a for s, a in tests.items() if s >= confirm_from])} |"
        )
    return "\n".join(lines)
