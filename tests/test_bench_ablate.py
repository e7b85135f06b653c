import math
import statistics
from pathlib import Path

import pytest

from effmnist import ablate
from effmnist.bench import format_report, training_flops_per_image
from effmnist.model import EfficientMNIST, ModelConfig, count_parameters
from effmnist.recipe import get_recipe

RESULTS = Path(__file__).resolve().parents[1] / "results" / "ablations.json"


def test_measured_training_flops_match_the_arithmetic():
    macs = {
        "conv1": 28 * 28 * 16 * 9,
        "conv2": 14 * 14 * 32 * 16 * 9,
        "conv3": 7 * 7 * 64 * 32 * 9,
        "fc": 640,
    }
    forward = 2 * sum(macs.values())
    # backward: weight gradients everywhere, input gradients everywhere except the first conv (the image)
    backward = 2 * sum(macs.values()) + 2 * (sum(macs.values()) - macs["conv1"])
    assert training_flops_per_image(ModelConfig()) == forward + backward


def test_format_report_shows_the_ratio_and_gflops():
    report = {
        "flops_per_image": 11.3e6,
        "images": 54_000,
        "repeats": 3,
        "torch": "x",
        "threads": 2,
        "cpu": "cpu",
        "pipelines": {
            "conventional": {"median_seconds": 20.0, "images_per_second": 2700.0, "gflops": 30.5},
            "fast": {"median_seconds": 6.0, "images_per_second": 9000.0, "gflops": 101.7},
        },
        "ratio": 0.3,
    }
    text = format_report(report)
    assert "ratio fast/conventional: 0.30" in text and "101.7" in text


def test_every_ablation_changes_exactly_what_it_names():
    reference = ablate.variant_recipe("head", "gap (reference)")
    for group, variants in ablate.ABLATIONS.items():
        baseline, *others = variants
        assert ablate.variant_recipe(group, baseline).to_dict() | {
            "name": ""
        } == reference.to_dict() | {"name": ""}
        for variant in others:
            assert ablate.variant_recipe(group, variant).to_dict() != reference.to_dict()


def test_search_candidates_change_the_best_recipe_and_stay_under_25k():
    best = ablate.variant_recipe(ablate.SEARCH_GROUP, "best recipe")
    assert best.to_dict() | {"name": ""} == get_recipe("best").to_dict() | {"name": ""}
    assert ablate.cells() == ablate.cells(
        list(ablate.ABLATIONS)
    )  # the search runs only when asked for
    for variant in list(ablate.SEARCH)[1:]:
        recipe = ablate.variant_recipe(ablate.SEARCH_GROUP, variant)
        assert recipe.to_dict() | {"name": ""} != best.to_dict() | {"name": ""}
        assert count_parameters(EfficientMNIST(recipe.model)) < 25_000


def test_search_verdicts_name_the_baseline():
    rows = [
        {
            "group": ablate.SEARCH_GROUP,
            "variant": v,
            "seed": s,
            "params": 1,
            "val_accuracy": a + s / 10_000,
            "test_accuracy": a,
            "train_seconds": 1.0,
        }
        for v, a in (("best recipe", 0.99), ("worse", 0.98))
        for s in range(3)
    ]
    (verdict,) = ablate.verdicts({"rows": rows})
    assert verdict["verdict"] == "baseline better"
    assert ablate.format_verdicts({"rows": rows}).splitlines()[0].split()[1] == "baseline"


def test_summary_gives_mean_and_sample_std_per_variant():
    rows = [
        {
            "group": "g",
            "variant": "v",
            "seed": s,
            "params": 10,
            "val_accuracy": a,
            "test_accuracy": a,
            "train_seconds": 1.0,
        }
        for s, a in enumerate([0.97, 0.98, 0.99])
    ]
    (summary,) = ablate.summarize({"rows": rows})
    assert summary["val_mean"] == pytest.approx(0.98) and summary["val_std"] == pytest.approx(0.01)
    assert summary["seeds"] == 3 and summary["test_min"] == 0.97


