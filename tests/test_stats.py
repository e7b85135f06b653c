"""effmnist.experiments.stats against cases worked by hand (the arithmetic is in the comments)."""

import math
import statistics

import pytest

from effmnist.experiments import stats


def _bisect_t(df: float, p: float = 0.05) -> float:
    """The t with two-sided p-value ``p``, by bisection on :func:`stats.t_two_sided_p`."""
    lo, hi = 0.0, 100.0
    for _ in range(100):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if stats.t_two_sided_p(mid, df) > p else (lo, mid)
    return lo


def _simpson_p(t: float, df: int, steps: int = 4000) -> float:
    """Two-sided p-value by integrating Student's t density from 0 to |t| (Simpson's rule):
    an independent check of the incomplete-beta route."""
    c = math.exp(math.lgamma((df + 1) / 2) - math.lgamma(df / 2)) / math.sqrt(df * math.pi)

    def density(x):
        return c * (1 + x * x / df) ** (-(df + 1) / 2)

    h = abs(t) / steps
    inner = sum((4 if k % 2 else 2) * density(k * h) for k in range(1, steps))
    area = h / 3 * (density(0) + inner + density(abs(t)))
    return 1 - 2 * area


def test_t_table_has_the_textbook_values():
    assert stats.t_critical(1) == 12.706
    assert stats.t_critical(4) == 2.776
    assert stats.t_critical(9) == 2.262
    assert stats.t_critical(30) == 2.042
    assert round(stats.t_critical(math.inf), 3) == 1.960
    with pytest.raises(ValueError):
        stats.t_critical(0)
    with pytest.raises(ValueError):
        stats.t_critical(2.5)


@pytest.mark.parametrize("df", [*range(1, 41), 50, 60, 100, 120, 1000])
def test_t_table_and_approximation_agree_with_the_p_value_to_3_decimals(df):
    # the table (df <= 30) and the Cornish-Fisher expansion (beyond) against a bisection on p
    assert stats.t_critical(df) == pytest.approx(_bisect_t(df), abs=5e-4)
    assert stats.t_critical(df) > stats.t_critical(df + 1) > stats.t_critical(math.inf)


def test_incomplete_beta_closed_forms():
    # I_x(1, 1) = x;  I_x(a, 1) = x^a;  I_x(1, b) = 1 - (1 - x)^b
    assert stats.regularized_incomplete_beta(1, 1, 0.3) == pytest.approx(0.3)
    assert stats.regularized_incomplete_beta(3, 1, 0.5) == pytest.approx(0.125)  # 0.5^3
    assert stats.regularized_incomplete_beta(1, 2, 0.5) == pytest.approx(0.75)  # 1 - 0.5^2
    assert stats.regularized_incomplete_beta(2, 3, 0.9) == pytest.approx(
        1 - stats.regularized_incomplete_beta(3, 2, 0.1)  # symmetry I_x(a,b) = 1 - I_1-x(b,a)
    )


def test_p_values_against_closed_forms_and_known_values():
    p = stats.t_two_sided_p
    # df = 1 (Cauchy): p = 1 - (2/pi) atan|t|;  t = 1: 1 - (2/pi)(pi/4) = 0.5
    assert p(1.0, 1) == pytest.approx(0.5)
    # df = 2: p = 1 - |t| / sqrt(2 + t^2);  t = 2: 1 - 2/sqrt(6) = 1 - 0.816497 = 0.183503
    assert p(2.0, 2) == pytest.approx(1 - 2 / math.sqrt(6))
    # df = 4: p = 1 - x (1 + (1 - x^2)/2) with x = t / sqrt(4 + t^2)
    #   t = 2.776: x = 2.776 / 3.42140 = 0.811363, 1 - x^2 = 0.341690, p = 1 - 0.949978 = 0.0500
    #   t = 4.2:   x = 4.2 / 4.65188 = 0.902861,   1 - x^2 = 0.184842, p = 1 - 0.986305 = 0.0137
    for t in (2.776, 4.2):
        x = t / math.sqrt(4 + t * t)
        assert p(t, 4) == pytest.approx(1 - x * (1 + (1 - x * x) / 2), rel=1e-9)
    assert p(2.776, 4) == pytest.approx(0.050, abs=5e-4)
    assert p(4.2, 4) == pytest.approx(0.0137, abs=5e-5)
    assert p(2.262, 9) == pytest.approx(0.050, abs=5e-4)  # t(9) = 2.262 from the table
    assert p(1.96, math.inf) == pytest.approx(0.050, abs=5e-5)  # the normal limit
    # odd degrees of freedom have no short closed form: integrate the density instead
    for t, df in ((2.262, 9), (1.3, 3), (3.5, 7)):
        assert p(t, df) == pytest.approx(_simpson_p(t, df), abs=1e-9)
    assert p(0.0, 5) == 1.0 and p(math.inf, 5) == 0.0 and p(-4.2, 4) == p(4.2, 4)


