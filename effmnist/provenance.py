"""Where a result came from: the machine, the software and the code that made it.

Stored with every checkpoint and results file, so that a number says how it was made (and a
timing names its CPU: machines differ, and so do the last digits of a trained network).
"""

from __future__ import annotations

import datetime
import platform
import subprocess
from pathlib import Path

import torch


def cpu_name() -> str:
    """The processor's model name (from /proc/cpuinfo where there is one)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _git(*args: str) -> str | None:
    """A git command's output, run in the package's own folder (not the working directory)."""
    try:
        done = subprocess.run(
            ["git", *args],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def git_state() -> tuple[str | None, bool | None]:
    """The commit of the clone this package is in, and whether its tree has uncommitted
    changes; ``(None, None)`` for an installed copy (no git, or not in a clone)."""
    commit = _git("rev-parse", "HEAD")
    if commit is None:
        return None, None
    status = _git("status", "--porcelain", "--untracked-files=no")
    return commit, None if status is None else bool(status)


def provenance(device: str | torch.device = "cpu") -> dict:
    """The machine, software and code of a run on ``device`` (JSON-ready)."""
    from . import __version__

    commit, dirty = git_state()
    return {
        "effmnist": __version__,
        "git_commit": commit,
        "git_dirty": dirty,
        "torch": str(torch.__version__),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu": cpu_name(),
        "device": torch.device(device).type,
        "threads": torch.get_num_threads(),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
