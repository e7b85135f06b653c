import dataclasses
import os
import subprocess
import sys

import pytest

from effmnist.recipe import RecipeError, get_recipe
from effmnist.training import train


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


FAULTS = """
import resource, sys, torch
from effmnist.model import EfficientMNIST
from effmnist.training import keep_freed_memory
applied = keep_freed_memory() if sys.argv[1] == "keep" else None
model, images = EfficientMNIST(), torch.randn(64, 1, 28, 28)
def step():
    model(images).logsumexp(1).mean().backward()
step()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(20):
    step()
print(applied, (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) // 20)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's allocator")
def test_freed_activations_are_reused_instead_of_faulted_in_again():
    # glibc's own defaults, whatever GLIBC_TUNABLES the environment sets
    env = {k: v for k, v in os.environ.items() if k != "GLIBC_TUNABLES"}

    def faults(mode):
        out = subprocess.run(
            [sys.executable, "-c", FAULTS, mode], capture_output=True, text=True, check=True,
            env=env,
        ).stdout.split()  # fmt: skip
        return out[0], int(out[1])

    applied, kept = faults("keep")  # page faults per training step
    _, default = faults("default")
    assert applied == "True"
    assert kept < default / 5, (kept, default)
