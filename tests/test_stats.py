"""effmnist.experiments.stats: cases worked by hand (the arithmetic is in the comments), and the
review's cases that a comparison on float32 fractions got wrong."""

import math

import numpy as np
import pytest
import torch
from scipy import stats as scipy_stats

from effmnist.experiments import stats


def test_paired_difference_by_hand_on_counts():
    baseline = {0: 5900, 1: 5920, 2: 5940}
    variant = {0: 5901, 1: 5922, 2: 5941, 7: 5000}  # seed 7 has no baseline: left out
    r = stats.paired_difference(baseline, variant, n_images=6000)
    # d = 1, 2, 1 images; mean 4/3; std = sqrt(1/3); se = 1/3; t = 4; df = 2
    # CI = 4/3 ± t.ppf(0.975, 2) / 3 = 4/3 ± 4.3027/3 images; p = 1 - 4/sqrt(18) = 0.0572
    assert r.seeds == (0, 1, 2) and r.differences == (1, 2, 1)
    assert (r.n, r.df) == (3, 2)
    assert r.mean * 6000 == pytest.approx(4 / 3)
    assert r.std * 6000 == pytest.approx(math.sqrt(1 / 3))
    assert r.se * 6000 == pytest.approx(1 / 3)
    assert r.t == pytest.approx(4.0)
    half = 4.302652729911275 / 3
    assert (r.ci_low * 6000, r.ci_high * 6000) == pytest.approx((4 / 3 - half, 4 / 3 + half))
    assert r.p_value == pytest.approx(1 - 4 / math.sqrt(18))
    assert (r.wins, r.losses, r.ties) == (3, 0, 0)
    assert r.sign_p == pytest.approx(0.25)  # 3 wins of 3: 2 * (1/2)^3


def test_the_paired_t_by_hand_equals_scipy():
    d = np.array([4, 7, 1, 6, 3, 5, 8, 2, 6, 0])
    by_hand = d.mean() / (d.std(ddof=1) / math.sqrt(len(d)))
    assert by_hand == pytest.approx(scipy_stats.ttest_1samp(d, 0).statistic)
    r = stats.paired_difference(dict(enumerate([0] * 10)), dict(enumerate(d.tolist())))
    assert r.t == pytest.approx(by_hand)


def test_one_image_more_on_every_seed_has_an_undefined_t_test():
    """The review's case: each variant gets exactly one more test image right on each of three
    seeds. On float32 fractions the differences looked like noise of 1e-8 around 1e-4, so the
    t-test said se 2e-8, t 5033, p 4e-8: "variant better". On counts every difference is 1:
    the t-test is undefined, and the exact sign test says p = 0.25 with three seeds.
    (tests/test_analysis.py checks the verdict that the table prints.)"""
    ks = [9871, 9885, 9880]
    base = {s: float(torch.tensor(k / 10000, dtype=torch.float32)) for s, k in enumerate(ks)}
    var = {s: float(np.float32((k + 1) / 10000)) for s, k in enumerate(ks)}
    r = stats.paired_difference(base, var, n_images=10000)
    assert r.differences == (1, 1, 1) and r.constant
    assert r.t is None and r.p_value is None and r.ci_low is None and r.ci_pp is None
    assert r.sign_p == pytest.approx(0.25) and r.sign_p >= 2 / 2**3
    assert r.mean_images == pytest.approx(1) and r.mean_pp == pytest.approx(0.01)
    assert math.isnan(r.mdd)  # no spread: no power statement either
    assert stats.format_p(r.sign_p, exact_n=r.n) == "0.25"


def test_p_values_never_print_as_zero():
    assert stats.format_p(1e-12) == "< 0.001"
    assert stats.format_p(0.0) == "< 0.001"
    assert stats.format_p(0.0123) == "0.012"
    assert stats.format_p(0.00494) == "0.0049"  # below a level of 0.005, and it reads so
    assert stats.format_p(2 / 2**10, exact_n=10) == "0.00195"  # an exact test's smallest p
    assert stats.format_p(None) == "-"
    assert stats.format_p(0.25, exact_n=3) == "0.25"
    with pytest.raises(ValueError, match="2 / 2"):  # an exact p below what n seeds allow
        stats.format_p(0.0, exact_n=3)
    with pytest.raises(ValueError, match="2 / 2"):
        stats.format_p(0.2, exact_n=3)  # 3 seeds: 0.25 at least


def test_sign_convention_is_variant_minus_baseline_and_ties_count():
    r = stats.paired_difference({1: 5880, 2: 5820, 3: 5940}, {1: 5820, 2: 5820, 3: 5880})
    assert r.differences == (-60, 0, -60) and r.mean < 0 and r.t < 0
    assert (r.wins, r.losses, r.ties) == (0, 2, 1)


def test_no_shared_seed_is_an_error():
    with pytest.raises(ValueError, match="share no seed"):
        stats.paired_difference({0: 10}, {1: 11})


