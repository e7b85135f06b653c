"""The suite's run cache: a (recipe, seed) is trained once, and loading it changes nothing."""

import dataclasses
import math
import os
import re
import subprocess
import sys

import pytest
import torch

from effmnist import training
from effmnist.experiments import runcache
from effmnist.experiments.baselines import logistic_regression, mlp
from effmnist.recipe import get_recipe
from effmnist.training import initial_model

cached_train = runcache.reuse_trainings(training.train)


def _same_run(a, b):
    assert a.history == b.history
    assert (a.train_accuracy, a.val_accuracy, a.test_accuracy, a.params, a.device) == (
        b.train_accuracy, b.val_accuracy, b.test_accuracy, b.params, b.device,
    )  # fmt: skip
    sa, sb = a.model.state_dict(), b.model.state_dict()
    assert sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def _final_bar(stderr: str) -> str:
    """The last frame of a tqdm bar, its times and rate masked (and the spaces that pad it to
    the length of the frame before it, which depends on the rate)."""
    last = stderr.rstrip("\n").split("\r")[-1].rstrip(" ")
    return re.sub(r"\[\d\d:\d\d<\d\d:\d\d, [^,\]]+", "[TIME, RATE", last)


@pytest.mark.parametrize("pipeline", ["fast", "conventional"])
def test_a_cache_hit_is_indistinguishable_from_a_real_run(
    pipeline, splits, tmp_path, monkeypatch, capsys
):
    # the conventional pipeline's DataLoader draws its base seed from the global RNG; dropout
    # draws from it in both
    small = splits.take(320, n_val=200, n_test=200)
    monkeypatch.delenv(runcache.ENV, raising=False)
    real = training.train("reference", small, seed=4, pipeline=pipeline)
    real_rng, real_bar = torch.get_rng_state(), _final_bar(capsys.readouterr().err)
    monkeypatch.setenv(runcache.ENV, str(tmp_path))
    first = cached_train("reference", small, seed=4, pipeline=pipeline)
    capsys.readouterr()
    torch.manual_seed(1234)  # whatever state the code before it left
    hit = cached_train("reference", small, seed=4, pipeline=pipeline)
    hit_rng, hit_bar = torch.get_rng_state(), _final_bar(capsys.readouterr().err)
    assert len(list(tmp_path.glob("*.pt"))) == 1  # trained once, stored once
    assert (hit.train_seconds, hit.eval_seconds) == (first.train_seconds, first.eval_seconds)
    _same_run(hit, real)
    assert torch.equal(hit_rng, real_rng)  # what the code after it draws is what it would be
    assert hit_bar == real_bar and "100%" in hit_bar and "acc=" in hit_bar, (hit_bar, real_bar)
    assert hit.model.training and hit.model(small.val_x[:8]).shape == (8, 10)
    if pipeline == "fast":
        first_conv = next(m for m in hit.model.modules() if isinstance(m, torch.nn.Conv2d))
        assert first_conv.weight.is_contiguous(memory_format=torch.channels_last)


def test_without_the_variable_the_wrapper_calls_straight_through(splits, tmp_path, monkeypatch):
    monkeypatch.delenv(runcache.ENV, raising=False)
    small = splits.take(320, n_val=200, n_test=200)
    a = cached_train("reference", small, seed=1, progress=False)
    b = cached_train("reference", small, seed=1, progress=False)
    assert a.train_seconds != b.train_seconds  # trained twice
    assert (
        cached_train.__wrapped__ is training.train
        and cached_train.__doc__ == training.train.__doc__
    )


@pytest.mark.slow  # seconds of training or subprocesses: the full suite runs it, the quick tier stays short
@pytest.mark.parametrize("value", ["", "set"])
def test_the_package_train_is_wrapped_only_under_the_variable(value, tmp_path):
    env = {k: v for k, v in os.environ.items() if k != runcache.ENV}
    if value:
        env[runcache.ENV] = str(tmp_path)
    code = "import effmnist; print(effmnist.train is effmnist.training.train)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert done.stdout.strip() == ("False" if value else "True"), done.stderr


def test_the_key_holds_what_changes_a_run_and_nothing_else(splits, tmp_path, monkeypatch):
    monkeypatch.setenv(runcache.ENV, str(tmp_path))
    small = splits.take(640, n_val=500, n_test=500)
    reference = get_recipe("reference")
    cpu = torch.device("cpu")

    def key(recipe=reference, seed=0, data=small, pipeline="fast", make_model=None, test=True):
        start = initial_model(recipe, seed, cpu, pipeline, make_model)
        return runcache.run_key(recipe, seed, data, start, pipeline, test)

    assert key() == key(dataclasses.replace(reference, name="renamed"))
    others = {
        key(seed=1),
        key(get_recipe("reference", lr=0.01)),
        key(data=splits.take(641, n_val=500, n_test=500)),
        key(pipeline="conventional"),
        key(make_model=logistic_regression),
        key(make_model=lambda: mlp(30)),
        key(make_model=lambda: mlp(31)),
        key(test=False),
    }
    assert key() not in others and len(others) == 8
    changed = splits.take(640, n_val=500, n_test=500)
    changed.train_x = changed.train_x.clone()
    changed.train_x[0, 0, 0, 0] += 1e-3  # one pixel of 640 images
    assert key(data=changed) != key()
    # the test images are part of the key only when the run reads them
    other_test = splits.take(640, n_val=500, n_test=499)
    assert key(data=other_test) != key() and key(data=other_test, test=False) == key(test=False)


def test_without_the_test_score_asked_for_a_cached_run_has_none(splits, tmp_path, monkeypatch):
    monkeypatch.setenv(runcache.ENV, str(tmp_path))
    small = splits.take(640, n_val=500, n_test=500)
    with_test = cached_train("reference", small, seed=2, progress=False)
    without = cached_train("reference", small, seed=2, progress=False, evaluate_test=False)
    assert not math.isnan(with_test.test_accuracy) and math.isnan(without.test_accuracy)
    assert "test_accuracy" not in without.metrics()
    assert len(list(tmp_path.glob("*.pt"))) == 2  # two runs: one read the test set


def test_another_network_is_cached_as_itself(splits, tmp_path, monkeypatch):
    small = splits.take(640, n_val=500, n_test=500)
    monkeypatch.delenv(runcache.ENV, raising=False)
    uncached = training.train("reference", small, seed=2, progress=False, make_model=mlp)
    monkeypatch.setenv(runcache.ENV, str(tmp_path))
    for _ in range(2):
        cached = cached_train("reference", small, seed=2, progress=False, make_model=mlp)
        _same_run(cached, uncached)
        assert isinstance(cached.model, torch.nn.Sequential)
    assert len(list(tmp_path.glob("*.pt"))) == 1
