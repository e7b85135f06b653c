"""Each tutorial's claims (`tests/notebook_claims`) hold on its saved outputs, and can fail.

The same claims run on the notebooks this test run executes (see `conftest.py`); here they run
on the files as saved, so that the prose a learner reads next to the saved outputs is true of
them, in the quick tier.
"""

import copy
import json
from pathlib import Path

import pytest
from notebook_claims import claims, number, output

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("0*.ipynb"))
CASES = [(path, claim) for path in NOTEBOOKS for claim in claims(path)]


def _load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.mark.parametrize(
    ("path", "claim"), CASES, ids=[f"{p.stem[:2]}-{c.__name__}" for p, c in CASES]
)
def test_claim_holds_on_the_saved_outputs(path, claim):
    claim(_load(path))


def test_every_tutorial_has_claims():
    assert [p.stem[:2] for p in NOTEBOOKS if claims(p)] == [p.stem[:2] for p in NOTEBOOKS]


def _doctored(notebook: dict, marker: str, old: str, new: str) -> dict:
    """A copy of ``notebook`` in which the output of the cell with ``marker`` reads ``new``."""
    doctored = copy.deepcopy(notebook)
    for cell in doctored["cells"]:
        if cell["cell_type"] == "code" and marker in "".join(cell["source"]):
            for out in cell["outputs"]:
                text = "".join(out.get("text", ""))
                if old in text:
                    out["text"] = text.replace(old, new)
                    return doctored
    raise AssertionError(f"{old!r} not printed by the cell with {marker!r}")


def test_helpers_read_what_was_printed():
    nb = {
        "cells": [
            {"cell_type": "code", "source": "print(acc)", "outputs": [{"text": "acc ~98.77%\n"}]}
        ]
    }
    assert number(output(nb, "print(acc)"), "acc", "%") == 98.77
    with pytest.raises(AssertionError, match="no number after"):
        number(output(nb, "print(acc)"), "loss")
    with pytest.raises(AssertionError, match="0 code cells"):
        output(nb, "print(loss)")


def _doctorings():
    from notebook_claims import module_for

    for path in NOTEBOOKS:
        module = module_for(path)
        for case in getattr(module, "DOCTORED", []):
            yield pytest.param(path, *case, id=f"{path.stem[:2]}-{case[3]}")


@pytest.mark.parametrize(("path", "marker", "old", "new", "claim"), list(_doctorings()))
def test_a_claim_fails_when_the_output_says_otherwise(path, marker, old, new, claim):
    """``DOCTORED`` in a claims module: (cell marker, printed text, replacement, claim name)
    such that the claim, true of the saved outputs, is false of the doctored ones."""
    module_claims = {c.__name__: c for c in claims(path)}
    notebook = _load(path)
    module_claims[claim](notebook)
    with pytest.raises(AssertionError):
        module_claims[claim](_doctored(notebook, marker, old, new))


def test_every_claims_module_shows_a_claim_failing():
    from notebook_claims import module_for

    modules = [module_for(p) for p in NOTEBOOKS if module_for(p)]
    assert all(getattr(m, "DOCTORED", []) for m in modules), [m.__name__ for m in modules]
