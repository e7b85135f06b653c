"""Comparing runs paired by seed: is a variant really better than its baseline, or was it luck?

Two training runs with the same seed start from the same initial weights (where the architecture
is the same) and see the batches in the same order, so much of what makes one seed better than
another is shared by the baseline and the variant. Comparing them seed by seed (a *paired*
comparison) cancels that shared part.

An accuracy is a count of correct images (5,923 of 6,000), so every comparison here is made on
integer counts, and the arithmetic is scipy's (``scipy.stats``), the library you will use in your
own work:

* :func:`correct_counts`: accuracies back to the counts of correct images they are;
* :func:`paired_difference`: per-seed differences, their mean, a Student's t interval and p-value,
  the exact sign test, how often the variant won, and the smallest difference the comparison
  could have detected (:func:`min_detectable_difference`);
* :func:`equivalence` (and its p, :func:`equivalence_p`): two one-sided tests (TOST), the test
  that can say "no difference larger than a margin";
* :func:`failure_rate`: runs that did not train at all, counted, with an exact binomial interval;
* :func:`format_p`: a p-value as text, never "0".
"""

from __future__ import annotations

import math
import numbers
import statistics
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from scipy import optimize, stats

ALPHA = 0.05  # the significance level: 95% intervals, p < 0.05
POWER = 0.8  # the power at which the smallest detectable difference is stated
MARGIN_PP = 0.1  # "equivalent" means: within ±0.1 percentage points (6 of 6,000 images)

# A run whose validation accuracy is below this "failed to train". Chance on ten balanced digits is
# 10%, and every reference run reaches over 98%: below 50% the network has not learnt the task, it
# is not merely a bit worse. In results/ablations.json the runs without BatchNorm fall on both sides
# of a wide gap (9.7% and 11.1% at chance; 85% to 94% trained, badly) and nothing falls in between,
# so any threshold from about 12% to 85% gives the same count: the exact value does not matter.
FAILURE_THRESHOLD = 0.5


def correct_count(accuracy: float, n_images: int = 6000) -> int:
    """An accuracy (a fraction of ``n_images``, e.g. float32 ``5923 / 6000``) as the integer count
    of correct images it is: ``round(accuracy * n_images)``, exact for such fractions (float32
    is off by under 0.001 image here). A count (an int) passes through."""
    return int(accuracy) if isinstance(accuracy, numbers.Integral) else round(accuracy * n_images)


def correct_counts(values: Mapping[int, float], n_images: int = 6000) -> dict[int, int]:
    """``{seed: accuracy}`` as ``{seed: correct images}`` (:func:`correct_count` for each)."""
    return {s: correct_count(v, n_images) for s, v in values.items()}


counts = correct_counts  # the name notebook 05 uses


def t_critical(df: float, alpha: float = ALPHA) -> float:
    """Student's t two-sided critical value: a (1 - alpha) interval is mean ± this × se."""
    return float(stats.t.ppf(1 - alpha / 2, df))


def min_detectable_difference(
    sd: float, n: int, alpha: float = ALPHA, power: float = POWER
) -> float:
    """The smallest true mean difference that a two-sided paired t-test on ``n`` seeds at level
    ``alpha`` detects with probability ``power``, if the differences have standard deviation
    ``sd`` (same units as ``sd``). Solved exactly with the noncentral t distribution."""
    if n < 2 or not sd > 0:
        return math.nan
    df, crit = n - 1, t_critical(n - 1, alpha)

    def shortfall(delta: float) -> float:
        shift = delta / (sd / math.sqrt(n))  # the noncentrality
        wrong_side = stats.nct.cdf(-crit, df, shift)  # negligible, and NaN far out
        return stats.nct.sf(crit, df, shift) + (wrong_side if wrong_side > 0 else 0.0) - power

    se = sd / math.sqrt(n)  # at 0 the power is alpha; at crit + 6 standard errors it is ~1
    return float(optimize.brentq(shortfall, 0.0, (crit + 6) * se))


