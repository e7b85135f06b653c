"""The package's layout, checked: its layers, its size at the top, a loop kept to the loop, names
that mean one thing, a wheel that installs every subpackage, no data in git, one home for data.

The layers, from the bottom (a module may import its own layer and the ones below it):

0. ``effmnist.data`` (MNIST and files);
1. the core: ``model``, ``recipe``, ``training``, ``evaluate``, ``checkpoint``, ``progress``,
   ``provenance``;
2. ``effmnist.insight``, ``effmnist.digits``, ``effmnist.experiments``;
3. ``effmnist.plots``;
4. the facade ``effmnist/__init__.py`` (the public names; it may import anything below);
5. ``effmnist.cli`` and ``effmnist.__main__``.
"""

from __future__ import annotations

import ast
import importlib.util
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tokenize
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

import effmnist
from effmnist.data import checkpoints_dir, home

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "effmnist"

CORE = ("model", "recipe", "training", "evaluate", "checkpoint", "progress", "provenance")
LAYERS = {
    "data": 0,
    **dict.fromkeys(CORE, 1),
    "insight": 2,
    "digits": 2,
    "experiments": 2,
    "plots": 3,
    # the facade (effmnist/__init__.py) is 4
    "cli": 5,
    "__main__": 5,
}
FACADE = 4
LAYER_NAMES = ("data", "core", "insight/digits/experiments", "plots", "facade", "cli")

# Imports that go up a layer on purpose. Each is an import, inside a function, of the root
# package itself: by the time the function runs, ``effmnist`` has finished importing, so no
# cycle can bite; at module level the same import would be a cycle and fails below.
ALLOWED_UPWARD = {
    # load_or_train trains with the facade's `effmnist.train`, the one the test suite wraps
    # with experiments.runcache to reuse finished runs; training.train would retrain each time
    ("effmnist.checkpoint", "effmnist"): "load_or_train",
    # __version__ is written once, in the facade (pyproject.toml reads it from there)
    ("effmnist.provenance", "effmnist"): "provenance",
}

MAX_TOP_LEVEL_MODULES = 10  # __init__ and __main__ included
MAX_TRAINING_LINES = 240  # about 230: the loop and its helpers, nothing else
NOT_IN_THE_LOOP = (
    "runcache",
    "mallopt",
    "ctypes",
    "threading",
    "os._exit",
    "sys.exit",
    "torch._dynamo",
    "EFFMNIST_TRAIN_CACHE",
)
NOWHERE = ("mallopt", "os._exit", "torch._dynamo")


# --- the modules and their imports --------------------------------------------------------


def _modules() -> dict[str, Path]:
    """{dotted name: file} for every module of the package (a package is its __init__)."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


@dataclass(frozen=True)
class Import:
    source: str  # the importing module
    target: str  # the module imported (an effmnist module)
    line: int
    function: str | None  # the enclosing function, None at module level
    name: str | None = None  # the name taken from the target (from x import name), if any

    def __str__(self) -> str:
        where = f"in {self.function}()" if self.function else "at module level"
        return f"{self.source} imports {self.target} ({where}, line {self.line})"


def _package(name: str, path: Path) -> str:
    """The package a module's relative imports start from."""
    return name if path.name == "__init__.py" else name.rpartition(".")[0]


def _from(node: ast.ImportFrom, package: str) -> str:
    """The module a ``from ... import`` statement in ``package`` imports from, absolute."""
    if not node.level:
        return node.module or ""
    base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
    return f"{base}.{node.module}" if node.module else base


def _imports(name: str, path: Path, modules: dict[str, Path]) -> list[Import]:
    """The effmnist modules ``name`` imports, at module level and inside functions, absolute
    (``import effmnist.x``, ``from effmnist.x import y``) or relative (``from .x import y``).
    Importing ``effmnist.a.b`` also runs ``effmnist/a/__init__.py``: that counts as an import
    of ``effmnist.a`` too, unless the importer is inside ``effmnist.a`` itself."""
    package = _package(name, path)
    found: list[Import] = []

    def add(target: str, node: ast.stmt, function: str | None, taken: str | None = None) -> None:
        assert target in modules, f"{name} (line {node.lineno}) imports {target}: no such module"
        found.append(Import(name, target, node.lineno, function, taken))
        parts = target.split(".")
        for i in range(2, len(parts)):  # the packages on the way, the root aside
            ancestor = ".".join(parts[:i])
            if not (name == ancestor or name.startswith(ancestor + ".")):
                found.append(Import(name, ancestor, node.lineno, function))

    def visit(node: ast.AST, function: str | None) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                visit(child, function or child.name)
                continue
            if isinstance(child, ast.Import):
                for alias in child.names:
                    if alias.name.split(".")[0] == "effmnist":
                        add(alias.name, child, function)
            elif isinstance(child, ast.ImportFrom):
                base = _from(child, package)
                if base.split(".")[0] != "effmnist":
                    continue
                for alias in child.names:
                    submodule = f"{base}.{alias.name}"
                    if submodule in modules:
                        add(submodule, child, function)
                    else:
                        add(base, child, function, alias.name)
            visit(child, function)

    visit(ast.parse(path.read_text(encoding="utf-8"), str(path)), None)
    return found