def test_paired_difference_by_hand():
    baseline = {0: 90.0, 1: 92.0, 2: 94.0}
    variant = {0: 91.0, 1: 94.0, 2: 95.0, 7: 50.0}  # seed 7 has no baseline: left out
    r = stats.paired_difference(baseline, variant)
    # d = variant - baseline = 1, 2, 1;  mean = 4/3
    # std = sqrt(((1-4/3)^2 + (2-4/3)^2 + (1-4/3)^2) / 2) = sqrt((1/9 + 4/9 + 1/9) / 2) = sqrt(1/3)
    # se = sqrt(1/3) / sqrt(3) = 1/3;  t = (4/3) / (1/3) = 4;  df = 2
    # CI = 4/3 ± 4.303 * 1/3 = 1.3333 ± 1.4343 = [-0.1010, 2.7677]
    # p (df 2) = 1 - 4 / sqrt(2 + 16) = 1 - 0.942809 = 0.057191: 3 wins of 3, yet not significant
    assert r.seeds == (0, 1, 2) and r.differences == (1.0, 2.0, 1.0)
    assert (r.n, r.df) == (3, 2)
    assert r.mean == pytest.approx(4 / 3)
    assert r.std == pytest.approx(math.sqrt(1 / 3))
    assert r.se == pytest.approx(1 / 3)
    assert r.t == pytest.approx(4.0)
    assert (r.ci_low, r.ci_high) == pytest.approx((4 / 3 - 4.303 / 3, 4 / 3 + 4.303 / 3))
    assert r.p_value == pytest.approx(1 - 4 / math.sqrt(18))
    assert (r.wins, r.losses, r.ties) == (3, 0, 0)


def test_sign_convention_is_variant_minus_baseline_and_ties_count():
    r = stats.paired_difference({1: 0.98, 2: 0.97, 3: 0.99}, {1: 0.97, 2: 0.97, 3: 0.98})
    # d = -0.01, 0, -0.01: the variant is worse, so the mean is negative
    assert r.mean == pytest.approx(-0.02 / 3) and r.t < 0
    assert (r.wins, r.losses, r.ties) == (0, 2, 1)


def test_paired_beats_unpaired_when_seeds_vary_more_than_the_effect():
    # Seeds differ by up to 4 points; the variant adds 0.1 to 0.3 points to every seed.
    baseline = {0: 96.0, 1: 97.0, 2: 98.0, 3: 99.0, 4: 95.0}
    variant = {0: 96.2, 1: 97.3, 2: 98.1, 3: 99.2, 4: 95.2}
    # Unpaired (the old rule: difference of means against 2 standard errors of unpaired means):
    #   baseline mean 97.0, deviations -1, 0, 1, 2, -2 -> var = 10/4 = 2.5
    #   variant mean 97.2, deviations -1.0, 0.1, 0.9, 2.0, -2.0 -> var = 9.82/4 = 2.455
    #   se = sqrt(2.5/5 + 2.455/5) = sqrt(0.991) = 0.9955; 2 se = 1.991 > |97.2 - 97.0| = 0.2
    #   -> "no clear difference"
    b, v = list(baseline.values()), list(variant.values())
    diff = statistics.mean(v) - statistics.mean(b)
    unpaired_se = math.sqrt(statistics.variance(b) / 5 + statistics.variance(v) / 5)
    assert diff == pytest.approx(0.2) and unpaired_se == pytest.approx(math.sqrt(0.991))
    assert abs(diff) <= 2 * unpaired_se
    # Paired: d = 0.2, 0.3, 0.1, 0.2, 0.2; mean 0.2; deviations 0, 0.1, -0.1, 0, 0
    #   std = sqrt(0.02/4) = 0.070711; se = 0.070711 / sqrt(5) = 0.031623
    #   t = 0.2 / 0.031623 = 6.325 = sqrt(40); df = 4
    #   CI = 0.2 ± 2.776 * 0.031623 = 0.2 ± 0.0878 = [0.112, 0.288]: excludes 0
    #   p (df 4): x = sqrt(40/44) = 0.953463, p = 1 - x (1 + (1/11)/2) = 1 - 0.996802 = 0.0032
    r = stats.paired_difference(baseline, variant)
    assert r.mean == pytest.approx(0.2) and r.se == pytest.approx(math.sqrt(0.005 / 5))
    assert r.t == pytest.approx(math.sqrt(40))
    assert (r.ci_low, r.ci_high) == pytest.approx((0.2 - 2.776 * r.se, 0.2 + 2.776 * r.se))
    assert r.ci_low > 0
    assert r.p_value == pytest.approx(1 - math.sqrt(10 / 11) * (1 + 1 / 22))
    assert r.p_value < 0.05 and r.wins == 5


