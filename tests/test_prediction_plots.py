import os
from pathlib import Path

import pytest
import torch
from matplotlib.patches import Rectangle

from effmnist.digits.preprocess import Prediction, PreprocessConfig, preprocess_steps
from effmnist.digits.synthetic import draw_digit
from effmnist.plots.predictions import plot_prediction, plot_predictions, plot_steps


def a_prediction(original: bool = True) -> Prediction:
    """A made-up answer for a drawn 7 (no model needed): 7 at 82%, every other digit at 2%."""
    drawing = draw_digit(7)
    probs = torch.full((10,), 0.02)
    probs[7] = 0.82
    top = probs.topk(3)
    return Prediction(
        "seven.png",
        preprocess_steps(drawing).image,
        top.indices.tolist(),
        top.values.tolist(),
        probs,
        drawing if original else None,
    )


def test_plot_steps_shows_six_steps_with_the_box_and_the_centre():
    steps = preprocess_steps(draw_digit(3, canvas=(300, 200)))
    fig = plot_steps(steps)
    assert len(fig.axes) == 6 and all(ax.get_title() for ax in fig.axes)
    (frame,) = [p for p in fig.axes[2].patches if isinstance(p, Rectangle)]
    top, left, bottom, right = steps.bbox
    assert frame.get_xy() == (left - 0.5, top - 0.5)
    assert (frame.get_width(), frame.get_height()) == (right - left, bottom - top)
    (box,) = fig.axes[5].patches
    assert box.get_xy() == (3.5, 3.5) and (box.get_width(), box.get_height()) == (20, 20)
    bigger = plot_steps(preprocess_steps(draw_digit(3), PreprocessConfig(box=24)))
    (box,) = bigger.axes[5].patches
    assert box.get_xy() == (1.5, 1.5) and (box.get_width(), box.get_height()) == (24, 24)
    assert bigger.axes[4].get_title().endswith("fits 24x24")


def test_plot_prediction_shows_the_original_when_known_and_the_top_k_bars():
    fig = plot_prediction(a_prediction())
    assert [ax.get_title() for ax in fig.axes] == ["seven.png", "model input", "top 3"]
    bars = [p.get_width() for p in fig.axes[2].patches if isinstance(p, Rectangle)]
    assert bars == pytest.approx([0.02, 0.02, 0.82])  # drawn bottom to top: the best on top
    assert len(plot_prediction(a_prediction(original=False)).axes) == 2


def test_plot_predictions_lays_out_a_grid():
    one = [a_prediction()]
    assert len(plot_predictions(one).axes) == 3  # as loaded, model input, top-k bars
    fig = plot_predictions(one * 3, originals=False, columns=2, titles=["a", "b", "c"])
    assert len(fig.axes) == 8 and [ax.get_title() for ax in fig.axes[:6:2]] == ["a", "b", "c"]
    assert not any(ax.axison for ax in fig.axes[6:])  # the empty fourth cell
    with pytest.raises(ValueError, match="no predictions"):
        plot_predictions([])


def test_plot_predictions_saves_atomically_in_the_format_its_suffix_names(tmp_path, monkeypatch):
    renames = []
    replace = os.replace
    monkeypatch.setattr(os, "replace", lambda a, b: (renames.append((a, b)), replace(a, b)))
    out = tmp_path / "new folder"
    plot_predictions([a_prediction()], out / "fig.png")
    plot_predictions([a_prediction()], out / "fig.pdf")
    assert (out / "fig.png").read_bytes().startswith(b"\x89PNG")
    assert (out / "fig.pdf").read_bytes().startswith(b"%PDF")
    # each written beside its target under a temporary name, then renamed over it
    assert [(Path(a).parent, Path(b).name) for a, b in renames] == [
        (out, "fig.png"),
        (out, "fig.pdf"),
    ]
    with pytest.raises(ValueError, match="not supported"):
        plot_predictions([a_prediction()], out / "fig.xyz")
    assert sorted(p.name for p in out.iterdir()) == ["fig.pdf", "fig.png"]  # no temporary files