def _all_imports() -> list[Import]:
    modules = _modules()
    return [i for name, path in modules.items() for i in _imports(name, path, modules)]


def _layer(module: str) -> int:
    if module == "effmnist":
        return FACADE
    top = module.split(".")[1]
    assert top in LAYERS, f"{module} is in no layer: add {top!r} to LAYERS in {__file__}"
    return LAYERS[top]


def _allowed(edge: Import) -> bool:
    """An import ALLOWED_UPWARD names, made inside the function it names."""
    function = ALLOWED_UPWARD.get((edge.source, edge.target))
    return function is not None and edge.function == function


def _cycle(edges: list[Import]) -> list[str] | None:
    """One import cycle among ``edges`` (its modules, the first repeated at the end), or None."""
    graph: dict[str, set[str]] = {}
    for edge in edges:
        graph.setdefault(edge.source, set()).add(edge.target)
    done: set[str] = set()

    def search(module: str, path: list[str]) -> list[str] | None:
        if module in path:
            return path[path.index(module) :] + [module]
        if module in done:
            return None
        for target in sorted(graph.get(module, ())):
            cycle = search(target, path + [module])
            if cycle:
                return cycle
        done.add(module)
        return None

    for module in sorted(graph):
        cycle = search(module, [])
        if cycle:
            return cycle
    return None


def test_the_import_graph_is_read_from_every_module():
    """A check on the checker: the imports it finds include ones of every kind."""
    edges = {(i.source, i.target, i.function is None) for i in _all_imports()}
    assert ("effmnist.data.mnist", "effmnist.data.acquire", True) in edges  # from . import x
    assert ("effmnist.plots.insight", "effmnist.insight.cam", True) in edges  # from ..x.y import
    assert ("effmnist.plots.insight", "effmnist.insight", True) in edges  # runs its __init__
    assert ("effmnist.checkpoint", "effmnist", False) in edges  # import effmnist, in a function
    assert ("effmnist", "effmnist.experiments.runcache", True) in edges  # under an `if`


def test_no_module_imports_a_higher_layer():
    wrong = [
        f"{edge}: {LAYER_NAMES[_layer(edge.source)]} -> {LAYER_NAMES[_layer(edge.target)]}"
        for edge in _all_imports()
        if _layer(edge.target) > _layer(edge.source) and not _allowed(edge)
    ]
    assert wrong == [], "imports from a lower layer to a higher one:\n" + "\n".join(wrong)


