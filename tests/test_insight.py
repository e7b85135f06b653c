"""The analysis tools of notebooks 02-05: baselines, class activation maps, calibration,
the learning-rate range test and test-time augmentation."""

import math

import pytest
import torch

from effmnist.data import MEAN, STD
from effmnist.evaluate import predict, predict_tta, shift
from effmnist.experiments import baselines
from effmnist.insight.calibration import confidence, expected_calibration_error, reliability
from effmnist.insight.cam import cell_centres, class_activation_maps, upsample
from effmnist.insight.lr_range import lr_range_test
from effmnist.model import EfficientMNIST, ModelConfig, count_parameters
from effmnist.recipe import get_recipe
from effmnist.training import train


def test_baselines_have_the_parameter_counts_their_docstrings_give():
    assert count_parameters(baselines.logistic_regression()) == 784 * 10 + 10 == 7_850
    assert count_parameters(baselines.mlp(30)) == 784 * 30 + 30 + 30 * 10 + 10 == 23_860
    assert count_parameters(baselines.mlp(30)) <= count_parameters(EfficientMNIST())


def test_train_trains_any_model_the_same_way(splits):
    result = train(
        "reference", splits.take(3_200, 2000, 1000), make_model=baselines.mlp, progress=False
    )
    assert result.params == 23_860 and len(result.history["loss"]) == 50
    assert result.val_accuracy > 0.6  # chance is 0.1


def test_each_class_activation_map_averages_to_its_logit():
    torch.manual_seed(0)
    model = EfficientMNIST().train()  # CAM switches to eval mode itself (dropout off)
    images = torch.randn(4, 1, 28, 28)
    maps, logits = class_activation_maps(model, images)
    assert maps.shape == (4, 10, 3, 3) and model.training
    in_batches, _ = class_activation_maps(model, images, batch_size=3)  # 3 + 1
    assert torch.allclose(in_batches, maps, atol=1e-6)
    assert torch.allclose(maps.mean(dim=(2, 3)), logits, atol=1e-5)
    assert upsample(maps).shape == (4, 10, 28, 28)
    with pytest.raises(ValueError, match="GAP head"):
        class_activation_maps(EfficientMNIST(ModelConfig(head="flatten")), images)


def test_an_enlarged_map_covers_the_whole_image_with_its_cells_at_their_centres():
    """The 3x3 cells sit on pixels 3.5, 11.5, 19.5; the bottom and right 4 pixels belong to
    the last cell (its window covers them) instead of being left out."""
    assert cell_centres(3).tolist() == [3.5, 11.5, 19.5]
    maps = torch.arange(9.0).reshape(1, 1, 3, 3)  # cell (i, j) holds 3 i + j
    big = upsample(maps)[0, 0]
    assert big.shape == (28, 28)
    assert big[27, 27] == big[20, 20] == 8 and big[0, 0] == big[3, 3] == 0
    assert big[24:, 24:].eq(8).all() and big[0, 24:].eq(2).all()  # the edges: nearest cell
    assert big[4, 4] == 3 * 0.0625 + 0.0625  # half a pixel past the first centre, in cells
    assert torch.allclose(big[7:9, 7:9].mean(), torch.tensor(2.0))  # between the four cells
    assert torch.allclose(big.diagonal()[11:13].mean(), torch.tensor(4.0))  # the centre cell


def test_reliability_and_ece_on_a_hand_computed_case():
    probs = torch.tensor([[0.95, 0.05], [0.95, 0.05], [0.35, 0.65], [0.25, 0.75]])
    labels = torch.tensor([0, 1, 1, 1])
    r = reliability(probs, labels, bins=10)
    # confidences 0.95, 0.95 -> bin (0.9, 1]: accuracy 1/2; 0.65, 0.75 -> bins 6 and 7: right
    assert r.counts.tolist() == [0, 0, 0, 0, 0, 0, 1, 1, 0, 2]
    assert r.accuracy[9].item() == 0.5 and r.confidence[9].item() == pytest.approx(0.95)
    # ECE = 2/4 * |0.5 - 0.95| + 1/4 * |1 - 0.65| + 1/4 * |1 - 0.75| = 0.225 + 0.0875 + 0.0625
    assert expected_calibration_error(probs, labels, bins=10) == pytest.approx(0.375)
    perfect = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    assert expected_calibration_error(perfect, torch.tensor([0, 1])) == 0.0
    # accuracy above confidence in bins 6 and 7, not in bin 9
    assert r.under_confident_bins == (2, 3)


def test_confidence_summarizes_the_same_hand_computed_case():
    probs = torch.tensor([[0.96, 0.04], [0.97, 0.03], [0.35, 0.65], [0.25, 0.75]])
    c = confidence(probs, torch.tensor([0, 1, 1, 1]))
    assert c.mean == pytest.approx((0.96 + 0.97 + 0.65 + 0.75) / 4) and c.accuracy == 0.75
    assert c.sure == 0.5 and c.sure_accuracy == 0.5  # 0.96 and 0.97: one right, one wrong
    assert c.median_right == pytest.approx(0.75)  # of 0.96, 0.65, 0.75


@pytest.mark.slow  # seconds of training or subprocesses: the full suite runs it, the quick tier stays short
def test_lr_range_test_grows_the_rate_geometrically_and_stops_on_divergence(splits):
    small = splits.take(6_400, 2000, 1000)
    run = lr_range_test(get_recipe("reference"), small, start=1e-4, end=1e-1, steps=50)
    assert len(run.lrs) == 50 and not run.diverged
    assert run.lrs[0] == pytest.approx(1e-4) and run.lrs[-1] == pytest.approx(1e-1)
    ratios = [b / a for a, b in zip(run.lrs, run.lrs[1:], strict=False)]
    assert max(ratios) == pytest.approx(min(ratios))  # geometric
    assert min(run.smoothed) < run.smoothed[0] / 2  # it learned in the useful range
    no_bn = get_recipe("reference", model=ModelConfig(batchnorm=False), clip_grad=None)
    wild = lr_range_test(no_bn, small, start=1e-3, end=1e3, steps=100)
    assert wild.diverged and len(wild.lrs) < 100
    assert math.isfinite(wild.best_lr())


def test_shift_moves_the_image_and_fills_with_background():
    x = torch.arange(16.0).reshape(1, 1, 4, 4)
    down = shift(x, 1, 0)
    assert torch.equal(down[0, 0, 1:], x[0, 0, :3])
    assert torch.allclose(down[0, 0, 0], torch.full((4,), (0 - MEAN) / STD))
    assert torch.equal(shift(shift(x, 0, 1), 0, -1)[..., :3], x[..., :3])


def test_tta_without_shifts_is_plain_prediction_and_averages_otherwise():
    torch.manual_seed(0)
    model = EfficientMNIST()
    x = torch.randn(3, 1, 28, 28)
    assert torch.allclose(predict_tta(model, x, shifts=((0, 0),)), predict(model, x))
    both = predict_tta(model, x, shifts=((0, 0), (1, 0)))
    assert torch.allclose(both, (predict(model, x) + predict(model, shift(x, 1, 0))) / 2)
