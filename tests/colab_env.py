"""A stand-in for Google Colab, built once per test run, in which the suite runs the notebooks.

Colab opens a notebook on its own, in a folder with nothing else, and its first cell installs
effmnist with pip. This module does the same as far as this machine can: it builds effmnist's
wheel, makes a fresh virtual environment that sees the test environment's packages but not the
editable effmnist of the checkout, and registers a Jupyter kernel of that environment
(``effmnist-colab``) in which a stand-in ``google.colab`` module is imported at start-up. The
notebooks' Colab branches then run for real: the install cell's ``%pip install`` (pointed at
the wheel instead of GitHub, the one substitution) installs effmnist non-editable, results are
read as package data, notebook 06 calls the stand-in ``files.upload()`` and enables the custom
widget manager. Nothing of the checkout is importable there.

Everything lives in the test run's own folder (``$EFFMNIST_TEST_RUN``, see ``conftest.py``);
a file lock makes the pytest-xdist workers build it once.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import sysconfig
from pathlib import Path

from filelock import FileLock

ROOT = Path(__file__).resolve().parents[1]
GITHUB = "git+https://github.com/effmnist/effmnist"
# the install cell's requirement: GitHub at the release tag the outputs were saved with
INSTALLED_FROM = re.compile(re.escape(GITHUB) + r"@v[\w.]+")
KERNEL = "effmnist-colab"

FAKE_COLAB = '''\
"""A stand-in for Google Colab's module: the calls the notebooks make, logged."""

import json
import os
import re


def _log(*call):
    with open(os.environ["FAKE_COLAB_LOG"], "a") as log:
        log.write(json.dumps(call) + "\\n")
'''
FAKE_FILES = '''\
"""google.colab.files: upload() as a learner who pressed Cancel (nothing chosen)."""

from google.colab import _log


def upload():
    _log("files.upload")
    return {}
'''
FAKE_OUTPUT = '''\
"""google.colab.output: the custom widget manager (third-party widgets such as anywidget)."""

from google.colab import _log


def enable_custom_widget_manager():
    _log("output.enable_custom_widget_manager")


class _widgets:  # what anywidget reads on Colab: where Colab's widget manager is served from
    _installed_url = "https://colab.example/custom-widget-manager.js"
'''


def _run(args: list[str], **kwargs) -> subprocess.CompletedProcess:
    done = subprocess.run(args, capture_output=True, text=True, timeout=600, **kwargs)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return done


def colab_paths() -> dict[str, Path]:
    """Where the stand-in's parts are (nothing is built): the wheel, the environment's python,
    the Jupyter folder with the ``effmnist-colab`` kernel, Colab's working folder, where the
    stand-in logs the calls, and where the executed notebooks are kept."""
    from effmnist import __version__

    base = Path(os.environ["EFFMNIST_TEST_RUN"]) / "colab"
    return {
        "base": base,
        "wheel": base / "wheel" / f"effmnist-{__version__}-py3-none-any.whl",
        "python": base / "venv" / ("Scripts" if os.name == "nt" else "bin") / "python",
        "jupyter": base / "jupyter",
        "content": base / "content",  # Colab's working folder; nothing of the repository in it
        "logs": base / "logs",
        "executed": base / "executed",
    }


def colab_environment() -> dict[str, Path]:
    """The stand-in's parts (:func:`colab_paths`), built on first use in this test run."""
    paths = colab_paths()
    base = paths["base"]
    base.mkdir(parents=True, exist_ok=True)
    with FileLock(str(base / "build.lock")):
        if not (base / "ready").exists():
            _build(base, paths)
            (base / "ready").touch()
    assert paths["wheel"].is_file(), f"the wheel is not where expected: {paths['wheel']}"
    return paths


def _build(base: Path, paths: dict[str, Path]) -> None:
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
          "--disable-pip-version-check", "-q", "-w", str(base / "wheel"), str(ROOT)])  # fmt: skip
    _run([sys.executable, "-m", "venv", str(base / "venv")])
    python = paths["python"]
    site = _run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]
    ).stdout.strip()
    # torch, jupyter and the rest from the test environment, without its editable effmnist
    # (a path in a .pth file is added as it is: that folder's own .pth hooks do not run)
    Path(site, "test-environment.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")

    fake = base / "fake"
    (fake / "google" / "colab").mkdir(parents=True)  # `google` stays a namespace package
    (fake / "google" / "colab" / "__init__.py").write_text(FAKE_COLAB)
    (fake / "google" / "colab" / "files.py").write_text(FAKE_FILES)
    (fake / "google" / "colab" / "output.py").write_text(FAKE_OUTPUT)
    startup = base / "ipython" / "profile_default" / "startup"
    startup.mkdir(parents=True)
    (startup / "00-colab.py").write_text(
        f"import sys\nsys.path.insert(0, {str(fake)!r})\nimport google.colab  # noqa\n"
    )
    kernel = paths["jupyter"] / "kernels" / KERNEL
    kernel.mkdir(parents=True)
    (kernel / "kernel.json").write_text(json.dumps({
        "argv": [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (Colab stand-in)", "language": "python",
        "env": {"IPYTHONDIR": str(base / "ipython"), "PIP_DISABLE_PIP_VERSION_CHECK": "1",
                "PYTHONPATH": ""},
    }))  # fmt: skip
    for name in ("content", "logs", "executed"):
        paths[name].mkdir()
    # Before any install cell runs, effmnist must not be importable there at all; the probe's
    # answer is kept for tests/test_colab.py
    probe = subprocess.run(
        [str(python), "-c", "import effmnist"],
        cwd=paths["content"], capture_output=True, text=True, timeout=600,
        env={"PATH": str(python.parent), "SYSTEMROOT": os.environ.get("SYSTEMROOT", "")},
    )  # fmt: skip
    (base / "probe.txt").write_text(f"exit {probe.returncode}\n{probe.stderr}")


def colab_notebook(text: str, wheel: Path) -> str:
    """A notebook's text as it would run on Colab here: installing the wheel, not GitHub."""
    return INSTALLED_FROM.sub(wheel.as_uri(), text)
