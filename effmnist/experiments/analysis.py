"""Reading ablation results: means over seeds, and each variant against its baseline, paired.

:func:`summarize` and :func:`format_summary` give each variant's mean and spread (sample std)
over seeds, on validation. :func:`verdicts` and :func:`format_verdicts` compare each variant with
its group's baseline seed by seed (:mod:`effmnist.experiments.stats`), by one rule per table: the
m comparisons of a results file are one family, each judged at alpha / m (Bonferroni), and the
interval printed is that same test's (1 - alpha / m) interval, so "better" or "worse" is said
exactly when the interval excludes 0. "Equivalent" (no difference that matters) is said only when
two one-sided tests show the difference to be within ±0.1 points; otherwise "cannot tell".
"""

from __future__ import annotations

import statistics
import textwrap
from collections import Counter

from .ablate import RECIPE_GROUP
from .stats import (
    ALPHA,
    FAILURE_THRESHOLD,
    MARGIN_PP,
    count_failures,
    equivalence,
    failure_rate,
    format_p,
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
        out.append(
            {
                "group": group,
                "variant": variant,
                "params": rows[0]["params"],
                "seeds": len(rows),
                "val_mean": statistics.mean(val),
                "val_std": statistics.stdev(val) if len(val) > 1 else 0.0,
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
    lines = [f"{'group':<18}{'variant':<{w}}{'params':>8}{'validation %, mean ± std':>{col}}"]
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
        )
    return "\n".join(lines)


def verdicts(
    results: dict,
    alpha: float = ALPHA,
    threshold: float = FAILURE_THRESHOLD,
    margin_pp: float = MARGIN_PP,
    n_images: int = 6000,
) -> list[dict]:
    """Each variant against its group's baseline on validation, paired by seed, one rule for all.

    The baseline is the first variant of each group (the reference's choice; in the search and
    the finalists, the best recipe). The m comparisons in ``results`` are one family, each
    tested at ``level = alpha / m`` (Bonferroni), on counts of correct images out of
    ``n_images``: ``mean_diff`` is **variant minus baseline** (a fraction; x100: pp; positive:
    the variant is better), ``ci_low``..``ci_high`` the paired t-test's (1 - alpha / m)
    interval, ``p`` its p-value, ``mdd`` the smallest difference it could detect with 80%
    power, ``tost_p`` the equivalence test against ±``margin_pp`` points at the same level.
    Verdicts:

    - "variant better" / "variant worse": p < alpha / m (the interval excludes 0);
    - "equivalent within ±0.1 pp": the two one-sided tests at alpha / m say so;
    - "cannot tell with n seeds": neither;
    - "cannot tell: every seed differs by k images, so the t-test is undefined": the exact sign
      test's p (``sign_p``) is given instead, and it can never be below 2 / 2**n;
    - runs that failed to train (below ``threshold``) are counted, "k of n failed", with an
      exact binomial interval for the failure rate, not averaged into a mean.
    """
    rows = [r for r in results["rows"] if r["group"] != RECIPE_GROUP]
    pairs = []
    for group in dict.fromkeys(r["group"] for r in rows):
        (baseline_name, baseline), *others = runs_by_seed(rows, group).items()
        pairs += [(group, baseline_name, baseline, name, variant) for name, variant in others]
    m = len(pairs)
    level = alpha / max(m, 1)  # Bonferroni: each comparison at alpha / m
    margin = margin_pp / 100 * n_images  # in images
    out = []
    for group, baseline_name, baseline, name, variant in pairs:
        seeds = sorted(set(baseline) & set(variant))
        baseline_failed, _ = count_failures((baseline[s] for s in seeds), threshold)
        failed, n = count_failures((variant[s] for s in seeds), threshold)
        v = {
            "group": group, "baseline": baseline_name, "variant": name, "n": n, "m": m,
            "alpha": alpha, "level": level, "failed": failed, "baseline_failed": baseline_failed,
            "threshold": threshold, "margin_pp": margin_pp, "n_images": n_images,
            "mean_diff": None, "ci_low": None, "ci_high": None, "p": None, "sign_p": None,
            "mdd": None, "tost_p": None, "wins": sum(variant[s] > baseline[s] for s in seeds),
        }  # fmt: skip
        if n < 2:
            v["verdict"] = f"{n} paired seed{'s' * (n != 1)}: too few to compare"
        elif failed or baseline_failed:
            k, who = (failed, "") if failed else (baseline_failed, "baseline: ")
            rate, low, high = failure_rate(k, n)
            v.update(failure_rate=rate, failure_ci=(low, high))
            v["verdict"] = (
                f"{who}{k} of {n} failed to train (95% CI {low:.0%} to {high:.0%} of runs)"
            )
        else:
            r = paired_difference(baseline, variant, n_images=n_images, alpha=level)
            same = equivalence(r.differences, margin, alpha=level)
            v.update(
                mean_diff=r.mean, ci_low=r.ci_low, ci_high=r.ci_high, p=r.p_value,
                sign_p=r.sign_p, mdd=r.mdd, wins=r.wins, tost_p=same.p,
            )  # fmt: skip
            if r.constant:
                k = r.differences[0]
                v["verdict"] = (
                    f"cannot tell: every seed differs by {k:+d} image{'s' * (abs(k) != 1)},"
                    f" so the t-test is undefined (sign test p = {format_p(r.sign_p, n)})"
                )
            elif r.p_value < level:  # the same as: the (1 - level) interval excludes 0
                v["verdict"] = "variant better" if r.mean > 0 else "variant worse"
            elif same.equivalent:  # the same as: tost_p < level
                v["verdict"] = f"equivalent within ±{margin_pp:g} pp"
            else:
                v["verdict"] = f"cannot tell with {n} seeds"
        out.append(v)
    return out


def format_verdicts(
    results: dict,
    measured: bool = False,
    alpha: float = ALPHA,
    margin_pp: float = MARGIN_PP,
    n_images: int = 6000,
) -> str:
    """The verdicts of :func:`verdicts` as a text table, differences in percentage points (pp).

    Columns: the mean difference (variant minus baseline) with the interval of the same test
    that decides the verdict, the seeds the variant won, the p-value, the smallest difference
    the comparison could detect (MDD, 80% power) and the verdict; a footer states the family,
    the levels, the equivalence margin and the rule. ``measured`` as in :func:`format_summary`:
    every measured number is marked ``~``.
    """
    rows = verdicts(results, alpha=alpha, margin_pp=margin_pp, n_images=n_images)
    if not rows:
        return "No comparisons: no group in these results has both a baseline and a variant."
    mark = "~" if measured else ""
    g = max([11] + [len(v["group"]) + 2 for v in rows])
    b = max([10] + [len(v["baseline"]) + 2 for v in rows])
    w = max([9] + [len(v["variant"]) + 2 for v in rows])
    m, level, n_max = rows[0]["m"], rows[0]["level"], max(v["n"] for v in rows)
    ci_name = f"mean diff [{100 * (1 - level):.4g}% CI]"
    diff_col, wins_col, p_col, mdd_col = max(22, len(ci_name) + 2) + 3 * measured, 7, 10, 8
    lines = [
        "Validation accuracy, variant minus baseline on the same seed, in percentage points (pp)",
        f"{'group':<{g}}{'baseline':<{b}}{'variant':<{w}}{ci_name:>{diff_col}}"
        f"{'wins':>{wins_col}}{'p':>{p_col}}{'MDD':>{mdd_col}}   verdict",
    ]
    for v in rows:
        diff = p = mdd = "-"
        if v["ci_low"] is not None:
            diff = (
                f"{_pct(v['mean_diff'], 0, measured, '+')} "
                f"[{_pct(v['ci_low'], 0, measured, '+')}, {_pct(v['ci_high'], 0, measured, '+')}]"
            )
            p, mdd = mark + format_p(v["p"]), _pct(v["mdd"], 0, measured)
        elif v["mean_diff"] is not None:
            diff = _pct(v["mean_diff"], 0, measured, "+")
        counted = v["p"] is None and v["ci_low"] is None  # failures, constant differences
        lines.append(
            f"{v['group']:<{g}}{v['baseline']:<{b}}{v['variant']:<{w}}{diff:>{diff_col}}"
            f"{mark + str(v['wins']) + '/' + str(v['n']):>{wins_col}}{p:>{p_col}}{mdd:>{mdd_col}}"
            f"   {mark if counted else ''}{v['verdict']}"
        )
    per_group = Counter(v["group"] for v in rows)
    groups = ", ".join(f"{group} {k}" for group, k in per_group.items())
    margin_images = margin_pp / 100 * n_images
    notes = (
        f"The family: the {m} comparison{'s' * (m != 1)} in this table ({groups}), each variant"
        f" against its group's baseline on the same seeds, judged together by one rule"
        f" (Bonferroni): alpha = {alpha:g} for the table, each comparison at alpha / m ="
        f' {alpha:g} / {m} = {level:.3g}, so that the chance of any false "better" or "worse"'
        f" in the table stays below alpha. The interval is the same paired t-test's"
        f' {100 * (1 - level):.4g}% interval: "better" or "worse" is said exactly when it'
        " excludes 0 (p < alpha / m).",
        f"wins: seeds on which the variant beat the baseline, of n. MDD: the smallest true"
        f" difference this comparison would detect with 80% power at {level:.3g}, from the SD of"
        f" its own differences and its n (at most {n_max} seeds here): a smaller effect can hide"
        ' in "cannot tell".',
        f"Equivalence margin: ±{margin_pp:g} pp ({margin_images:g} of {n_images:,} images)."
        f' "Equivalent" only when two one-sided tests at {level:.3g} show the difference to lie'
        f" inside it (its {100 * (1 - 2 * level):.4g}% interval within ±{margin_pp:g} pp);"
        ' otherwise "cannot tell". When every seed differs by the same count the t-test is'
        " undefined and the exact sign test is given (its p cannot go below 2/2^n).",
        f"Failed to train: validation accuracy below {rows[0]['threshold']:.0%}, counted with an"
        " exact binomial 95% interval, not averaged. ± elsewhere (the summary) is the sample std"
        " over seeds.",
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
        tests = runs_by_seed(results["rows"], RECIPE_GROUP, "test_accuracy").get(name, {})
        params = next(r["params"] for r in results["rows"] if r["group"] == RECIPE_GROUP
                      and r["variant"] == name)  # fmt: skip
        lines.append(
            f"| {name} | {params:,} | {cell(list(runs.values()))} "
            f"| {cell([a for s, a in tests.items() if s < confirm_from])} "
            f"| {cell([a for s, a in tests.items() if s >= confirm_from])} |"
        )
    return "\n".join(lines)
