"""Notebook 06's drawing pad in a real browser (issue 13.6).

jupyter lab runs in the background and headless Chromium opens notebook 06 in it, as a learner
would: Edit > Clear Outputs of All Cells, Run > Run All Cells, wait for the kernel. Then the
mouse draws digits on the pad (``effmnist.digits.drawpad.DrawPad``, found by its canvas wherever its cell
is), and after each stroke the pad must show the drawn digit first ("1 (97%)  7 (2%)  4 (0%)")
and the 28x28 image the model saw. A wrong prediction, no prediction, no pad or a failing cell
fails the test, with the page's text, a screenshot, the kernel's errors outside the cells (where
a failing observer of the pad is reported) and jupyter lab's log in the message.

It skips, saying why, where Chromium or Playwright is missing; ``.ci/run`` installs Debian's
chromium and sets ``EFFMNIST_REQUIRE_BROWSER=1``, under which it fails instead. Playwright only
drives that Chromium (it never downloads a browser). The server and the browser use 127.0.0.1
alone: the page's requests to anywhere else (a badge image) are aborted. Autosave is off and the
notebook file is checked unchanged at the end.
"""

import math
import os
import time
from pathlib import Path

import pytest
from labdriver import (
    DrawPad,
    KernelMessages,
    Notebook,
    chromium_page,
    explain,
    find_chromium,
    jupyter_lab,
    wait_until,
)

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = "notebooks/06_classify_your_own_digit.ipynb"

# Bounds of the waits, in seconds: generous, for a busy 2-core machine. Running the notebook
# includes training notebook 03's model where its checkpoint is missing (a fresh clone).
OPEN_TIMEOUT = 180  # the page loaded and the kernel started
RUN_TIMEOUT = 420  # all cells run
PAD_CELL = ".jp-CodeCell:has(.effmnist-drawpad)"  # shown when the test fails
PAD_TIMEOUT = 30  # the pad's canvas on the page once the cells have run
PREDICTION_TIMEOUT = 60  # the pad's answer to one stroke


def _ellipse(cx, cy, rx, ry, points=24):
    return [
        (cx + rx * math.sin(2 * math.pi * i / points), cy - ry * math.cos(2 * math.pi * i / points))
        for i in range(points + 1)
    ]


# Digits drawn with the mouse, as strokes of points in the pad's 280x280 coordinates: shapes that
# the reference model reads right with a wide margin (each ~100% when this test was written).
DIGITS = {
    1: [[(140, 50), (140, 230)]],  # a vertical bar
    7: [[(80, 60), (200, 60), (120, 230)]],  # a bar and a slanted leg
    0: [_ellipse(140, 140, 60, 90)],  # a closed loop
}


def _browser() -> str:
    """Chromium's path; skip where it or Playwright is missing, or fail where the browser is
    required (``EFFMNIST_REQUIRE_BROWSER=1``, which ``.ci/run`` sets after installing it)."""
    reasons = []
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError as e:
        reasons.append(f"playwright is not importable ({e}); it is in the dev extra")
    executable = find_chromium()
    if executable is None:
        reasons.append(
            "no Chromium: neither /usr/bin/chromium nor chromium on PATH"
            " (Debian: apt-get install chromium)"
        )
    if reasons:
        if os.environ.get("EFFMNIST_REQUIRE_BROWSER") == "1":
            pytest.fail("EFFMNIST_REQUIRE_BROWSER=1, but " + "; ".join(reasons))
        pytest.skip("; ".join(reasons))
    return executable


@pytest.mark.slow
def test_drawing_a_digit_on_notebook_06s_pad_shows_that_digit_first(mnist_root, tmp_path):
    executable = _browser()
    notebook_file = ROOT / NOTEBOOK
    saved = notebook_file.read_bytes()
    start, times = time.monotonic(), {}

    def lap(name):
        times[name] = round(time.monotonic() - start, 1)

    with (
        jupyter_lab(ROOT, tmp_path / "lab", {"EFFMNIST_DATA": str(mnist_root)}) as lab,
        chromium_page(executable, origin=lab.base) as page,
    ):
        kernel = KernelMessages(page)
        with explain(page, lab, tmp_path / "page.png", {"the pad's cell": PAD_CELL}, kernel):
            lap("server started")
            notebook = Notebook(page, lab, NOTEBOOK)
            notebook.open(OPEN_TIMEOUT)
            lap("notebook open")
            notebook.run_all(RUN_TIMEOUT)
            lap("cells run")
            failed = notebook.failed_cells()
            assert not failed, f"{NOTEBOOK}: a cell failed:\n" + "\n".join(failed)[-4000:]
            wait_until(
                lambda: page.locator("canvas.effmnist-pad").count(),
                PAD_TIMEOUT,
                f"a drawing pad (canvas.effmnist-pad) in {NOTEBOOK} once its cells have run",
            )

            pad = DrawPad(page, kernel=kernel)  # the first pad in the notebook
            pad.clear()  # a fresh start, whatever it showed
            for digit, strokes in DIGITS.items():
                pad.draw(strokes)
                top, text = pad.wait_for_prediction(PREDICTION_TIMEOUT)
                assert top == digit, f"drew a {digit}, but the pad's top digit is {top}: {text!r}"
                pad.seen.wait_for(state="visible", timeout=10_000)
                size = wait_until(
                    lambda: pad.seen.evaluate(
                        "img => img.complete && img.naturalWidth > 0"
                        " && [img.naturalWidth, img.naturalHeight]"
                    ),
                    10,
                    "the image of what the model saw to load",
                )
                assert size == [28, 28], f"the image of what the model saw is {size}, not 28x28"
                print(f"drew a {digit}: {text}")
                pad.clear()
            lap("digits drawn")
    lap("stopped")
    print("seconds since the start:", times)
    assert notebook_file.read_bytes() == saved, f"running {NOTEBOOK} in jupyter lab changed it"
