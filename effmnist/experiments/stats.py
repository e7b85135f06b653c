"""Comparing runs paired by seed: is a variant really better than its baseline, or was it luck?

Two training runs with the same seed start from the same initial weights and see the batches in
the same order, so most of what makes one seed better than another is shared by the baseline and
the variant. Comparing them seed by seed (a *paired* comparison) cancels that shared part; comparing
the two means as if the runs were unrelated (an *unpaired* comparison) leaves it in as noise.

This module does the arithmetic with the standard library only (no scipy):

* :func:`paired_difference`: per-seed differences, their mean, a Student's t 95% interval and a
  two-sided p-value, and how often the variant won;
* :func:`holm`: the Holm-Bonferroni correction when many variants are compared at once;
* :func:`count_failures`: runs that did not train at all, which a mean ± std would hide.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

ALPHA = 0.05  # the significance level used throughout: 95% intervals, p < 0.05

# A run whose validation accuracy is below this "failed to train". Chance on ten balanced digits is
# 10%, and every reference run reaches over 98%: below 50% the network has not learnt the task, it
# is not merely a bit worse. In results/ablations.json the runs without BatchNorm fall on both sides
# of a wide gap (9.7% and 11.1% at chance; 85% to 94% trained, badly) and nothing falls in between,
# so any threshold from about 12% to 85% gives the same count: the exact value does not matter.
FAILURE_THRESHOLD = 0.5

# Student's t critical values for a two-sided 95% interval (the 0.975 quantile), df = 1..30,
# to 3 decimals (as in any statistics textbook's table; tests/test_stats.py re-derives every
# entry from :func:`t_two_sided_p`).
_T95 = (
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
    2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
    2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
)  # fmt: skip
_Z975 = 1.959963984540054  # the normal distribution's 0.975 quantile: t's limit as df -> inf


def t_critical(df: float) -> float:
    """The two-sided 95% critical value of Student's t with ``df`` degrees of freedom.

    A 95% interval for a mean is ``mean ± t_critical(n - 1) * se``. With few seeds the value is
    far above the normal distribution's 1.96: 12.706 for 2 seeds, 2.776 for 5, 2.262 for 10.
    For df 1..30 it comes from a table; beyond, from the Cornish-Fisher expansion of t around the
    normal quantile z (4 terms in 1/df, error below 0.0005); ``math.inf`` gives z = 1.960.
    """
    if df == math.inf:
        return _Z975
    if df < 1 or df != int(df):
        raise ValueError(f"df must be a whole number >= 1 (or math.inf), not {df}")
    if df <= len(_T95):
        return _T95[int(df) - 1]
    z = _Z975
    g1 = (z**3 + z) / 4
    g2 = (5 * z**5 + 16 * z**3 + 3 * z) / 96
    g3 = (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / 384
    g4 = (79 * z**9 + 776 * z**7 + 1482 * z**5 - 1920 * z**3 - 945 * z) / 92160
    return z + g1 / df + g2 / df**2 + g3 / df**3 + g4 / df**4


def _beta_continued_fraction(a: float, b: float, x: float) -> float:
    """The continued fraction of the incomplete beta function (modified Lentz's method)."""
    tiny = 1e-300
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 1000):
        for numerator in (
            m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),  # even step
            -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1)),  # odd step
        ):
            d = 1.0 + numerator * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + numerator / c
            c = c if abs(c) > tiny else tiny
            h *= c * d
        if abs(c * d - 1.0) < 1e-15:
            return h
    raise ArithmeticError(f"incomplete beta did not converge for a={a}, b={b}, x={x}")


def regularized_incomplete_beta(a: float, b: float, x: float) -> float:
    """I_x(a, b), the cumulative distribution function of a Beta(a, b) variable at ``x``."""
    if not 0.0 <= x <= 1.0:
        raise ValueError(f"x must be in [0, 1], not {x}")
    if x in (0.0, 1.0):
        return x
    front = math.exp(
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    )
    if x < (a + 1) / (
        a + b + 2
    ):  # the fraction converges fast here; else use I_x(a,b) = 1 - I_1-x(b,a)
        return front * _beta_continued_fraction(a, b, x) / a
    return 1.0 - front * _beta_continued_fraction(b, a, 1.0 - x) / b


def t_two_sided_p(t: float, df: float) -> float:
    """The two-sided p-value of a t statistic: P(|T| >= |t|) for T ~ Student's t with ``df``.

    Uses P(|T| >= |t|) = I_x(df/2, 1/2) with x = df / (df + t²), the regularized incomplete beta
    function. Examples: t = 2.776 with df = 4 gives 0.050; t = 4.2 with df = 4 gives 0.014.
    """
    if math.isnan(t) or not df > 0:
        raise ValueError(f"need a number t and df > 0, not t={t}, df={df}")
    if math.isinf(t):
        return 0.0
    if df == math.inf:
        return math.erfc(abs(t) / math.sqrt(2))
    return regularized_incomplete_beta(df / 2, 0.5, df / (df + t * t))


