"""Sphinx configuration: the tutorial series as a website, from the notebooks' saved outputs.

Build (from the repository root; offline, nothing is executed):

    .venv/bin/python -m sphinx -b html -c site . site/_build/html

How the sources are found: the source folder is the repository root and this folder (``site/``)
only holds the configuration (``-c site``). ``include_patterns`` below picks the pages: the
README, ``docs/*.md``, every notebook under ``notebooks/`` and this folder's own pages. Nothing is
copied, staged or symlinked, so the README's and the docs' relative links (``docs/results.md``,
``../notebooks/01_data_exploration.ipynb``, ``../README.md#set-up-paths``) resolve exactly as they
do on GitHub, and a notebook added under ``notebooks/`` is picked up by the toctree globs in
``site/index.md``. The landing page is ``site/index.md``; ``_root/index.html`` (a redirect, copied
to the top of the built site) sends a visitor of the site's root there.

Offline: no intersphinx, no execution (``nb_execution_mode = "off"``), no widget JavaScript from a
CDN (``nb_ipywidgets_js = {}``); the theme ships its assets in its wheel. Only a reader's browser
goes online, and only for the Colab badges and, on the three pages with formulas (notebooks 04, 05
and 05's solutions), Sphinx's default MathJax from its CDN (offline, the formulas show as TeX).

Accessibility: notebook output images have no alt text of their own; :func:`add_figure_alt_text`
gives each one, from the figure's title in the cell's code (``title="..."``) or the plotting
function's name, the prose just before the cell, the notebook's title and the cell's number.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

from docutils import nodes
from sphinx import addnodes
from sphinx.transforms.post_transforms import SphinxPostTransform

project = "effmnist"
author = "the effmnist authors"
copyright = "the effmnist authors, MIT licensed"  # noqa: A001 (Sphinx's name)

extensions = ["myst_nb"]

root_doc = "site/index"
include_patterns = ["README.md", "docs/*.md", "notebooks/*.ipynb", "notebooks/solutions/*.ipynb",
                    "site/*.md"]  # fmt: skip
# Not sources, and pruned from Sphinx's walk of the repository so that it stays fast.
exclude_patterns = [".git", ".venv", "build", "data", "dist", "effmnist", "effmnist.egg-info",
                    "tests", "site/_build", "site/_root", "**/.ipynb_checkpoints", "**/__pycache__",
                    "checkpoints", "wheelhouse"]  # fmt: skip

# ----- myst-nb: the saved outputs, never re-executed
nb_execution_mode = "off"
nb_ipywidgets_js = {}  # no require.js / widget manager from a CDN: widgets are not live here
# A widget cannot run on a static page: show its text form instead (the drawing pad's says that it
# needs jupyter lab or Colab; the upload button's names itself).
nb_mime_priority_overrides = [("html", "application/vnd.jupyter.widget-view+json", None)]
nb_merge_streams = True
myst_heading_anchors = 3  # links such as docs/instructor-guide.md#running-it-offline
myst_enable_extensions = ["dollarmath"]

# ----- HTML
html_theme = "sphinx_book_theme"
html_title = "effmnist: efficient MNIST in one epoch"
html_theme_options = {
    "home_page_in_toc": True,
    "show_navbar_depth": 2,
    "use_download_button": False,  # no "download .ipynb" of the notebooks' sources
}
html_extra_path = ["_root"]  # index.html at the site's root: a redirect to site/index.html
html_copy_source = False
html_show_sourcelink = False
html_last_updated_fmt = None


# ----- alt text for notebook output images

_TITLE_ARG = re.compile(r"""\btitle\s*=\s*(?P<q>["'])(?P<text>.+?)(?P=q)""")


def _plain(markdown: str) -> str:
    """Markdown reduced to plain text for an alt attribute."""
    text = re.sub(r"!\[([^\]]*)\]\([^)]*\)", r"\1", markdown)  # images: their alt
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)  # links: their text
    text = re.sub(r"^\s*(?:#+|>|[-*+])\s+", "", text, flags=re.M)  # heading, quote, bullet marks
    text = re.sub(r"(?<!\w)_(\S.*?)_(?!\w)", r"\1", text)  # _emphasis_, not snake_case
    text = re.sub(r"[*`]", "", text)
    return " ".join(text.split())


def _shorten(text: str, limit: int = 220) -> str:
    if len(text) <= limit:
        return text
    return text[:limit].rsplit(" ", 1)[0].rstrip(",;:") + "…"


