"""The figures notebook 03 adds to effmnist.plots: learning-rate range tests and losses by seed."""

import math

import numpy as np
import pytest
from matplotlib.figure import Figure

from effmnist import plots
from effmnist.insight.lr_range import LRRange


def _run(lrs, smoothed, diverged):
    return LRRange(list(lrs), list(smoothed), list(smoothed), diverged)


@pytest.fixture
def two_runs():
    lrs = np.geomspace(1e-4, 1.0, 50)
    falling = np.linspace(2.3, 0.3, 50)
    blown = np.concatenate([np.linspace(2.3, 0.6, 38), np.linspace(0.7, 9.0, 7)])  # stopped
    return {
        "with BatchNorm": _run(lrs, falling, diverged=False),
        "without BatchNorm": _run(lrs[:45], blown, diverged=True),
    }


def test_lr_range_curves_draws_each_smoothed_curve_on_a_log_axis(two_runs):
    fig = plots.lr_range_curves(two_runs, mark=0.015)
    assert isinstance(fig, Figure) and fig._repr_png_().startswith(b"\x89PNG")
    (ax,) = fig.axes
    assert ax.get_xscale() == "log"
    assert ax.get_title() and ax.get_xlabel() and ax.get_ylabel()
    curves = {line.get_label(): line for line in ax.get_lines()}
    for label, run in two_runs.items():
        np.testing.assert_allclose(curves[label].get_ydata(), run.smoothed)
    assert "lr 0.015" in curves  # the marked learning rate, as a vertical line
    assert list(curves["lr 0.015"].get_xdata()) == [0.015, 0.015]


def test_lr_range_curves_marks_the_lowest_point_and_where_the_loss_blew_up(two_runs):
    ax = plots.lr_range_curves(two_runs, mark=None).axes[0]
    dots = [(line.get_xdata()[0], line.get_ydata()[0]) for line in ax.get_lines()
            if line.get_marker() == "o"]  # fmt: skip
    crosses = [line for line in ax.get_lines() if line.get_marker() == "X"]
    for label, run in two_runs.items():
        best = int(np.argmin(run.smoothed))
        assert (run.lrs[best], run.smoothed[best]) in dots, label
    assert len(crosses) == 1  # only the run that diverged
    assert crosses[0].get_xdata()[0] == two_runs["without BatchNorm"].lrs[-1]
    low, high = ax.get_ylim()
    assert low == 0 and crosses[0].get_ydata()[0] < high  # drawn inside, though the loss is 9
    assert not any(line.get_linestyle() == "--" for line in ax.get_lines())  # mark=None


def test_losses_by_seed_draws_one_line_per_seed_in_one_panel_per_setting():
    panels = {
        "with BatchNorm": {0: [2.3, 1.0, 0.5], 1: [2.4, 1.2, 0.6]},
        "without BatchNorm": {0: [2.3, 2.3, 2.3], 1: [2.3, 2.0, 1.5]},
    }
    fig = plots.losses_by_seed(panels, chance=math.log(10))
    assert fig._repr_png_().startswith(b"\x89PNG")
    assert [ax.get_title() for ax in fig.axes] == list(panels)
    for ax, runs in zip(fig.axes, panels.values(), strict=True):
        seeds = {line.get_label(): line for line in ax.get_lines()}
        for seed, losses in runs.items():
            assert list(seeds[f"seed {seed}"].get_ydata()) == losses
        chance = [line for line in ax.get_lines() if line.get_linestyle() == "--"]
        assert len(chance) == 1 and chance[0].get_ydata()[0] == pytest.approx(math.log(10))
        assert ax.get_xlabel() == "batch"
    assert fig.axes[0].get_ylabel() and fig.axes[0].get_ylim()[0] == 0
