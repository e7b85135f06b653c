"""The figures of notebook 02: the architecture diagram and accuracy against parameters."""

import pytest
from matplotlib.patches import FancyBboxPatch
from torch import nn

from effmnist.experiments import baselines
from effmnist.model import EfficientMNIST, count_parameters
from effmnist.plots import architecture as architecture_plots
from effmnist.plots import experiments as experiment_plots


def _texts(ax, gid: str) -> list[str]:
    return [t.get_text() for t in ax.texts if t.get_gid() == gid]


@pytest.mark.parametrize(
    "config",
    [{}, {"stages": ((16, 16), (32,), (56,))}, {"head": "flatten"}, {"stages": ((8,), (16,))}],
    ids=["reference", "two-conv stage", "flatten head", "two stages"],
)
def test_architecture_diagram_draws_one_box_per_block_with_the_models_counts(config):
    model = EfficientMNIST(**config)
    fig = architecture_plots.architecture_diagram(model)
    ax = fig.axes[0]
    boxes = [p for p in ax.patches if isinstance(p, FancyBboxPatch) and p.get_gid() == "block"]
    n_stages = len(model.features)
    assert len(boxes) == 1 + n_stages + 3  # input, stages, pool, dropout, linear
    stage_params = [sum(p.numel() for p in stage.parameters()) for stage in model.features]
    expected = [0, *stage_params, 0, 0, model.classifier.weight.numel()]
    assert _texts(ax, "params") == [f"{n:,} params" if n else "no params" for n in expected]
    assert sum(expected) == count_parameters(model)
    assert f"{count_parameters(model):,} parameters" in fig._suptitle.get_text()


def test_architecture_diagram_of_the_reference_model_reads_like_the_reference():
    fig = architecture_plots.architecture_diagram(EfficientMNIST())
    ax = fig.axes[0]
    assert _texts(ax, "shape") == ["28×28×1", "14×14×16", "7×7×32", "3×3×64", "64", "64", "10"]
    assert _texts(ax, "params") == [
        "no params", "176 params", "4,672 params", "18,560 params",
        "no params", "no params", "640 params",
    ]  # fmt: skip
    text = " ".join(t.get_text() for t in ax.texts)
    assert "conv 1→16, 3×3" in text and "64→10, no bias" in text


def test_architecture_blocks_follow_a_changed_model():
    model = EfficientMNIST()
    model.classifier = nn.Linear(64, 10)  # with a bias now
    last = architecture_plots.architecture_blocks(model)[-1]
    assert last["params"] == 650 and last["lines"] == ["64→10"]


def test_validation_vs_parameters_plots_each_model_on_a_log_axis():
    points = [
        {"label": "logistic regression", "params": 7_850, "val_accuracy": 0.91},
        {"label": "MLP", "params": 23_860, "val_accuracy": 0.94},
        {"label": "EfficientMNIST", "params": 24_048, "val_accuracy": 0.985},
    ]
    fig = experiment_plots.validation_vs_parameters(points)
    ax = fig.axes[0]
    assert ax.get_xscale() == "log" and "validation" in ax.get_ylabel()
    dots = [c for c in ax.collections if c.get_gid() == "model"]
    assert [tuple(d.get_offsets()[0]) for d in dots] == [
        (p["params"], 100 * p["val_accuracy"]) for p in points
    ]
    labels = [t.get_text() for t in ax.texts]
    assert labels[1] == "MLP\n94.00%, 23,860 params"
    lo, hi = ax.get_ylim()
    assert lo < 91 and 98.5 < hi <= 100


def test_validation_vs_parameters_without_a_budget_line_and_without_points():
    model = baselines.mlp()
    point = {"label": "MLP", "params": count_parameters(model), "val_accuracy": 0.9}
    fig = experiment_plots.validation_vs_parameters([point], budget=None)
    assert not fig.axes[0].get_legend()
    with pytest.raises(ValueError):
        experiment_plots.validation_vs_parameters([])
