"""Time "Run all" for each notebook, in the series' order, as a learner's first run would go.

    python scripts/time_notebooks.py [--solutions] [--repeats N] [--write]

Each notebook is executed top to bottom by ``jupyter nbconvert --execute`` (kernel start-up
included, a second or two), in order 01 ... 06, in a fresh effmnist home that holds MNIST (copied
from yours, as after ``python -m effmnist data``) and no checkpoint: notebook 03 trains and saves
the reference model that 04 and 06 then load, and 05 trains the best recipe's model the first
time. No run cache, PyTorch's default threads. With ``--repeats N`` the whole series runs N times,
each in a fresh home, and the table gives each notebook's median. The outputs go to a temporary
folder; the notebooks in the repository are not touched.

Prints a Markdown table, with the CPU, the PyTorch version and the thread count. ``--write`` also
puts each tutorial's time into the "Run all" column of README.md's notebooks table, and the
conditions between its ``<!-- run-all-times -->`` markers.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
RAW = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)


def cpu_name() -> str:
    """The CPU's model name, as /proc/cpuinfo or the platform module gives it."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def fresh_home(folder: Path) -> Path:
    """An effmnist home in ``folder`` holding your prepared MNIST files and nothing else."""
    from effmnist.data import prepare_mnist, raw_folder

    source = raw_folder(prepare_mnist())
    target = folder / "MNIST" / "raw"
    target.mkdir(parents=True)
    for name in RAW:
        shutil.copyfile(source / name, target / name)
    return folder


def run_series(paths: list[Path], out: Path) -> dict[str, float]:
    """Seconds of ``nbconvert --execute`` for each notebook, in order, in a fresh home."""
    seconds = {}
    with tempfile.TemporaryDirectory(prefix="effmnist-home-") as home:
        env = dict(os.environ, EFFMNIST_DATA=str(fresh_home(Path(home))))
        env.pop("EFFMNIST_TRAIN_CACHE", None)
        for path in paths:
            command = [sys.executable, "-m", "jupyter", "nbconvert", "--to", "notebook",
                       "--execute", "--ExecutePreprocessor.timeout=1800",
                       "--output-dir", str(out), str(path)]  # fmt: skip
            start = time.perf_counter()
            subprocess.run(command, env=env, cwd=path.parent, check=True, capture_output=True)
            seconds[path.stem] = time.perf_counter() - start
            print(f"  {path.stem}: {seconds[path.stem]:.0f} s", flush=True)
    return seconds


def caption(repeats: int) -> str:
    import torch

    return (
        f'"Run all" times: `python scripts/time_notebooks.py --repeats {repeats}`, the median of'
        f" {repeats} runs of the series in order (kernel start-up included, a fresh data folder"
        f" with MNIST and no checkpoint), on a {os.cpu_count()}-core {cpu_name()}, PyTorch"
        f" {torch.__version__}, {torch.get_num_threads()} threads, nothing else running."
    )


def table(medians: dict[str, float]) -> str:
    lines = ["| notebook | Run all |", "|----------|--------:|"]
    return "\n".join(lines + [f"| {name} | {s:.0f} s |" for name, s in medians.items()])


def write_readme(medians: dict[str, float], repeats: int) -> None:
    """The caption between the README's run-all-times markers, and each tutorial's time in the
    "Run all" column of its row of the notebooks table."""
    readme = ROOT / "README.md"
    content = readme.read_text(encoding="utf-8")
    marked = re.compile(r"(<!-- run-all-times -->\n).*?(\n<!-- /run-all-times -->)", re.S)
    if not marked.search(content):
        raise SystemExit("README.md has no <!-- run-all-times --> markers")
    content = marked.sub(lambda m: m[1] + caption(repeats) + m[2], content)
    for name, seconds in medians.items():
        row = re.compile(rf"^(\| \[[^]]*\]\(notebooks/{name}\.ipynb\) \| )[^|]*( \|)", re.M)
        content, found = row.subn(lambda m, s=seconds: f"{m[1]}{s:.0f} s{m[2]}", content)
        if found != 1 and "solutions" not in name:
            raise SystemExit(f"README.md: {found} rows for {name} in the notebooks table")
    readme.write_text(content, encoding="utf-8")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--solutions", action="store_true", help="the solutions too, after")
    parser.add_argument("--repeats", type=int, default=1, help="runs of the series (median)")
    parser.add_argument("--write", action="store_true", help="put the table into README.md")
    args = parser.parse_args(argv)
    paths = sorted(NOTEBOOKS.glob("0*.ipynb"))
    if args.solutions:
        paths += sorted((NOTEBOOKS / "solutions").glob("0*.ipynb"))
    runs = []
    with tempfile.TemporaryDirectory(prefix="effmnist-run-all-") as out:
        for k in range(args.repeats):
            print(f"series {k + 1} of {args.repeats}", flush=True)
            runs.append(run_series(paths, Path(out)))
    medians = {name: statistics.median(run[name] for run in runs) for name in runs[0]}
    print(caption(args.repeats))
    print(table(medians))
    if args.write:
        write_readme(medians, args.repeats)


if __name__ == "__main__":
    main()