def test_the_smallest_detectable_difference_has_80_percent_power():
    sd, n, alpha = 4.5, 10, 0.005
    mdd = stats.min_detectable_difference(sd, n, alpha)
    # check by the definition: the power of the two-sided test at that true difference
    crit = scipy_stats.t.ppf(1 - alpha / 2, n - 1)
    shift = mdd / (sd / math.sqrt(n))
    power = scipy_stats.nct.sf(crit, n - 1, shift) + scipy_stats.nct.cdf(-crit, n - 1, shift)
    assert power == pytest.approx(0.8, abs=1e-6)
    # for many seeds it approaches the normal approximation (z_{1-a/2} + z_{0.8}) sd / sqrt(n)
    z = scipy_stats.norm.ppf(1 - 0.05 / 2) + scipy_stats.norm.ppf(0.8)
    assert stats.min_detectable_difference(1.0, 2000) == pytest.approx(z / math.sqrt(2000), 0.01)
    # five seeds cannot show a tenth of a point where ten barely can (dropout's spread)
    assert stats.min_detectable_difference(sd, 5, alpha) > 2 * mdd
    assert math.isnan(stats.min_detectable_difference(0.0, 10))


def test_equivalence_is_the_1_minus_2_alpha_interval_inside_the_margin():
    rng = np.random.default_rng(0)
    seen = set()
    for _ in range(300):
        n = int(rng.integers(3, 12))
        d = rng.integers(-9, 10, size=n) + int(rng.integers(-3, 4))
        if np.std(d) == 0:
            continue
        for alpha in (0.05, 0.005):
            e = stats.equivalence(d.tolist(), margin=6, alpha=alpha)
            inside = -6 < e.ci_low and e.ci_high < 6
            assert e.equivalent == inside == (e.p < alpha), (d, alpha)
            assert e.level == pytest.approx(1 - 2 * alpha)
            seen.add(e.equivalent)
    assert seen == {True, False}  # both outcomes were tried
    assert stats.equivalence([1, -1, 0, 1, -1, 0] * 2).margin == 6  # default: 0.1 pp of 6,000


def test_equivalence_with_every_difference_equal_shows_nothing():
    # the t-test is undefined when sd = 0: no p of 0, no "equivalent"
    e = stats.equivalence([1, 1, 1], margin=6)
    assert math.isnan(e.p) and not e.equivalent and e.ci_low is None
    assert math.isnan(stats.equivalence_p([0, 0, 0, 0]))


def test_equivalence_needs_the_whole_interval_inside_the_margin():
    tight = [1, -1, 0, 2, -2, 1, 0, -1, 1, 0]  # mean 0.1 image, sd ~1.2
    wide = [19, -18, 14, -16, 17, -13, 15, -19, 12, -11]  # mean 0, sd ~16: nothing shown
    assert stats.equivalence_p(tight, margin=6) < 0.005
    assert stats.equivalence_p(wide, margin=6) > 0.05
    # TOST by hand: the larger of the two one-sided p-values
    above = scipy_stats.ttest_1samp(wide, -6, alternative="greater").pvalue
    below = scipy_stats.ttest_1samp(wide, 6, alternative="less").pvalue
    assert stats.equivalence_p(wide, 6) == pytest.approx(max(above, below))


def test_failures_are_counted_with_an_exact_binomial_interval():
    rate, low, high = stats.failure_rate(2, 10)
    assert rate == 0.2
    # Clopper-Pearson by its definition: the beta quantiles
    assert low == pytest.approx(scipy_stats.beta.ppf(0.025, 2, 9))
    assert high == pytest.approx(scipy_stats.beta.ppf(0.975, 3, 8))


def test_count_failures():
    no_batchnorm = [0.8525, 0.9417, 0.9413, 0.0972, 0.1110]
    assert stats.FAILURE_THRESHOLD == 0.5
    assert stats.count_failures(no_batchnorm) == (2, 5)
    assert stats.count_failures(no_batchnorm, threshold=0.9) == (3, 5)
    assert stats.count_failures(iter([0.5, 0.49])) == (1, 2)  # strictly below fails


def test_counts_recover_the_exact_number_of_images_from_float32_fractions():
    fractions = {k: float(np.float32(k / 6000)) for k in range(5800, 6001, 7)}
    assert stats.correct_counts(fractions) == {k: k for k in fractions}  # default: 6,000
    assert stats.counts(fractions, 6000) == {k: k for k in fractions}  # notebook 05's name
    on_test = torch.arange(9000, 10001, dtype=torch.float64) / 10000
    for k, a in zip(range(9000, 10001), on_test.float().tolist(), strict=True):
        assert stats.correct_count(a, 10000) == k
    assert stats.correct_counts({0: 5923, 1: np.int64(5924)}) == {0: 5923, 1: 5924}  # counts


def test_paired_results_read_in_images_and_in_points():
    r = stats.paired_difference({0: 5900, 1: 5920, 2: 5940}, {0: 5906, 1: 5932, 2: 5946})
    assert r.differences == (6, 12, 6)
    assert r.mean_images == pytest.approx(8) and r.mean_pp == pytest.approx(100 * 8 / 6000)
    assert r.ci_pp == pytest.approx((100 * r.ci_low, 100 * r.ci_high))


def test_runs_by_seed_keeps_file_order_and_the_group():
    rows = [
        {"group": "g", "variant": "base", "seed": 1, "val_accuracy": 0.9},
        {"group": "h", "variant": "other", "seed": 1, "val_accuracy": 0.1},
        {"group": "g", "variant": "v", "seed": 1, "val_accuracy": 0.8},
        {"group": "g", "variant": "base", "seed": 0, "val_accuracy": 0.7},
    ]
    runs = stats.runs_by_seed(rows, "g")
    assert list(runs) == ["base", "v"] and runs["base"] == {1: 0.9, 0: 0.7}
    rows[0]["test_accuracy"] = 0.95  # new rows carry no test accuracy: the others are left out
    assert stats.runs_by_seed(rows, "g", "test_accuracy") == {"base": {1: 0.95}}
