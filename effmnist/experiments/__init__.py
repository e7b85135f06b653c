"""Experiments on recipes, one module each: :mod:`.ablate` (variants x seeds, the results
files), :mod:`.stats` and :mod:`.analysis` (paired comparisons and verdicts), :mod:`.bench`
(speed), :mod:`.baselines` (a logistic regression and an MLP), :mod:`.seed_style` (the
reference's script written the usual way) and :mod:`.runcache` (the test suite's cache of
finished trainings, off unless the suite turns it on)."""

from . import ablate, analysis, baselines, bench, final, runcache, stats

__all__ = ["ablate", "analysis", "baselines", "bench", "final", "runcache", "stats"]
