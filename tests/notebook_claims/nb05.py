"""Notebook 05: which claims hold, the chosen recipes, and the test set read once."""

import re

from notebook_claims import NUMBER, number, output


def claim_only_the_final_step_read_the_test_set(nb):
    text = output(nb, "with_test = ")
    assert re.search(r"^ablations .*with a test accuracy: 0$", text, re.M)
    assert re.search(r"^finalists .*with a test accuracy: 0$", text, re.M)
    assert re.search(r"^final .*seeds 20-29.*with a test accuracy: 30$", text, re.M)


def claim_the_t_statistic_by_hand_is_scipys(nb):
    text = output(nb, "t_by_hand = ")
    assert number(text, "t by hand") == number(text, "scipy")


def claim_the_sign_test_is_less_sure_than_the_t_test(nb):
    """Section 2: t and Wilcoxon would call it at 0.05 on their own, the sign test would not."""
    t_test = number(output(nb, "t_by_hand = "), "p =")
    text = output(nb, "binomtest(")
    assert t_test < 0.05 and number(text, "Wilcoxon signed-rank p =") < 0.05
    assert number(text, "sign test p =") > 0.05


def claim_five_seeds_cannot_see_a_tenth_of_a_point(nb):
    text = output(nb, "min_detectable_difference(")
    mdd = {int(n): float(pp) for n, pp in re.findall(rf"(\d+) seeds: .*\(({NUMBER}) pp\)", text)}
    assert mdd[5] > 0.1 >= mdd[20] and mdd[10] <= 0.12
    assert number(text, "p =") > 0.05  # so the verdict on dropout is not "equivalent"


def claim_the_best_recipe_beats_the_reference_on_fresh_test_seeds(nb):
    text = output(nb, "paired_test_difference(")
    low = float(re.search(rf"95% interval ({NUMBER}) to", text)[1])
    assert low > 0 and number(text, "n =") == 10


def claim_label_smoothing_leaves_the_best_model_under_confident(nb):
    text = output(nb, "rel[name].ece")
    ece = dict(re.findall(rf"^~ (\w+): ECE ({NUMBER})%", text, re.M))
    assert float(ece["best"]) > 3 * float(ece["reference"]) and float(ece["reference"]) < 2
    bins = re.findall(r"accuracy above confidence in (\d+) of (\d+) non-empty bins", text)
    (ref_under, ref_bins), (best_under, best_bins) = bins
    assert best_under == best_bins and int(ref_under) >= int(ref_bins) - 1
    medians = re.findall(rf"median confidence in its right answers ({NUMBER})%", text)
    assert abs(float(medians[1]) - 91) < 5  # near the smoothing target, 0.91


DOCTORED = [
    (
        "rel[name].ece",
        "accuracy above confidence in 8 of 8",
        "accuracy above confidence in 5 of 8",
        "claim_label_smoothing_leaves_the_best_model_under_confident",
    ),
    (
        "paired_test_difference(",
        "95% interval +43.6",
        "95% interval -43.6",
        "claim_the_best_recipe_beats_the_reference_on_fresh_test_seeds",
    ),
]