@dataclass(frozen=True)
class PairedResult:
    """A variant against its baseline, paired by seed. Differences are **variant minus baseline**
    (positive: the variant scored higher), in the units of the inputs (accuracy as a fraction)."""

    seeds: tuple[int, ...]  # the seeds present in both, sorted
    differences: tuple[float, ...]  # variant - baseline, per seed, in the order of ``seeds``
    n: int  # number of pairs
    mean: float  # mean difference
    std: float  # sample standard deviation of the differences (n - 1 in the denominator)
    se: float  # standard error of the mean difference: std / sqrt(n)
    t: float  # mean / se
    df: int  # degrees of freedom: n - 1
    ci_low: float  # two-sided 95% confidence interval of the mean difference (Student's t)
    ci_high: float
    p_value: float  # two-sided: how often |t| would be this large if the variant changed nothing
    wins: int  # seeds on which the variant scored higher than the baseline
    losses: int  # ... lower
    ties: int  # ... exactly the same


def paired_difference(baseline: Mapping[int, float], variant: Mapping[int, float]) -> PairedResult:
    """Compare ``variant`` with ``baseline`` seed by seed (both map seed -> score, e.g. accuracy).

    Only seeds present in both count. With d_i = variant_i - baseline_i over the n shared seeds:
    mean = Σ d_i / n, std = sqrt(Σ (d_i - mean)² / (n - 1)), se = std / sqrt(n), t = mean / se,
    95% CI = mean ± t_critical(n - 1) * se, p = :func:`t_two_sided_p` (t, n - 1). This is the paired
    t-test; it assumes the differences are roughly normal (check for runs that failed first: see
    :func:`count_failures`). If every difference is the same, se = 0: then t = 0 and p = 1 when
    they are all zero (nothing changed), else t = ±inf and p = 0.
    """
    seeds = tuple(sorted(set(baseline) & set(variant)))
    n = len(seeds)
    if n < 2:
        raise ValueError(f"a paired comparison needs at least 2 seeds in both; shared: {seeds}")
    differences = tuple(variant[s] - baseline[s] for s in seeds)
    mean = statistics.fmean(differences)
    std = statistics.stdev(differences)
    se = std / math.sqrt(n)
    df = n - 1
    if se > 0:
        t = mean / se
        p = t_two_sided_p(t, df)
    else:
        t, p = (0.0, 1.0) if mean == 0 else (math.copysign(math.inf, mean), 0.0)
    half = t_critical(df) * se
    return PairedResult(
        seeds=seeds,
        differences=differences,
        n=n,
        mean=mean,
        std=std,
        se=se,
        t=t,
        df=df,
        ci_low=mean - half,
        ci_high=mean + half,
        p_value=p,
        wins=sum(variant[s] > baseline[s] for s in seeds),
        losses=sum(variant[s] < baseline[s] for s in seeds),
        ties=sum(variant[s] == baseline[s] for s in seeds),
    )


def holm_adjusted(pvalues: Sequence[float]) -> list[float]:
    """Holm-adjusted p-values, in the order given: reject a hypothesis at level alpha iff its
    adjusted p-value is <= alpha.

    Sort the m p-values, p_(1) <= ... <= p_(m). The k-th smallest is adjusted to
    max over j <= k of min(1, (m - j + 1) * p_(j)): the smallest is multiplied by m (as Bonferroni
    does), the next by m - 1, and so on, never decreasing down the sorted list.
    """
    m = len(pvalues)
    adjusted = [1.0] * m
    running = 0.0
    for rank, i in enumerate(sorted(range(m), key=lambda i: pvalues[i])):
        running = max(running, min(1.0, (m - rank) * pvalues[i]))
        adjusted[i] = running
    return adjusted


def holm(pvalues: Sequence[float], alpha: float = ALPHA) -> list[bool]:
    """Holm-Bonferroni: which of a family of m hypotheses to reject, in the order given.

    Test the smallest p-value at alpha / m, the next at alpha / (m - 1), ..., the largest at alpha,
    and stop at the first that fails: it and all larger ones are not rejected. The chance of even
    one false "real difference" in the whole family stays below alpha (as with Bonferroni, which
    tests every p-value at alpha / m, but Holm rejects at least as many).
    """
    return [p <= alpha for p in holm_adjusted(pvalues)]


def expected_by_chance(m: int, alpha: float = ALPHA) -> float:
    """How many of ``m`` comparisons reach p < alpha on average when no variant changes anything.

    Each such comparison has probability alpha of doing so, so m * alpha of them on average: test
    20 useless variants at 0.05 and expect one "significant" result. (The chance of at least one is
    1 - (1 - alpha)^m if they are independent: 64% for m = 20.) Hence :func:`holm`.
    """
    return m * alpha


def count_failures(
    values: Iterable[float], threshold: float = FAILURE_THRESHOLD
) -> tuple[int, int]:
    """``(failed, n)``: how many of the ``n`` runs scored below ``threshold`` (failed to train).

    A set of runs where some trained and some did not is bimodal: its mean ± std describes no run
    at all (94%, 94% and 10% average to 66% ± 48). Report such a variant as "k of n runs failed to
    train (val < 50%)" instead, stating the threshold, whenever ``failed > 0``.
    """
    values = list(values)
    return sum(v < threshold for v in values), len(values)


def runs_by_seed(
    rows: Iterable[Mapping], group: str, metric: str = "val_accuracy"
) -> dict[str, dict[int, float]]:
    """variant -> {seed: metric} for one group of result rows (as in ``results/ablations.json``),
    variants in the order they first appear: the first is the group's baseline."""
    runs: dict[str, dict[int, float]] = {}
    for row in rows:
        if row["group"] == group:
            runs.setdefault(row["variant"], {})[row["seed"]] = row[metric]
    return runs
