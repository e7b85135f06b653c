"""The ablation sweep past one machine: each (variant, seed) cell as a job of its own.

``python -m effmnist ablate --cluster slurm`` hands the cells to `submitit
<https://github.com/facebookincubator/submitit>`_, which submits them to a SLURM cluster as one
job array (``--jobs``: at most that many running at once) and collects each cell's row when it
is done; ``--cluster local`` runs the same jobs as processes on this machine, to try it out.
The rows are those :func:`effmnist.experiments.ablate.run_cell` returns here: a cell's numbers
depend on its thread count (``cpus_per_task``), not on where it runs beside what.

submitit is imported only here, when a cluster is asked for (``pip install submitit``).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path

import torch

from ..data.mnist import Splits

KINDS = ("local", "slurm")


@dataclass(frozen=True)
class Cluster:
    """Where and how the cells run: ``kind`` "slurm", or "local" (jobs on this machine).

    ``folder`` keeps submitit's job files and logs, and the data the jobs read; on a cluster
    it must be on a filesystem the nodes share. ``sbatch``: more options for sbatch, as
    (name, value) pairs, e.g. ``(("account", "abc"), ("mem", "4G"))``.
    """

    kind: str = "local"
    folder: Path = Path("jobs")
    cpus_per_task: int = 1  # each cell's threads
    partition: str | None = None
    time_min: int = 60  # each cell's time limit
    sbatch: tuple[tuple[str, str], ...] = ()

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"cluster must be one of {', '.join(KINDS)}, not {self.kind!r}")

    def parameters(self, jobs: int) -> dict:
        """submitit's parameters: the shared ones, and SLURM's own (a local run ignores them)."""
        slurm = {"slurm_array_parallelism": jobs}
        if self.partition:
            slurm["slurm_partition"] = self.partition
        if self.sbatch:
            slurm["slurm_additional_parameters"] = dict(self.sbatch)
        return {
            "name": "effmnist-ablate",
            "timeout_min": self.time_min,
            "cpus_per_task": self.cpus_per_task,
            "nodes": 1,
            "tasks_per_node": 1,
            **slurm,
        }

    def describe(self) -> dict:
        """For the results' provenance: where the cells ran (its ``cpu`` is the submitting
        machine's)."""
        return {"kind": self.kind, "partition": self.partition, "cpus_per_task": self.cpus_per_task}


def _submitit():
    try:
        import submitit
    except ImportError as exc:
        raise ImportError(
            "--cluster runs the cells through submitit: pip install submitit"
        ) from exc
    return submitit


def _cell_job(run_cell: Callable, cell: tuple, data: Path, threads: int, how: dict) -> dict:
    """One cell, in a job's own process: the splits from ``data``, ``threads`` threads."""
    torch.set_num_threads(threads)
    splits = Splits(**torch.load(data, weights_only=True))
    return run_cell(*cell, splits, **how)


def run_cells(
    cluster: Cluster,
    run_cell: Callable,
    todo: list[tuple[str, str, int]],
    splits: Splits,
    jobs: int,
    how: dict,
    done: Callable[[dict], None],
    poll_s: float = 1.0,
) -> dict:
    """{cell: row} for each (group, variant, seed) cell, each trained as a submitit job by
    ``run_cell(group, variant, seed, splits, **how)``, at most ``jobs`` at once."""
    submitit = _submitit()
    folder = Path(cluster.folder).resolve()  # the jobs may start in another folder
    folder.mkdir(parents=True, exist_ok=True)
    data = folder / f"splits-{uuid.uuid4().hex[:8]}.pt"  # read by every job, removed after
    # copies, so that a slice of MNIST is saved alone, not with the tensors it is a view of
    torch.save({f.name: getattr(splits, f.name).clone() for f in fields(splits)}, data)
    executor = submitit.AutoExecutor(folder=folder, cluster=cluster.kind)
    executor.update_parameters(**cluster.parameters(jobs))
    submitted: list = []
    out: dict = {}
    try:
        if cluster.kind == "slurm":  # one job array; SLURM runs at most `jobs` at once
            n = len(todo)
            submitted = executor.map_array(
                _cell_job, [run_cell] * n, todo, [data] * n, [cluster.cpus_per_task] * n, [how] * n
            )
            for job, cell in zip(submitted, todo, strict=True):
                out[cell] = job.result()
                done(out[cell])
            return out
        waiting, running = list(todo), {}  # local: at most `jobs` processes at once
        while waiting or running:
            while waiting and len(running) < jobs:
                cell = waiting.pop(0)
                job = executor.submit(_cell_job, run_cell, cell, data, cluster.cpus_per_task, how)
                submitted.append(job)
                running[job] = cell
            finished = [job for job in running if job.done()]
            for job in finished:
                cell = running.pop(job)
                out[cell] = job.result()
                done(out[cell])
            if not finished:
                time.sleep(poll_s)
        return out
    finally:
        for job in submitted:  # after a failure: stop the rest
            if not job.done():
                job.cancel(check=False)
        data.unlink(missing_ok=True)
