import dataclasses
import math

import pytest
import torch

from effmnist.checkpoint import (
    CheckpointError,
    CheckpointInfo,
    default_path,
    load_checkpoint,
    load_or_train,
    save_checkpoint,
)
from effmnist.data import Splits
from effmnist.data.fileio import default_file_mode
from effmnist.model import EfficientMNIST, ModelConfig
from effmnist.recipe import Recipe, get_recipe
from effmnist.training import TrainResult

NUMBERS = dict(train_accuracy=0.6, val_accuracy=0.5, test_accuracy=0.4, train_seconds=1.5,
               eval_seconds=0.25)  # fmt: skip


def _result(recipe="reference", seed=0, **numbers) -> TrainResult:
    """A run as train() returns it, without training (random weights)."""
    recipe = get_recipe(recipe)
    torch.manual_seed(seed)
    model = EfficientMNIST(recipe.model).eval()
    return TrainResult(model, recipe, seed, 24_048, **(NUMBERS | numbers))


def test_a_checkpoint_round_trip_gives_identical_predictions_and_says_how_it_was_made(
    tmp_path, splits
):
    result = _result("best", seed=3)
    path = save_checkpoint(result, tmp_path / "ckpt" / "model.pt")
    loaded, info = load_checkpoint(path, expected=result.recipe.model)
    x = splits.test_x[:32]
    assert torch.equal(result.model(x), loaded(x)) and not loaded.training
    assert isinstance(info, CheckpointInfo)
    assert (info.recipe, info.recipe.name, info.seed) == (get_recipe("best"), "best", 3)
    assert info.metrics == result.metrics() and info.metrics["test_accuracy"] == 0.4
    assert {"torch", "git_commit", "cpu", "date", "device"} <= set(info.provenance)
    assert [p.name for p in path.parent.iterdir()] == ["model.pt"]  # no temporary files left
    # readable like any file, not mkstemp's 0600
    assert path.stat().st_mode & 0o777 == default_file_mode()


def test_without_the_test_set_read_a_checkpoint_has_no_test_accuracy(tmp_path):
    path = save_checkpoint(_result(test_accuracy=math.nan), tmp_path / "m.pt")
    assert "test_accuracy" not in load_checkpoint(path)[1].metrics


def test_the_default_path_is_in_the_home_named_by_recipe_and_seed(tmp_path, monkeypatch):
    monkeypatch.setenv("EFFMNIST_DATA", str(tmp_path))
    assert default_path("best", 3) == tmp_path / "checkpoints" / "best_seed3.pt"
    path = save_checkpoint(_result("small", seed=2))
    assert path == tmp_path / "checkpoints" / "small_seed2.pt" and path.is_file()


