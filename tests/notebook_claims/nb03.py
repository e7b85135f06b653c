"""Notebook 03: one epoch of the reference recipe, by hand and with `train`."""

import math
import re

from notebook_claims import NUMBER, number, output


def _ms_per_batch(nb: dict) -> dict[str, tuple[float, float]]:
    text = output(nb, "def ms_per_batch") + output(nb, "for name, loader in loaders.items()")
    rows = re.findall(rf"^(.+?)\s+~\s*({NUMBER})\s+~\s*({NUMBER})$", text, re.M)
    return {name.strip(): (float(draw), float(both)) for name, draw, both in rows}


def claim_one_tensor_draws_batches_far_faster_than_the_dataloader(nb):
    """Section 2: "drawing a batch is a single index_select: compare its draw column"."""
    ms = _ms_per_batch(nb)
    assert set(ms) == {"DataLoader, 0 workers", "DataLoader, 2 workers", "one tensor"}, ms
    tensor_draw = ms["one tensor"][0]
    assert all(tensor_draw * 5 < draw for name, (draw, _) in ms.items() if name != "one tensor")
    assert ms["one tensor"][1] < ms["DataLoader, 0 workers"][1]  # and it trains faster


def claim_the_hand_written_loop_is_trains_loop(nb):
    text = output(nb, "largest difference between the two runs")
    assert "844 batches in both" in text
    assert number(text, "losses:") <= 1e-6


def claim_without_the_speed_ups_the_runs_drift_apart(nb):
    text = output(nb, "without the speed-ups")
    first, most = number(text, "differs by"), number(text, "by up to")
    assert 0 <= first < most < 0.1


def claim_evaluation_by_hand_is_the_packages(nb):
    text = output(nb, "def evaluate_by_hand")
    correct, n = number(text, "by hand:"), number(text, "of")
    assert n == 6000 and round(100 * correct / n, 2) == number(text, "correct,", "%")
    assert (
        number(text, "effmnist.accuracy:")
        == number(text, "train measured")
        == round(100 * correct / n, 2)
    )


def claim_the_loss_starts_at_chance_and_falls_tenfold_by_batch_150(nb):
    text = output(nb, "early_loss = ")
    first = number(text, "first batch: loss")
    assert abs(first - math.log(10)) < 0.3
    assert number(text, "mean loss") < first / 10 and number(text, "mean accuracy") > 90


def claim_running_accuracy_beats_the_reference_log_from_batch_100(nb):
    text = output(nb, "reference_log = ")
    rows = re.findall(rf"batch\s+(\d+): reference\s+({NUMBER})%\s+this run ~({NUMBER})%", text)
    assert len(rows) == 6
    assert all(float(ours) > float(theirs) for batch, theirs, ours in rows if int(batch) >= 100)


def claim_clipping_acts_mostly_in_the_first_50_batches(nb):
    text = output(nb, "clipped = norms > 1.0")
    early, late = number(text, "batches 0-49:   on"), number(text, "batches 50-843: on")
    assert early > 50 and late < 10 and number(text, "largest gradient norm:") < 3


def claim_adams_step_ignores_the_gradients_scale(nb):
    text = output(nb, "def first_step")
    ratios = re.findall(rf"x10 moves the weights ~({NUMBER})x", text)
    assert [round(float(r), 2) for r in ratios] == [1, 10]  # Adam, then SGD
    adam_move = re.findall(rf"with x1, each weight moves ~({NUMBER})", text)[0]
    assert abs(float(adam_move) - 0.015) < 1e-4  # about the learning rate


def claim_batchnorm_widens_the_range_and_rescues_the_start(nb):
    text = output(nb, "def smoothed_loss_at")
    losses = [float(x) for x in re.findall(rf"smoothed loss at lr 0.015: ({NUMBER})", text)]
    assert "without BatchNorm: lowest" in text and losses[0] < losses[1]
    assert number(text, "moves the edge") > 1 and number(text, "after") > 100
    starts = output(nb, "least_active = ")
    assert "with BatchNorm: stuck at chance on seeds []" in starts
    stuck = re.search(r"without BatchNorm: stuck at chance on seeds \[([\d, ]+)\]", starts)
    assert stuck, "no seed without BatchNorm got stuck in its first 60 batches"
    whole = output(nb, "at_chance = ")
    at_chance = re.search(r"at chance after the whole epoch, without BatchNorm: seeds (.*)", whole)
    assert stuck.group(1).replace(",", "").split() == at_chance.group(1).split()


def claim_the_cnn_beats_an_mlp_of_its_size_and_a_logistic_regression(nb):
    text = output(nb, "baselines.logistic_regression")
    logreg, mlp, cnn = (
        float(re.search(rf"^{name}.*validation ~({NUMBER})%", text, re.M)[1])
        for name in ("logistic regression", "MLP", "EfficientMNIST")
    )
    assert cnn > mlp + 2 and cnn > logreg + 3
    assert (100 - mlp) / (100 - cnn) > 2  # "several times fewer errors"


def claim_both_targets_are_met_above_every_reported_accuracy(nb):
    text = output(nb, "reported = ")
    for split, theirs in (("training (running)", 91.43), ("validation", 96.43), ("test", 97.68)):
        row = re.search(rf"^{re.escape(split)}\s+({NUMBER})%\s+~({NUMBER})%", text, re.M)
        assert float(row[1]) == theirs and float(row[2]) > theirs
    assert float(re.search(rf"^test\s+{NUMBER}%\s+~({NUMBER})%", text, re.M)[1]) > 95
    assert re.search(r"^parameters\s+24,048\s+24,048$", text, re.M)


def claim_the_reference_is_below_every_fresh_seed(nb):
    text = output(nb, 'shipped_results("final")')
    gap = float(re.search(rf"97.68% is ({NUMBER}) points below the lowest", text)[1])
    assert gap > 0.7  # "by most of a point"


DOCTORED = [
    (
        "for name, loader in loaders.items()",
        "one tensor              ~     0.",
        "one tensor              ~    90.",
        "claim_one_tensor_draws_batches_far_faster_than_the_dataloader",
    ),
]
