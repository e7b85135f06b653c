import math
import statistics
from pathlib import Path

import pytest
import torch

from effmnist.data import Splits
from effmnist.experiments import ablate, analysis
from effmnist.experiments.bench import (
    count_flops,
    format_anatomy,
    format_report,
    run_bench,
    step_anatomy,
    training_flops_per_image,
)
from effmnist.experiments.runcache import ENV
from effmnist.model import EfficientMNIST, ModelConfig, count_parameters
from effmnist.recipe import get_recipe

RESULTS = Path(ablate.__file__).parent / "results" / "ablations.json"


def test_measured_training_flops_match_the_arithmetic():
    macs = {
        "conv1": 28 * 28 * 16 * 9,
        "conv2": 14 * 14 * 32 * 16 * 9,
        "conv3": 7 * 7 * 64 * 32 * 9,
        "fc": 640,
    }
    forward = 2 * sum(macs.values())
    # backward: weight gradients everywhere, input gradients everywhere except the first conv
    # (the image)
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


def _random_splits(n_train: int):

    g = torch.Generator().manual_seed(0)
    images = torch.randn(n_train + 128, 1, 28, 28, generator=g)
    labels = torch.randint(0, 10, (n_train + 128,), generator=g)
    return Splits(images[:n_train], labels[:n_train], images[-128:-64], labels[-128:-64],
                  images[-64:], labels[-64:])  # fmt: skip


def test_step_anatomy_times_every_layer_in_order_and_counts_every_flop():
    report = step_anatomy(_random_splits(64 * 4), steps=3, warmup=1)
    leaves = [n for n, m in EfficientMNIST().named_modules() if not any(m.children())]
    rows = report["layers"]
    assert [r["name"] for r in rows] == leaves
    assert all(r["forward_ms"] > 0 and r["backward_ms"] > 0 for r in rows)
    assert all(v > 0 for v in report["other_ms"].values()) and report["step_ms"] > 0
    # the layers hold all of a step's FLOPs, as many as the whole model counts
    assert sum(r["flops"] for r in rows) == report["step_flops"]
    assert report["step_flops"] == 64 * training_flops_per_image(ModelConfig(), 64)
    conv2 = rows[leaves.index("features.1.0")]
    assert conv2["flops"] == 3 * 2 * 64 * (14 * 14) * 32 * 16 * 9  # forward, 2 gradients
    conv1 = rows[leaves.index("features.0.0")]
    assert conv1["flops"] == 2 * 2 * 64 * (28 * 28) * 16 * 1 * 9  # no gradient for the image
    assert rows[leaves.index("classifier")]["flops"] == 3 * 2 * 64 * 64 * 10
    assert all(r["flops"] == 0 for r in rows if r["layer"] in ("BatchNorm2d", "ReLU", "Dropout"))
    assert conv2["output"] == [32, 14, 14] and report["peak_gflops"] > 0
    text = format_anatomy(report)
    assert all(name in text for name in leaves) and "whole step" in text


def test_count_flops_counts_what_a_step_runs():
    layer, x = torch.nn.Linear(30, 20), torch.randn(8, 30)
    assert count_flops(lambda: layer(x)) == 2 * 8 * 30 * 20
    # backward: the weight's gradient, and the input's only when it needs one
    assert count_flops(lambda: layer(x).sum().backward()) == 2 * (2 * 8 * 30 * 20)
    x.requires_grad_(True)
    assert count_flops(lambda: layer(x).sum().backward()) == 3 * (2 * 8 * 30 * 20)


def test_step_anatomy_needs_enough_batches_and_a_model_that_is_its_layers(monkeypatch):
    with pytest.raises(ValueError, match="need more than 2 batches"):
        step_anatomy(_random_splits(64 * 2), steps=3, warmup=1)
    # a forward that is not the layers called in turn would make the table wrong
    monkeypatch.setattr(EfficientMNIST, "forward", lambda self, x: -self.classifier(
        self.dropout(self.pool(self.features(x)))))  # fmt: skip
    with pytest.raises(RuntimeError, match="not its layers called in turn"):
        step_anatomy(_random_splits(64 * 4), steps=3, warmup=1)