def test_paired_difference_degenerate_cases():
    same = stats.paired_difference({0: 0.9, 1: 0.8}, {0: 0.9, 1: 0.8})  # nothing changed
    assert (same.t, same.p_value, same.ties) == (0.0, 1.0, 2)
    shifted = stats.paired_difference({0: 1.0, 1: 2.0}, {0: 1.5, 1: 2.5})  # d = 0.5 exactly, twice
    assert shifted.t == math.inf and shifted.p_value == 0.0
    assert shifted.ci_low == shifted.ci_high == 0.5
    with pytest.raises(ValueError, match="at least 2"):
        stats.paired_difference({0: 0.9, 1: 0.9}, {1: 0.95, 2: 0.9})  # only seed 1 is shared


def test_holm_by_hand():
    # m = 4, alpha = 0.05. Sorted: 0.005 (#3), 0.01 (#0), 0.03 (#2), 0.04 (#1)
    #   0.005 <= 0.05/4 = 0.0125  reject
    #   0.01  <= 0.05/3 = 0.0167  reject
    #   0.03  >  0.05/2 = 0.025   stop: #2 and #1 are not rejected (although 0.04 <= 0.05/1)
    # adjusted: 4*0.005 = 0.02; max(0.02, 3*0.01) = 0.03; max(0.03, 2*0.03) = 0.06;
    #           max(0.06, 1*0.04) = 0.06
    pvalues = [0.01, 0.04, 0.03, 0.005]
    assert stats.holm(pvalues) == [True, False, False, True]
    assert stats.holm_adjusted(pvalues) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    # Holm rejects more than Bonferroni (every p against 0.05/3 = 0.0167, which keeps only 0.01):
    #   0.01 <= 0.05/3, 0.02 <= 0.05/2, 0.04 <= 0.05/1: all three rejected
    #   adjusted: 3*0.01 = 0.03, 2*0.02 = 0.04, max(0.04, 0.04) = 0.04
    assert stats.holm([0.02, 0.01, 0.04]) == [True, True, True]
    assert stats.holm_adjusted([0.02, 0.01, 0.04]) == pytest.approx([0.04, 0.03, 0.04])
    assert stats.holm_adjusted([0.5, 0.9]) == [1.0, 1.0]  # 2*0.5 = 1, capped at 1
    assert stats.holm([]) == []


def test_chance_alone_flags_m_times_alpha():
    assert stats.expected_by_chance(20) == pytest.approx(1.0)  # 20 * 0.05
    assert stats.expected_by_chance(8, alpha=0.05) == pytest.approx(0.4)


def test_count_failures():
    no_batchnorm = [0.8525, 0.9417, 0.9413, 0.0972, 0.1110]  # results/ablations.json, seeds 0-4
    assert stats.FAILURE_THRESHOLD == 0.5
    assert stats.count_failures(no_batchnorm) == (2, 5)  # 9.72% and 11.10% are below 50%
    assert stats.count_failures(no_batchnorm, threshold=0.9) == (3, 5)  # the threshold matters
    assert stats.count_failures(iter([0.5, 0.49])) == (1, 2)  # strictly below fails
    assert stats.count_failures([]) == (0, 0)


def test_runs_by_seed_keeps_file_order_and_the_group():
    rows = [
        {"group": "g", "variant": "base", "seed": 1, "val_accuracy": 0.9},
        {"group": "h", "variant": "other", "seed": 1, "val_accuracy": 0.1},
        {"group": "g", "variant": "v", "seed": 1, "val_accuracy": 0.8},
        {"group": "g", "variant": "base", "seed": 0, "val_accuracy": 0.7},
    ]
    runs = stats.runs_by_seed(rows, "g")
    assert list(runs) == ["base", "v"] and runs["base"] == {1: 0.9, 0: 0.7}