def _what(source: str) -> str:
    """What a cell draws: the title it passes (``title="..."``), else its plotting call's name."""
    titles = [m.group("text") for m in _TITLE_ARG.finditer(source)]
    if titles:
        return "; ".join(titles)
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return "Figure"
    plotting = sorted(  # calls of effmnist.plots' functions, in the order they are written
        (n.lineno, n.col_offset, name)
        for n in ast.walk(tree)
        if isinstance(n, ast.Call) and (name := _plot_call(n.func))
    )
    # e.g. plots.mistake_gallery(...) -> "Figure (mistake gallery)"
    return f"Figure ({plotting[-1][2].replace('_', ' ')})" if plotting else "Figure"


def _plot_call(func: ast.expr) -> str:
    """NAME for a call of ``plots.NAME``, ``model_plots.NAME`` or a bare ``plot_*``; else ""."""
    if isinstance(func, ast.Name):
        return func.id if func.id.startswith("plot_") else ""
    if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
        return func.attr if func.value.id in {"plots", "model_plots"} else ""
    return ""


def figure_alt_texts(notebook: dict, title: str) -> dict[int, list[str]]:
    """{cell index: alt text of each image output, in order} for one notebook's JSON."""
    alts: dict[int, list[str]] = {}
    context = ""
    for index, cell in enumerate(notebook["cells"]):
        source = "".join(cell.get("source", ""))
        if cell["cell_type"] == "markdown":
            paragraphs = [p for p in re.split(r"\n\s*\n", source) if p.strip()]
            context = _plain(paragraphs[-1]).rstrip(":") if paragraphs else ""
            continue
        images = [
            o for o in cell.get("outputs", [])
            if any(k.startswith("image/") for k in o.get("data", {}))
        ]  # fmt: skip
        if not images:
            continue
        about = _what(source)
        if context:
            about += f": {_shorten(context)}"
        where = f"{title}, cell {index + 1}"
        alts[index] = [
            f"{about} ({where}{f', figure {k + 1} of {len(images)}' if len(images) > 1 else ''})"
            for k in range(len(images))
        ]
    return alts


def add_figure_alt_text(app, doctree) -> None:
    """Give every notebook output image without alt text one (Sphinx ``doctree-read``)."""
    path = Path(app.env.doc2path(app.env.docname))
    if path.suffix != ".ipynb":
        return
    first = next(iter(doctree.findall(nodes.title)), None)
    title = first.astext() if first is not None else path.stem
    alts = figure_alt_texts(json.loads(path.read_text(encoding="utf-8")), title)
    for cell in doctree.findall(nodes.container):
        if cell.get("nb_element") != "cell_code" or cell.get("cell_index") not in alts:
            continue
        texts = alts[cell["cell_index"]]
        for k, image in enumerate(cell.findall(nodes.image)):
            if not image.get("alt"):
                image["alt"] = texts[min(k, len(texts) - 1)]


# ----- links to a folder of notebooks (the README's and the instructor guide's "notebooks/solutions/")

# a repository folder -> the heading of site/index.md that lists its pages
FOLDER_LINKS = {"notebooks/solutions": "worked-solutions", "notebooks": "the-notebooks"}
REPO = Path(__file__).resolve().parent.parent


class FolderLinks(SphinxPostTransform):
    """A Markdown link to a folder that FOLDER_LINKS names goes to that folder's list on the
    landing page (MyST would leave it unresolved, with a warning)."""

    default_priority = 5  # before MyST resolves its references (9)

    def run(self, **kwargs) -> None:
        for node in list(self.document.findall(addnodes.pending_xref)):
            if node.get("reftype") != "myst" or node.get("refdomain") == "doc":
                continue
            refdoc = node.get("refdoc", self.env.docname)
            base = Path(self.env.doc2path(refdoc)).parent
            try:
                folder = (base / node["reftarget"]).resolve().relative_to(REPO).as_posix()
            except ValueError:
                continue
            if folder not in FOLDER_LINKS:
                continue
            uri = self.app.builder.get_relative_uri(refdoc, self.config.root_doc)
            link = nodes.reference("", "", internal=True, refuri=f"{uri}#{FOLDER_LINKS[folder]}")
            link += node.children
            node.replace_self(link)


def setup(app):
    app.connect("doctree-read", add_figure_alt_text)
    app.add_post_transform(FolderLinks)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
