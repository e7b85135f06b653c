"""Training recipes: every setting of a run in one frozen dataclass, saved with its results.

Like nanoGPT's config, a :class:`Recipe` travels with what it made: every checkpoint and every
ablation row stores ``recipe.to_dict()``, and :meth:`Recipe.from_dict` rebuilds it, so a result
always says how it was made. Two recipes are equal when they train the same way; the ``name``
is a label and takes no part in equality.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace

from .model import ModelConfig

OPTIMIZERS = ("adam", "adamw")
SCHEDULES = ("cosine", "onecycle", "constant")


class RecipeError(ValueError):
    """A recipe with a setting that cannot work; the message lists the choices."""


@dataclass(frozen=True)
class Recipe:
    """A training recipe. The defaults are the reference's, exactly."""

    name: str = field(default="reference", compare=False)  # a label only: not part of equality
    model: ModelConfig = ModelConfig()
    optimizer: str = "adam"  # "adam" (L2 weight decay, as the reference) or "adamw"
    lr: float = 0.015  # the peak learning rate
    weight_decay: float = 1e-4
    batch_size: int = 64
    epochs: int = 1
    schedule: str = "cosine"  # "cosine" (per batch, lr -> min_lr), "onecycle", or "constant"
    min_lr: float = 0.001  # where the cosine schedule ends
    clip_grad: float | None = 1.0  # max gradient norm; None: no clipping
    label_smoothing: float = 0.0
    # Beyond the reference (all off by default):
    pct_start: float = 0.25  # OneCycle: fraction of the steps spent warming up
    # OneCycle: Adam's beta1 moves from 0.95 down to 0.85 while the lr rises, and back
    # (PyTorch's default for OneCycleLR); None keeps it at Adam's 0.9
    onecycle_beta1: tuple[float, float] | None = (0.85, 0.95)
    bn_momentum: float | None = None  # BatchNorm running-stat momentum (PyTorch's default: 0.1)
    ema: float | None = None  # decay of an exponential moving average of the weights
    augment_shift: float = 0.0  # random translation of each training image, up to this many pixels
    augment_rotate: float = 0.0  # random rotation of each training image, up to this many degrees
    tta: bool = False  # evaluate on each image and its four 1-pixel shifts, probabilities averaged

    def __post_init__(self) -> None:
        if self.optimizer not in OPTIMIZERS:
            raise RecipeError(f"optimizer must be one of {OPTIMIZERS}, not {self.optimizer!r}")
        if self.schedule not in SCHEDULES:
            raise RecipeError(f"schedule must be one of {SCHEDULES}, not {self.schedule!r}")
        if not isinstance(self.model, ModelConfig):
            raise RecipeError(f"model must be a ModelConfig, not {type(self.model).__name__}")
        for name in ("batch_size", "epochs"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise RecipeError(f"{name} must be a positive integer, not {value!r}")
        if not self.lr > 0 or self.min_lr < 0 or self.weight_decay < 0:
            raise RecipeError("lr must be positive; min_lr and weight_decay must not be negative")
        if self.clip_grad is not None and not self.clip_grad > 0:
            raise RecipeError(f"clip_grad must be positive or None, not {self.clip_grad!r}")
        for name in ("label_smoothing", "pct_start"):
            if not 0 <= getattr(self, name) < 1:
                raise RecipeError(f"{name} must be in [0, 1), not {getattr(self, name)!r}")
        for name in ("bn_momentum", "ema"):
            value = getattr(self, name)
            if value is not None and not 0 < value < 1:
                raise RecipeError(f"{name} must be in (0, 1) or None, not {value!r}")
        beta1 = self.onecycle_beta1
        if beta1 is not None and not (
            isinstance(beta1, tuple)
            and len(beta1) == 2
            and all(isinstance(b, (int, float)) for b in beta1)
            and 0 < beta1[0] <= beta1[1] < 1
        ):
            raise RecipeError(
                f"onecycle_beta1 must be None or (low, high) with 0 < low <= high < 1, not {beta1!r}"
            )
        if self.augment_shift < 0 or self.augment_rotate < 0:
            raise RecipeError("augment_shift and augment_rotate must not be negative")

    def to_dict(self) -> dict:
        """Every field, JSON-ready (the model config as a nested dict)."""
        d = asdict(self)
        d["model"] = self.model.to_dict()
        return d

    @classmethod
    def from_dict(cls, d: dict) -> Recipe:
        """The recipe that :meth:`to_dict` wrote; unknown keys are refused with their names."""
        unknown = set(d) - {f.name for f in fields(cls)}
        if unknown:
            raise RecipeError(f"unknown recipe fields: {', '.join(sorted(unknown))}")
        model = d.get("model", ModelConfig())
        if isinstance(model, dict):
            model = ModelConfig.from_dict(model)
        d = {**d, "model": model}
        if isinstance(d.get("onecycle_beta1"), list):  # JSON has no tuples
            d["onecycle_beta1"] = tuple(d["onecycle_beta1"])
        return cls(**d)

    def changed_fields(self, other: Recipe) -> set[str]:
        """The settings (``name`` aside) in which ``other`` differs from this recipe."""
        return {
            f.name
            for f in fields(self)
            if f.compare and getattr(self, f.name) != getattr(other, f.name)
        }


RECIPES: dict[str, Recipe] = {
    "reference": Recipe(name="reference"),
    # Beyond the reference, chosen on the 6k validation split only (notebook 05 says how):
    # a second 16-channel conv before the first pool, a narrower last stage to stay under 25k,
    # OneCycle at max lr 0.03, label smoothing 0.1, and batch 32 (twice the updates in one epoch).
    "best": Recipe(
        name="best",
        model=ModelConfig(stages=((16, 16), (32,), (56,))),
        schedule="onecycle",
        lr=0.03,
        label_smoothing=0.1,
        batch_size=32,
    ),
    # The same training under 10,000 parameters.
    "small": Recipe(
        name="small",
        model=ModelConfig(stages=((8, 8), (16, 16), (32,))),
        schedule="onecycle",
        lr=0.03,
        label_smoothing=0.1,
        batch_size=32,
    ),
}


def get_recipe(name: str, **overrides) -> Recipe:
    """A named recipe from :data:`RECIPES`, with fields overridden (``epochs=2``, ...)."""
    if name not in RECIPES:
        raise RecipeError(f"unknown recipe {name!r}; choose from {', '.join(RECIPES)}")
    return replace(RECIPES[name], **overrides)
