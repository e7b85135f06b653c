"""Claims of ``04_feature_maps_and_errors.ipynb``: notebook 03's model studied on validation.

Each claim reads what the notebook printed and checks a statement its prose makes.
"""

from __future__ import annotations

import re

from notebook_claims import number, output

LOAD = 'load_or_train("reference"'
PREDICT = "val_acc = (preds == splits.val_y)"
MISTAKES = "wrong = mistakes(probs, splits.val_y)"
CAM = "gap = (maps.mean(dim=(2, 3)) - logits)"
SPREAD = "top_share ="
MISTAKE_MAPS = "chosen = maps8["
CONFUSION = "cm = confusion_matrix(splits.val_y, preds)"
PER_DIGIT = "per_class = per_class_accuracy(cm)"
CALIBRATION = "rel = insight.reliability(probs, splits.val_y"
TRAIN_MODE = "train_acc = {b: train_mode_accuracy"
NORMALIZATION = "wrong_ways = {"


def _percent(text: str, pattern: str) -> float:
    match = re.search(pattern, text)
    assert match, f"{pattern!r} not found in:\n{text}"
    return float(match.group(1))


def _ints(text: str, pattern: str) -> int:
    match = re.search(pattern, text)
    assert match, f"{pattern!r} not found in:\n{text}"
    return int(match.group(1))


def claim_the_loaded_model_is_notebook_03s_and_passes_95(nb: dict) -> None:
    """The accuracy measured on validation is the one saved at training time, above 95%."""
    saved = number(output(nb, LOAD), "saved at training time:", "%")
    measured = number(output(nb, PREDICT), "validation accuracy, measured now:", "%")
    assert "24,048 parameters" in output(nb, LOAD)
    assert abs(saved - measured) < 0.01 and measured > 95


def claim_about_one_and_a_half_percent_are_mistakes(nb: dict) -> None:
    """'About 1.5% of the validation digits are wrong': the count matches the accuracy."""
    text = output(nb, MISTAKES)
    wrong, share = number(text, "", "of 6,000 validation digits"), number(text, "(", "%)")
    accuracy = number(output(nb, PREDICT), "validation accuracy, measured now:", "%")
    assert abs(wrong / 60 - share) < 0.05 and abs(100 - accuracy - share) < 0.05
    assert 1 <= share < 5


def claim_a_maps_mean_is_its_logit(nb: dict) -> None:
    """The class activation maps split the logits exactly, up to rounding."""
    assert number(output(nb, CAM), "over 1,000 digits x 10 classes:") < 1e-4


def claim_the_evidence_comes_from_most_of_the_image(nb: dict) -> None:
    """'Red nearly everywhere', and no single cell holds most of the evidence."""
    text = output(nb, SPREAD)
    positive = number(text, "", "% of the cells carry evidence")
    top_share = number(text, "holds a median", "% of the evidence")
    assert positive > 80 and top_share < 50


def claim_a_mistakes_true_class_map_argues_against_it(nb: dict) -> None:
    """The predicted class's maps are mostly red; most true-class maps have blue cells."""
    text = output(nb, MISTAKE_MAPS)
    red = number(text, "", "% of the cells of the predicted classes' maps are red")
    against = number(text, "", "of the 8 true classes' maps have blue cells")
    assert red > 60 and against > 4


def claim_confusions_are_not_symmetric(nb: dict) -> None:
    """The most lopsided pair goes one way far more often than the other."""
    text = output(nb, CONFUSION)
    there = _ints(text, r"most lopsided: \d read as \d (\d+) times")
    back = _ints(text, r"most lopsided: .* \d as \d (\d+) times")
    assert there >= back + 4


def claim_no_digit_is_left_behind(nb: dict) -> None:
    """Even the hardest digit is above 95%, within 5 points of the easiest."""
    text = output(nb, PER_DIGIT)
    hardest = _percent(text, r"hardest digit \d \((\d+\.\d+)%\)")
    spread = number(text, "from the hardest to the easiest:", "points")
    assert hardest > 95 and spread < 5


def claim_the_model_is_nearly_calibrated(nb: dict) -> None:
    """ECE below 2%, mean confidence within 2 points of accuracy, and its confident
    predictions (most of them) are right more than 99% of the time."""
    text = output(nb, CALIBRATION)
    ece = number(text, "expected calibration error:", "%")
    confidence = number(text, "mean confidence", "%")
    accuracy = number(text, "accuracy", "%")
    share = number(text, "confidence above 95%:", "% of the predictions")
    right = number(text, "right", "% of the time")
    assert ece < 2 and abs(confidence - accuracy) < 2
    assert share > 80 and right > 99


def claim_training_mode_collapses_one_image_at_a_time(nb: dict) -> None:
    """One image at a time in training mode loses more than 10 points; 500 at a time hides it."""
    text = output(nb, TRAIN_MODE)
    evaluation = number(text, "evaluation mode:", "%")
    one = number(text, " 1 image(s) at a time:", "%")
    many = number(text, "500 image(s) at a time:", "%")
    assert one < evaluation - 10 and abs(many - evaluation) < 2


def claim_wrong_normalization_hurts(nb: dict) -> None:
    """The four wrong scalings stay below 70%; per-image normalization looks fine but is worse."""
    text = output(nb, NORMALIZATION)
    right = number(text, "right: (pixels - 0.1307) / 0.3081", "%")
    wrong = [
        number(text, name, "%")
        for name in (
            "0..1, not normalized",
            "0..255, raw",
            "ImageNet's statistics (0.485, 0.229)",
            "normalized twice",
        )
    ]
    own = number(text, "each image by its own mean and std", "%")
    assert max(wrong) < 70 and 90 < own < right - 0.5


# (cell marker, printed text, replacement, claim): the claim fails on the doctored output
DOCTORED = [
    (
        CALIBRATION,
        "expected calibration error: ~",
        "expected calibration error: ~9",
        "claim_the_model_is_nearly_calibrated",
    ),
    (
        TRAIN_MODE,
        "training mode,   1 image(s) at a time: ~",
        "training mode,   1 image(s) at a time: ~9",
        "claim_training_mode_collapses_one_image_at_a_time",
    ),
]
