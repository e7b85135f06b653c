"""A progress bar that ends as a finished run wherever it is shown.

In a terminal it is tqdm's bar. In a notebook (Jupyter, Colab, VS Code) it is one line of text
that is updated in place through a display handle, so the saved notebook shows the final state,
``100%|##########| 844/844 [...]``, rather than the first frame of a widget.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol


class Bar(Protocol):
    """What :func:`effmnist.training.train` needs from a progress bar (tqdm has it too)."""

    def update(self, n: int = 1) -> object: ...

    def set_postfix(self, **values: object) -> object: ...

    def close(self) -> object: ...


def in_notebook() -> bool:
    """True inside a Jupyter kernel (Jupyter lab, Colab, VS Code), False in a terminal."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and hasattr(shell, "kernel")


class TextBar:
    """tqdm's bar as one line of text, redrawn in place through an IPython display handle.

    ``show(text)`` is called on the first draw and returns an object with ``update(text)``;
    it is a parameter so that tests can record the frames.
    """

    def __init__(self, total: int, desc: str, unit: str = "batch", show=None, every: float = 0.2):
        self.total, self.desc, self.unit, self.every = total, desc, unit, every
        self.n, self.postfix = 0, ""
        self.start = self.drawn = time.perf_counter()
        self._show: Callable = show or _ipython_show
        self._handle = self._show(self.text())

    def text(self) -> str:
        from tqdm import tqdm

        elapsed = time.perf_counter() - self.start
        return tqdm.format_meter(
            self.n, self.total, elapsed, prefix=self.desc, unit=self.unit, postfix=self.postfix,
            ncols=100, ascii=" #",
        )  # fmt: skip

    def update(self, n: int = 1) -> None:
        self.n += n
        now = time.perf_counter()
        if now - self.drawn >= self.every:
            self.drawn = now
            self._handle.update(self.text())

    def set_postfix(self, **values: object) -> None:
        self.postfix = ", ".join(f"{k}={v}" for k, v in values.items())

    def close(self) -> None:
        self._handle.update(self.text())


class _Line:
    """One line of plain text in a notebook, redrawn in place (an IPython display handle)."""

    def __init__(self, text: str):
        from IPython.display import display

        self.handle = display({"text/plain": text}, raw=True, display_id=True)

    def update(self, text: str) -> None:
        self.handle.update({"text/plain": text}, raw=True)


def _ipython_show(text: str) -> _Line:
    return _Line(text)


def progress_bar(total: int, desc: str, unit: str = "batch") -> Bar:
    """A text bar updated in place in a notebook, tqdm's bar in a terminal."""
    if in_notebook():
        return TextBar(total, desc, unit)
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit=unit)
