import dataclasses

import pytest
import torch

from effmnist import data
from effmnist.checkpoint import (
    CheckpointError,
    default_path,
    load_checkpoint,
    load_or_train,
    save_checkpoint,
)
from effmnist.data.fileio import default_file_mode
from effmnist.model import EfficientMNIST, ModelConfig
from effmnist.recipe import Recipe, get_recipe


def test_checkpoint_round_trip_gives_identical_predictions(tmp_path, splits):
    torch.manual_seed(0)
    model = EfficientMNIST().eval()
    path = save_checkpoint(tmp_path / "ckpt" / "model.pt", model, {"test_accuracy": 0.5})
    loaded, metrics = load_checkpoint(path, expected=model.config)
    x = splits.test_x[:32]
    assert torch.equal(model(x), loaded(x)) and metrics == {"test_accuracy": 0.5}
    assert [p.name for p in path.parent.iterdir()] == ["model.pt"]  # no temporary files left
    # readable like any file, not mkstemp's 0600
    assert path.stat().st_mode & 0o777 == default_file_mode()


def test_load_or_train_trains_once_then_loads(tmp_path, splits):
    path = tmp_path / "checkpoints" / "model.pt"
    model, metrics = load_or_train(path, "reference", splits.take(3_200, n_test=2000), seed=3)
    assert path.exists() and metrics["val_accuracy"] > 0.5 and metrics["params"] == 24_048
    saved_at = path.stat().st_mtime_ns
    again, metrics_again = load_or_train(
        path,
        "reference",
        data.Splits(*(getattr(splits, f.name)[:0] for f in dataclasses.fields(splits))),
        seed=3,
    )
    # loaded, not trained again
    assert path.stat().st_mtime_ns == saved_at and metrics_again == metrics
    x = splits.test_x[:32]
    assert torch.equal(model(x), again(x)) and not again.training
    with pytest.raises(CheckpointError, match="different architecture"):
        load_or_train(path, "best")


def test_checkpoint_of_another_architecture_is_refused_clearly(tmp_path):
    path = save_checkpoint(
        tmp_path / "wide.pt", EfficientMNIST(ModelConfig(stages=((16, 16), (32,), (56,))))
    )
    with pytest.raises(CheckpointError, match="different architecture"):
        load_checkpoint(path, expected=ModelConfig())
    # a checkpoint whose weights do not fit the architecture it names
    payload = torch.load(path, weights_only=True)
    payload["config"] = ModelConfig().to_dict()
    torch.save(payload, tmp_path / "lying.pt")
    with pytest.raises(CheckpointError, match="do not fit"):
        load_checkpoint(tmp_path / "lying.pt")


def test_missing_or_foreign_checkpoint_gives_a_clear_error(tmp_path):
    with pytest.raises(CheckpointError, match="no checkpoint"):
        load_checkpoint(tmp_path / "nope.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="not a readable"):
        load_checkpoint(tmp_path / "junk.pt")
    torch.save({"weights": torch.zeros(3)}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="not an effmnist checkpoint"):
        load_checkpoint(tmp_path / "other.pt")


def test_a_checkpoint_says_how_it_was_made(tmp_path, splits):
    path = tmp_path / "model.pt"
    load_or_train(path, "reference", splits.take(640, n_test=2000), seed=5)
    _, metrics = load_checkpoint(path)
    assert Recipe.from_dict(metrics["recipe"]) == get_recipe("reference")
    assert metrics["seed"] == 5
    # a model made by another seed is refused, not silently used
    with pytest.raises(CheckpointError, match="another recipe or seed"):
        load_or_train(path, "reference", seed=6)
    smoothed = dataclasses.replace(get_recipe("reference"), label_smoothing=0.1)
    with pytest.raises(CheckpointError, match="another recipe or seed"):
        load_or_train(path, smoothed, seed=5)


def test_default_path_names_recipe_and_seed():
    assert default_path("best", 3).as_posix() == "checkpoints/best_seed3.pt"
