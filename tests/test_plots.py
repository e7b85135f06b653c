import numpy as np
import pytest
import torch
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from effmnist import plots
from effmnist.experiments import ablate
from effmnist.model import EfficientMNIST
from effmnist.plots import experiments as experiment_plots
from effmnist.plots import insight as model_plots


def _titled(fig: Figure) -> None:
    """The figure says what it shows: a suptitle, or a title on every visible axes."""
    visible = [ax for ax in fig.axes if ax.get_visible() and ax.get_label() != "<colorbar>"]
    assert visible
    assert (fig._suptitle is not None and fig._suptitle.get_text()) or all(
        ax.get_title() for ax in visible
    )


def _labelled(ax) -> None:
    assert ax.get_title() and ax.get_xlabel() and ax.get_ylabel()


def _bars(ax) -> list[float]:
    return [p.get_height() for p in ax.patches if isinstance(p, Rectangle)]


@pytest.fixture(scope="module")
def digits():
    """40 fake uint8 'images' whose pixels all equal 6 * label, four of each digit."""
    labels = torch.arange(10).repeat(4)
    images = (labels * 6).to(torch.uint8)[:, None, None].expand(-1, 28, 28).contiguous()
    return images, labels


def test_sample_grid_shows_per_class_images_of_the_right_digit_per_row(digits):
    images, labels = digits
    fig = plots.sample_grid(images, labels, per_class=3)
    _titled(fig)
    assert len(fig.axes) == 30
    for k, ax in enumerate(fig.axes):
        digit = k // 3
        assert np.all(ax.images[0].get_array() == 6 * digit)
        if k % 3 == 0:
            assert ax.get_ylabel() == str(digit)


def test_figures_render_as_png_in_jupyter_without_pyplot():
    fig = model_plots.per_class_accuracy_bars(torch.tensor([0.9, 0.8]))
    assert isinstance(fig, Figure) and fig._repr_png_().startswith(b"\x89PNG")
    assert repr(fig).startswith("<Figure size 1100x500 with 1 Axes")


def test_notebook_figures_are_saved_with_a_palette_of_256_colours(digits):
    """A notebook stores each figure as base64 PNG; a palette keeps a notebook under ~1 MB."""
    import io

    from PIL import Image

    fig = plots.sample_grid(*digits, per_class=3)
    png = Image.open(io.BytesIO(fig._repr_png_()))
    assert png.mode == "P"
    full = io.BytesIO()
    fig.savefig(full, format="png", bbox_inches="tight")
    assert Image.open(full).size == png.size  # legible: not shrunk, only fewer colours


def test_class_balance_bars_are_percentages_of_each_split():
    fig = plots.class_balance({"a": torch.tensor([0, 0, 0, 1]), "b": torch.arange(10)})
    _labelled(fig.axes[0])
    heights = _bars(fig.axes[0])
    assert heights[:2] == [75.0, 25.0] and heights[10:20] == [10.0] * 10


def test_pixel_histogram_counts_every_pixel_and_wants_raw_images(digits):
    images, _ = digits
    fig = plots.pixel_histogram(images)
    _labelled(fig.axes[0])
    heights = _bars(fig.axes[0])
    assert len(heights) == 256 and sum(heights) == images.numel() and heights[6] == 4 * 28 * 28
    with pytest.raises(TypeError, match="uint8"):
        plots.pixel_histogram(images.float())


def test_mean_digits_shows_each_class_average(digits):
    images, labels = digits
    fig = plots.mean_digits(images, labels)
    _titled(fig)
    assert [ax.get_title() for ax in fig.axes] == [str(d) for d in range(10)]
    assert np.allclose(fig.axes[7].images[0].get_array(), 42)


def test_training_curves_plot_every_batch_with_labelled_axes():
    n = 120
    history = {
        "loss": list(np.linspace(2, 0.1, n)),
        "acc": list(np.linspace(0.1, 1, n)),
        "lr": list(np.linspace(0.015, 0.001, n)),
    }
    fig = plots.training_curves(history, window=10)
    loss_ax, acc_ax, lr_ax = fig.axes
    for ax in fig.axes:
        assert ax.get_title() and ax.get_ylabel()
    assert lr_ax.get_xlabel() == "batch"
    raw, smooth = loss_ax.lines
    assert len(raw.get_xdata()) == n and len(smooth.get_xdata()) == n - 9
    assert acc_ax.lines[0].get_ydata()[-1] == pytest.approx(100.0)  # accuracy in percent
    assert list(lr_ax.lines[0].get_ydata()) == history["lr"]


@pytest.mark.parametrize(
    "schedule, words",
    [("cosine", "cosine annealing"), ("onecycle", "one-cycle"), ("constant", "constant")],
)
def test_training_curves_name_the_schedule_that_was_used(schedule, words):
    history = {"loss": [1.0] * 20, "acc": [0.5] * 20, "lr": [0.01] * 20}
    unnamed = plots.training_curves(history, window=5).axes[2].get_title()
    assert "cosine" not in unnamed and "Learning rate" in unnamed  # no claim it cannot know
    lr_ax = plots.training_curves(history, window=5, schedule=schedule).axes[2]
    assert words in lr_ax.get_title()
    with pytest.raises(ValueError, match="unknown schedule 'step'"):
        plots.training_curves(history, schedule="step")


def test_first_layer_filters_show_the_conv1_weights():
    model = EfficientMNIST()
    fig = model_plots.first_layer_filters(model)
    _titled(fig)
    shown = [ax for ax in fig.axes if ax.images]
    assert len(shown) == 16
    assert np.allclose(
        shown[5].images[0].get_array(), model.features[0][0].weight[5, 0].detach().numpy()
    )