def test_an_interrupted_save_keeps_the_old_checkpoint_whole(tmp_path, monkeypatch):
    path = save_checkpoint(_result(seed=1), tmp_path / "m.pt")
    before = path.read_bytes()

    def torch_save_dies_halfway(obj, f, *args, **kwargs):
        with open(f, "wb") as out:
            out.write(before[: len(before) // 2])
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", torch_save_dies_halfway)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(_result(seed=2), path)
    monkeypatch.undo()
    assert path.read_bytes() == before and load_checkpoint(path)[1].seed == 1
    assert [p.name for p in tmp_path.iterdir()] == ["m.pt"]


def _format_2(config: ModelConfig, recipe: Recipe, state_dict, seed=0) -> dict:
    """A checkpoint as effmnist 0.2 wrote it: the config beside the weights, the recipe and
    seed among the metrics (its recipes had no onecycle_beta1 yet)."""
    made_by = recipe.to_dict()
    made_by.pop("onecycle_beta1")
    return {
        "format": "effmnist-checkpoint-2",
        "config": config.to_dict(),
        "state_dict": state_dict,
        "metrics": {"recipe": made_by, "seed": seed, "val_accuracy": 0.98, "params": 23_978},
    }


def test_a_format_2_checkpoint_still_loads(tmp_path, splits):
    best = get_recipe("best")
    model = EfficientMNIST(best.model).eval()
    torch.save(_format_2(best.model, best, model.state_dict(), seed=4), tmp_path / "old.pt")
    loaded, info = load_checkpoint(tmp_path / "old.pt", expected=best.model)
    x = splits.test_x[:16]
    assert torch.equal(model(x), loaded(x))
    assert (info.recipe, info.seed) == (best, 4)
    assert info.metrics == {"val_accuracy": 0.98, "params": 23_978} and info.provenance == {}


def _record(tmp_path) -> dict:
    path = save_checkpoint(_result(seed=1), tmp_path / "good.pt")
    return torch.load(path, weights_only=True)


def _without(record: dict, key: str) -> dict:
    return {k: v for k, v in record.items() if k != key}


def _with_recipe(record: dict, **fields) -> dict:
    return record | {"recipe": record["recipe"] | fields}


def _without_head(record: dict) -> dict:
    model = _without(record["recipe"]["model"], "head")
    return _with_recipe(record, model=model)


MALFORMED = {  # a valid record -> the record saved, and what the error must say
    "not a dict": (lambda r: [1, 2, 3], r"not an effmnist checkpoint .*\('list'"),
    "a format-1 file": (
        lambda r: {
            "format": "effmnist-checkpoint-1",
            "config": ModelConfig().to_dict(),
            "state_dict": r["state_dict"],
            "metrics": {},
        },
        r"a format this version reads \('effmnist-checkpoint-1'",
    ),  # fmt: skip
    "no format": (lambda r: _without(r, "format"), r"not an effmnist checkpoint .*\(None"),
    "no seed": (lambda r: _without(r, "seed"), r"its 'seed' is missing \(it should be an int\)"),
    "no weights": (lambda r: _without(r, "state_dict"), r"its 'state_dict' is missing"),
    "a seed of the wrong type": (lambda r: r | {"seed": "0"}, r"its 'seed' is a str, not an int"),
    "metrics of the wrong type": (
        lambda r: r | {"metrics": [0.9]},
        r"its 'metrics' is a list, not a dict",
    ),
    "provenance of the wrong type": (
        lambda r: r | {"provenance": "laptop"},
        r"its 'provenance' is a str, not a dict",
    ),
    "an unknown recipe field": (
        lambda r: _with_recipe(r, warp=9),
        r"its recipe cannot be read.*unknown recipe fields: warp",
    ),
    "a recipe that cannot work": (
        lambda r: _with_recipe(r, lr=-1.0),
        r"its recipe cannot be read.*lr must be positive",
    ),
    "a model config without its head": (
        _without_head,
        r"its recipe cannot be read \(its model config has no 'head'\)",
    ),
    "weights that are not tensors": (
        lambda r: r | {"state_dict": {k: "weights" for k in r["state_dict"]}},
        r"the weights do not fit",
    ),
    "weights of another shape": (
        lambda r: r | {"state_dict": r["state_dict"] | {"classifier.weight": torch.zeros(3, 3)}},
        r"(?s)the weights do not fit.*classifier.weight",
    ),
    "a format-2 file with metrics of the wrong type": (
        lambda r: {
            "format": "effmnist-checkpoint-2",
            "config": ModelConfig().to_dict(),
            "state_dict": r["state_dict"],
            "metrics": None,
        },
        r"its 'metrics' is a NoneType, not a dict",
    ),  # fmt: skip
    "a format-2 file without its recipe": (
        lambda r: {
            "format": "effmnist-checkpoint-2",
            "config": ModelConfig().to_dict(),
            "state_dict": r["state_dict"],
            "metrics": {"seed": 0},
        },
        r"its 'recipe' is missing \(it should be a dict\)",
    ),  # fmt: skip
}


@pytest.mark.parametrize("case", MALFORMED)
def test_a_malformed_record_is_a_checkpoint_error_that_names_the_problem(case, tmp_path):
    change, message = MALFORMED[case]
    torch.save(change(_record(tmp_path)), tmp_path / "bad.pt")
    with pytest.raises(CheckpointError, match=message) as error:
        load_checkpoint(tmp_path / "bad.pt")
    assert str(error.value).startswith(str(tmp_path / "bad.pt"))


@pytest.mark.parametrize("keep", [0, 100, 0.5])
def test_a_truncated_file_is_a_checkpoint_error(keep, tmp_path):
    data = save_checkpoint(_result(), tmp_path / "m.pt").read_bytes()
    (tmp_path / "cut.pt").write_bytes(data[: int(keep * len(data)) if keep < 1 else keep])
    with pytest.raises(CheckpointError, match="cut.pt is not a readable PyTorch checkpoint"):
        load_checkpoint(tmp_path / "cut.pt")


def test_missing_or_foreign_checkpoint_gives_a_clear_error(tmp_path):
    with pytest.raises(CheckpointError, match="no checkpoint at .*train --save"):
        load_checkpoint(tmp_path / "nope.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="not a readable"):
        load_checkpoint(tmp_path / "junk.pt")
    torch.save({"weights": torch.zeros(3)}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="not an effmnist checkpoint"):
        load_checkpoint(tmp_path / "other.pt")


def test_checkpoint_of_another_architecture_is_refused_clearly(tmp_path):
    path = save_checkpoint(_result("best"), tmp_path / "wide.pt")
    with pytest.raises(CheckpointError, match="different architecture"):
        load_checkpoint(path, expected=ModelConfig())
    # a format-2 checkpoint whose weights do not fit the architecture it names
    wide = EfficientMNIST(get_recipe("best").model).state_dict()
    torch.save(_format_2(ModelConfig(), get_recipe("reference"), wide), tmp_path / "lying.pt")
    with pytest.raises(CheckpointError, match="do not fit"):
        load_checkpoint(tmp_path / "lying.pt")


def test_load_or_train_trains_once_then_loads_and_refuses_another_run(tmp_path, splits):
    path = tmp_path / "checkpoints" / "model.pt"
    model, info = load_or_train("reference", 3, splits.take(1_280, n_val=500, n_test=500), path)
    assert path.exists() and info.metrics["val_accuracy"] > 0.2 and info.metrics["params"] == 24_048
    assert (info.recipe, info.seed) == (get_recipe("reference"), 3)
    saved_at = path.stat().st_mtime_ns
    no_data = Splits(*(torch.empty(0) for _ in range(6)))  # training on it would fail
    again, info_again = load_or_train("reference", 3, no_data, path)
    assert path.stat().st_mtime_ns == saved_at and info_again == info  # loaded, not trained
    x = splits.test_x[:32]
    assert torch.equal(model(x), again(x)) and not again.training
    # a model made by another architecture, seed or recipe is refused, not silently used
    with pytest.raises(CheckpointError, match="different architecture"):
        load_or_train("best", 3, no_data, path)
    with pytest.raises(CheckpointError, match="another recipe or seed"):
        load_or_train("reference", 4, no_data, path)
    smoothed = dataclasses.replace(get_recipe("reference"), label_smoothing=0.1)
    with pytest.raises(CheckpointError, match="another recipe or seed"):
        load_or_train(smoothed, 3, no_data, path)
    assert path.stat().st_mtime_ns == saved_at


def test_load_or_train_keeps_its_checkpoint_in_the_home(tmp_path, splits, monkeypatch):
    monkeypatch.setenv("EFFMNIST_DATA", str(tmp_path))
    load_or_train("reference", 5, splits.take(640, n_val=500, n_test=500))
    assert (tmp_path / "checkpoints" / "reference_seed5.pt").is_file()
