"""Every number in a notebook's prose comes from its code, or is an exact fact it declares.

A number about a run ("seed 0 reaches 98.77%") must be printed by a code cell or rendered from
variables, never typed into markdown, where it goes stale the day the code changes. This test
reads each tutorial and solution notebook as saved and fails on a number in a markdown cell
that appears in none of the notebook's code, none of its saved outputs, and not in the short
list of exact facts and quoted figures the notebook declares in its metadata::

    "metadata": {"effmnist": {"exact": {"70,000": "images in MNIST", ...}}}

Not counted as numbers about a run: integers up to 10 (digits, small counts, list markers),
the series' notebook numbers (01-06), section numbers at the start of a heading, and link
targets.
"""

import json
import re
from pathlib import Path

import pytest

NOTEBOOKS = sorted(
    path
    for path in (Path(__file__).resolve().parents[1] / "notebooks").rglob("*.ipynb")
    if ".ipynb_checkpoints" not in path.parts  # Jupyter's autosaves, not ours
)
NUMBER = re.compile(r"(?<![\w.])[-+−]?\d[\d,]*(?:\.\d+)?")
SERIES = re.compile(r"0\d")  # notebook numbers: 01 ... 06


def _normal(token: str) -> str:
    return token.replace(",", "").replace("−", "-").lstrip("+-").rstrip(".")


def numbers(text: str) -> set[str]:
    """The numbers in ``text``, normalized: no sign, no thousands separators."""
    return {_normal(m.group(0)) for m in NUMBER.finditer(text)}


def _output_text(output: dict) -> str:
    data = output.get("data", {})
    parts = [output.get("text", ""), data.get("text/plain", ""), data.get("text/markdown", "")]
    return "".join("".join(p) if isinstance(p, list) else p for p in parts)


def _prose(markdown: str) -> str:
    text = re.sub(r"\]\([^)]*\)", "]", markdown)  # link targets
    text = re.sub(r"https?://\S+", "", text)
    return re.sub(r"(?m)^(#+\s*)\d+(\.\d+)*\.?", r"\1", text)  # "## 7. The split"


def unexplained_numbers(notebook: dict) -> list[tuple[int, str, str]]:
    """``(cell index, number, line)`` for each number in markdown that nothing accounts for."""
    known = set()
    for cell in notebook["cells"]:
        if cell["cell_type"] == "code":
            known |= numbers("".join(cell["source"]))
            for output in cell.get("outputs", []):
                known |= numbers(_output_text(output))
    declared = notebook["metadata"].get("effmnist", {}).get("exact", {})
    known |= {_normal(k) for k in declared}
    found = []
    for index, cell in enumerate(notebook["cells"]):
        if cell["cell_type"] != "markdown":
            continue
        for line in _prose("".join(cell["source"])).splitlines():
            for token in NUMBER.findall(line):
                n = _normal(token)
                small = n.isdigit() and int(n) <= 10 and not SERIES.fullmatch(n)
                if n in known or small or SERIES.fullmatch(n):
                    continue
                found.append((index, n, line.strip()))
    return found


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_number_in_the_prose_comes_from_the_code(path):
    notebook = json.loads(path.read_text(encoding="utf-8"))
    found = unexplained_numbers(notebook)
    lines = "\n".join(f"  cell {i}: {n!r} in: {line[:100]}" for i, n, line in found)
    assert not found, (
        f"{path.name}: numbers typed into markdown that no code cell prints; print them, render"
        f" them from variables, or declare exact facts in metadata.effmnist.exact:\n{lines}"
    )


def test_the_checker_catches_a_typed_number_and_accepts_a_printed_one():
    def notebook(markdown: str, printed: str) -> dict:
        code = {"cell_type": "code", "source": "print(acc)", "outputs": [{"text": printed}]}
        return {"metadata": {}, "cells": [code, {"cell_type": "markdown", "source": markdown}]}

    assert unexplained_numbers(notebook("Seed 0 reaches 98.75%.", "~98.77%")) == [
        (1, "98.75", "Seed 0 reaches 98.75%.")
    ]
    assert unexplained_numbers(notebook("Seed 0 reaches 98.77%.", "~98.77%")) == []
    assert unexplained_numbers(notebook("## 7. Digits 3 and 5, notebook 04", "")) == []
    declared = notebook("MNIST has 70,000 images.", "")
    declared["metadata"] = {"effmnist": {"exact": {"70,000": "images in MNIST"}}}
    assert unexplained_numbers(declared) == []
