"""Drive jupyter lab in headless Chromium, as a learner would (used by tests/test_browser.py).

:func:`jupyter_lab` starts a jupyter lab server on a free localhost port, with a token and its own
throw-away settings (autosave off, so the notebooks of the repository are never written; no news,
update checks or extension manager, which would reach the network; every cell in the page, not
windowed), and stops it and its kernels afterwards. :func:`chromium_page` opens a page in headless
Chromium (Debian's, through Playwright). :class:`Notebook` opens a notebook in that page, runs all
its cells from the menus, and :class:`DrawPad` draws on an ``effmnist.digits.drawpad.DrawPad`` with the
mouse and reads its prediction.

Every wait is bounded; on a failure, :func:`explain` turns it into an assertion message with the
page's text, a screenshot and the end of the server's log.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    # a closed network: no background requests, component updates or sync
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

# JupyterLab user settings for the test's server (one file per plugin, in its own folder)
LAB_SETTINGS = {
    # never save: running a notebook must not rewrite the repository's file
    "@jupyterlab/docmanager-extension/plugin": {"autosave": False},
    # every cell in the DOM, so that selectors find cells outside the viewport
    "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"},
    # no "fetch news?" toast, no update checks (the network is closed)
    "@jupyterlab/apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False},
    "@jupyterlab/extensionmanager-extension/plugin": {"enabled": False},
}


# requests to the local server never go through a proxy that the environment may name
_LOCAL = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def find_chromium() -> str | None:
    """Debian's Chromium (``/usr/bin/chromium``, else ``chromium`` on PATH), or None."""
    if os.access("/usr/bin/chromium", os.X_OK):
        return "/usr/bin/chromium"
    return shutil.which("chromium")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Lab:
    """A running jupyter lab server."""

    port: int
    token: str
    log_path: Path
    process: subprocess.Popen

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        """The URL of a notebook (a path relative to the server's root) in jupyter lab."""
        return f"{self.base}/lab/tree/{path}?token={self.token}"

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError as e:
            return f"(no log: {e})"

    def answers(self) -> bool:
        try:
            request = urllib.request.Request(
                f"{self.base}/api/status", headers={"Authorization": f"token {self.token}"}
            )
            with _LOCAL.open(request, timeout=5) as response:
                return response.status == 200
        except (OSError, urllib.error.URLError):
            return False


@contextlib.contextmanager
def jupyter_lab(
    root: Path, workdir: Path, env: dict[str, str], start_timeout: float = 120
) -> Iterator[Lab]:
    """A jupyter lab server serving ``root``, with its config, data, runtime and settings in
    ``workdir``; ``env`` is added to this process's environment (the kernels inherit it)."""
    workdir.mkdir(parents=True, exist_ok=True)
    dirs = {name: workdir / name for name in ("config", "data", "runtime", "ipython", "settings")}
    for path in dirs.values():
        path.mkdir(exist_ok=True)
    (dirs["config"] / "jupyter_lab_config.json").write_text(
        json.dumps(
            {
                "LabApp": {
                    "news_url": None,
                    "check_for_updates_class": "jupyterlab.NeverCheckForUpdate",
                }
            }
        )
    )
    for plugin, values in LAB_SETTINGS.items():
        path = dirs["settings"] / f"{plugin}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))
    port, token = free_port(), secrets.token_hex(16)
    full_env = {
        **os.environ,
        "JUPYTER_CONFIG_DIR": str(dirs["config"]),
        "JUPYTER_DATA_DIR": str(dirs["data"]),
        "JUPYTER_RUNTIME_DIR": str(dirs["runtime"]),
        "IPYTHONDIR": str(dirs["ipython"]),
        # the kernels import the effmnist of the repository under test
        "PYTHONPATH": os.pathsep.join([str(root), *filter(None, [os.environ.get("PYTHONPATH")])]),
        **env,
    }
    command = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
        f"--LabApp.user_settings_dir={dirs['settings']}",
        f"--LabApp.workspaces_dir={workdir / 'workspaces'}",
        # the notebooks' autosaved copies go here, not into the checkout's .ipynb_checkpoints/
        f"--FileCheckpoints.checkpoint_dir={workdir / 'checkpoints'}",
        "--LabApp.extension_manager=readonly",  # lists installed extensions; never asks PyPI
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")  # CI runs as root
    log_path = workdir / "jupyter-lab.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            command,
            cwd=root,
            env=full_env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, to stop it and its children
        )
    lab = Lab(port, token, log_path, process)
    try:
        deadline = time.monotonic() + start_timeout
        while not lab.answers():
            if process.poll() is not None:
                raise AssertionError(
                    f"jupyter lab exited with code {process.returncode} before it answered:\n"
                    + lab.log_tail()
                )
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"jupyter lab did not answer within {start_timeout:.0f} s:\n" + lab.log_tail()
                )
            time.sleep(0.5)
        yield lab
    finally:
        _stop(lab, dirs["runtime"])


