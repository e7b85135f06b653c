"""The tutorial notebooks as Google Colab runs them: outside the repository, from an install.

Colab opens a notebook on its own, in a folder with nothing else, and its first cell installs
effmnist with pip. This test does the same as far as this machine can: it builds effmnist's
wheel, makes a fresh virtual environment that sees the test environment's packages but not the
editable effmnist of the checkout, copies each tutorial notebook to a folder outside the
repository, and executes it in a kernel of that environment where a stand-in ``google.colab``
module is imported at start-up. The notebook's Colab branch then runs for real: its ``%pip
install`` (pointed at the wheel instead of GitHub, the one substitution) installs effmnist
non-editable, results are read as package data, notebook 06 uploads through the stand-in
``files.upload()`` and enables the custom widget manager. Nothing of the checkout is importable
there, so a notebook that reads ``../results`` or imports something the wheel lacks fails here.
"""

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TUTORIALS = sorted((ROOT / "notebooks").glob("0*.ipynb"))
GITHUB = "git+https://github.com/effmnist/effmnist"

FAKE_COLAB = '''\
"""A stand-in for Google Colab's module: the calls the notebooks make, logged."""

import json
import os


def _log(*call):
    with open(os.environ["FAKE_COLAB_LOG"], "a") as log:
        log.write(json.dumps(call) + "\\n")
'''
FAKE_FILES = '''\
"""google.colab.files: upload() returns one drawn digit, as if a learner picked a photo."""

import io

from google.colab import _log


def upload():
    from effmnist.digits.synthetic import draw_digit

    buffer = io.BytesIO()
    draw_digit(7).save(buffer, format="PNG")
    _log("files.upload")
    return {"my_seven.png": buffer.getvalue()}
'''
FAKE_OUTPUT = '''\
"""google.colab.output: the custom widget manager (third-party widgets such as anywidget)."""

from google.colab import _log


def enable_custom_widget_manager():
    _log("output.enable_custom_widget_manager")


class _widgets:  # what anywidget reads on Colab: where Colab's widget manager is served from
    _installed_url = "https://colab.example/custom-widget-manager.js"
'''


@pytest.fixture(scope="module")
def colab(tmp_path_factory, mnist_root):
    """A wheel, a fresh environment without effmnist, a fake google.colab, a notebook folder."""
    base = tmp_path_factory.mktemp("colab")
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
         "--disable-pip-version-check", "-q", "-w", str(base / "wheel"), str(ROOT)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert build.returncode == 0, build.stderr[-2000:]
    (wheel,) = (base / "wheel").glob("effmnist-*.whl")

    env_dir = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(env_dir)], check=True, timeout=300)
    python = env_dir / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
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
    kernel = base / "jupyter" / "kernels" / "python3"
    kernel.mkdir(parents=True)
    (kernel / "kernel.json").write_text(json.dumps({
        "argv": [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (Colab stand-in)", "language": "python",
    }))  # fmt: skip
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("PYTHONPATH", "VIRTUAL_ENV", "JUPYTER_PATH", "IPYTHONDIR")
    }
    env |= {
        "IPYTHONDIR": str(base / "ipython"),
        "JUPYTER_PATH": str(base / "jupyter"),
        "EFFMNIST_DATA": str(Path(mnist_root).resolve()),
        "FAKE_COLAB_LOG": str(base / "colab.log"),
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
    }
    folder = base / "content"  # Colab's working folder; nothing of the repository in it
    folder.mkdir()
    return {
        "python": python,
        "wheel": wheel,
        "env": env,
        "folder": folder,
        "log": base / "colab.log",
    }


@pytest.mark.slow
def test_the_checkout_is_not_importable_from_the_colab_folder(colab):
    """The set-up this test relies on: before the install cell, there is no effmnist at all."""
    probe = subprocess.run(
        [str(colab["python"]), "-c", "import effmnist"],
        cwd=colab["folder"], env=colab["env"], capture_output=True, text=True,
    )  # fmt: skip
    assert probe.returncode != 0 and "No module named 'effmnist'" in probe.stderr
    assert shutil.which("python", path=str(colab["python"].parent))


@pytest.mark.slow
@pytest.mark.parametrize("path", TUTORIALS, ids=lambda p: p.name)
def test_tutorial_runs_on_colab_from_the_installed_package(colab, path):
    text = path.read_text(encoding="utf-8")
    assert text.count(GITHUB) == 1, "the notebook's Colab cell installs effmnist from GitHub"
    notebook = colab["folder"] / path.name
    notebook.write_text(text.replace(GITHUB, colab["wheel"].as_uri()), encoding="utf-8")
    colab["log"].unlink(missing_ok=True)
    run = subprocess.run(
        [str(colab["python"]), "-m", "nbconvert", "--to", "notebook", "--execute",
         "--ExecutePreprocessor.timeout=900", "--ExecutePreprocessor.kernel_name=python3",
         "--output", f"executed-{path.name}", path.name],
        cwd=colab["folder"], env=colab["env"], capture_output=True, text=True, timeout=1200,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-4000:]
    where = subprocess.run(
        [str(colab["python"]), "-c", "import effmnist; print(effmnist.__file__)"],
        cwd=colab["folder"], env=colab["env"], capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert "site-packages" in where and str(ROOT) not in where  # the wheel, not the checkout
    calls = colab["log"].read_text().splitlines() if colab["log"].exists() else []
    if path.name.startswith("06"):
        assert '["files.upload"]' in calls and '["output.enable_custom_widget_manager"]' in calls
