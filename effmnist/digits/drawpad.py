"""Draw a digit with the mouse (or a finger) and see what the model thinks, as you draw.

:class:`DrawPad` is a small notebook widget (anywidget: Jupyter lab, Colab, VS Code). Each
time a stroke ends, the drawing goes to Python, is preprocessed exactly as a photo would be
(:func:`effmnist.digits.preprocess.classify`), and the widget shows the 28x28 image the model sees and
its top-3 digits. Where widgets are off, classify an uploaded image instead (notebook 06):
:func:`uploaded_images` turns what Colab's ``files.upload()`` or an ``ipywidgets.FileUpload``
returns into PIL images.
"""

from __future__ import annotations

import base64
import binascii
import io

import anywidget
import traitlets
from PIL import Image, UnidentifiedImageError
from torch import nn

from ..data.images import ImageError, load_image

EMPTY = "The pad is empty: draw a digit."  # the result for a blank drawing
START = "Draw a digit."  # the result before the first stroke and after Clear

_ESM = """
function render({ model, el }) {
  const size = 280;
  const pad = document.createElement("canvas");
  pad.width = size; pad.height = size;
  pad.className = "effmnist-pad";
  const ctx = pad.getContext("2d");
  const blank = () => { ctx.fillStyle = "white"; ctx.fillRect(0, 0, size, size); };
  blank();
  ctx.lineWidth = 20; ctx.lineCap = "round"; ctx.lineJoin = "round"; ctx.strokeStyle = "black";
  let drawing = false;
  const at = (e) => {
    const r = pad.getBoundingClientRect();
    return [(e.clientX - r.left) * size / r.width, (e.clientY - r.top) * size / r.height];
  };
  pad.addEventListener("pointerdown", (e) => {
    drawing = true; pad.setPointerCapture(e.pointerId);
    const [x, y] = at(e); ctx.beginPath(); ctx.moveTo(x, y); ctx.lineTo(x, y); ctx.stroke();
  });
  pad.addEventListener("pointermove", (e) => {
    if (!drawing) return;
    const [x, y] = at(e); ctx.lineTo(x, y); ctx.stroke();
  });
  const finish = () => {
    if (!drawing) return;
    drawing = false;
    model.set("png", pad.toDataURL("image/png")); model.save_changes();
  };
  pad.addEventListener("pointerup", finish);
  pad.addEventListener("pointercancel", finish);
  pad.addEventListener("pointerleave", finish);
  const clear = document.createElement("button");
  clear.textContent = "Clear";
  clear.addEventListener("click", () => {
    blank(); model.set("png", ""); model.save_changes();
  });
  const seen = document.createElement("img");
  seen.className = "effmnist-seen"; seen.width = 112; seen.height = 112; seen.alt = "";
  const result = document.createElement("div");
  result.className = "effmnist-result";
  const show = () => {
    result.textContent = model.get("result");
    const src = model.get("seen");
    seen.style.visibility = src ? "visible" : "hidden";
    if (src) seen.src = src;
  };
  model.on("change:result", show); model.on("change:seen", show); show();
  const side = document.createElement("div");
  side.className = "effmnist-side";
  side.append("what the model sees:", seen, result, clear);
  el.classList.add("effmnist-drawpad");
  el.append(pad, side);
}
export default { render };
"""

_CSS = """
.effmnist-drawpad { display: flex; gap: 16px; align-items: flex-start; }
.effmnist-pad { border: 1px solid #888; touch-action: none; cursor: crosshair; }
.effmnist-seen { image-rendering: pixelated; border: 1px solid #888; background: black; }
.effmnist-side { display: flex; flex-direction: column; gap: 8px; font-family: sans-serif; }
.effmnist-result { font-size: 18px; min-height: 1.5em; white-space: pre; }
"""