def _stop(lab: Lab, runtime_dir: Path) -> None:
    """Shut the server down (it shuts its kernels down first); then make sure, by process id."""
    process = lab.process
    if process.poll() is None:
        with contextlib.suppress(OSError, urllib.error.URLError):
            request = urllib.request.Request(
                f"{lab.base}/api/shutdown",
                method="POST",
                headers={"Authorization": f"token {lab.token}"},
            )
            _LOCAL.open(request, timeout=30).close()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)  # the server stops its kernels on SIGTERM
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=15)
    # Kernels run in sessions of their own; any still alive (a server killed before it could
    # stop them) is found by its connection file, which lies in this server's runtime folder.
    for pid in _pids_mentioning(str(runtime_dir)):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)


def _pids_mentioning(text: str) -> list[int]:
    pids = []
    proc = Path("/proc")
    if not proc.is_dir():
        return pids
    for entry in proc.iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            with contextlib.suppress(OSError):
                if text.encode() in (entry / "cmdline").read_bytes():
                    pids.append(int(entry.name))
    return pids


@contextlib.contextmanager
def chromium_page(executable: str, origin: str, viewport=(1280, 1000)):
    """A page in headless Chromium that may only load from ``origin`` (any other request, such as a
    notebook's badge image from the web, is aborted); closed, with the browser, afterwards."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable, headless=True, args=CHROMIUM_ARGS, timeout=60_000
        )
        try:
            context = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]})
            context.route(lambda url: not url.startswith(origin + "/"), lambda route: route.abort())
            page = context.new_page()
            page.set_default_timeout(30_000)
            yield page
        finally:
            browser.close()


def wait_until(condition, timeout: float, what: str, interval: float = 0.5, state=None):
    """Poll ``condition()`` until it returns something truthy (returned); AssertionError after
    ``timeout`` seconds, saying ``what`` was awaited and, if given, ``state()`` at that time."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(
                f"timed out after {timeout:.0f} s waiting for {what}"
                + (f" ({state()})" if state else "")
            )
        time.sleep(interval)


class KernelMessages:
    """What the kernel wrote to stderr, or raised, outside the cells: the errors of the widgets'
    Python side (a failing ``DrawPad`` observer is only logged there; the page shows nothing).

    Read from the kernel's websocket frames as the page receives them (jupyter_server's
    ``v1.kernel.websocket.jupyter.org`` binary frames, or the older JSON ones).
    """

    def __init__(self, page):
        self.texts: list[str] = []
        page.on("websocket", self._watch)

    def _watch(self, websocket) -> None:
        if "/api/kernels/" in websocket.url:
            websocket.on("framereceived", self._frame)

    def _frame(self, frame) -> None:
        with contextlib.suppress(ValueError, KeyError, TypeError, IndexError):
            channel, header, parent, content = _kernel_message(frame)
            if channel != "iopub" or parent.get("msg_type") == "execute_request":
                return  # the cells' own output is on the page
            if header["msg_type"] == "stream" and content["name"] == "stderr":
                self.texts.append(content["text"])
            elif header["msg_type"] == "error":
                self.texts.append("\n".join(content["traceback"]))

    def text(self, start: int = 0) -> str:
        """All that was collected (from the ``start``-th message on), without colour codes."""
        return re.sub(r"\x1b\[[0-9;]*m", "", "".join(self.texts[start:]))