def test_feature_maps_show_each_stage_at_its_resolution():
    torch.manual_seed(0)
    model = EfficientMNIST()
    fig = model_plots.feature_maps(model, torch.randn(1, 28, 28), label=3, channels=4)
    _titled(fig)
    assert "true 3" in fig._suptitle.get_text()
    sizes = sorted({ax.images[0].get_array().shape for ax in fig.axes if ax.images})
    assert sizes == [(7, 7), (14, 14), (28, 28)]
    assert sum(1 for ax in fig.axes if ax.images) == 1 + 3 * 4
    assert model.training  # the mode is restored


def test_mistake_gallery_captions_true_predicted_and_confidence(digits):
    images, labels = digits
    probs = torch.full((40, 10), 0.01)
    probs[:, 9] = 0.91  # everything predicted 9 with 91%
    fig = model_plots.mistake_gallery(images, labels, probs, [3, 14], ncols=4)
    _titled(fig)
    titles = [ax.get_title() for ax in fig.axes if ax.get_visible()]
    assert titles == ["true 3 → 9\n91%  (#3)", "true 4 → 9\n91%  (#14)"]


def test_confusion_heatmap_annotates_every_nonzero_count():
    cm = torch.tensor([[5, 0], [2, 7]])
    fig = model_plots.confusion_heatmap(cm)
    ax = fig.axes[0]
    _labelled(ax)
    assert sorted(t.get_text() for t in ax.texts) == ["2", "5", "7"]
    assert "14 images" in ax.get_title()


def _runs(group, variant, accs):
    return [
        {"group": group, "variant": variant, "seed": seed, "val_accuracy": a}
        for seed, a in accs.items()
    ]


def _offsets(ax, gid) -> np.ndarray:
    """All scatter points with this gid, as (x, y) rows."""
    points = [c.get_offsets() for c in ax.collections if c.get_gid() == gid]
    return np.concatenate(points) if points else np.empty((0, 2))


def test_paired_runs_show_every_run_and_join_each_seed():
    base = {0: 0.981, 1: 0.984, 2: 0.979, 3: 0.983}
    steady = {0: 0.982, 1: 0.986, 2: 0.980}  # no seed 3: three pairs
    failing = {0: 0.975, 1: 0.097, 2: 0.952, 3: 0.981}  # one run below 50%
    results = {
        "rows": _runs("g", "base", base)
        + _runs("other group", "x", {0: 0.5})
        + _runs("g", "steady", steady)
        + _runs("g", "failing", failing)
    }
    fig = experiment_plots.paired_runs(results, "g")
    _titled(fig)
    assert "accuracy axis from" in fig._suptitle.get_text()
    *slopes, diff_ax = fig.axes
    assert len(slopes) == 2
    for ax, variant in zip(slopes, (steady, failing), strict=True):
        runs = _offsets(ax, "runs")
        assert len(runs) == len(base) + len(variant)  # one marker per run
        pairs = [line for line in ax.lines if line.get_gid() == "pair"]
        shared = sorted(set(base) & set(variant))
        assert len(pairs) == len(shared)  # one line per pair
        joined = sorted(tuple(line.get_ydata()) for line in pairs)
        assert np.allclose(joined, sorted((100 * base[s], 100 * variant[s]) for s in shared))
        low, high = ax.get_ylim()
        assert low <= runs[:, 1].min() and runs[:, 1].max() <= high <= 100  # nothing past 100%
    assert slopes[1].get_title() == "1 of 4 runs failed to train"
    assert any(line.get_ydata()[0] == 50 for line in slopes[1].lines)  # the threshold is drawn
    differences = _offsets(diff_ax, "differences")
    assert len(differences) == 3 + 4
    low, high = diff_ax.get_ylim()
    assert low <= differences[:, 1].min() and differences[:, 1].max() <= high and low < 0 < high
    # a mean and interval for the steady variant only: none for the one with a failed run
    (mean_ci,) = diff_ax.containers
    mean_line, _, (bar,) = mean_ci
    assert mean_line.get_xydata()[0, 0] == pytest.approx(0.3)  # beside the first variant's dots
    assert low <= bar.get_segments()[0][:, 1].min() and bar.get_segments()[0][:, 1].max() <= high
    assert fig._repr_png_().startswith(b"\x89PNG")


def test_paired_runs_draws_each_committed_group():
    results = ablate.shipped_results("ablations")
    n = len(results["provenance"]["seeds"])
    for group in ablate.ABLATIONS:
        fig = experiment_plots.paired_runs(results, group)
        *slopes, _ = fig.axes
        for ax in slopes:
            assert len(_offsets(ax, "runs")) == 2 * n  # each seed: baseline and variant
            assert len([line for line in ax.lines if line.get_gid() == "pair"]) == n


def test_per_class_accuracy_bars_are_in_percent():
    fig = model_plots.per_class_accuracy_bars(torch.tensor([1.0, 0.5, 0.25]), overall=0.6)
    ax = fig.axes[0]
    _labelled(ax)
    assert _bars(ax) == [100.0, 50.0, 25.0]
    assert ax.get_legend() is not None


def test_every_figure_function_draws_in_the_legible_style():
    """Each public function that makes a figure is built under `legible` (fonts for a projector);
    `figure` itself is the one helper that only makes the canvas."""
    import inspect

    from effmnist.plots.style import Figure as StyleFigure

    makers = [
        name
        for name in plots.__all__
        if inspect.isfunction(getattr(plots, name))
        and inspect.signature(getattr(plots, name)).return_annotation in ("Figure", StyleFigure)
        and name != "figure"
    ]
    assert len(makers) > 20
    assert [n for n in makers if not hasattr(getattr(plots, n), "__wrapped__")] == []