class DrawPad(anywidget.AnyWidget):
    """A 280x280 drawing pad; after each stroke, the model's top-3 digits for the drawing.

    The page sends the drawing as a PNG data URL (``png``, black ink on white); the pad
    preprocesses it as a photo (:func:`effmnist.digits.preprocess.classify`) and sets ``seen`` (the
    28x28 image the model saw, a PNG data URL), ``result`` (e.g. ``"7 (98%)  1 (1%)  2 (0%)"``)
    and ``last`` (the :class:`~effmnist.digits.preprocess.Prediction`, or None). Setting ``png`` from
    Python does the same, which is how the pad is tested without a browser.
    """

    _esm = _ESM
    _css = _CSS
    png = traitlets.Unicode("").tag(sync=True)  # the drawing, a PNG data URL (set by the page)
    seen = traitlets.Unicode("").tag(sync=True)  # the 28x28 image the model saw, a PNG data URL
    result = traitlets.Unicode(START).tag(sync=True)  # top-3, shown under the image

    def __init__(self, model: nn.Module, k: int = 3, **kwargs):
        if not 1 <= k <= 10:
            raise ValueError(f"k must be between 1 and 10, not {k}")
        super().__init__(**kwargs)
        self.model, self.k = model, k
        self.last = None  # the last Prediction, for code that wants the numbers

    def __repr__(self) -> str:
        # The text a notebook shows where widgets are off (and saves as the cell's plain-text
        # output): the same on every run, no object address or widget id.
        return f"DrawPad(top {self.k}): a drawing pad; it needs widgets (jupyter lab, Colab)"

    @traitlets.observe("png")
    def _classify(self, change) -> None:
        from .preprocess import classify

        if not change["new"]:
            self.seen, self.result, self.last = "", START, None
            return
        try:
            drawing = image_from_data_url(change["new"])
        except ImageError as exc:
            self.seen, self.result, self.last = "", f"Cannot read the drawing: {exc}", None
            return
        try:
            self.last = classify(drawing, self.model, k=self.k)[0]
        except ImageError:  # a readable drawing is refused only when it is blank
            self.seen, self.result, self.last = "", EMPTY, None
            return
        self.seen = data_url(Image.fromarray(self.last.image.numpy()))
        self.result = "  ".join(
            f"{d} ({p:.0%})" for d, p in zip(self.last.digits, self.last.probabilities, strict=True)
        )


def data_url(image: Image.Image) -> str:
    """``image`` as a PNG data URL (``data:image/png;base64,...``), as a canvas's ``toDataURL``."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def image_from_data_url(url: str) -> Image.Image:
    """The image in a ``data:image/...;base64,...`` URL. Raises :class:`ImageError` if it holds none."""
    header, _, payload = url.partition(",")
    if not (header.startswith("data:image/") and header.endswith(";base64")):
        raise ImageError(f"not an image data URL: {url[:40]!r}")
    try:
        return _open("the drawing", base64.b64decode(payload, validate=True))
    except binascii.Error:
        raise ImageError("the drawing: not valid base64") from None


def _open(name: str, content: bytes) -> Image.Image:
    """The image in ``content`` (a file's bytes), loaded and upright; :class:`ImageError` if none."""
    try:
        opened = Image.open(io.BytesIO(content))
        opened.load()
    except UnidentifiedImageError:
        raise ImageError(f"{name}: not an image (PIL cannot read it)") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageError(f"{name}: cannot read the image ({exc})") from None
    return load_image(opened)


def uploaded_images(value) -> list[tuple[str, Image.Image]]:
    """The images a learner uploaded, as ``(file name, PIL image)`` pairs in upload order.

    ``value`` is what an upload gives, in any of its forms:

    - Colab's ``google.colab.files.upload()``: a dict ``{file name: bytes}``;
    - ``ipywidgets.FileUpload().value`` in ipywidgets 8: a tuple of dicts with ``"name"`` and
      ``"content"`` (a memoryview); in ipywidgets 7: a dict ``{file name: {"content": bytes}}``;
    - the ``FileUpload`` widget itself (its ``value`` is read).

    Nothing uploaded (``{}``, ``()``, ``None``) gives ``[]``. Photos are turned upright by their
    EXIF orientation. Raises :class:`~effmnist.data.ImageError` naming a file that is not an
    image PIL can read.
    """
    if hasattr(value, "value") and not isinstance(value, (dict, list, tuple)):
        value = value.value  # the FileUpload widget
    if not value:
        return []
    if isinstance(value, dict):
        files = [
            (name, content["content"] if isinstance(content, dict) else content)
            for name, content in value.items()
        ]
    else:
        files = [(entry["name"], entry["content"]) for entry in value]
    return [(str(name), _open(str(name), bytes(content))) for name, content in files]
