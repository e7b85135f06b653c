"""What `02_architecture.ipynb` says about EfficientMNIST, checked on what it printed."""

from __future__ import annotations

import re

from notebook_claims import number, output

SAME_LAYOUT = "same_layout = layout =="
SAME_LOGITS = "bit for bit"
STAGES = "enumerate(model.features, 1)"
SUMMARY = "stats = summary("
MULT_ADDS = "by_hand ="
BATCHNORM = "bn_rows ="
REFERENCE = "reference says"
PERCENTAGES = "sum of the reference's percentages"
BUDGET = "25_000 - n_params"
CORNER = "the top-left unit:"
HEADS = "format_head_comparison"
SAVING = "saving at the real 3x3 map"
SHUFFLE = "same_gap = sum("


def _line(text: str, start: str) -> str:
    lines = [line for line in text.splitlines() if line.lstrip("│├└─ ").startswith(start)]
    assert len(lines) == 1, f"{len(lines)} lines start with {start!r} in:\n{text}"
    return lines[0]


def claim_our_class_is_the_package_model(nb: dict) -> None:
    """Same state_dict names and shapes, same parameter count, the same logits bit for bit."""
    text = output(nb, SAME_LAYOUT)
    assert "names and shapes, in the same order: True" in text, text
    assert "parameters: ours 24,048, the package's 24,048" in text, text
    assert output(nb, SAME_LOGITS).rstrip().endswith("bit for bit: True")


def claim_the_head_sees_a_3x3x64_map(nb: dict) -> None:
    """Stage 3's pool rounds 7x7 down to 3x3: the map that reaches the head is 3x3x64."""
    text = output(nb, STAGES)
    assert re.search(r"(?m)^stage 3\s+\(1, 64, 3, 3\)$", text), text
    assert re.search(r"(?m)^logits\s+\(1, 10\)$", text), text


def claim_24048_parameters_under_the_budget(nb: dict) -> None:
    assert number(output(nb, SUMMARY), "Total params:") == 24_048
    text = output(nb, BUDGET)
    assert number(text, "", "parameters,") == 24_048, text
    assert number(text, "parameters,", "under the 25,000 budget") == 952, text


def claim_conv2_and_conv3_cost_the_same(nb: dict) -> None:
    """Conv3 has 4x conv2's weights on 1/4 of its positions; the total is weights x positions
    of each conv, plus one per parameter of the linear layer and the BatchNorms."""
    table = output(nb, SUMMARY)
    convs = [line.split()[-1] for line in table.splitlines() if "Conv2d" in line]
    assert convs == ["112,896", "903,168", "903,168"], table
    text = output(nb, MULT_ADDS)
    assert number(text, "torchinfo:", "mult-adds") == number(text, "by hand:") == 1_920_096


def claim_batchnorm_is_small_next_to_the_convolutions(nb: dict) -> None:
    """Far more arithmetic than torchinfo's 224, yet a few percent of the convolutions'."""
    text = output(nb, BATCHNORM)
    assert number(text, "torchinfo's BatchNorm mult-adds:") == 224, text
    assert number(text, "=", "times torchinfo's count") > 100, text
    assert number(text, "that is", "% of the convolutions'") < 5, text


def claim_the_reference_misrounds_conv3(nb: dict) -> None:
    """Every count matches the reference's table; only conv3's percentage (76.65%) is off."""
    text = output(nb, REFERENCE)
    verdicts = [line for line in text.splitlines() if "=" in line]
    assert len(verdicts) == 6 and sum(line.endswith("same") for line in verdicts) == 5, text
    conv3 = next(line for line in verdicts if line.startswith("Conv3 "))
    assert conv3.split()[1:4] == ["18,432", "=", "18,432"], text
    assert conv3.endswith("76.65%  reference says 76.7%"), text
    breakdown = [line for line in text.splitlines() if line.startswith("Conv3 ")]
    assert breakdown[0].split()[-1] == "76.6%", text
    assert number(output(nb, PERCENTAGES), "percentages:", "%") == 100.1


def claim_the_top_left_unit_sees_under_half_image(nb: dict) -> None:
    text = output(nb, CORNER)
    assert re.search(r"unit 0: input rows -7 to 14, of which 15 are image", text), text
    assert "15x15 = 225 of its 22x22 = 484 pixels" in text, text
    assert number(text, "pixels are image (", "%)") < 50, text


def claim_a_flatten_head_breaks_the_budget(nb: dict) -> None:
    """At the real 3x3x64 map a flatten head needs 5,760 weights and 29,168 parameters in all,
    over 25,000; GAP saves 5,120 (89%), not the reference's 98%."""
    text = output(nb, HEADS)
    assert _line(text, "global average pooling").split()[-3:] == ["640", "24,048", "yes"], text
    flatten = _line(text, "flatten + Linear").split()
    assert flatten[-3:-1] == ["5,760", "29,168"] and flatten[-1] == "no", text
    assert int(flatten[-2].replace(",", "")) > 25_000, text
    saving = output(nb, SAVING)
    assert number(saving, "3x3 map:", "weights") == 5_120, saving
    assert number(saving, "5,120 weights (", "%)") == 89, saving


def claim_gap_forgets_positions(nb: dict) -> None:
    """Every real shuffle of the 3x3 positions leaves the GAP head's logits unchanged, and
    changes the flatten head's."""
    text = output(nb, SHUFFLE)
    assert "leave every position where it was: 0 of 100" in text, text
    assert "GAP head 100 of 100, flatten head 0 of 100" in text, text


DOCTORED = [
    (SHUFFLE, "flatten head 0 of 100", "flatten head 3 of 100", "claim_gap_forgets_positions"),
    (HEADS, "29,168  no", "24,168  yes", "claim_a_flatten_head_breaks_the_budget"),
    (
        SAME_LOGITS,
        "bit for bit: True",
        "bit for bit: False",
        "claim_our_class_is_the_package_model",
    ),
]
