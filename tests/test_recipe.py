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
