"""What each tutorial says about its own run, checked against what the run printed.

A tutorial shows a learner at most a few "check yourself" asserts. The claims that keep the
series honest (the nearest-mean classifier is far above guessing, the CNN beats the MLP, the
model is not confidently wrong, ...) live here instead, one module per tutorial
(``nb01`` for ``01_data_exploration.ipynb``), one function per claim, each named ``claim_*``
and taking the notebook as a dict.

They run twice:

- on the notebook **executed by this test run** (the Colab stand-in in ``conftest.py``): one
  test item per claim, right after the notebook's cells, so a claim must hold on the numbers
  this machine just measured;
- on the notebook **as saved** (`tests/test_notebook_claims.py`, quick tier): the saved
  outputs must support the prose around them.

A claim reads only printed output (``output``, ``number``), never the kernel's variables: what
it checks is what a learner sees.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable
from pathlib import Path

NUMBER = r"[-+−]?\d[\d,]*(?:\.\d+)?(?:[eE][-+]?\d+)?"


def module_for(notebook: Path):
    """The claims module of a tutorial (``nb01`` for ``01_...``), or None (solutions, others)."""
    match = re.fullmatch(r"(\d\d)_[a-z_]+", notebook.stem)
    if not match or "solutions" in notebook.stem:
        return None
    try:
        return importlib.import_module(f"notebook_claims.nb{match.group(1)}")
    except ModuleNotFoundError:
        return None


def claims(notebook: Path) -> list[Callable[[dict], None]]:
    """The ``claim_*`` functions for ``notebook``, in the order they are defined."""
    module = module_for(notebook)
    if module is None:
        return []
    return [f for name, f in vars(module).items() if name.startswith("claim_") and callable(f)]


def _text(output: dict) -> str:
    data = output.get("data", {})
    parts = [output.get("text", ""), data.get("text/plain", "")]
    return "".join("".join(p) if isinstance(p, list) else p for p in parts)


def output(notebook: dict, marker: str) -> str:
    """The printed text of the one code cell whose source contains ``marker``."""
    cells = [
        c for c in notebook["cells"] if c["cell_type"] == "code" and marker in "".join(c["source"])
    ]
    assert len(cells) == 1, f"{len(cells)} code cells contain {marker!r} (want exactly one)"
    errors = [o for o in cells[0].get("outputs", []) if o.get("output_type") == "error"]
    assert not errors, f"the cell with {marker!r} raised {errors[0].get('ename')}"
    return "".join(_text(o) for o in cells[0].get("outputs", []))


def number(text: str, before: str, after: str = "") -> float:
    """The number printed between the words ``before`` and ``after`` (``~`` and ``,`` ignored).

    ``number("accuracy ~98.77%", "accuracy")`` is 98.77.
    """
    pattern = re.escape(before) + r"\s*[:=]?\s*~?\s*(" + NUMBER + r")\s*" + re.escape(after)
    match = re.search(pattern, text)
    assert match, (
        f"no number after {before!r}{' before ' + repr(after) if after else ''} in:\n{text}"
    )
    return float(match.group(1).replace(",", "").replace("−", "-"))
