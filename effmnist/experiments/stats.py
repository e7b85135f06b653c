"""Comparing runs paired by seed: is a variant really better than its baseline, or was it luck?

Two training runs with the same seed start from the same initial weights (where the architecture
is the same) and see the batches in the same order, so much of what makes one seed better than
another is shared by the baseline and the variant. Comparing them seed by seed (a *paired*
comparison) cancels that shared part.

An accuracy is a count of correct images (5,923 of 6,000), so every comparison here is made on
integer counts, and the arithmetic is scipy's (``scipy.stats``), the library you will use in your
own work:

* :func:`paired_difference`: per-seed differences, their mean, a Student's t interval and p-value,
  the exact sign test, how often the variant won, and the smallest difference the comparison
  could have detected (:func:`min_detectable_difference`);
* :func:`equivalence_p`: two one-sided tests (TOST), the test that can say "no difference larger
  than a margin";
* :func:`failure_rate`: runs that did not train at all, counted, with an exact binomial interval;
* :func:`format_p`: a p-value as text, never "0".
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from scipy import optimize, stats

ALPHA = 0.05  # the significance level: 95% intervals, p < 0.05
POWER = 0.8  # the power at which the smallest detectable difference is stated
MARGIN_PP = 0.1  # "no difference" means: within ±0.1 percentage points (6 of 6,000 images)

# A run whose validation accuracy is below this "failed to train". Chance on ten balanced digits is
# 10%, and every reference run reaches over 98%: below 50% the network has not learnt the task, it
# is not merely a bit worse. In results/ablations.json the runs without BatchNorm fall on both sides
# of a wide gap (9.7% and 11.1% at chance; 85% to 94% trained, badly) and nothing falls in between,
# so any threshold from about 12% to 85% gives the same count: the exact value does not matter.
FAILURE_THRESHOLD = 0.5


def counts(values: Mapping[int, float], n_images: int) -> dict[int, int]:
    """Accuracies (fractions of ``n_images``, e.g. float32 ``k / 6000``) as the integer counts
    of correct images they are: ``round(accuracy * n_images)``. Counts pass through."""
    return {s: v if isinstance(v, int) else round(v * n_images) for s, v in values.items()}


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


def equivalence_p(differences: Iterable[float], margin: float) -> float:
    """Two one-sided tests (TOST): the p-value for "the mean difference lies within ±margin".
    Below alpha, the differences are shown to be smaller than the margin; above it, nothing
    is shown (which is not the same as a difference)."""
    d = [float(x) for x in differences]
    if len(d) < 2 or statistics.stdev(d) == 0:
        return 0.0 if all(abs(x) < margin for x in d) and len(d) >= 2 else 1.0
    above = stats.ttest_1samp(d, -margin, alternative="greater").pvalue
    below = stats.ttest_1samp(d, margin, alternative="less").pvalue
    return float(max(above, below))


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
    base, var = counts(baseline, n_images), counts(variant, n_images)
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
    """A p-value as text, never "0": below 0.001, a t-test's p prints as "< 0.001"; an exact
    test on ``exact_n`` seeds prints its value (it cannot fall below 2 / 2**n)."""
    if p is None or math.isnan(p):
        return "-"
    if exact_n is not None:
        return f"{p:.3g}"
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


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
    """``{variant: {seed: metric}}`` for one group of a results file, variants in file order."""
    runs: dict[str, dict[int, float]] = {}
    for row in rows:
        if row["group"] == group:
            runs.setdefault(row["variant"], {})[row["seed"]] = row[metric]
    return runs