def _kernel_message(frame: str | bytes) -> tuple[str, dict, dict, dict]:
    """(channel, header, parent header, content) of a kernel websocket frame."""
    if isinstance(frame, str):
        message = json.loads(frame)
        return message["channel"], message["header"], message["parent_header"], message["content"]
    count = int.from_bytes(frame[:8], "little")
    offsets = [int.from_bytes(frame[8 * i : 8 * i + 8], "little") for i in range(1, count + 1)]
    parts = [frame[a:b] for a, b in zip(offsets, offsets[1:], strict=False)]
    channel, header, parent, _metadata, content = parts[:5]
    return channel.decode(), *(json.loads(part) for part in (header, parent, content))


@contextlib.contextmanager
def explain(
    page,
    lab: Lab,
    screenshot: Path,
    parts: dict[str, str] | None = None,
    kernel: KernelMessages | None = None,
    chars: int = 4000,
):
    """Turn any failure inside into an AssertionError that shows a screenshot saved to
    ``screenshot``, the tracebacks in the notebook's outputs, the text of the elements that
    ``parts`` names ({title: CSS selector}), the end of the page's text, the kernel's errors
    outside the cells (``kernel``) and the end of the server's log."""
    try:
        yield
    except Exception as e:
        sections = [str(e) if isinstance(e, AssertionError) else f"{type(e).__name__}: {e}"]
        try:
            page.screenshot(path=str(screenshot))
            sections.append(f"screenshot: {screenshot}")
        except Exception as error:  # the page may be gone
            sections.append(f"no screenshot: {error}")
        try:
            tracebacks = [
                t
                for t in page.locator(".jp-OutputArea-output").all_inner_texts()
                if "Traceback (most recent call last)" in t
            ]
            if tracebacks:
                sections.append(
                    "--- tracebacks in the notebook ---\n" + "\n".join(tracebacks)[-3000:]
                )
            for title, selector in (parts or {}).items():
                texts = page.locator(selector).all_inner_texts()
                sections.append(f"--- {title} ({selector}) ---\n" + ("\n".join(texts) or "(none)"))
            text = page.locator("body").inner_text(timeout=10_000)
            sections.append(
                f"--- the page's text (the last {chars} characters) ---\n{text[-chars:]}"
            )
        except Exception as error:
            sections.append(f"(no text from the page: {error})")
        if kernel is not None:
            sections.append(
                "--- the kernel's errors outside the cells (the widgets' Python side) ---\n"
                + (kernel.text()[-3000:] or "(none)")
            )
        sections.append(f"--- jupyter lab's log (the end) ---\n{lab.log_tail(3000)}")
        raise AssertionError("\n".join(sections)) from e


class Notebook:
    """A notebook open in jupyter lab."""

    def __init__(self, page, lab: Lab, path: str):
        self.page, self.lab, self.path = page, lab, path

    def open(self, timeout: float = 120) -> None:
        self.page.goto(
            self.lab.url(self.path), timeout=timeout * 1000, wait_until="domcontentloaded"
        )
        self.page.locator(".jp-NotebookPanel .jp-Notebook .jp-Cell").first.wait_for(
            state="attached", timeout=timeout * 1000
        )
        self.wait_for_kernel_idle(timeout)

    def kernel_status(self) -> str:
        """The kernel as the status bar shows it: 'Python 3 (ipykernel) | Idle', 'No Kernel |
        Initializing', ... ('' before the status bar has it)."""
        texts = self.page.locator(".jp-StatusBar-TextItem").all_inner_texts()
        return next((t.strip() for t in texts if re.fullmatch(r".+ \| \w+", t.strip())), "")

    def kernel_idle(self) -> bool:
        """A kernel is connected and idle (not 'No Kernel | Idle', which a page shows too)."""
        name, _, state = self.kernel_status().partition(" | ")
        return state == "Idle" and name != "No Kernel"

    def wait_for_kernel_idle(self, timeout: float) -> None:
        wait_until(
            self.kernel_idle,
            timeout,
            "the status bar to show an idle kernel",
            state=lambda: f"status bar: {self.kernel_status()!r}",
        )

    def menu(self, menu: str, item: str) -> None:
        """Click ``menu`` in the menu bar, then its item labelled ``item``."""
        self.page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(f"^{menu}$")).click()
        label = self.page.locator(".lm-Menu-itemLabel", has_text=re.compile(f"^{re.escape(item)}$"))
        self.page.locator(".lm-Menu-content > .lm-Menu-item").filter(has=label).click()

    def prompts(self) -> list[str]:
        """The execution prompts of the code cells: '[1]:', '[*]:', '[ ]:'."""
        return [
            t.strip()
            for t in self.page.locator(
                ".jp-Notebook .jp-CodeCell .jp-InputPrompt"
            ).all_inner_texts()
        ]

    def run_all(self, timeout: float) -> None:
        """Clear the outputs, run all cells from the Run menu, and wait until no cell is queued or
        running (the run ended, all cells done or stopped at an error)."""
        self.menu("Edit", "Clear Outputs of All Cells")
        wait_until(
            lambda: not any(re.search(r"\d|\*", p) for p in self.prompts()),
            30,
            "the outputs and execution counts to be cleared",
        )
        self.menu("Run", "Run All Cells")

        def finished() -> bool:
            prompts = self.prompts()
            return (
                not any("*" in p for p in prompts)
                and any(re.search(r"\d", p) for p in prompts)
                and self.kernel_idle()
            )

        wait_until(
            finished,
            timeout,
            "the notebook's cells to finish running",
            interval=1,
            state=lambda: (
                f"status bar: {self.kernel_status()!r}, prompts: {' '.join(self.prompts())}"
            ),
        )

    def failed_cells(self) -> list[str]:
        """The error outputs (a Python traceback) of the cells that failed."""
        return [
            t
            for t in self.page.locator(
                ".jp-Notebook .jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']"
            ).all_inner_texts()
            if "Traceback (most recent call last)" in t
        ]


