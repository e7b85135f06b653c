"""pytest set-up: nbval's sanitizing rules, and which tests are slow.

`notebooks/sanitize.cfg` lists the regexes that mask what differs between machines and runs
(seconds, progress-bar rates, memory addresses, paths); the notebooks assert their own
numerical claims, so masked numbers are still checked.

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

import os
import shutil
import tempfile
from pathlib import Path

import pytest

SANITIZE = Path(__file__).parent / "notebooks" / "sanitize.cfg"


def pytest_configure(config):
    # One thread for every training the suite runs, here and in the notebook kernels (which
    # inherit the environment): a network's last decimals depend on the thread count, and
    # the notebooks' saved outputs and their measured wording were made with one thread.
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    if not os.environ.get("EFFMNIST_TEST_RUN"):  # the controller; its workers inherit all three
        run = Path(tempfile.mkdtemp(prefix="effmnist-test-run-"))
        config._effmnist_run = os.environ["EFFMNIST_TEST_RUN"] = str(run)
        _copy_mnist(run / "home")
        os.environ["EFFMNIST_DATA"] = str(run / "home")
        os.environ["EFFMNIST_TRAIN_CACHE"] = str(run / "trainings")
    opt = config.option
    if hasattr(opt, "nbval_sanitize_with") and not opt.nbval_sanitize_with:
        opt.nbval_sanitize_with = str(SANITIZE)
    if hasattr(opt, "nbval_current_env"):
        # run notebooks in this interpreter, whatever kernels are installed
        opt.nbval_current_env = True


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
LONGEST_FIRST = ("tests/test_colab.py", "notebooks/solutions/", "notebooks/", "tests/test_browser")


def _run_order(item) -> int:
    path = item.path.relative_to(item.config.rootpath).as_posix()
    return next((i for i, p in enumerate(LONGEST_FIRST) if path.startswith(p)), len(LONGEST_FIRST))


def pytest_collection_modifyitems(config, items):
    items.sort(key=_run_order)  # stable: each file's tests keep their order
    for item in items:
        notebook_cell = type(item).__module__.startswith("nbval")
        if notebook_cell or "reference" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.slow)
