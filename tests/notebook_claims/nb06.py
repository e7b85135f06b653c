"""Claims of `06_classify_your_own_digit.ipynb`, read from what its cells printed.

The prose of notebook 06 relies on these: notebook 03's model is loaded as saved; a photo shrunk
straight to 28x28 is misread; in the table of section 3 the first variants stay below 80% while
the full preprocessing reads nearly every synthetic digit and the rendered validation digits as
well as their tensors; the sample pictures are read right; the table corner lands in the box;
typed shapes get less probability than handwriting-style ones; the drawing pad reads the drawn 3;
and the command line reads the photo and turns a blank image into a clear error, exit code 1.
"""

from __future__ import annotations

import ast
import re

from notebook_claims import number, output

MODEL = 'load_or_train("reference"'
NAIVE = "shrunk to 28x28: the model says"
TABLE = "variants = {"
SAMPLES = 'print("drawn:'
RENDERED = 'print("labels:'
CORNER = "the table, in a corner"
LETTER = "the letter A"
TYPED = "kinds = ["
PAD = "demo = DrawPad(model)"
COMMAND_LINE = "blank.png"

# The rows of the table of section 3, top to bottom, as printed.
VARIANTS = [
    "grayscale, shrunk to 28x28",
    "+ inverted and cleaned",
    "+ cropped to the digit",
    "+ fitted into 20x20, aspect kept",
    "+ centre of mass at the centre",
]


def _table(nb: dict) -> dict[str, dict[str, float]]:
    """{variant: {"synthetic": %, "renders": %}}, and "tensors": the same 200 tensors' %."""
    text = output(nb, TABLE)
    rows = {}
    for name in VARIANTS:
        line = next((ln for ln in text.splitlines() if ln.startswith(name + " ")), None)
        assert line is not None, f"no row {name!r} in:\n{text}"
        rows[name] = {
            "synthetic": number(line, "synthetic", "%"),
            "renders": number(line, "rendered validation digits", "%"),
        }
    rows["tensors"] = {"renders": number(text, "(the same 200 validation tensors)", "%")}
    return rows


def _list(text: str, label: str) -> list[int]:
    match = re.search(rf"^{re.escape(label)}\s*(\[[^\]]*\])", text, re.M)
    assert match, f"no list after {label!r} in:\n{text}"
    return ast.literal_eval(match.group(1))


def claim_the_model_is_notebook_03s(nb: dict) -> None:
    """Notebook 03's model, well trained, and the same now as when it was saved."""
    text = output(nb, MODEL)
    assert "loaded reference_seed0.pt: 24,048 parameters" in text, text
    now = number(text, "validation accuracy:", "% now")
    saved = number(text, "now,", "% when it was saved")
    assert now > 95, f"validation accuracy {now}%"
    assert abs(now - saved) <= 0.05, f"validation accuracy {now}% now, {saved}% when saved"


def claim_the_shrunk_photo_is_misread(nb: dict) -> None:
    """Section 2: the photo of a 4, shrunk straight to 28x28, is read as another digit, and
    the 4 gets almost no probability (under 10%)."""
    text = output(nb, NAIVE)
    said = number(text, "the model says")
    p4 = number(text, "probability of 4:", "%")
    assert said != 4, text
    assert p4 < 10, text


def claim_each_step_does_what_the_table_says(nb: dict) -> None:
    """Section 3, on both picture sets: shrunk as they are, most are misread; inverting helps;
    cropping alone hurts; without the 20x20 box all stay below 80%; centring by mass instead
    of by box changes little (5 points at most)."""
    rows = _table(nb)
    shrunk, inverted, cropped, boxed, full = (rows[name] for name in VARIANTS)
    for s in ("synthetic", "renders"):
        assert shrunk[s] < 50, (s, shrunk)  # "most images are misread"
        assert inverted[s] > shrunk[s], (s, inverted, shrunk)
        assert cropped[s] < inverted[s], (s, cropped, inverted)
        assert all(row[s] < 80 for row in (shrunk, inverted, cropped)), (s, rows)
        assert abs(full[s] - boxed[s]) <= 5, (s, full, boxed)


