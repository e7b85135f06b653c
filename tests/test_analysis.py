"""effmnist.experiments.analysis: the verdict tables, one rule per table (Bonferroni over the
table's family; the interval printed is the one that decides), on counts of correct images."""

import numpy as np
import pytest
from scipy import stats as scipy_stats

from effmnist.experiments import ablate, analysis, stats


def _results(runs: dict[str, dict[int, float]], group: str = "g") -> dict:
    """A results file: ``{variant: {seed: accuracy}}``, the first variant the baseline."""
    return {
        "rows": [
            {"group": group, "variant": v, "seed": s, "params": 10, "val_accuracy": a}
            for v, by_seed in runs.items()
            for s, a in by_seed.items()
        ]
    }


def test_one_image_more_on_every_seed_reads_cannot_tell_not_better():
    """The review's case (tests/test_stats.py: the arithmetic): one more test image right out
    of 10,000 on each of three seeds, as float32 fractions. The old code said p = 4e-8,
    "variant better"; the t-test is undefined, and the exact sign test gives p = 0.25."""
    ks = [9871, 9885, 9880]
    base = {s: float(np.float32(k / 10000)) for s, k in enumerate(ks)}
    plus_one = {s: float(np.float32((k + 1) / 10000)) for s, k in enumerate(ks)}
    results = _results({"base": base, "plus one": plus_one})
    (v,) = analysis.verdicts(results, n_images=10000)
    assert v["verdict"] == (
        "cannot tell: every seed differs by +1 image, so the t-test is undefined"
        " (sign test p = 0.25)"
    )
    assert v["sign_p"] == pytest.approx(0.25) and v["p"] is None and v["ci_low"] is None
    table = analysis.format_verdicts(results, n_images=10000)
    assert "better" not in table.splitlines()[2] and "sign test p = 0.25" in table
    measured = analysis.format_verdicts(results, measured=True, n_images=10000)
    assert "~cannot tell: every seed differs by +1 image" in measured


def test_one_rule_per_table_the_interval_excludes_zero_exactly_when_the_verdict_is_given():
    for name in ("ablations", "search", "finalists"):
        rows = analysis.verdicts(ablate.shipped_results(name))
        m = len(rows)
        for v in rows:
            assert v["m"] == m and v["level"] == pytest.approx(0.05 / m)
            if v["ci_low"] is None:
                continue
            excludes = v["ci_low"] > 0 or v["ci_high"] < 0
            decided = v["verdict"] in ("variant better", "variant worse")
            assert excludes == decided, (name, v["variant"])
            assert decided == (v["p"] < v["level"])


def test_the_interval_is_the_bonferroni_interval_of_the_paired_t_test():
    base = {s: 5900 + 7 * s for s in range(6)}
    var = {s: base[s] + d for s, d in enumerate([3, 9, -2, 6, 4, 11])}
    results = {"rows": _results({"b": base, "v1": var})["rows"]}
    results["rows"] += _results({"b": base, "v2": base}, group="h")["rows"]  # m = 2
    v, _ = analysis.verdicts(results)
    d = np.array([3, 9, -2, 6, 4, 11]) / 6000
    by_scipy = scipy_stats.ttest_1samp(d, 0).confidence_interval(1 - 0.05 / 2)
    assert (v["ci_low"], v["ci_high"]) == pytest.approx((by_scipy.low, by_scipy.high))
    assert v["level"] == 0.025 and "97.5% CI" in analysis.format_verdicts(results)


def test_equivalent_is_said_only_after_two_one_sided_tests():
    base = {s: 5900 + 10 * s for s in range(10)}
    close = {s: base[s] + d for s, d in enumerate([1, -1, 0, 1, -1, 0, 1, -1, 0, 0])}
    wide = {s: base[s] + d for s, d in enumerate([15, -14, 9, -12, 13, -8, 11, -16, 6, -4])}
    got = {
        v["variant"]: v
        for v in analysis.verdicts(_results({"b": base, "close": close, "wide": wide}))
    }
    assert got["close"]["verdict"] == "equivalent within ±0.1 pp"
    assert got["close"]["tost_p"] < got["close"]["level"] == 0.025
    assert got["wide"]["verdict"] == "cannot tell with 10 seeds"  # not "equivalent"
    assert got["wide"]["tost_p"] > got["wide"]["level"]
    for name in ("ablations", "search", "finalists"):
        for v in analysis.verdicts(ablate.shipped_results(name)):
            if v["verdict"].startswith("equivalent"):
                assert v["tost_p"] < v["level"]
            assert "no difference" not in v["verdict"] and "no clear" not in v["verdict"]


