import dataclasses
import json

import pytest

from effmnist.model import ModelConfig
from effmnist.recipe import RECIPES, Recipe, RecipeError, get_recipe


def test_overrides_and_unknown_names():
    assert get_recipe("reference", epochs=2).epochs == 2
    assert get_recipe("reference").lr == 0.015
    with pytest.raises(RecipeError, match="unknown recipe 'nonsense'; choose from reference"):
        get_recipe("nonsense")


def test_every_named_recipe_carries_its_own_name():
    # before: RECIPES["best"].name was "reference", and callers blanked names to compare
    assert {name: recipe.name for name, recipe in RECIPES.items()} == {n: n for n in RECIPES}


def test_the_name_is_a_label_not_part_of_equality():
    relabelled = dataclasses.replace(get_recipe("best"), name="my copy")
    assert relabelled == get_recipe("best") and hash(relabelled) == hash(get_recipe("best"))
    assert get_recipe("best") != get_recipe("reference")


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("optimizer", "sgd", r"optimizer must be one of \('adam', 'adamw'\), not 'sgd'"),
        ("schedule", "step", r"schedule must be one of \('cosine', 'onecycle', 'constant'\)"),
        ("batch_size", 0, "batch_size must be a positive integer"),
        ("epochs", 0, "epochs must be a positive integer"),
        ("lr", 0.0, "lr must be positive"),
        ("clip_grad", 0.0, "clip_grad must be positive or None"),
        ("label_smoothing", 1.0, r"label_smoothing must be in \[0, 1\)"),
        ("ema", 1.5, r"ema must be in \(0, 1\) or None"),
    ],
)
def test_settings_that_cannot_work_are_refused_when_the_recipe_is_built(field, value, message):
    with pytest.raises(RecipeError, match=message):
        Recipe(**{field: value})


def test_model_options_are_checked_too():
    with pytest.raises(ValueError, match=r"head must be one of \('gap', 'flatten'\)"):
        get_recipe("reference", model=ModelConfig(head="attention"))


def test_round_trip_through_json_rebuilds_the_same_recipe():
    for recipe in RECIPES.values():
        again = Recipe.from_dict(json.loads(json.dumps(recipe.to_dict())))
        assert again == recipe and again.name == recipe.name and again.model == recipe.model
    with pytest.raises(RecipeError, match="unknown recipe fields: warp"):
        Recipe.from_dict({"warp": 9})


def test_changed_fields_names_what_differs():
    best, reference = get_recipe("best"), get_recipe("reference")
    assert reference.changed_fields(best) == {
        "model",
        "schedule",
        "lr",
        "label_smoothing",
        "batch_size",
    }
    assert reference.changed_fields(dataclasses.replace(reference, name="x")) == set()


def test_onecycle_beta1_round_trips_through_json_as_a_tuple():
    for beta1 in [(0.8, 0.9), None]:
        recipe = get_recipe("best", onecycle_beta1=beta1)
        text = json.dumps(recipe.to_dict())
        assert json.loads(text)["onecycle_beta1"] == (list(beta1) if beta1 else None)
        again = Recipe.from_dict(json.loads(text))
        assert again == recipe and again.onecycle_beta1 == beta1
        hash(again)  # a tuple, not JSON's list: the recipe stays hashable
    assert get_recipe("reference") != get_recipe("reference", onecycle_beta1=None)


@pytest.mark.parametrize(
    "beta1", [(0.95, 0.85), (0.0, 0.95), (0.85, 1.0), (0.9,), (0.8, 0.9, 0.95), 0.9, [0.85, 0.95],
              ("low", "high")],
)  # fmt: skip
def test_bad_onecycle_beta1_is_refused(beta1):
    with pytest.raises(RecipeError, match="onecycle_beta1 must be None or"):
        Recipe(onecycle_beta1=beta1)


def _beta1_over_a_onecycle_run(beta1, steps=40):
    import torch

    from effmnist.training import make_optimizer, make_scheduler

    recipe = Recipe(schedule="onecycle", onecycle_beta1=beta1)
    optimizer = make_optimizer(torch.nn.Linear(2, 2), recipe, fused=False)
    scheduler = make_scheduler(optimizer, recipe, steps)
    seen = []
    for _ in range(steps):
        seen.append(optimizer.param_groups[0]["betas"][0])
        optimizer.step()
        scheduler.step()
    return seen


def test_onecycle_moves_adams_beta1_against_the_lr_unless_told_not_to():
    cycled = _beta1_over_a_onecycle_run((0.85, 0.95))
    assert cycled[0] == pytest.approx(0.95) and min(cycled) == pytest.approx(0.85, abs=1e-3)
    assert cycled[-1] == pytest.approx(0.95, abs=1e-3)  # back up as the lr anneals
    assert all(0.85 - 1e-9 <= b <= 0.95 + 1e-9 for b in cycled)
    assert _beta1_over_a_onecycle_run(None) == [0.9] * 40  # Adam's own, throughout