def _fields(recipe) -> dict:
    """A recipe as flat fields: "lr", "model.head", ... (its name left out)."""
    d = recipe.to_dict()
    model = d.pop("model")
    d.pop("name")
    return d | {f"model.{k}": v for k, v in model.items()}


def test_every_ablation_changes_exactly_what_it_names():
    reference = ablate.variant_recipe("head", "gap (reference)")
    assert reference.model == ModelConfig()  # so a ModelConfig override names its non-defaults
    for group, variants in ablate.ABLATIONS.items():
        baseline, *others = variants
        assert _fields(ablate.variant_recipe(group, baseline)) == _fields(reference)
        for variant in others:
            overrides = variants[variant]
            named = {k for k in overrides if k != "model"}
            if "model" in overrides:  # the fields the override sets away from the defaults
                new = overrides["model"].to_dict()
                named |= {f"model.{k}" for k, v in ModelConfig().to_dict().items() if new[k] != v}
            got, ref = _fields(ablate.variant_recipe(group, variant)), _fields(reference)
            changed = {k for k in ref if got[k] != ref[k]}
            assert named and changed == named, (group, variant)


def test_head_controls_separate_spatial_information_from_parameter_count():
    def params(variant):
        return count_parameters(EfficientMNIST(ablate.variant_recipe("head", variant).model))

    def stage3(variant):
        return ablate.variant_recipe("head", variant).model.stages[-1][0]

    head = list(ablate.ABLATIONS["head"])
    gap, flatten, flatten_small, gap_large = head
    budget, flatten_size = params(gap), params(flatten)
    assert (budget, flatten_size) == (24_048, 29_168)
    # each control's name states its parameter count, as computed
    for variant in (flatten_small, gap_large):
        assert (
            variant.endswith(f"({params(variant):,})") and f"3rd stage {stage3(variant)}" in variant
        )
    # a flatten head within the reference's budget: the widest last stage that fits
    small = ablate.variant_recipe("head", flatten_small).model
    assert small.head == "flatten" and params(flatten_small) <= budget
    wider = ModelConfig(stages=(*small.stages[:-1], (stage3(flatten_small) + 1,)), head="flatten")
    assert count_parameters(EfficientMNIST(wider)) > budget
    # GAP widened to the flatten head's size, within one channel of it (300 parameters)
    large = ablate.variant_recipe("head", gap_large).model
    assert large.head == "gap" and abs(params(gap_large) - flatten_size) < 300
    for step in (-1, 1):  # the closest width: one channel fewer or more is further away
        other = ModelConfig(stages=(*large.stages[:-1], (stage3(gap_large) + step,)))
        gap_other = abs(count_parameters(EfficientMNIST(other)) - flatten_size)
        assert abs(params(gap_large) - flatten_size) <= gap_other


def test_search_candidates_change_the_best_recipe_and_stay_under_25k():
    best = ablate.variant_recipe(ablate.SEARCH_GROUP, "best recipe")
    assert best == get_recipe("best")  # a recipe's name takes no part in equality
    assert ablate.cells() == ablate.cells(
        list(ablate.ABLATIONS)
    )  # the search runs only when asked for
    for variant in list(ablate.SEARCH)[1:]:
        recipe = ablate.variant_recipe(ablate.SEARCH_GROUP, variant)
        assert recipe != best
        assert count_parameters(EfficientMNIST(recipe.model)) < 25_000


def _rows(variant, accs, group="g", seeds=None):
    """Result rows of one variant: accs[i] is the validation (and test) accuracy on seeds[i]."""
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
        for s, a in zip(seeds or range(len(accs)), accs, strict=True)
    ]


def test_search_verdicts_compare_with_the_best_recipe():
    rows = _rows("best recipe", [0.990, 0.9905, 0.992], ablate.SEARCH_GROUP)
    rows += _rows("worse", [0.980, 0.9806, 0.9818], ablate.SEARCH_GROUP)
    (verdict,) = analysis.verdicts({"rows": rows})
    assert verdict["baseline"] == "best recipe" and verdict["verdict"] == "variant worse"
    header, line = analysis.format_verdicts({"rows": rows}).splitlines()[1:3]
    assert header.split()[1] == "baseline" and line.split()[1:3] == ["best", "recipe"]


