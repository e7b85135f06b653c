"""The Colab stand-in that the suite runs every notebook in (see `colab_env.py` and
``conftest.py``): checks of the stand-in itself, so that a notebook passing there means what it
should."""

from pathlib import Path

import pytest
from colab_env import GITHUB, INSTALLED_FROM, colab_environment

ROOT = Path(__file__).resolve().parents[1]
TUTORIALS = sorted((ROOT / "notebooks").glob("0*.ipynb"))


NOTEBOOKS = TUTORIALS + sorted((ROOT / "notebooks" / "solutions").glob("0*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_each_notebook_installs_the_release_it_was_saved_with_on_colab_and_only_there(path):
    from effmnist import __version__

    text = path.read_text(encoding="utf-8")
    assert text.count(GITHUB) == 1, "the notebook's Colab cell installs effmnist from GitHub"
    assert INSTALLED_FROM.findall(text) == [f"{GITHUB}@v{__version__}"], "pin the release"
    assert 'if \\"google.colab\\" in sys.modules:' in text


def test_the_release_is_named_the_same_in_the_changelog_and_the_citation():
    """A workshop pins ``v<version>``: the changelog's newest entry and CITATION.cff name it too."""
    import re

    from effmnist import __version__

    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert re.findall(r"^## \[([\d.]+)\]", changelog, re.M)[0] == __version__
    citation = (ROOT / "CITATION.cff").read_text(encoding="utf-8")
    assert re.search(r"^version: (.+)$", citation, re.M)[1] == __version__


@pytest.mark.slow
def test_the_checkout_is_not_importable_in_the_stand_in_before_the_install_cell():
    """Before the install cell there is no effmnist at all in the stand-in's environment (probed
    when it is built), so a notebook that passes there imported the wheel it installed."""
    probe = (colab_environment()["base"] / "probe.txt").read_text()
    assert probe.startswith("exit 1") and "No module named 'effmnist'" in probe, probe