def claim_the_full_preprocessing_reads_the_pictures(nb: dict) -> None:
    """Section 3: with every step, at least 95% of the synthetic digits are read right, and the
    rendered validation digits within 2 points of the same digits as tensors."""
    rows = _table(nb)
    full = rows[VARIANTS[-1]]
    assert full["synthetic"] >= 95, full
    assert full["renders"] >= rows["tensors"]["renders"] - 2, rows


def claim_the_sample_pictures_are_read_right(nb: dict) -> None:
    """Section 4: the six coloured samples and the four rendered validation digits."""
    samples = output(nb, SAMPLES)
    assert _list(samples, "predicted:") == _list(samples, "drawn:"), samples
    rendered = output(nb, RENDERED)
    assert _list(rendered, "predicted:") == _list(rendered, "labels:"), rendered


def claim_the_table_corner_is_taken_for_ink(nb: dict) -> None:
    """Section 5: the digit's box starts at the image corner, where the table is."""
    assert "bounding box starts at the image corner: True" in output(nb, CORNER)


def claim_a_letter_gets_a_digit(nb: dict) -> None:
    """Section 5: the letter A is named a digit, the ten probabilities adding up to 1."""
    text = output(nb, LETTER)
    assert 0 <= number(text, "the letter A: the model says") <= 9, text
    assert "the ten probabilities add up to 1: True" in text, text


def claim_typed_shapes_get_less_probability(nb: dict) -> None:
    """Section 5: the handwriting-style 4 and 6 are read right, and the typed ones get a lower
    probability of their digit than the handwriting-style ones."""
    text = output(nb, TYPED)
    found = {}
    for d, kind, said, p in re.findall(
        r"^~ (\d) (typed|handwriting-style): the model says (\d) .*?probability of \d: "
        r"([\d.]+)%",
        text,
        re.M,
    ):
        found[int(d), kind] = (int(said), float(p))
    assert len(found) == 4, text
    for d in (4, 6):
        assert found[d, "handwriting-style"][0] == d, text
        assert found[d, "typed"][1] < found[d, "handwriting-style"][1], text


def claim_the_pad_reads_the_drawn_3(nb: dict) -> None:
    """Section 7: the pad, given a drawn 3 as the page would send it, answers 3 first."""
    text = output(nb, PAD)
    assert re.search(r"^~ 3 \(", text, re.M), text
    assert "what the model saw: (28, 28) torch.uint8" in text, text


def claim_the_command_line_reads_the_photo_and_rejects_a_blank(nb: dict) -> None:
    """Section 8: the photo is read as a 4; the blank image gives a clear error and exit code 1."""
    text = output(nb, COMMAND_LINE)
    assert number(text, "exit code:") == 1, text
    assert re.search(r"^~ my_digit\.jpg: 4 \(", text, re.M), text
    assert "error: blank.png: the image is blank" in text, text


# (cell marker, printed text, replacement, claim): each replacement makes its claim fail.
DOCTORED = [
    (
        COMMAND_LINE,
        "exit code: 1",
        "exit code: 0",
        "claim_the_command_line_reads_the_photo_and_rejects_a_blank",
    ),
    (
        SAMPLES,
        "predicted: [2, 5, 8, 9, 1, 6]",
        "predicted: [2, 5, 8, 9, 7, 6]",
        "claim_the_sample_pictures_are_read_right",
    ),
    (
        CORNER,
        "image corner: True",
        "image corner: False",
        "claim_the_table_corner_is_taken_for_ink",
    ),
    # a 9 in front of the inverted row's synthetic score makes it 90% or more
    (
        TABLE,
        "+ inverted and cleaned             synthetic ~",
        "+ inverted and cleaned             synthetic ~9",
        "claim_each_step_does_what_the_table_says",
    ),
]
