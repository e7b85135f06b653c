import dataclasses

import pytest

from effmnist.recipe import RecipeError, get_recipe
from effmnist.train import train


def test_same_seed_gives_the_same_losses_and_another_seed_does_not(splits, fresh_training):
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


def test_a_short_run_on_real_data_learns_far_above_chance(splits):
    result = train("reference", splits.take(6_400, n_test=2000), seed=0, progress=False)
    assert result.params == 24_048
    assert result.val_accuracy > 0.9 and result.test_accuracy > 0.9  # chance is 0.1


def test_zero_epochs_is_a_clear_error_not_an_unbound_variable(splits):
    # before: train() ran no epoch and failed with UnboundLocalError on `train_acc`
    with pytest.raises(RecipeError, match="epochs must be a positive integer"):
        train(dataclasses.replace(get_recipe("reference"), epochs=0), splits.take(640, n_test=2000))


def test_two_epochs_run_twice_the_batches(splits):
    result = train(get_recipe("reference", epochs=2), splits.take(640, n_test=2000), progress=False)
    assert len(result.history["loss"]) == 2 * 10