def test_no_import_cycles():
    cycle = _cycle([edge for edge in _all_imports() if not _allowed(edge)])
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _private_attributes(name: str, path: Path, modules: dict[str, Path]) -> list[str]:
    """``x._name`` in ``path`` where ``x`` is an effmnist module it imported (``import
    effmnist``, ``from . import training``, ``from .plots import style as s``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    bound = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            bound |= {
                a.asname or a.name.split(".")[0]
                for a in node.names
                if a.name.split(".")[0] == "effmnist"
            }
        elif isinstance(node, ast.ImportFrom):
            base = _from(node, _package(name, path))
            bound |= {a.asname or a.name for a in node.names if f"{base}.{a.name}" in modules}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and _private(node.attr):
            base = node.value
            while isinstance(base, ast.Attribute):
                base = base.value
            if isinstance(base, ast.Name) and base.id in bound:
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {ast.unparse(node)}")
    return found


def test_no_module_uses_another_modules_private_names():
    """What one module offers another is public (the figure modules draw with
    ``plots.style``'s ``figure``, ``bare``, ``legible``, not with ``_figure``)."""
    modules = _modules()
    taken = [f"{i} and takes {i.name}" for i in _all_imports() if i.name and _private(i.name)]
    reached = [
        line for name, path in modules.items() for line in _private_attributes(name, path, modules)
    ]
    assert taken + reached == [], "private names used across modules:\n" + "\n".join(
        taken + reached
    )


# --- size and content -------------------------------------------------------------------


def test_at_most_ten_modules_at_the_top_of_the_package():
    top = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert len(top) <= MAX_TOP_LEVEL_MODULES, (
        f"{len(top)} modules at the top of effmnist/ (at most {MAX_TOP_LEVEL_MODULES}): {top}; "
        "put the extras in a subpackage"
    )


def _code(path: Path) -> str:
    """A module's code without its comments and docstrings, a dotted name written without
    spaces (``os._exit``), so that a word found in it is code, not prose."""
    source = path.read_text(encoding="utf-8")
    docstrings = {
        (node.body[0].lineno, node.body[0].col_offset)
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
        and isinstance(node.body[0].value.value, str)
    }
    kept = [
        token.string
        for token in tokenize.generate_tokens(io.StringIO(source).readline)
        if token.type != tokenize.COMMENT
        and not (token.type == tokenize.STRING and token.start in docstrings)
    ]
    return re.sub(r"\s*\.\s*", ".", " ".join(kept))


def _uses(code: str, word: str) -> bool:
    return (
        re.search(rf"(?<![\w.]){re.escape(word)}(?!\w)|\.{re.escape(word)}(?!\w)", code) is not None
    )


def test_the_code_reader_sees_code_and_skips_prose(tmp_path):
    module = tmp_path / "m.py"
    module.write_text('"""os._exit in a docstring"""\n# sys.exit in a comment\nos . _exit(1)\n')
    assert _uses(_code(module), "os._exit") and not _uses(_code(module), "sys.exit")
    module.write_text("import threading as t\nlibc.mallopt(1, 2)\nx = 'EFFMNIST_TRAIN_CACHE'\n")
    code = _code(module)
    assert _uses(code, "threading") and _uses(code, "mallopt")
    assert _uses(code, "EFFMNIST_TRAIN_CACHE") and not _uses(code, "runcache")


def test_the_training_loop_is_only_the_loop():
    path = PACKAGE / "training.py"
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_TRAINING_LINES, f"effmnist/training.py has {lines} lines"
    code = _code(path)
    found = [word for word in NOT_IN_THE_LOOP if _uses(code, word)]
    assert found == [], f"effmnist/training.py uses {found}: keep the loop to the loop"


def test_no_module_tunes_the_allocator_exits_hard_or_reaches_into_dynamo():
    found = [
        f"{name} uses {word}"
        for name, path in _modules().items()
        for word in NOWHERE
        if _uses(_code(path), word)
    ]
    assert found == []


def test_no_module_is_named_like_a_public_function_or_class():
    """``effmnist.train`` is one thing, the function: no ``effmnist/train.py`` (nor a module of
    that name deeper down) to be confused with it, or to shadow it."""
    exported = set(effmnist.__all__)
    clashes = [
        f"{path.relative_to(ROOT)} is named like effmnist.{short}, {getattr(effmnist, short)!r}"
        for name, path in _modules().items()
        if (short := name.rpartition(".")[2]) in exported
    ]
    assert clashes == [], "modules named like what effmnist exports:\n" + "\n".join(clashes)


# --- no data in git ----------------------------------------------------------------------

MAX_TRACKED_BYTES = 1_000_000  # notebooks excepted: their saved outputs are part of the text


def _tracked() -> dict[str, int]:
    """{path: size in bytes} of every file git tracks (the index, so a file staged for the
    next commit counts)."""
    try:
        listing = subprocess.run(
            ["git", "ls-files", "-s", "-z"], cwd=ROOT, capture_output=True, check=True
        ).stdout.decode()
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not in a git checkout")
    entries = [line.split("\t", 1) for line in listing.split("\0") if line]
    blobs = [info.split()[1] for info, _ in entries]
    sizes = subprocess.run(
        ["git", "cat-file", "--batch-check=%(objectsize)"],
        cwd=ROOT,
        input="\n".join(blobs) + "\n",
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return {path: int(size) for (_, path), size in zip(entries, sizes, strict=True)}


def test_no_data_file_is_tracked():
    tracked = _tracked()
    wrong = [
        f"{path} ({size:,} bytes)"
        for path, size in sorted(tracked.items())
        if re.search(r"-ubyte(\.gz)?$", path)
        or path.endswith(".lock")
        or (size > MAX_TRACKED_BYTES and not path.endswith(".ipynb"))
    ]
    assert wrong == [], "tracked data files (MNIST, locks, large files):\n" + "\n".join(wrong)


# --- one home for data and checkpoints ---------------------------------------------------


def test_home_is_the_folder_effmnist_data_names(tmp_path, monkeypatch):
    monkeypatch.setenv("EFFMNIST_DATA", str(tmp_path / "shared"))
    assert home() == tmp_path / "shared"
    assert checkpoints_dir() == tmp_path / "shared" / "checkpoints"


def test_home_in_a_clone_is_its_data_folder(monkeypatch):
    clone = Path(effmnist.__file__).resolve().parents[1]
    if 'name = "effmnist"' not in (clone / "pyproject.toml").read_text(encoding="utf-8"):
        pytest.skip("effmnist is not imported from a clone")
    monkeypatch.delenv("EFFMNIST_DATA", raising=False)
    assert home() == clone / "data"
    assert checkpoints_dir() == clone / "data" / "checkpoints"


def _home_module_at(site: Path):
    """effmnist/data/folders.py copied to ``site``/effmnist/data and loaded from there."""
    folder = site / "effmnist" / "data"
    folder.mkdir(parents=True)
    shutil.copy(PACKAGE / "data" / "folders.py", folder / "folders.py")
    spec = importlib.util.spec_from_file_location("copied_folders", folder / "folders.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("pyproject", [None, 'name = "another"\n'])
def test_home_outside_a_clone_is_the_users_data_folder(pyproject, tmp_path, monkeypatch):
    """A copy of folders.py with no effmnist pyproject.toml two folders up (an installed copy)."""
    import platformdirs

    site = tmp_path / "site"
    site.mkdir()
    if pyproject:
        (site / "pyproject.toml").write_text(f"[project]\n{pyproject}")
    copied = _home_module_at(site)
    monkeypatch.delenv("EFFMNIST_DATA", raising=False)
    monkeypatch.setattr(platformdirs, "user_data_dir", lambda *a, **k: str(tmp_path / "user"))
    assert copied.home() == tmp_path / "user"
    assert copied.checkpoints_dir() == tmp_path / "user" / "checkpoints"
    (site / "pyproject.toml").write_text('[project]\nname = "effmnist"\n')  # now a clone
    assert copied.home() == site / "data"


# --- the wheel ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The wheel, built from a copy of the sources (no build/ or egg-info in the checkout) and
    installed with pip into a folder of its own; returns the wheel (its folder holds site/)."""
    tmp = tmp_path_factory.mktemp("wheel")
    source = tmp / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(PACKAGE, source / "effmnist", ignore=shutil.ignore_patterns("__pycache__"))
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    build = subprocess.run(
        [*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(tmp), str(source)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert build.returncode == 0, build.stderr[-2000:]
    (wheel,) = tmp.glob("effmnist-*.whl")
    install = subprocess.run(
        [*pip, "install", "--no-deps", "--no-index", "--target", str(tmp / "site"), str(wheel)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert install.returncode == 0, install.stderr[-2000:]
    return wheel


def _run_installed(wheel: Path, code: str, *args: str) -> dict:
    """Run ``code`` in this interpreter (torch and the rest from its site-packages) with the
    installed wheel first on the path, from a folder outside the checkout; its JSON output."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("EFFMNIST_", "PYTHON"))}
    env.update(PYTHONPATH=str(wheel.parent / "site"), XDG_DATA_HOME=str(wheel.parent / "xdg"))
    proc = subprocess.run(
        [sys.executable, "-P", "-c", code, *args],
        cwd=wheel.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.splitlines()[-1])


IMPORT_ALL = """
import importlib, json, sys
files = {name: importlib.import_module(name).__file__ for name in sys.argv[1:]}
from importlib.resources import files as package_files
results = package_files("effmnist.experiments") / "results"
print(json.dumps({"files": files, "results": sorted(p.name for p in results.iterdir())}))
"""


@pytest.mark.slow
def test_the_wheel_holds_every_module_and_the_results_and_each_imports(installed):
    names = set(zipfile.ZipFile(installed).namelist())
    sources = {p.relative_to(ROOT).as_posix() for p in PACKAGE.rglob("*.py")}
    assert sources - names == set(), "modules missing from the wheel"
    results = {
        p.relative_to(ROOT).as_posix() for p in (PACKAGE / "experiments").glob("results/*.json")
    }
    assert results and results - names == set(), "results files missing from the wheel"

    modules = sorted(name for name in _modules() if name != "effmnist.__main__")  # runs the CLI
    seen = _run_installed(installed, IMPORT_ALL, *modules)
    site = installed.parent / "site"
    outside = {m: f for m, f in seen["files"].items() if not Path(f).is_relative_to(site)}
    assert outside == {}, "imported from elsewhere than the installed wheel"
    assert seen["results"] == sorted(Path(r).name for r in results)


HOME = """
import json, platformdirs
from effmnist.data import checkpoints_dir, home
print(json.dumps({"home": str(home()), "checkpoints": str(checkpoints_dir()),
                  "user": platformdirs.user_data_dir("effmnist", appauthor=False)}))
"""


@pytest.mark.slow
def test_an_installed_copy_keeps_its_data_in_the_users_data_folder(installed):
    seen = _run_installed(installed, HOME)
    user = installed.parent / "xdg" / "effmnist"  # $XDG_DATA_HOME/effmnist on Linux
    if sys.platform.startswith("linux"):
        assert seen["user"] == str(user)
    assert seen["home"] == seen["user"]
    assert seen["checkpoints"] == str(Path(seen["user"]) / "checkpoints")
