"""pytest set-up: nbval's sanitizing rules, and which tests are slow.

`notebooks/sanitize.cfg` lists the regexes that mask what differs between machines and runs
(seconds, progress-bar rates, memory addresses, paths); the notebooks assert their own
numerical claims, so masked numbers are still checked.

Slow tests (marker `slow`, deselect with `-m "not slow"`): every notebook cell nbval runs, every
test that uses the fully trained `reference` model, and the tests marked by hand (whole trainings,
notebooks run as Colab would, the browser).

Each (recipe, seed) is trained once per run: the run sets ``EFFMNIST_TRAIN_CACHE`` to a fresh
folder (see `effmnist/runcache.py`), which the notebook kernels, the command line and the
pytest-xdist workers inherit, and removes it at the end. Tests of training itself opt out with
the `fresh_training` fixture.
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
    if not os.environ.get("EFFMNIST_TRAIN_CACHE"):  # workers inherit the controller's
        folder = tempfile.mkdtemp(prefix="effmnist-runs-")
        os.environ["EFFMNIST_TRAIN_CACHE"] = config._effmnist_own_cache = folder
    opt = config.option
    if hasattr(opt, "nbval_sanitize_with") and not opt.nbval_sanitize_with:
        opt.nbval_sanitize_with = str(SANITIZE)
    if hasattr(opt, "nbval_current_env"):
        # run notebooks in this interpreter, whatever kernels are installed
        opt.nbval_current_env = True


def pytest_unconfigure(config):
    folder = getattr(config, "_effmnist_own_cache", None)
    if folder:
        shutil.rmtree(folder, ignore_errors=True)


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
