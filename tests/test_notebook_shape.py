"""The shape of each tutorial, as a learner meets it.

- at most ~45 cells, opening with its learning objectives and the meaning of ``~``, closing with
  what we learned, exercises, a questionnaire and further reading;
- at most 5 ``assert`` lines, in "check yourself" cells (the series' own claims are tested in
  `tests/notebook_claims`);
- prose in Markdown cells: at most 3 code cells in the six tutorials build Markdown;
- no words that only the project's maintainers would understand.
"""

import json
import re
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("0*.ipynb"))
MAX_CELLS, MAX_ASSERTS, MAX_MARKDOWN_BUILDERS = 45, 5, 3
BUILDS_MARKDOWN = re.compile(r"\bMarkdown\(|display_markdown\(")
# words of the project's workflow, not of the subject
INTERNAL = re.compile(r"\bcommitted\b|git_commit|all claims hold|\bthe suite\b|\bnbval\b", re.I)


def _cells(path: Path) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


def _source(cell: dict) -> str:
    return "".join(cell["source"])


def _asserts(cell: dict) -> int:
    return len(re.findall(r"(?m)^\s*assert\b", _source(cell)))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem[:2])
def test_a_tutorial_is_short_and_checks_little_in_sight(path):
    cells = _cells(path)
    assert len(cells) <= MAX_CELLS, f"{path.name}: {len(cells)} cells (at most {MAX_CELLS})"
    code = [c for c in cells if c["cell_type"] == "code"]
    checks = [(i, _asserts(c)) for i, c in enumerate(cells) if c in code and _asserts(c)]
    assert sum(n for _, n in checks) <= MAX_ASSERTS, f"{path.name}: asserts in cells {checks}"
    for i, _ in checks:  # a check is introduced as one for the reader
        before = _source(cells[i - 1]).lower() + _source(cells[i]).lower()
        assert "check" in before, f"{path.name}: cell {i} asserts without saying it is a check"


def test_the_tutorials_keep_their_prose_in_markdown_cells():
    builders = [
        f"{path.stem[:2]} cell {i}"
        for path in NOTEBOOKS
        for i, cell in enumerate(_cells(path))
        if cell["cell_type"] == "code" and BUILDS_MARKDOWN.search(_source(cell))
    ]
    assert len(builders) <= MAX_MARKDOWN_BUILDERS, builders


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem[:2])
def test_a_tutorial_opens_and_closes_like_the_others(path):
    markdown = [_source(c) for c in _cells(path) if c["cell_type"] == "markdown"]
    opening = "\n".join(markdown[:3])
    assert "Learning objectives" in opening, path.name
    assert re.search(r"`~`.*measured", opening), f"{path.name}: the opening explains `~`"
    assert "see the README" not in opening, f"{path.name}: explains `~` itself"
    headings = re.findall(r"(?m)^## (.+)$", "\n".join(markdown))
    assert headings[-4:] == ["What we learned", "Exercises", "Questionnaire", "Further reading"]


@pytest.mark.parametrize("path", sorted(NOTEBOOKS[0].parent.rglob("*.ipynb")), ids=lambda p: p.stem)
def test_no_project_internal_words(path):
    found = [
        (i, m.group(0))
        for i, cell in enumerate(_cells(path))
        for m in INTERNAL.finditer(_source(cell))
    ]
    assert not found, f"{path.name}: {found}"