@dataclass(frozen=True)
class Equivalence:
    """Two one-sided tests (TOST) of "the mean difference lies within ±margin"."""

    p: float  # the larger of the two one-sided p-values; NaN when the t-test is undefined
    ci_low: float | None  # the (1 - 2 alpha) t interval of the mean difference; None if undefined
    ci_high: float | None
    level: float  # that interval's confidence level, 1 - 2 alpha
    margin: float  # in the differences' units
    equivalent: bool  # the interval lies inside ±margin (the same as p < alpha)


def equivalence(
    differences: Iterable[float], margin: float = 6.0, alpha: float = ALPHA
) -> Equivalence:
    """Two one-sided tests (TOST) against ±``margin`` (default 6 images: 0.1 pp of 6,000).

    Equivalent when the (1 - 2 alpha) interval of the mean difference lies inside the margin:
    only then may one say "does not matter". When it does not, nothing is shown either way.
    With fewer than two differences, or all of them equal, the t-test is undefined: not shown.
    """
    d = [float(x) for x in differences]
    if len(d) < 2 or statistics.stdev(d) == 0:
        return Equivalence(math.nan, None, None, 1 - 2 * alpha, margin, False)
    above = stats.ttest_1samp(d, -margin, alternative="greater")
    below = stats.ttest_1samp(d, margin, alternative="less")
    interval = stats.ttest_1samp(d, 0).confidence_interval(1 - 2 * alpha)
    low, high = float(interval.low), float(interval.high)
    p = float(max(above.pvalue, below.pvalue))
    return Equivalence(p, low, high, 1 - 2 * alpha, margin, -margin < low and high < margin)


def equivalence_p(differences: Iterable[float], margin: float = 6.0) -> float:
    """The TOST p-value of :func:`equivalence`: below alpha, the differences are shown to lie
    within ±margin; above it, nothing is shown (which is not the same as a difference). NaN
    when every difference is the same (the t-test is undefined)."""
    return equivalence(differences, margin).p


@dataclass(frozen=True)
class PairedResult:
    """Variant minus baseline, paired by seed. Differences are counted in images; ``mean``,
    ``std``, ``se``, the interval and ``mdd`` are fractions of ``n_images`` (x100: points)."""

    seeds: tuple[int, ...]  # the seeds present in both, sorted
    differences: tuple[int, ...]  # variant - baseline, correct images per seed
    n: int  # number of pairs
    n_images: int  # the images each accuracy was measured on
    mean: float  # mean difference (fraction)
    std: float  # sample standard deviation of the differences (fraction)
    se: float  # standard error of the mean difference: std / sqrt(n)
    t: float | None  # the paired t statistic; None when the t-test is undefined (std = 0)
    df: int  # n - 1
    level: float  # the interval's confidence level, 1 - alpha
    ci_low: float | None  # Student's t interval for the mean difference; None if undefined
    ci_high: float | None
    p_value: float | None  # two-sided paired t-test; None when undefined
    sign_p: float  # two-sided exact sign test (binomial) on wins against losses
    wins: int  # seeds on which the variant scored higher than the baseline
    losses: int  # ... lower
    ties: int  # ... exactly the same
    mdd: float  # smallest difference detectable with 80% power at this alpha (fraction)

    @property
    def mean_images(self) -> float:
        """The mean difference in images."""
        return self.mean * self.n_images

    @property
    def mean_pp(self) -> float:
        """The mean difference in percentage points: 100 * images / n_images."""
        return 100 * self.mean

    @property
    def ci_pp(self) -> tuple[float, float] | None:
        """The interval in percentage points; None when the t-test is undefined."""
        return None if self.ci_low is None else (100 * self.ci_low, 100 * self.ci_high)

    @property
    def constant(self) -> bool:
        """Every seed differs by the same amount: a t-test cannot tell (its se is 0)."""
        return self.n >= 2 and self.std == 0