def test_summary_gives_mean_and_sample_std_per_variant():
    rows = [
        {
            "group": "g",
            "variant": "v",
            "seed": s,
            "params": 10,
            "val_accuracy": a,
            "train_seconds": 1.0,
        }
        for s, a in enumerate([0.97, 0.98, 0.99])
    ]
    (summary,) = analysis.summarize({"rows": rows})
    assert summary["val_mean"] == pytest.approx(0.98) and summary["val_std"] == pytest.approx(0.01)
    assert summary["seeds"] == 3 and "test_mean" not in summary  # candidates: validation only


@pytest.mark.slow
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
    results = {
        "rows": _rows("base", [0.980, 0.981, 0.982])
        + _rows("worse", [0.950, 0.951, 0.9525])
        + _rows("same", [0.9805, 0.9815, 0.9810])
        + _rows("better", [0.990, 0.9915, 0.992])
    }
    got = {v["variant"]: v["verdict"] for v in analysis.verdicts(results)}
    assert got == {
        "worse": "variant worse",
        "same": "cannot tell with 3 seeds",  # not "no difference": nothing shows that
        "better": "variant better",
    }


def test_paired_verdict_finds_a_steady_gain_that_the_unpaired_rule_missed():
    # tests/test_stats.py works this case by hand (in points): seeds spread over 4 points, the
    # variant adds 0.1 to 0.3 to each. Unpaired: 0.2 < 2 se = 1.99 ("no clear difference" under
    # the old rule). Paired: t = sqrt(40) = 6.32 on 4 df, p = 0.0032, CI [+0.11, +0.29].
    base = [0.96, 0.97, 0.98, 0.99, 0.95]
    steady = [0.962, 0.973, 0.981, 0.992, 0.952]
    (v,) = analysis.verdicts({"rows": _rows("base", base) + _rows("steady", steady)})
    assert v["verdict"] == "variant better" and (v["wins"], v["n"]) == (5, 5)
    assert v["mean_diff"] == pytest.approx(0.002) and v["ci_low"] > 0
    assert v["p"] == pytest.approx(1 - math.sqrt(10 / 11) * (1 + 1 / 22))
    unpaired_se = math.sqrt(statistics.variance(base) / 5 + statistics.variance(steady) / 5)
    assert v["mean_diff"] < 2 * unpaired_se  # the old rule saw no difference


def test_verdicts_pair_by_seed_and_report_failures_instead_of_a_mean():
    results = {
        "rows": _rows("base", [0.98, 0.97, 0.99, 0.96], seeds=[0, 1, 2, 3])
        + _rows("bimodal", [0.94, 0.10, 0.95], seeds=[2, 0, 1])  # seed 3 missing: 3 pairs
        + _rows("steady", [0.981, 0.972, 0.992, 0.9615], seeds=[0, 1, 2, 3])
    }
    bimodal, steady = analysis.verdicts(results)
    assert bimodal["verdict"] == "1 of 3 failed to train (95% CI 1% to 91% of runs)"
    assert (bimodal["n"], bimodal["failed"], bimodal["wins"]) == (3, 1, 0)
    assert bimodal["mean_diff"] is bimodal["p"] is None
    # the failing comparison still counts in the family (m = 2): the other is tested at 0.05 / 2
    assert steady["m"] == 2 and steady["level"] == pytest.approx(0.025)
    table = analysis.format_verdicts(results)
    assert "1 of 3 failed to train" in table
    (row,) = [line for line in table.splitlines() if line.startswith("g ") and "bimodal" in line]
    assert "[" not in row and "±" not in row  # no mean, no interval for a bimodal variant
    lonely = {"rows": _rows("base", [0.98, 0.97]) + _rows("once", [0.99], seeds=[1])}
    assert analysis.verdicts(lonely)[0]["verdict"] == "1 paired seed: too few to compare"
    recipes_only = {"rows": _rows("reference", [0.98, 0.97], group=ablate.RECIPE_GROUP)}
    assert analysis.format_verdicts(recipes_only).startswith("No comparisons")


