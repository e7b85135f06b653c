"""The website (site/): built offline from the notebooks' saved outputs, every page and figure there.

One build per module, as the README's command makes it (``python -m sphinx -b html -c site .
OUT``), into a temporary folder, in a child Python whose sockets refuse to connect, so any network
request of the build shows up in its log. Needs the ``docs`` extra (sphinx, myst-nb, the theme).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

pytest.importorskip("myst_nb", reason="the site needs the docs extra (sphinx, myst-nb)")

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb")) + sorted(
    (ROOT / "notebooks" / "solutions").glob("*.ipynb")
)
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

# Warnings the build may print, each with the reason it is harmless. None today: a new one fails
# the test until it is fixed or listed here with its reason.
ALLOWED_WARNINGS: dict[str, str] = {}

# Paths of a build machine that no page may show.
MACHINE_PATHS = ("/tmp/", "/work/", "/root/", "/home/")

# sphinx-build, in a Python whose sockets cannot connect: an attempt prints NETWORK REQUEST.
OFFLINE_SPHINX = """
import socket, sys
def refuse(*args, **kwargs):
    print("NETWORK REQUEST:", args, file=sys.stderr, flush=True)
    raise OSError("test_site: the site must build offline")
socket.socket.connect = socket.socket.connect_ex = refuse
socket.create_connection = socket.getaddrinfo = refuse
from sphinx.cmd.build import main
sys.exit(main(sys.argv[1:]))
"""


@dataclass
class Site:
    html: Path  # the built site
    log: str  # sphinx-build's stdout and stderr
    returncode: int
    seconds: float

    def page(self, source: Path) -> Path:
        """The HTML page built from a source file of the repository."""
        return self.html / source.relative_to(ROOT).with_suffix(".html")


class Tags(HTMLParser):
    """The <img> and <a> tags of a page, and the text of each table row."""

    def __init__(self, text: str):
        super().__init__()
        self.images: list[dict[str, str | None]] = []
        self.links: list[str] = []
        self.rows: list[list[str]] = []
        self._cell: list[str] | None = None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            self.images.append(dict(attrs))
        elif tag == "a" and dict(attrs).get("href"):
            self.links.append(dict(attrs)["href"])
        elif tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None and self.rows:
            self.rows[-1].append(" ".join("".join(self._cell).split()))
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def _tags(page: Path) -> Tags:
    return Tags(page.read_text(encoding="utf-8"))


def _local(page: Path, url: str) -> Path | None:
    """The file a relative link or src of ``page`` points to; None for other sites."""
    parts = urlsplit(url)
    if parts.scheme or parts.netloc or not parts.path:
        return None
    return (page.parent / unquote(parts.path)).resolve()


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Site:
    out = tmp_path_factory.mktemp("site")
    html, doctrees = out / "html", out / "doctrees"
    start = time.monotonic()
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            OFFLINE_SPHINX,
            "-b",
            "html",
            "-c",
            "site",
            "-q",
            "-E",
            "-d",
            str(doctrees),
            ".",
            str(html),
        ],  # fmt: skip
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    seconds = time.monotonic() - start
    print(f"site built in {seconds:.1f} s")
    return Site(html, proc.stdout + proc.stderr, proc.returncode, seconds)


def test_the_site_builds_offline_without_errors_or_unexplained_warnings(site):
    assert site.returncode == 0, site.log[-5000:]
    assert "NETWORK REQUEST" not in site.log, f"the build went online:\n{site.log[-5000:]}"
    assert "Traceback" not in site.log, site.log[-5000:]
    errors = [
        line for line in site.log.splitlines() if re.search(r"\b(ERROR|CRITICAL|SEVERE)\b", line)
    ]
    assert not errors, "\n".join(errors)
    warnings = [line for line in site.log.splitlines() if "WARNING" in line]
    unexplained = [w for w in warnings if not any(pattern in w for pattern in ALLOWED_WARNINGS)]
    assert not unexplained, "\n".join(unexplained)


@pytest.mark.parametrize("source", NOTEBOOKS + DOCS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_notebook_and_doc_has_a_page_in_the_table_of_contents(site, source):
    page = site.page(source)
    assert page.is_file(), f"no page for {source.relative_to(ROOT)}"
    index = site.html / "site" / "index.html"
    linked = {_local(index, href) for href in _tags(index).links}
    assert page.resolve() in linked, f"the landing page's contents do not list {page.name}"


def _saved_images(notebook: Path) -> list[set[str]]:
    """For each image output of a notebook: the sha256 of each of its image formats."""
    images = []
    for cell in json.loads(notebook.read_text(encoding="utf-8"))["cells"]:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            formats = {
                hashlib.sha256(
                    base64.b64decode("".join(v) if isinstance(v, list) else v)
                ).hexdigest()
                for k, v in data.items()
                if k in ("image/png", "image/jpeg", "image/gif")
            }
            if formats:
                images.append(formats)
    return images


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_image_saved_in_a_notebook_is_on_its_page(site, notebook):
    page = site.page(notebook)
    shown = []
    for img in _tags(page).images:
        path = _local(page, img.get("src") or "")
        if path is not None:  # not the Colab badge
            assert path.is_file(), f"{page.name}: <img src={img.get('src')!r}> is missing"
            shown.append(hashlib.sha256(path.read_bytes()).hexdigest())
    saved = _saved_images(notebook)
    missing = [k for k, formats in enumerate(saved) if not formats & set(shown)]
    assert not missing, (
        f"{page.name} shows {len(shown)} of the notebook's {len(saved)} images; "
        f"missing: image outputs number {[k + 1 for k in missing]}"
    )
    assert len(shown) == len(saved), f"{page.name}: {len(shown)} images for {len(saved)} outputs"


def _pages(site: Site) -> list[Path]:
    return sorted(p for p in site.html.rglob("*.html") if "_static" not in p.parts)


def test_no_page_shows_an_error_or_a_path_of_the_build_machine(site):
    problems = []
    for page in _pages(site):
        text = page.read_text(encoding="utf-8")
        for needle in ("Traceback", *MACHINE_PATHS, str(ROOT), str(site.html.parent)):
            if needle in text:
                at = text.index(needle)
                problems.append(f"{page.relative_to(site.html)}: {text[at - 80 : at + 80]!r}")
    assert not problems, "\n".join(problems)


def test_every_image_has_alt_text(site):
    problems = []
    for page in _pages(site):
        for img in _tags(page).images:
            alt, src = (img.get("alt") or "").strip(), img.get("src") or ""
            # docutils falls back on the image's URI for a missing alt: that is no alt text
            if not alt or alt == src or alt == Path(urlsplit(src).path).name or "_images/" in alt:
                problems.append(f"{page.relative_to(site.html)}: <img src={src!r} alt={alt!r}>")
    assert not problems, "\n".join(problems)


def test_the_readme_results_table_is_on_the_site(site):
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"<!-- recipes-table:[^>]*-->\n(.*?)\n<!-- /recipes-table -->", readme, re.S)
    assert block, "README.md has no recipes-table block"
    lines = [line for line in block.group(1).splitlines() if line.startswith("|")]
    expected = [
        [cell.strip() for cell in line.strip("|").split("|")]
        for line in lines
        if not re.fullmatch(r"[|\s:-]+", line)
    ]
    rows = _tags(site.page(ROOT / "README.md")).rows
    missing = [row for row in expected if row not in rows]
    assert not missing, f"rows of the README's results table not on its page: {missing}"


def test_the_landing_page_says_what_is_accessible_and_what_is_not(site):
    text = " ".join(
        re.sub(r"<[^>]+>", " ", (site.html / "site" / "index.html").read_text("utf-8")).split()
    )
    assert "Accessibility" in text
    assert "colour-blind-safe" in text
    assert "mouse or a touch screen" in text and 'classify("my_digit.jpg", model)' in text.replace(
        "&quot;", '"'
    )
    assert (site.html / "index.html").is_file(), "no redirect at the site's root"
