"""Notebooks use effmnist's public API only: names that ``effmnist`` or one of its subpackages
lists in ``__all__`` (or, in ``effmnist.experiments``, the public names of its modules), never a
private name or a module inside a subpackage, so that the package can change inside without
breaking a learner's notebook."""

import ast
import importlib
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted(
    p for p in (ROOT / "notebooks").rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts
)
PACKAGES = ("effmnist", "effmnist.data", "effmnist.digits", "effmnist.insight", "effmnist.experiments",
            "effmnist.plots")  # fmt: skip


def code_of(path: Path) -> str:
    """A notebook's code cells as one Python module (IPython's % and ! lines left out)."""
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    sources = ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]
    lines = "\n".join(sources).splitlines()
    return "\n".join(re.sub(r"^(\s*)[%!].*$", r"\1pass", line) for line in lines)


def public(package: str) -> set[str]:
    """What a learner may use from ``package``: its ``__all__`` (and, from ``effmnist``, its
    subpackages)."""
    names = set(importlib.import_module(package).__all__)
    if package == "effmnist":
        names |= {p.removeprefix("effmnist.") for p in PACKAGES if p != "effmnist"}
    return names


def problems_in(source: str) -> list[str]:
    """Each import or attribute use of effmnist in ``source`` that is not public API."""
    found, aliases = [], {}  # alias -> the effmnist package or experiments module it names
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("effmnist"):
            if node.module not in PACKAGES:
                found.append(f"from {node.module} import ...: import from {PACKAGES} only")
                continue
            for alias in node.names:
                name = alias.name
                if name.startswith("_") or name not in public(node.module):
                    found.append(f"from {node.module} import {name}: not in its __all__")
                elif f"{node.module}.{name}" in PACKAGES or node.module == "effmnist.experiments":
                    aliases[alias.asname or name] = (
                        f"{node.module}.{name}"  # a (sub)package, a module
                    )
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("effmnist"):
                    if alias.name not in PACKAGES:
                        found.append(f"import {alias.name}: import {PACKAGES} only")
                    aliases[alias.asname or alias.name.split(".")[0]] = alias.name.split(".")[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            target = aliases.get(node.value.id)
            if target is None:
                continue
            if target in PACKAGES:
                allowed = public(target)
            else:  # a module listed by effmnist.experiments: its public names
                module = importlib.import_module(target)
                allowed = {n for n in vars(module) if not n.startswith("_")}
            if node.attr not in allowed:
                found.append(f"{node.value.id}.{node.attr}: not public in {target}")
    return found


@pytest.mark.parametrize(
    "path", NOTEBOOKS, ids=lambda p: p.relative_to(ROOT / "notebooks").as_posix()
)
def test_notebooks_use_only_public_names(path):
    assert problems_in(code_of(path)) == []


@pytest.mark.parametrize(
    "source",
    [
        "from effmnist.training import train",  # a module, not a package
        "from effmnist.plots import _figure",  # private
        "from effmnist import runcache",  # not listed
        "from effmnist.data import read_idx_of_nothing",  # not listed
        "import effmnist\neffmnist.training.train",  # not exported at the top
        "from effmnist import plots\nplots.style",  # a module inside a subpackage
        "from effmnist.experiments import stats\nstats._private",  # private
    ],
)
def test_the_check_finds_private_and_undocumented_names(source):
    assert problems_in(source)