def test_one_family_per_results_file_and_failures_counted_from_the_rows():
    committed = ablate.load_results(RESULTS)
    verdicts = analysis.verdicts(committed)
    assert {v["m"] for v in verdicts} == {len(verdicts)}  # one family: every comparison
    no_bn = [r["val_accuracy"] for r in committed["rows"] if r["variant"] == "no batchnorm"]
    failed = sum(a < 0.5 for a in no_bn)
    (bn,) = [v for v in verdicts if v["variant"] == "no batchnorm"]
    assert failed and bn["verdict"].startswith(f"{failed} of {len(no_bn)} failed to train")
    # a family of one: tested at alpha itself
    alone = {"rows": [r for r in committed["rows"] if r["group"] == "dropout"]}
    (dropout_alone,) = analysis.verdicts(alone)
    assert dropout_alone["m"] == 1 and dropout_alone["level"] == 0.05


@pytest.mark.parametrize("table", [analysis.format_summary, analysis.format_verdicts])
def test_measured_tables_mark_every_number_and_keep_the_columns(table):
    results = ablate.load_results(RESULTS)
    plain, measured = table(results).splitlines(), table(results, measured=True).splitlines()
    assert "~" not in "".join(plain)  # committed numbers are printed as they are
    assert len(plain) == len(measured)
    n_rows = len(
        analysis.summarize(results)
        if table is analysis.format_summary
        else analysis.verdicts(results)
    )
    first = 1 if table is analysis.format_summary else 2  # after the header (and the title)
    for k, (p, m) in enumerate(zip(plain, measured, strict=True)):
        assert m.replace("~", "").split() == p.split()  # the same numbers, only marked
        if not first <= k < first + n_rows:
            assert "~" not in m  # title, header, footer: nothing measured
        elif table is analysis.format_summary:
            # mean and std on validation; or the count of failed runs
            assert m.count("~") == (1 if "failed to train" in m else 2)
        elif "failed to train" in m:
            assert m.count("~") == 2  # wins and the failure count
        else:
            assert m.count("~") == 6  # mean diff, CI low, CI high, wins, p, MDD


def test_summary_says_its_spread_is_a_std():
    header = analysis.format_summary(ablate.load_results(RESULTS)).splitlines()[0]
    assert "validation %, mean ± std" in header and "test" not in header


def test_verdict_table_widens_for_long_names():
    long_variant = "no dropout, no clipping, AdamW"
    rows = _rows("none", [0.98, 0.981, 0.982], "label_smoothing")
    rows += _rows(long_variant, [0.99, 0.9915, 0.992], "label_smoothing")
    text = analysis.format_verdicts({"rows": rows})
    header, line = text.splitlines()[1:3]
    assert line.startswith("label_smoothing ") and header.index("baseline") == line.index("none")
    assert f"{long_variant} " in line
    assert header.index("mean diff") > line.index(long_variant) + len(long_variant)
    words = " ".join(text.split())
    assert (
        "variant minus baseline" in words and "The family: the 1 comparison in this table" in words
    )


def test_cpu_name_closes_proc_cpuinfo():
    # before: `for line in open("/proc/cpuinfo")` returned from inside the loop, leaving it open
    import gc
    import warnings

    from effmnist.experiments.bench import cpu_name

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        assert cpu_name()
        gc.collect()
    assert not [w for w in caught if issubclass(w.category, ResourceWarning)]


