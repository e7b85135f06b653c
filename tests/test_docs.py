"""The numbers in the README and docs/ are the committed results', not typed copies of them."""

import re
from pathlib import Path

import pytest

from effmnist.experiments import ablate, analysis

ROOT = Path(__file__).resolve().parents[1]


def _block(path: Path, name: str) -> str:
    text = path.read_text(encoding="utf-8")
    match = re.search(rf"<!-- {name}:[^>]*-->\n(.*?)\n<!-- /{name} -->", text, re.S)
    assert match, f"{path.name} has no <!-- {name}: ... --> block"
    return match.group(1)


@pytest.mark.parametrize("path", [ROOT / "README.md", ROOT / "docs" / "results.md"], ids=str)
def test_the_recipes_table_is_rendered_from_the_final_step(path):
    from effmnist.experiments import final

    expected = final.final_table(ablate.shipped_results("final"))
    assert _block(path, "recipes-table") == expected, f"paste into {path.name}:\n{expected}"


@pytest.mark.parametrize("name", ["verdicts-table", "search-table", "finalists-table"])
def test_the_verdict_tables_are_rendered_from_the_shipped_results(name):
    source = {"verdicts-table": "ablations", "search-table": "search"}.get(name, "finalists")
    try:
        results = ablate.shipped_results(source)
    except FileNotFoundError:
        pytest.skip(f"no committed {source} results yet")
    expected = "```\n" + analysis.format_verdicts(results) + "\n```"
    path = ROOT / "docs" / "results.md"
    assert _block(path, name) == expected, f"paste into {path.name}:\n{expected}"


@pytest.mark.parametrize(
    ("name", "source"), [("bench-report", "bench"), ("whole-report", "bench_whole")]
)
def test_the_speed_reports_are_rendered_from_the_shipped_results(name, source):
    from effmnist.experiments import bench

    try:
        results = ablate.shipped_results(source)
    except FileNotFoundError:
        pytest.skip(f"no committed {source} results yet")
    render = bench.format_report if name == "bench-report" else bench.format_whole
    expected = "```\n" + render(results) + "\n```"
    path = ROOT / "docs" / "speed.md"
    assert _block(path, name) == expected, f"paste into {path.name}:\n{expected}"


def test_the_best_recipe_falls_short_of_the_aim_as_results_md_says():
    text = " ".join((ROOT / "docs" / "results.md").read_text(encoding="utf-8").split())
    assert "The best recipe lands short of it" in text
    rows = [r for r in ablate.shipped_results("final")["rows"] if r["variant"] == "best"]
    tests = [r["test_accuracy"] for r in rows]
    assert len(tests) == 10 and sum(tests) / len(tests) < 0.993


def test_only_the_final_step_carries_test_accuracies_on_fresh_seeds():
    final = ablate.shipped_results("final")
    used = set()
    for name in ("ablations", "finalists", "search"):
        results = ablate.shipped_results(name)
        assert not any("test_accuracy" in r for r in results["rows"]), name
        used |= set(results["provenance"]["seeds"])
    assert all("test_accuracy" in r for r in final["rows"])
    assert not used & {r["seed"] for r in final["rows"]}


def test_the_step_anatomy_in_speed_md_is_the_committed_one():
    from effmnist.experiments.bench import format_anatomy

    expected = "```\n" + format_anatomy(ablate.shipped_results("bench")["anatomy"]) + "\n```"
    assert _block(ROOT / "docs" / "speed.md", "step-anatomy") == expected


def test_what_speed_md_reads_from_the_step_table_holds_for_the_committed_one():
    text = " ".join((ROOT / "docs" / "speed.md").read_text(encoding="utf-8").split())
    bench = ablate.shipped_results("bench")
    anatomy, peak = bench["anatomy"], bench["anatomy"]["peak_gflops"]
    rows = {r["name"]: r for r in anatomy["layers"]}
    convs = [r for r in anatomy["layers"] if r["layer"] == "Conv2d"]

    def ms(row):
        return row["forward_ms"] + row["backward_ms"]

    def rate(row):
        return row["flops"] / ms(row) / 1e6

    first, *others = convs
    assert "above the 166 GFLOP/s" in text and peak > 166
    assert "about a third of that peak" in text
    assert 0.27 < bench["pipelines"]["fast"]["gflops"] / peak < 0.4
    assert "run at over 70% of the peak" in text and all(rate(r) > 0.7 * peak for r in others)
    assert "a quarter to a third of their rate" in text
    assert 0.22 < rate(first) / min(rate(r) for r in others) < 0.36
    assert "only 4% of the FLOPs" in text
    assert round(100 * first["flops"] / anatomy["step_flops"]) == 4
    assert "together take about as long as the three convolutions" in text
    rest = sum(ms(r) for r in rows.values() if r["layer"] != "Conv2d")
    rest += sum(anatomy["other_ms"].values())
    assert 0.8 < rest / sum(ms(r) for r in convs) < 1.3


def test_the_whole_command_misses_the_old_aim_in_the_committed_run_as_speed_md_says():
    text = " ".join((ROOT / "docs" / "speed.md").read_text(encoding="utf-8").split())
    whole = ablate.shipped_results("bench_whole")
    path = "effmnist/experiments/results/bench_whole.json"
    assert f"--repeats {whole['repeats']} --json {path}" in text
    assert "the whole command now misses the old aim of 0.45" in text
    assert whole["ratio"] > 0.45


def test_the_notebooks_table_gives_each_tutorials_measured_run_all_time():
    """Each tutorial's row has its "Run all" time, and the caption says how and where it was
    measured (`scripts/time_notebooks.py --write` fills both in)."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    caption = re.search(r"<!-- run-all-times -->\n(.*?)\n<!-- /run-all-times -->", readme, re.S)
    assert caption and "scripts/time_notebooks.py" in caption[1], "how the times were measured"
    assert re.search(r"\d+-core .+, PyTorch \d", caption[1]), "on which CPU, with which PyTorch"
    tutorials = sorted(p.stem for p in (ROOT / "notebooks").glob("0*.ipynb"))
    for stem in tutorials:
        row = re.search(rf"^\| \[[^]]*\]\(notebooks/{stem}\.ipynb\) \| ([^|]*) \|", readme, re.M)
        assert row and re.fullmatch(r"\d+ s", row[1]), f"{stem}: {row and row[1]!r}"