def test_one_committed_ablation_cell_reproduces_within_seed_noise(splits):
    committed = ablate.load_results(RESULTS)
    assert {"command", "seeds", "torch", "cpu", "date"} <= set(committed["provenance"])
    group, variant, seed = "dropout", "no dropout", committed["provenance"]["seeds"][0]
    row = ablate.run_cell(group, variant, seed, splits)
    cell = [r for r in committed["rows"] if (r["group"], r["variant"]) == (group, variant)]
    spread = statistics.stdev(r["val_accuracy"] for r in cell)
    mean = statistics.mean(r["val_accuracy"] for r in cell)
    assert row["params"] == cell[0]["params"]
    assert math.isclose(row["val_accuracy"], mean, abs_tol=max(4 * spread, 0.003))


def test_verdicts_separate_real_effects_from_seed_noise():
    def rows(variant, accs, group="g"):
        return [
            {
                "group": group,
                "variant": variant,
                "seed": s,
                "params": 1,
                "val_accuracy": a,
                "test_accuracy": a,
                "train_seconds": 1.0,
            }
            for s, a in enumerate(accs)
        ]

    results = {
        "rows": rows("base", [0.980, 0.981, 0.982])
        + rows("worse", [0.950, 0.951, 0.952])
        + rows("same", [0.9805, 0.9815, 0.9810])
        + rows("better", [0.990, 0.991, 0.992])
    }
    got = {v["variant"]: v["verdict"] for v in ablate.verdicts(results)}
    assert got == {
        "worse": "reference better",
        "same": "no clear difference",
        "better": "variant better",
    }


@pytest.mark.parametrize("table", [ablate.format_summary, ablate.format_verdicts])
def test_measured_tables_mark_every_number_and_keep_the_columns(table):
    results = ablate.load_results(RESULTS)
    plain, measured = table(results).splitlines(), table(results, measured=True).splitlines()
    assert "~" not in "".join(plain)  # committed numbers are printed as they are
    numbers_per_row = 4 if table is ablate.format_summary else 2
    for p, m in zip(plain[1:], measured[1:], strict=True):
        assert m.count("~") == numbers_per_row
        assert m.replace("~", "").split() == p.split()  # the same numbers, only marked


def test_verdict_table_widens_for_long_names():
    long_variant = "no dropout, no clipping, AdamW"
    rows = [
        {
            "group": "label_smoothing",
            "variant": v,
            "seed": s,
            "params": 1,
            "val_accuracy": a + s / 1000,
            "test_accuracy": a,
            "train_seconds": 1.0,
        }
        for v, a in (("none", 0.98), (long_variant, 0.99))
        for s in range(3)
    ]
    header, line = ablate.format_verdicts({"rows": rows}).splitlines()
    assert line.startswith("label_smoothing ") and header.index("reference choice") == line.index(
        "none"
    )
    assert f"{long_variant} " in line and header.index("difference") > line.index(
        long_variant
    ) + len(long_variant)


def test_cpu_name_closes_proc_cpuinfo():
    # before: `for line in open("/proc/cpuinfo")` returned from inside the loop, leaving it open
    import gc
    import warnings

    from effmnist.bench import cpu_name

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        assert cpu_name()
        gc.collect()
    assert not [w for w in caught if issubclass(w.category, ResourceWarning)]


def test_ablate_jobs_give_the_rows_of_a_serial_run(splits):
    import torch

    from effmnist.data import Splits

    tiny = Splits(
        splits.train_x[:640], splits.train_y[:640], splits.val_x[:500], splits.val_y[:500],
        splits.test_x[:500], splits.test_y[:500],
    )  # fmt: skip
    threads = torch.get_num_threads()
    per_job = max(1, threads // 2)  # what each of 2 jobs gets
    torch.set_num_threads(per_job)
    try:
        serial = ablate.run_ablations(tiny, [0, 1], ["clipping"], log=lambda *a: None)
    finally:
        torch.set_num_threads(threads)
    parallel = ablate.run_ablations(tiny, [0, 1], ["clipping"], log=lambda *a: None, jobs=2)

    def numbers(results):
        return [{k: v for k, v in row.items() if k != "train_seconds"} for row in results["rows"]]

    assert len(serial["rows"]) == 4 and numbers(parallel) == numbers(serial)
    assert parallel["provenance"]["jobs"] == 2 and parallel["provenance"]["threads"] == per_job