@pytest.mark.slow
def test_ablate_jobs_train_for_real_and_give_the_rows_of_a_serial_run(
    splits, tmp_path, monkeypatch
):
    tiny = splits.take(640, n_val=500, n_test=500)
    threads = torch.get_num_threads()
    per_job = max(1, threads // 2)  # what each of 2 jobs gets
    cache = tmp_path / "cache"
    monkeypatch.setenv(ENV, str(cache))  # the serial run trains and stores its cells
    torch.set_num_threads(per_job)
    try:
        serial = ablate.run_ablations(tiny, [0, 1], ["clipping"], log=lambda *a: None)
    finally:
        torch.set_num_threads(threads)
    stored = sorted(cache.glob("*.pt"))
    assert len(stored) == 4
    monkeypatch.delenv(ENV)  # the workers, spawned now, inherit no cache: they train
    parallel = ablate.run_ablations(tiny, [0, 1], ["clipping"], log=lambda *a: None, jobs=2)

    def numbers(results):
        return [{k: v for k, v in row.items() if k != "train_seconds"} for row in results["rows"]]

    assert len(serial["rows"]) == 4 and numbers(parallel) == numbers(serial)
    assert "test_accuracy" not in serial["rows"][0]  # judged on validation only
    # trained again, not copied: a cell read from the cache would have the serial run's time
    times = [(s["train_seconds"], p["train_seconds"]) for s, p in zip(
        serial["rows"], parallel["rows"], strict=True)]  # fmt: skip
    assert all(p > 0 and p != s for s, p in times), times
    assert sorted(cache.glob("*.pt")) == stored
    assert parallel["provenance"]["jobs"] == 2 and parallel["provenance"]["threads"] == per_job
    assert parallel["provenance"]["device"] == "cpu"


def test_an_ablation_cell_reads_no_test_image(tmp_path, monkeypatch):
    class Untouchable(torch.Tensor):
        @classmethod
        def __torch_function__(cls, func, types, args=(), kwargs=None):
            raise AssertionError(f"a test image or label was read ({func.__name__})")

    data = _random_splits(64 * 2)
    data.test_x = data.test_x.as_subclass(Untouchable)
    data.test_y = data.test_y.as_subclass(Untouchable)
    for cache in (None, tmp_path):  # trained for real, and through the suite's cache
        if cache is None:
            monkeypatch.delenv(ENV, raising=False)
        else:
            monkeypatch.setenv(ENV, str(cache))
        row = ablate.run_cell("clipping", "no clipping", 0, data)
        assert "test_accuracy" not in row and 0 <= row["val_accuracy"] <= 1


def test_bench_repeats_are_never_served_from_the_run_cache(splits, tmp_path, monkeypatch):
    monkeypatch.setenv(ENV, str(tmp_path / "cache"))
    small = splits.take(320, n_val=200, n_test=200)
    report = run_bench(small, repeats=2, log=lambda *a: None)
    assert not (tmp_path / "cache").exists()  # nothing stored, so nothing reused
    for pipeline in ("conventional", "fast"):
        first, second = report["pipelines"][pipeline]["seconds"]
        assert 0 < first != second > 0  # each repeat trained and timed
        assert len(set(report["pipelines"][pipeline]["val_accuracy"])) == 1  # the same run
    assert report["flops_per_image"] == training_flops_per_image(ModelConfig())


def test_format_whole_shows_both_medians_the_ratio_and_the_breakdown():
    from effmnist.experiments.bench import format_whole

    report = {
        "repeats": 5, "torch": "x", "threads": 2, "cpu": "cpu",
        "median_seconds": {"seed-style script": 20.0, "effmnist train": 8.5},
        "ratio": 0.425,
        "breakdown_median_seconds": {"start-up and imports": 1.5, "data": 0.4,
                                     "training loop": 6.0, "evaluation": 0.5, "other": 0.1},
    }  # fmt: skip
    text = format_whole(report)
    assert "seed-style script      20.00 s" in text and "ratio effmnist / seed-style: 0.42" in text
    assert "training loop" in text and "start-up and imports" in text


def test_summary_counts_failed_runs_instead_of_averaging_them():
    rows = _rows("base", [0.98, 0.981, 0.982]) + _rows("bimodal", [0.95, 0.097, 0.96])
    text = analysis.format_summary({"rows": rows})
    assert "1 of 3 runs failed to train (val < 50%)" in text
    assert "± 50" not in text and text.count("±") == 1 + 1  # the header, the steady variant
