"""The numbers in the README and docs/ are the committed results', not typed copies of them."""

import re
from pathlib import Path

import pytest

from effmnist import ablate, analysis

ROOT = Path(__file__).resolve().parents[1]


def _block(path: Path, name: str) -> str:
    text = path.read_text(encoding="utf-8")
    match = re.search(rf"<!-- {name}:[^>]*-->\n(.*?)\n<!-- /{name} -->", text, re.S)
    assert match, f"{path.name} has no <!-- {name}: ... --> block"
    return match.group(1)


@pytest.mark.parametrize("path", [ROOT / "README.md", ROOT / "docs" / "results.md"], ids=str)
def test_the_recipes_table_is_rendered_from_the_committed_results(path):
    expected = analysis.recipes_table(ablate.committed_results("ablations"))
    assert _block(path, "recipes-table") == expected, f"paste into {path.name}:\n{expected}"


@pytest.mark.parametrize("name", ["verdicts-table", "search-table", "finalists-table"])
def test_the_verdict_tables_are_rendered_from_the_committed_results(name):
    source = {"verdicts-table": "ablations", "search-table": "search"}.get(name, "finalists")
    try:
        results = ablate.committed_results(source)
    except FileNotFoundError:
        pytest.skip(f"no committed {source} results yet")
    expected = "```\n" + analysis.format_verdicts(results) + "\n```"
    path = ROOT / "docs" / "results.md"
    assert _block(path, name) == expected, f"paste into {path.name}:\n{expected}"


@pytest.mark.parametrize(
    ("name", "source"), [("bench-report", "bench"), ("whole-report", "bench_whole")]
)
def test_the_speed_reports_are_rendered_from_the_committed_results(name, source):
    from effmnist import bench

    try:
        results = ablate.committed_results(source)
    except FileNotFoundError:
        pytest.skip(f"no committed {source} results yet")
    render = bench.format_report if name == "bench-report" else bench.format_whole
    expected = "```\n" + render(results) + "\n```"
    path = ROOT / "docs" / "speed.md"
    assert _block(path, name) == expected, f"paste into {path.name}:\n{expected}"


def test_the_best_recipe_falls_short_of_the_aim_as_results_md_says():
    text = (ROOT / "docs" / "results.md").read_text(encoding="utf-8")
    assert "The best recipe lands short of\nit on both sets of seeds" in text
    rows = [r for r in ablate.committed_results("ablations")["rows"] if r["variant"] == "best"]
    for seeds in (range(0, 5), range(5, 10)):
        tests = [r["test_accuracy"] for r in rows if r["seed"] in seeds]
        assert tests and sum(tests) / len(tests) < 0.993


def test_the_profile_in_speed_md_is_the_committed_one():
    expected = "```\n" + ablate.committed_results("bench")["profile"].rstrip() + "\n```"
    assert _block(ROOT / "docs" / "speed.md", "bench-profile") == expected