def test_failures_get_a_count_and_an_exact_binomial_interval():
    base = {s: 0.98 for s in range(7)}
    bimodal = {s: (0.1 if s in (2, 5) else 0.97) for s in range(7)}
    (v,) = analysis.verdicts(_results({"b": base, "no batchnorm": bimodal}))
    ci = scipy_stats.binomtest(2, 7).proportion_ci(0.95, method="exact")
    assert v["failed"] == 2 and v["failure_ci"] == pytest.approx((ci.low, ci.high))
    assert v["verdict"] == f"2 of 7 failed to train (95% CI {ci.low:.0%} to {ci.high:.0%} of runs)"
    assert v["mean_diff"] is None and v["p"] is None  # counted, not averaged


def test_p_values_in_the_table_never_print_as_zero():
    base = {s: 5800 + 20 * s for s in range(10)}
    far = {s: base[s] + 60 + (s % 3) for s in range(10)}  # t ~ 200: p ~ 1e-18
    text = analysis.format_verdicts(_results({"b": base, "far": far}))
    row = text.splitlines()[2]
    assert "< 0.001" in row and "variant better" in row
    assert " 0.000" not in text and " 0 " not in row


def test_every_table_states_its_family_levels_mdd_and_margin():
    text = analysis.format_verdicts(ablate.shipped_results("ablations"))
    words = " ".join(text.split())
    assert (
        "The family: the 10 comparisons in this table (head 3, batchnorm 1, batch_size 2," in words
    )
    assert "each variant against its group's baseline on the same seeds" in words
    assert "alpha = 0.05 for the table" in words and "0.05 / 10 = 0.005" in words
    assert "99.5% CI" in text and "MDD" in text.splitlines()[1]
    assert "Equivalence margin: ±0.1 pp (6 of 6,000 images)" in words
    assert "its 99% interval within ±0.1 pp" in words  # TOST at 0.005: a 1 - 2 × 0.005 interval
    assert "2 of 10 failed to train (95% CI" in text
    # the MDD column is in points, from the same level as the verdict
    rows = analysis.verdicts(ablate.shipped_results("ablations"))
    dropout = next(v for v in rows if v["variant"] == "no dropout")
    line = next(x for x in text.splitlines() if x.startswith("dropout "))
    assert f"{100 * dropout['mdd']:.2f}" in line.split()
    runs = stats.runs_by_seed(ablate.shipped_results("ablations")["rows"], "dropout")
    d = np.subtract(*(list(stats.correct_counts(r).values()) for r in reversed(runs.values())))
    mdd = stats.min_detectable_difference(d.std(ddof=1), len(d), alpha=0.005)
    assert dropout["mdd"] * 6000 == pytest.approx(mdd)


def test_recipes_table_reads_rows_without_test_accuracy():
    rows = [
        {"group": ablate.RECIPE_GROUP, "variant": "small", "seed": s, "params": 5000,
         "val_accuracy": 0.98, **({"test_accuracy": 0.981} if s < 2 else {})}
        for s in range(3)
    ]  # fmt: skip
    rows.append({"group": ablate.RECIPE_GROUP, "variant": "new", "seed": 0, "params": 4000,
                 "val_accuracy": 0.97})  # fmt: skip
    table = analysis.recipes_table({"rows": rows})
    assert "| small | 5,000 | 98.00 ± 0.00% (n=3) | 98.10 ± 0.00% (n=2) | - |" in table
    assert "| new | 4,000 | 97.00 ± 0.00% (n=1) | - | - |" in table
