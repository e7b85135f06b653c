import math

import pytest
import torch

from effmnist.data import Splits
from effmnist.experiments.runcache import ENV, reuse_trainings
from effmnist.recipe import get_recipe
from effmnist.training import initial_model, train


@pytest.mark.slow  # seconds of training or subprocesses: the full suite runs it, the quick tier stays short
def test_same_seed_gives_the_same_losses_and_another_seed_does_not(splits):
    small = splits.take(1_280, n_test=2000)
    a, b, c = (
        train("reference", small, seed=s, progress=False, evaluate_test=False) for s in (7, 7, 8)
    )
    assert a.history["loss"] == b.history["loss"]
    assert a.history["loss"] != c.history["loss"]


def test_reference_schedule_anneals_from_0015_to_0001(splits):
    result = train(
        "reference", splits.take(3_200, n_test=2000), seed=0, progress=False, evaluate_test=False
    )
    lr = result.history["lr"]
    assert len(lr) == 50 and lr[0] == pytest.approx(0.015)
    assert all(x >= y for x, y in zip(lr, lr[1:], strict=False)) and lr[-1] == pytest.approx(
        0.001, abs=2e-4
    )


@pytest.mark.slow  # seconds of training or subprocesses: the full suite runs it, the quick tier stays short
def test_a_short_run_on_real_data_learns_far_above_chance(splits):
    result = train("reference", splits.take(6_400, n_test=2000), seed=0, progress=False)
    assert result.params == 24_048 and result.device == "cpu"
    assert result.val_accuracy > 0.9 and result.test_accuracy > 0.9  # chance is 0.1
    assert set(result.metrics()) >= {"val_accuracy", "test_accuracy"}


def test_zero_epochs_train_nothing_and_say_so(splits):
    # A Recipe refuses epochs=0 itself (tests/test_recipe.py); here the check is bypassed, to
    # see what train() does when there is no epoch to run. Before: UnboundLocalError on
    # `train_acc`. Now: the untrained model, its accuracies, and no training accuracy.
    recipe = get_recipe("reference")
    object.__setattr__(recipe, "epochs", 0)
    small = splits.take(640, n_val=500, n_test=500)
    result = train(recipe, small, seed=1, progress=False)
    assert result.history == {"loss": [], "acc": [], "lr": []}
    assert math.isnan(result.train_accuracy) and 0 <= result.val_accuracy <= 1
    untrained = initial_model(recipe, 1, torch.device("cpu")).state_dict()
    assert all(torch.equal(v, untrained[k]) for k, v in result.model.state_dict().items())


def test_two_epochs_run_twice_the_batches(splits):
    result = train(get_recipe("reference", epochs=2), splits.take(640, n_test=2000), progress=False)
    assert len(result.history["loss"]) == 2 * 10


class Untouchable(torch.Tensor):
    """A tensor that fails any test that reads it (any torch operation on it, len included)."""

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        raise AssertionError(f"a test image or label was read ({func.__name__})")


@pytest.mark.parametrize("cached", [False, True], ids=["train", "the cached train"])
def test_without_evaluate_test_no_test_image_is_read(cached, splits, tmp_path, monkeypatch):
    small = splits.take(640, n_val=500, n_test=10)
    sealed = Splits(
        small.train_x, small.train_y, small.val_x, small.val_y,
        small.test_x.as_subclass(Untouchable), small.test_y.as_subclass(Untouchable),
    )  # fmt: skip
    with pytest.raises(AssertionError, match="was read"):
        len(sealed.test_y)  # the seal holds
    run = train
    if cached:
        monkeypatch.setenv(ENV, str(tmp_path))
        run = reuse_trainings(train)
    for _ in range(2 if cached else 1):  # the cached train: trained, then loaded
        result = run("reference", sealed, seed=0, progress=False, evaluate_test=False)
        assert math.isnan(result.test_accuracy) and "test_accuracy" not in result.metrics()
        assert result.val_accuracy > 0.3
    if cached:
        assert len(list(tmp_path.glob("*.pt"))) == 1
