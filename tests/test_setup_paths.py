"""The set-up paths learners use: conda's environment file and pip's pyproject agree, both ways,
and constraints.txt pins every package they declare. (That the wheel holds every subpackage and
the results files: tests/test_layout.py.)"""

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]
CONDA_TO_PIP = {"pytorch": "torch"}  # conda-forge's name for a package -> its name on PyPI
CONDA_ONLY = {"python", "pip"}


def _environment() -> dict:
    return yaml.safe_load((ROOT / "environment.yml").read_text())


def _pip_section(env: dict) -> list[str]:
    sections = [d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d]
    assert len(sections) == 1, "environment.yml has one pip: section"
    return sections[0]


def _conda_bounds(env: dict) -> dict[str, str]:
    """{pip name: lower bound} from specs like ``pytorch>=2.4=cpu*`` (name, version, build)."""
    bounds = {}
    for spec in env["dependencies"]:
        if isinstance(spec, dict):
            continue
        match = re.fullmatch(r"([A-Za-z0-9_.-]+)\s*(?:>=\s*([^=\s,]+))?(?:=\S+)?", spec)
        assert match, f"environment.yml: cannot read the spec {spec!r}"
        name = match.group(1).lower()
        if name not in CONDA_ONLY:
            bounds[CONDA_TO_PIP.get(name, name)] = match.group(2)
    return bounds


def _pyproject_bounds() -> dict[str, str]:
    import tomllib  # Python >= 3.11; the package itself supports 3.10

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    bounds = {}
    for text in project["dependencies"] + project["optional-dependencies"]["dev"]:
        req = Requirement(text)
        lower = [s.version for s in req.specifier if s.operator == ">="]
        bounds[req.name.lower()] = lower[0] if lower else None
    return bounds


@pytest.mark.skipif(sys.version_info < (3, 11), reason="tomllib is new in Python 3.11")
def test_environment_file_declares_what_pyproject_declares_with_the_same_lower_bounds():
    conda, pip = _conda_bounds(_environment()), _pyproject_bounds()
    assert conda == pip  # same names, same lower bounds, both ways


def test_the_pip_section_is_a_valid_requirements_file_for_pip(tmp_path):
    """conda writes the pip: lines to a requirements file beside environment.yml and runs
    ``pip install -r`` on it from that folder; pip's own parser and resolver check it here."""
    lines = _pip_section(_environment())
    requirements = ROOT / ".conda-pip-check.requirements.txt"  # beside the file, as conda does
    requirements.write_text("\n".join(lines) + "\n")
    try:
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "--dry-run",
                "--no-deps",
                "--no-index",
                "--no-build-isolation",
                "--disable-pip-version-check",
                "--report",
                str(tmp_path / "report.json"),
                "-r",
                requirements.name,
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=300,
        )
    finally:
        requirements.unlink()
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = (tmp_path / "report.json").read_text()
    assert '"name": "effmnist"' in report  # it would install effmnist itself


@pytest.mark.skipif(sys.version_info < (3, 11), reason="tomllib is new in Python 3.11")
def test_constraints_pin_every_declared_package_within_its_range():
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            req = Requirement(line)
            pins[req.name.lower()] = next(iter(req.specifier)).version
    for text in project["dependencies"] + project["optional-dependencies"]["dev"]:
        req = Requirement(text)
        assert req.name.lower() in pins, f"constraints.txt does not pin {req.name}"
        assert req.specifier.contains(pins[req.name.lower()]), f"{req.name} pin outside {req}"


@pytest.mark.skipif(sys.version_info < (3, 11), reason="tomllib is new in Python 3.11")
def test_pillow_lower_bound_covers_what_the_code_calls():
    """`ImageFont.load_default(size=...)` (effmnist.digits.synthetic) is new in Pillow 10.1: a lower
    bound below it would install a Pillow on which notebook 06 fails."""
    import tomllib

    assert "load_default(size=" in (ROOT / "effmnist" / "digits" / "synthetic.py").read_text()
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    (pillow,) = [Requirement(d) for d in project["dependencies"] if d.startswith("pillow")]
    lowest = min(s.version for s in pillow.specifier if s.operator == ">=")
    from packaging.version import Version

    assert Version(lowest) >= Version("10.1")
