"""The suite's run cache: a (recipe, seed) is trained once, and loading it changes nothing."""

import dataclasses
import math

import torch

from effmnist.experiments import runcache
from effmnist.experiments.baselines import logistic_regression, mlp
from effmnist.recipe import get_recipe
from effmnist.training import initial_model, train


def _same_run(a, b):
    assert a.history == b.history
    assert (a.train_accuracy, a.val_accuracy, a.params) == (
        b.train_accuracy,
        b.val_accuracy,
        b.params,
    )
    sa, sb = a.model.state_dict(), b.model.state_dict()
    assert sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_a_cached_run_is_the_run_trained_without_the_cache(splits, tmp_path, monkeypatch):
    small = splits.take(640, n_val=500, n_test=500)
    monkeypatch.delenv(runcache.ENV, raising=False)
    uncached = train("reference", small, seed=4, progress=False)
    monkeypatch.setenv(runcache.ENV, str(tmp_path))
    first = train("reference", small, seed=4, progress=False)
    second = train("reference", small, seed=4, progress=False)
    assert len(list(tmp_path.glob("*.pt"))) == 1  # trained once, stored once
    assert second.train_seconds == first.train_seconds  # the second was loaded, not trained
    _same_run(first, uncached)
    _same_run(second, uncached)
    assert second.test_accuracy == uncached.test_accuracy
    assert second.model.training and second.model(small.val_x[:8]).shape == (8, 10)
    first_conv = next(m for m in second.model.modules() if isinstance(m, torch.nn.Conv2d))
    assert first_conv.weight.is_contiguous(memory_format=torch.channels_last)


def test_the_key_holds_what_changes_a_run_and_nothing_else(splits, tmp_path, monkeypatch):
    monkeypatch.setenv(runcache.ENV, str(tmp_path))
    small = splits.take(640, n_val=500, n_test=500)
    reference = get_recipe("reference")
    cpu = torch.device("cpu")

    def key(recipe=reference, seed=0, data=small, pipeline="fast", make_model=None):
        start = initial_model(recipe, seed, cpu, pipeline, make_model)
        return runcache.run_key(recipe, seed, data, start, pipeline)

    assert key() == key(dataclasses.replace(reference, name="renamed"))
    others = {
        key(seed=1),
        key(get_recipe("reference", lr=0.01)),
        key(data=splits.take(641, n_val=500, n_test=500)),
        key(pipeline="conventional"),
        key(make_model=logistic_regression),
        key(make_model=lambda: mlp(30)),
        key(make_model=lambda: mlp(31)),
    }
    assert key() not in others and len(others) == 7
    changed = splits.take(640, n_val=500, n_test=500)
    changed.train_x = changed.train_x.clone()
    changed.train_x[0, 0, 0, 0] += 1e-3  # one pixel of 640 images
    assert key(data=changed) != key()


def test_without_the_test_score_asked_for_a_cached_run_has_none(splits, tmp_path, monkeypatch):
    monkeypatch.setenv(runcache.ENV, str(tmp_path))
    small = splits.take(640, n_val=500, n_test=500)
    with_test = train("reference", small, seed=2, progress=False)
    without = train("reference", small, seed=2, progress=False, evaluate_test=False)
    assert not math.isnan(with_test.test_accuracy) and math.isnan(without.test_accuracy)


def test_another_network_is_cached_as_itself(splits, tmp_path, monkeypatch):
    small = splits.take(640, n_val=500, n_test=500)
    monkeypatch.delenv(runcache.ENV, raising=False)
    uncached = train("reference", small, seed=2, progress=False, make_model=mlp)
    monkeypatch.setenv(runcache.ENV, str(tmp_path))
    for _ in range(2):
        cached = train("reference", small, seed=2, progress=False, make_model=mlp)
        _same_run(cached, uncached)
        assert isinstance(cached.model, torch.nn.Sequential)
    assert len(list(tmp_path.glob("*.pt"))) == 1
