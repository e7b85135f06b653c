"""``ablate --cluster``: the same (variant, seed) cells as submitit jobs, with the same rows.

SLURM itself is not here; submitit's local executor runs the very same jobs (pickled, started
as processes of their own, their rows read back), and the flags are checked down to the
parameters submitit is given for SLURM.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest
import torch

from effmnist import cli
from effmnist.experiments import ablate
from effmnist.experiments.cluster import Cluster
from effmnist.experiments.runcache import ENV

ROOT = Path(__file__).resolve().parents[1]


def _numbers(results: dict) -> list[dict]:
    """The rows without their times (which differ from run to run)."""
    return [{k: v for k, v in row.items() if k != "train_seconds"} for row in results["rows"]]


@pytest.mark.slow
def test_cells_run_as_local_submitit_jobs_give_the_rows_of_a_serial_run(
    splits, tmp_path, monkeypatch
):
    pytest.importorskip("submitit")
    monkeypatch.delenv(ENV, raising=False)  # no run cache: both runs really train
    tiny = splits.take(1024, 512, 0)
    quiet = {"log": lambda *a: None}
    serial = ablate.run_ablations(tiny, [0], ["clipping"], jobs=1, **quiet)
    cluster = Cluster("local", tmp_path / "jobs", cpus_per_task=torch.get_num_threads())
    jobs = ablate.run_ablations(tiny, [0], ["clipping"], jobs=2, cluster=cluster, **quiet)
    assert len(serial["rows"]) == 2 and _numbers(jobs) == _numbers(serial)
    # trained again in the jobs, not copied: each has its own time
    assert all(
        j["train_seconds"] != s["train_seconds"]
        for j, s in zip(jobs["rows"], serial["rows"], strict=True)
    )
    made_by = jobs["provenance"]
    assert made_by["cluster"] == {
        "kind": "local",
        "partition": None,
        "cpus_per_task": torch.get_num_threads(),
    }
    assert made_by["threads"] == serial["provenance"]["threads"] and made_by["jobs"] == 2
    # submitit kept each job's logs there; the data the jobs read is gone
    assert list((tmp_path / "jobs").glob("*_log.out")) and not list(
        (tmp_path / "jobs").glob("splits-*.pt")
    )


def test_the_cluster_flags_reach_submitit_as_slurm_parameters(tmp_path, monkeypatch):
    """``ablate --cluster slurm ...`` builds the Cluster below, and it asks SLURM for one job
    array of at most --jobs running cells, each with its partition, time, cores and options."""
    seen = {}

    class Stop(Exception):
        pass

    def run_ablations(*args, **kwargs):
        seen.update(kwargs)
        raise Stop

    monkeypatch.setattr(ablate, "run_ablations", run_ablations)
    monkeypatch.setattr("effmnist.data.mnist.load_splits", lambda data_dir=None: None)
    argv = ["ablate", "--groups", "clipping", "--jobs", "8", "--cluster", "slurm"]
    argv += ["--cluster-folder", str(tmp_path), "--partition", "cpu", "--time", "30"]
    argv += ["--cpus-per-task", "2", "--sbatch", "account=abc", "--sbatch", "mem=4G"]
    with pytest.raises(Stop):
        cli.main(argv)
    assert seen["jobs"] == 8
    assert seen["cluster"] == Cluster(
        "slurm", tmp_path, 2, "cpu", 30, (("account", "abc"), ("mem", "4G"))
    )
    assert seen["cluster"].parameters(seen["jobs"]) == {
        "name": "effmnist-ablate",
        "timeout_min": 30,
        "cpus_per_task": 2,
        "nodes": 1,
        "tasks_per_node": 1,
        "slurm_array_parallelism": 8,
        "slurm_partition": "cpu",
        "slurm_additional_parameters": {"account": "abc", "mem": "4G"},
    }
    seen.clear()
    with pytest.raises(Stop):  # no --cluster: this machine's processes, as before
        cli.main(["ablate", "--groups", "clipping"])
    assert seen["cluster"] is None


@pytest.mark.parametrize("bad", [["--cluster", "pbs"], ["--cluster", "slurm", "--sbatch", "mem"]])
def test_bad_cluster_flags_are_usage_errors(bad, capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["ablate", *bad])
    assert exit_.value.code == 2


def test_submitit_is_imported_only_where_a_cluster_run_needs_it():
    """Inside a function of effmnist/experiments/cluster.py, and nowhere else: nothing but a
    cluster run needs submitit installed."""
    found = []
    for path in sorted((ROOT / "effmnist").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        functions = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)]
        inside = {id(n) for f in functions for n in ast.walk(f)}
        for node in ast.walk(tree):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            if any(name.split(".")[0] == "submitit" for name in names):
                where = "in a function" if id(node) in inside else "at module level"
                found.append(f"{path.relative_to(ROOT).as_posix()} {where}")
    assert found == ["effmnist/experiments/cluster.py in a function"]


def test_without_submitit_a_cluster_run_says_what_to_install(monkeypatch, tmp_path):
    from effmnist.experiments import cluster

    monkeypatch.setitem(sys.modules, "submitit", None)  # as if not installed
    with pytest.raises(ImportError, match="pip install submitit"):
        cluster.run_cells(Cluster("local", tmp_path), None, [], None, 1, {}, print)


def test_an_unknown_kind_of_cluster_is_refused():
    with pytest.raises(ValueError, match="local, slurm"):
        Cluster("pbs")
