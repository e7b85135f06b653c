"""pytest set-up: the notebooks as Colab runs them, nbval's sanitizing rules, and which tests are slow.

Every notebook (tutorials and solutions) runs once per test run, as Colab would run it: copied
to a folder outside the repository and executed by nbval in a kernel that has effmnist installed
from its wheel and a stand-in ``google.colab`` (`tests/colab_env.py`). nbval compares each
cell's output with the saved one, except the two that differ on Colab by design: the install
cell (pip's own output) and notebook 06's upload cell (Colab's dialog instead of a widget). The
executed copies are kept in the run's folder (``$EFFMNIST_TEST_RUN/colab/executed``), and
after each tutorial's cells come its claims (`tests/notebook_claims`), checked on what this
run printed.

`notebooks/sanitize.cfg` lists the regexes that mask what differs between machines and runs
(seconds, progress-bar rates, memory addresses, paths); the claims check the masked numbers.

Slow tests (marker `slow`, deselect with `-m "not slow"`): every notebook cell nbval runs, every
test that uses the fully trained `reference` model, and the tests marked by hand (whole trainings,
notebooks run as Colab would, the browser).

Each test run has a home of its own: ``EFFMNIST_DATA`` points at a fresh folder for MNIST and
checkpoints (MNIST copied in from the folder you use, or prepared there), so no checkpoint left
from an earlier run can satisfy a test. And each (recipe, seed) is trained once per run: the run
sets ``EFFMNIST_TRAIN_CACHE`` to a fresh folder (see `effmnist/experiments/runcache.py`). The
notebook kernels, the command line and the pytest-xdist workers inherit both; both folders are
removed at the end. Tests of training itself call `effmnist.training.train`, which never reuses.
"""

import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "tests"))  # tests/colab_env.py

SANITIZE = Path(__file__).parent / "notebooks" / "sanitize.cfg"


def pytest_configure(config):
    # One thread for every training the suite runs, here and in the notebook kernels (which
    # inherit the environment): a network's last decimals depend on the thread count, and
    # the notebooks' saved outputs and their measured wording were made with one thread.
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    if not os.environ.get("EFFMNIST_TEST_RUN"):  # the controller; its workers inherit all three
        run = Path(tempfile.mkdtemp(prefix="effmnist-test-run-"))
        config._effmnist_run = os.environ["EFFMNIST_TEST_RUN"] = str(run)
        # before effmnist is first imported (by _copy_mnist): effmnist.train is wrapped then
        os.environ["EFFMNIST_TRAIN_CACHE"] = str(run / "trainings")
        _copy_mnist(run / "home")  # from the home effmnist would use without the suite
        os.environ["EFFMNIST_DATA"] = str(run / "home")
    opt = config.option
    if hasattr(opt, "nbval_sanitize_with") and not opt.nbval_sanitize_with:
        opt.nbval_sanitize_with = str(SANITIZE)


def pytest_collect_file(file_path, parent):
    """Each notebook in notebooks/ (not Jupyter's checkpoints): its cells, run the Colab way."""
    notebooks = Path(__file__).parent / "notebooks"
    if (
        file_path.suffix == ".ipynb"
        and notebooks in file_path.parents
        and ".ipynb_checkpoints" not in file_path.parts
    ):
        return ColabNotebook.from_parent(parent, path=file_path)
    return None


try:
    from nbval.kernel import RunningKernel
    from nbval.plugin import IPyNbFile
except ImportError:  # nbval is in the dev extra
    IPyNbFile = pytest.File


