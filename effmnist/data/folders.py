"""Where effmnist keeps MNIST and checkpoints: one folder, whatever the working directory.

- ``$EFFMNIST_DATA``, when set (a workshop's shared copy, a test run's own folder);
- else, when effmnist runs from a clone of its repository (``pip install -e .``), the clone's
  ``data/`` folder (ignored by git);
- else (a ``pip install``, Colab) the user's data folder, from ``platformdirs``: e.g.
  ``~/.local/share/effmnist`` on Linux, ``~/Library/Application Support/effmnist`` on macOS,
  ``%LOCALAPPDATA%\\effmnist`` on Windows.

MNIST's files go in ``<home>/MNIST/raw`` (where ``torchvision.datasets.MNIST`` looks for them)
and checkpoints in ``<home>/checkpoints``. ``python -m effmnist where`` prints both.
"""

from __future__ import annotations

import os
from pathlib import Path

ENV_VAR = "EFFMNIST_DATA"


def _clone() -> Path | None:
    """The repository folder when this package is the one inside a clone, else None."""
    folder = Path(__file__).resolve().parents[2]
    pyproject = folder / "pyproject.toml"
    try:
        if 'name = "effmnist"' in pyproject.read_text(encoding="utf-8"):
            return folder
    except OSError:
        pass
    return None


def home() -> Path:
    """The folder for MNIST and checkpoints (see the module's docstring for the order)."""
    value = os.environ.get(ENV_VAR)
    if value:
        return Path(value).expanduser()
    clone = _clone()
    if clone is not None:
        return clone / "data"
    import platformdirs

    return Path(platformdirs.user_data_dir("effmnist", appauthor=False))


def checkpoints_dir() -> Path:
    """Where checkpoints are saved by default: ``<home>/checkpoints``."""
    return home() / "checkpoints"