def paired_difference(
    baseline: Mapping[int, float],
    variant: Mapping[int, float],
    n_images: int = 6000,
    alpha: float = ALPHA,
) -> PairedResult:
    """Compare ``variant`` with ``baseline`` (``{seed: accuracy or count}``) on the seeds both
    have, on integer counts of correct images out of ``n_images``.

    The t-test (``scipy.stats.ttest_rel``) needs differences that vary: when every seed differs
    by the same number of images it is undefined, and ``t``, ``p_value`` and the interval are
    None; the exact sign test still answers, and can never give less than 2 / 2**n.
    """
    seeds = tuple(sorted(set(baseline) & set(variant)))
    if not seeds:
        raise ValueError("the baseline and the variant share no seed")
    base, var = correct_counts(baseline, n_images), correct_counts(variant, n_images)
    d = tuple(var[s] - base[s] for s in seeds)
    n = len(d)
    wins, losses = sum(x > 0 for x in d), sum(x < 0 for x in d)
    sd = statistics.stdev(d) if n > 1 else 0.0
    t = p = low = high = None
    if n > 1 and sd > 0:
        test = stats.ttest_rel([var[s] for s in seeds], [base[s] for s in seeds])
        t, p = float(test.statistic), float(test.pvalue)
        interval = test.confidence_interval(1 - alpha)
        low, high = float(interval.low) / n_images, float(interval.high) / n_images
    sign = stats.binomtest(wins, wins + losses, 0.5).pvalue if wins + losses else 1.0
    return PairedResult(
        seeds=seeds, differences=d, n=n, n_images=n_images, mean=statistics.mean(d) / n_images,
        std=sd / n_images, se=sd / math.sqrt(n) / n_images, t=t, df=n - 1, level=1 - alpha,
        ci_low=low, ci_high=high, p_value=p, sign_p=float(sign), wins=wins, losses=losses,
        ties=n - wins - losses, mdd=min_detectable_difference(sd, n, alpha) / n_images,
    )  # fmt: skip


def format_p(p: float | None, exact_n: int | None = None) -> str:
    """A p-value as text, the one format of every table; never "0".

    A t-test's p prints with three decimals, two significant digits below 0.01, and as
    "< 0.001" below 0.001 (beyond that, the t distribution's tails are an assumption, not a
    measurement). An exact test on ``exact_n`` seeds (the sign test) prints its value: it
    cannot fall below 2 / 2**n, so a smaller p is an error.
    """
    if p is None or math.isnan(p):
        return "-"
    if exact_n is not None:
        if p < 2 / 2**exact_n * (1 - 1e-9):
            raise ValueError(f"p = {p} is below 2 / 2**{exact_n}: not an exact test's p")
        return f"{p:.3g}"
    if p < 0.001:
        return "< 0.001"
    return f"{p:.2g}" if p < 0.01 else f"{p:.3f}"  # 0.0049 stays below a level of 0.005


def failure_rate(failed: int, n: int, level: float = 0.95) -> tuple[float, float, float]:
    """The share of runs that failed, with its exact (Clopper-Pearson) binomial interval."""
    interval = stats.binomtest(failed, n).proportion_ci(level, method="exact")
    return failed / n, float(interval.low), float(interval.high)


def expected_by_chance(m: int, alpha: float = ALPHA) -> float:
    """How many of ``m`` comparisons of variants that change nothing would reach p < alpha
    anyway, on average: alpha × m."""
    return alpha * m


def count_failures(
    values: Iterable[float], threshold: float = FAILURE_THRESHOLD
) -> tuple[int, int]:
    """(runs below ``threshold``, all runs): a run that did not train is counted, not averaged."""
    values = list(values)
    return sum(v < threshold for v in values), len(values)


def runs_by_seed(
    rows: Iterable[Mapping], group: str, metric: str = "val_accuracy"
) -> dict[str, dict[int, float]]:
    """``{variant: {seed: metric}}`` for one group of a results file, variants in file order.
    Rows without ``metric`` (new rows carry no test accuracy) are left out."""
    runs: dict[str, dict[int, float]] = {}
    for row in rows:
        if row["group"] == group and metric in row:
            runs.setdefault(row["variant"], {})[row["seed"]] = row[metric]
    return runs
