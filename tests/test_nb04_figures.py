"""The figures notebook 04 adds: class activation maps and reliability diagrams."""

import numpy as np
import pytest
import torch
from matplotlib.patches import Rectangle

from effmnist.insight import calibration, cam
from effmnist.model import EfficientMNIST
from effmnist.plots import insight as model_plots


def _visible(fig):
    return [ax for ax in fig.axes if ax.get_visible() and ax.get_label() != "<colorbar>"]


@pytest.fixture(scope="module")
def four_digits():
    """An untrained reference network's maps for four random 'digits'; labels chosen so that
    the first two are predicted correctly and the last two are not."""
    torch.manual_seed(0)
    model = EfficientMNIST().eval()
    images = torch.randn(4, 1, 28, 28)
    maps, logits = cam.class_activation_maps(model, images)
    preds = logits.argmax(dim=1)
    labels = torch.cat([preds[:2], (preds[2:] + 1) % 10])
    return images, maps, logits, labels


def test_cam_grid_shows_the_predicted_and_for_mistakes_the_true_class_map(four_digits):
    images, maps, logits, labels = four_digits
    fig = model_plots.cam_grid(images, maps, logits, labels, title="four digits")
    assert fig._suptitle.get_text() == "four digits"
    panels = [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]
    assert len(panels) == 3 * 4  # digit, predicted-class map, true-class map
    hidden = [ax for ax in panels if not ax.get_visible()]
    assert len(hidden) == 2  # the correct predictions have no separate true-class map
    preds = logits.argmax(dim=1)
    predicted_row, true_row = panels[4:8], panels[8:12]
    for k in range(4):
        # a caption's number is the map's mean: the logit of that class
        want = f"class {int(preds[k])}: {float(logits[k, preds[k]]):.1f}"
        assert predicted_row[k].get_title() == want
        overlay = predicted_row[k].images[1]
        assert overlay.get_extent() == [-0.5, 27.5, 27.5, -0.5]  # the whole image
        assert overlay.get_array().shape == (28, 28)
        assert np.allclose(overlay.get_array()[-4:, -4:], float(maps[k, preds[k], -1, -1]))
    for k in (2, 3):
        assert true_row[k].get_title() == (
            f"class {int(labels[k])}: {float(logits[k, labels[k]]):.1f}"
        )
    assert panels[2].get_title().startswith(f"true {int(labels[2])} → {int(preds[2])}")
    assert fig._repr_png_().startswith(b"\x89PNG")


def test_cam_grid_has_two_rows_when_every_prediction_is_right(four_digits):
    images, maps, logits, _ = four_digits
    fig = model_plots.cam_grid(images[:2], maps[:2], logits[:2], logits[:2].argmax(dim=1))
    assert len(_visible(fig)) == 2 * 2


@pytest.mark.parametrize("side", [3, 7, 14, 28])  # 28 -> 14 -> 7 -> 3: cells 1, 2, 4, 8 px apart
def test_cells_are_placed_by_the_pools_that_made_them(four_digits, side):
    """A map of ``side`` cells made by halving 28 pixels lies over the whole image, each cell
    on the pixels it came from; the reference's 3x3 map reaches the bottom and right edges."""
    images, _, logits, labels = four_digits
    maps = torch.rand(4, 10, side, side)
    fig = model_plots.cam_grid(images, maps, logits, labels)
    overlay = fig.axes[4].images[1]  # the first predicted-class map over its digit
    assert overlay.get_extent() == [-0.5, 27.5, 27.5, -0.5]
    drawn = overlay.get_array()
    p = int(logits[0].argmax())
    assert np.allclose(drawn[-1, -1], maps[0, p, -1, -1])
    if side == 28:
        assert np.allclose(drawn, maps[0, p])


def test_a_map_that_is_not_28_halved_is_refused(four_digits):
    images, _, logits, labels = four_digits
    with pytest.raises(ValueError, match="halved"):
        model_plots.cam_grid(images, torch.rand(4, 10, 5, 5), logits, labels)


def test_reliability_diagram_draws_each_bins_accuracy_and_count():
    # 4 predictions: two at 0.95 confidence (one right), two at 0.55 (both right)
    probs = torch.full((4, 10), 0.0)
    probs[:2, 0], probs[:2, 1] = 0.95, 0.05
    probs[2:, 0], probs[2:, 1] = 0.55, 0.45
    labels = torch.tensor([0, 1, 0, 0])
    rel = calibration.reliability(probs, labels, bins=10)
    fig = model_plots.reliability_diagram({"a model": rel, "the same": rel})
    top, bottom = fig.axes[0], fig.axes[2]  # row-major: the first column's two panels
    assert top.get_title() == f"a model: ECE {rel.ece:.2%}"
    assert rel.ece == pytest.approx(0.5 * 0.45 + 0.5 * 0.45)  # |1 - 0.55|, |0.5 - 0.95|
    heights = [p.get_height() for p in top.patches if isinstance(p, Rectangle)]
    assert heights == pytest.approx([1.0, 0.5])  # the non-empty bins only, in order
    ticks = top.collections[0].get_offsets()
    assert np.allclose(ticks, [[0.55, 0.55], [0.95, 0.95]])  # bin centre, mean confidence
    counts = [p.get_height() for p in bottom.patches if isinstance(p, Rectangle)]
    assert counts == [2, 2] and bottom.get_yscale() == "log"
    assert top.get_ylabel() == "accuracy" and bottom.get_xlabel()
    assert len(_visible(fig)) == 4