PREDICTION = re.compile(r"^(\d) \((\d+)%\)")


class DrawPad:
    """An effmnist.digits.drawpad.DrawPad shown in a page: its canvas, result and preview. With
    ``kernel``, a wait for a prediction stops at the first traceback the kernel sends."""

    def __init__(self, page, index: int = 0, kernel: KernelMessages | None = None):
        self.page, self.kernel = page, kernel
        self.root = page.locator(".effmnist-drawpad").nth(index)
        self.canvas = self.root.locator("canvas.effmnist-pad")
        self.result = self.root.locator(".effmnist-result")
        self.seen = self.root.locator("img.effmnist-seen")
        self.clear_button = self.root.get_by_role("button", name="Clear")
        self._errors_before = 0

    def text(self) -> str:
        return self.result.inner_text().strip()

    def clear(self, timeout: float = 30) -> None:
        self.clear_button.scroll_into_view_if_needed()
        self.clear_button.click()
        wait_until(
            lambda: self.text() == "Draw a digit.",
            timeout,
            "the pad to say 'Draw a digit.' after Clear",
            state=lambda: f"it says {self.text()!r}",
        )

    def draw(self, strokes: Sequence[Sequence[tuple[float, float]]]) -> None:
        """Draw strokes with the mouse; points in the pad's own 280x280 coordinates."""
        self.canvas.scroll_into_view_if_needed()
        box = self.canvas.bounding_box()
        assert box and box["width"] > 100, f"the pad's canvas is not laid out: {box}"
        sx, sy = box["width"] / 280, box["height"] / 280
        if self.kernel is not None:
            self._errors_before = len(self.kernel.texts)
        mouse = self.page.mouse
        for stroke in strokes:
            (x0, y0), rest = stroke[0], stroke[1:]
            mouse.move(box["x"] + x0 * sx, box["y"] + y0 * sy)
            mouse.down()
            for x, y in rest:
                mouse.move(box["x"] + x * sx, box["y"] + y * sy, steps=4)
            mouse.up()

    def wait_for_prediction(self, timeout: float) -> tuple[int, str]:
        """The top digit and the whole result text, once the pad shows a prediction."""

        def shown():
            if self.kernel is not None:
                new = self.kernel.text(self._errors_before)
                if "Traceback" in new:
                    last = [line for line in new.splitlines() if line.strip()][-1]
                    raise AssertionError(
                        f"the kernel raised while handling the drawing: {last.strip()} (the pad "
                        f"says {self.text()!r}; the traceback is below)"
                    )
            text = self.text()
            return PREDICTION.match(text) and text

        text = wait_until(
            shown,
            timeout,
            "the pad to show a prediction like '1 (97%)  7 (2%)  4 (0%)'",
            state=lambda: f"it says {self.text()!r}",
        )
        return int(PREDICTION.match(text).group(1)), text