class ColabNotebook(IPyNbFile):
    """nbval's notebook, executed in the Colab stand-in from a copy outside the repository."""

    DIFFERS_ON_COLAB = ("%pip install", "files.upload()")  # cells whose output differs there

    def collect(self):
        from colab_env import INSTALLED_FROM, colab_paths

        self.colab = colab_paths()
        self.cells = []
        for item in super().collect():
            item.cell.source = INSTALLED_FROM.sub(self.colab["wheel"].as_uri(), item.cell.source)
            if any(marker in item.cell.source for marker in self.DIFFERS_ON_COLAB):
                item.options["check"] = False
            self.cells.append(item)
            yield item
        if self.path.name.startswith("06_classify_your_own_digit."):
            calls = ColabCalls.from_parent(self, name="Colab calls")
            calls.add_marker(pytest.mark.slow)
            yield calls
        from notebook_claims import claims

        for claim in claims(self.path):  # after the cells: checked on what this run printed
            item = NotebookClaim.from_parent(self, name=claim.__name__, claim=claim)
            item.add_marker(pytest.mark.slow)
            yield item

    def executed(self) -> dict:
        """The notebook with this run's outputs (as far as it got)."""
        executed = json.loads(self.path.read_text(encoding="utf-8"))
        code = [c for c in executed["cells"] if c["cell_type"] == "code"]
        for cell, item in zip(code, self.cells, strict=True):
            cell["outputs"] = item.test_outputs or []
        return executed

    def setup(self):
        from colab_env import KERNEL, colab_environment, colab_notebook

        self.colab = colab_environment()
        relative = self.path.relative_to(Path(__file__).parent / "notebooks")
        folder = self.colab["content"] / relative.parent
        folder.mkdir(parents=True, exist_ok=True)
        text = self.path.read_text(encoding="utf-8")
        (folder / self.path.name).write_text(colab_notebook(text, self.colab["wheel"]), "utf-8")
        os.environ["JUPYTER_PATH"] = str(self.colab["jupyter"])
        os.environ["FAKE_COLAB_LOG"] = str(self.colab["logs"] / f"{self.path.stem}.log")
        timeout = self.config.option.nbval_kernel_startup_timeout
        self.kernel = RunningKernel(KERNEL, cwd=str(folder), startup_timeout=timeout)
        self.setup_sanitize_files()

    def teardown(self):
        """Stop the kernel; keep the executed copy, with this run's outputs, for later tests."""
        super().teardown()
        executed = self.executed()
        relative = self.path.relative_to(Path(__file__).parent / "notebooks")
        target = self.colab["executed"] / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(executed, indent=1), encoding="utf-8")


class NotebookClaim(pytest.Item):
    """One claim of `tests/notebook_claims`, checked on the outputs this run's kernel printed."""

    def __init__(self, *, claim, **kwargs):
        super().__init__(**kwargs)
        self.claim = claim

    def runtest(self):
        self.claim(self.parent.executed())

    def reportinfo(self):
        return self.path, None, f"{self.path.name}: {self.name}"


class ColabCalls(pytest.Item):
    """Notebook 06 on Colab asked for an upload and enabled Colab's widget manager."""

    def runtest(self):
        log = Path(os.environ["FAKE_COLAB_LOG"])
        calls = log.read_text().splitlines() if log.exists() else []
        assert '["files.upload"]' in calls, calls
        assert '["output.enable_custom_widget_manager"]' in calls, calls

    def reportinfo(self):
        return self.path, None, "notebook 06's calls to google.colab"


def _copy_mnist(home: Path) -> None:
    """MNIST's four files, copied from the folder effmnist would use outside the suite, when
    they are there (prepare_mnist verifies them all the same); else the suite prepares them."""
    from effmnist.data import home as usual_home

    source = usual_home() / "MNIST" / "raw"
    target = home / "MNIST" / "raw"
    target.mkdir(parents=True)
    for name in RAW_FILES:
        if (source / name).is_file():
            shutil.copyfile(source / name, target / name)


RAW_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)


def pytest_unconfigure(config):
    run = getattr(config, "_effmnist_run", None)
    if run:
        shutil.rmtree(run, ignore_errors=True)


# pytest-xdist hands out whole files in collection order (`--dist loadfile
# --no-loadscope-reorder` in pyproject): the longest first, so that no worker is left with a
# long file at the end while the others idle (longest-processing-time-first scheduling).
LONGEST_FIRST = ("notebooks/solutions/", "notebooks/", "tests/test_browser")


def _run_order(item) -> int:
    path = item.path.relative_to(item.config.rootpath).as_posix()
    return next((i for i, p in enumerate(LONGEST_FIRST) if path.startswith(p)), len(LONGEST_FIRST))


def pytest_collection_modifyitems(config, items):
    items.sort(key=_run_order)  # stable: each file's tests keep their order
    for item in items:
        notebook_cell = type(item).__module__.startswith("nbval")
        if notebook_cell or "reference" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.slow)
