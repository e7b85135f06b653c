"""Figures of experiments: every run of an ablation, paired by seed, and accuracy against size.

Built in the one figure style of :mod:`effmnist.plots`.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence

import matplotlib.lines
import numpy as np

from ..experiments.stats import FAILURE_THRESHOLD, count_failures, paired_difference, runs_by_seed
from .style import Figure, figure, legible


@legible
def paired_runs(
    results: Mapping, group: str, threshold: float = FAILURE_THRESHOLD, per_row: int = 4
) -> Figure:
    """Every run of one ablation group, paired by seed (``results``: as in results/ablations.json).

    Top, one panel per variant: each run is a dot on the validation-accuracy axis (the group's
    baseline on the left, the variant on the right) and each seed's two dots are joined by a line,
    so "better on every seed" reads as lines that all go up. The accuracy axis is zoomed in to the
    runs (its range is stated in the title) and shared by the panels; a dotted red line marks the
    "failed to train" threshold when a run falls below it. Bottom: the per-seed differences,
    variant minus baseline in percentage points, on an axis with zero marked, with their mean and
    unadjusted 95% interval (Student's t; not drawn for a variant with failed runs).
    """
    runs = runs_by_seed(results["rows"], group)
    if len(runs) < 2:
        raise ValueError(f"group {group!r} needs a baseline and a variant; it has {list(runs)}")
    (base_name, base), *others = runs.items()
    seeds = sorted({s for r in runs.values() for s in r})
    color = {s: f"C{i % 10}" for i, s in enumerate(seeds)}
    ncols = min(len(others), per_row)
    nrows = -(-len(others) // per_row)
    fig = figure(max(7.0, 3.6 * ncols + 1.6), 4.3 * nrows + 4.4)
    grid = fig.add_gridspec(nrows + 1, ncols)
    accuracies = [100 * a for r in runs.values() for a in r.values()]
    lo, hi = min(accuracies), max(accuracies)
    pad = max(0.1, 0.06 * (hi - lo))
    ylim = (lo - pad if lo - pad > 20 else 0.0, min(100.0, hi + pad))  # from 0 when near it anyway
    failing = lo < 100 * threshold
    top = legend_ax = None
    for k, (name, variant) in enumerate(others):
        ax = fig.add_subplot(grid[k // per_row, k % per_row], sharey=top)
        top = top or ax
        legend_ax = ax if k < per_row else legend_ax  # the first row's last panel
        pairs = sorted(set(base) & set(variant))
        for s in pairs:
            ax.plot([0, 1], [100 * base[s], 100 * variant[s]], color=color[s], gid="pair")
        for x, r in ((0, base), (1, variant)):
            ax.scatter(
                [x] * len(r), [100 * a for a in r.values()], c=[color[s] for s in r],
                s=60, zorder=3, gid="runs",
            )  # fmt: skip
        if failing:
            ax.axhline(100 * threshold, color="tab:red", linestyle=":", linewidth=1.5)
        failed, n = count_failures((variant[s] for s in pairs), threshold)
        wins = sum(variant[s] > base[s] for s in pairs)
        ax.set_title(
            f"{failed} of {n} runs failed to train" if failed else f"higher on {wins} of {n} seeds"
        )
        ax.set_xticks([0, 1], [textwrap.fill(base_name, 14), textwrap.fill(name, 14)])
        ax.set_xlim(-0.4, 1.4)
        if k % per_row == 0:
            ax.set_ylabel("validation accuracy (%)")
        else:
            ax.tick_params(labelleft=False)
    top.set_ylim(*ylim)
    diff_ax = fig.add_subplot(grid[nrows, :])
    diff_ax.axhline(0, color="black", linewidth=1)
    for k, (_, variant) in enumerate(others):
        pairs = sorted(set(base) & set(variant))
        diffs = [100 * (variant[s] - base[s]) for s in pairs]
        offsets = np.linspace(-0.15, 0.15, len(pairs)) if len(pairs) > 1 else np.zeros(len(pairs))
        diff_ax.scatter(
            k + offsets, diffs, c=[color[s] for s in pairs], s=50, zorder=3, gid="differences"
        )
        failed, n = count_failures((variant[s] for s in pairs), threshold)
        base_failed = count_failures((base[s] for s in pairs), threshold)[0]
        if failed or base_failed:  # no mean or interval for runs that did and did not train
            who = f"{failed} of {n}" if failed else f"baseline:\n{base_failed} of {n}"
            diff_ax.text(
                k + 0.3, float(np.median(diffs)), f"no mean:\n{who}\nfailed",
                ha="center", va="center", color="tab:red", fontsize=11,
            )  # fmt: skip
        elif len(pairs) > 1:
            r = paired_difference(base, variant)
            low, high = (r.ci_low, r.ci_high) if r.ci_low is not None else (r.mean, r.mean)
            diff_ax.errorbar(
                k + 0.3, 100 * r.mean,
                yerr=[[100 * (r.mean - low)], [100 * (high - r.mean)]],
                fmt="D", color="black", markersize=7, capsize=6, gid="mean_ci",
            )  # fmt: skip
    names = [textwrap.fill(name, 16) for name, _ in others]
    if len(others) > per_row:  # many variants: slanted names, so they do not overlap
        diff_ax.set_xticks(range(len(others)), names, rotation=25, ha="right")
    else:
        diff_ax.set_xticks(range(len(others)), names)
    diff_ax.set_xlim(-0.6, len(others) - 0.4)
    diff_ax.set_ylabel("variant − baseline (pp)")
    diff_ax.set_title("each seed's difference; black: mean and unadjusted 95% CI")
    handles = [
        matplotlib.lines.Line2D([], [], color=color[s], marker="o", label=f"seed {s}")
        for s in seeds
    ]
    if failing:
        handles.append(
            matplotlib.lines.Line2D(
                [], [], color="tab:red", linestyle=":", label=f"failed to train: < {threshold:.0%}"
            )
        )
    legend_ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    axis = f"from {ylim[0]:.2f}% to {ylim[1]:.2f}%" + (", not from 0" if ylim[0] > 0 else "")
    fig.suptitle(f"Ablation: {group}, every run paired by seed\n(accuracy axis {axis})")
    return fig


@legible
def accuracy_vs_parameters(points: Sequence[Mapping]) -> Figure:
    """Test accuracy (mean ± std over seeds) against parameter count, one labelled point per
    model."""
    fig = figure(11, 5.5)
    ax = fig.subplots()
    for p in points:
        ax.errorbar(
            p["params"],
            100 * p["test_mean"],
            yerr=100 * p["test_std"],
            fmt="o",
            markersize=9,
            capsize=6,
        )
        ax.annotate(
            p["label"],
            (p["params"], 100 * p["test_mean"]),
            textcoords="offset points",
            xytext=(8, 6),
            fontsize=12,
        )
    ax.axvline(25_000, color="black", linestyle="--", linewidth=1, label="25k parameter budget")
    ax.axhline(95, color="tab:red", linestyle=":", linewidth=1.5, label="the 95% target")
    ax.set_xlabel("trainable parameters")
    ax.set_ylabel("test accuracy after one epoch (%)")
    ax.legend(loc="lower right")
    ax.set_title("One epoch of training: accuracy against model size")
    return fig


@legible
def validation_vs_parameters(points: Sequence[Mapping], budget: int | None = 25_000) -> Figure:
    """Validation accuracy against parameter count (log axis), one labelled point per model.

    Each point is a mapping with ``label``, ``params`` and ``val_accuracy`` (a fraction), e.g.
    ``{"label": "MLP", **result.metrics()}`` for a :class:`effmnist.training.TrainResult`. A
    dashed line marks the parameter ``budget`` (None: no line).
    """
    import matplotlib.ticker

    if not points:
        raise ValueError("validation_vs_parameters needs at least one point")
    fig = figure(11, 5.5)
    ax = fig.subplots()
    for i, p in enumerate(points):
        acc = 100 * p["val_accuracy"]
        ax.scatter([p["params"]], [acc], s=110, color=f"C{i % 10}", zorder=3, gid="model")
        ax.annotate(
            f"{p['label']}\n{acc:.2f}%, {p['params']:,} params",
            (p["params"], acc), textcoords="offset points", xytext=(-12, 10),
            ha="right", va="bottom", fontsize=12,
        )  # fmt: skip
    ax.set_xscale("log")
    ax.xaxis.set_major_locator(matplotlib.ticker.LogLocator(subs=(1.0, 2.0, 5.0)))
    ax.xaxis.set_major_formatter(matplotlib.ticker.StrMethodFormatter("{x:,.0f}"))
    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    params = [p["params"] for p in points] + ([budget] if budget else [])
    ax.set_xlim(min(params) / 3, max(params) * 1.6)
    accs = [100 * p["val_accuracy"] for p in points]
    spread = max(accs) - min(accs)
    ax.set_ylim(min(accs) - max(0.5, 0.6 * spread), min(100.0, max(accs) + max(0.5, 0.35 * spread)))
    if budget:
        ax.axvline(budget, color="black", linestyle="--", linewidth=1,
                   label=f"{budget:,}-parameter budget")  # fmt: skip
        ax.legend(loc="lower right")
    ax.set_xlabel("trainable parameters (log scale)")
    ax.set_ylabel("validation accuracy (%)")
    ax.set_title("Accuracy against model size, each model trained the same way")
    return fig
