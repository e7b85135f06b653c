"""Draw a digit with the mouse (or a finger) and see what the model thinks, as you draw.

:class:`DrawPad` is a small notebook widget (anywidget: Jupyter lab, Colab, VS Code). Each
time a stroke ends, the drawing goes to Python, is preprocessed exactly as a photo would be
(:func:`effmnist.preprocess.classify`), and the widget shows the 28x28 image the model sees and
its top-3 digits. Where widgets are off, classify an uploaded image instead (notebook 06).
"""

from __future__ import annotations

import base64
import io

import anywidget
import traitlets
from torch import nn

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
.effmnist-result { font-size: 18px; min-height: 1.5em; }
"""


class DrawPad(anywidget.AnyWidget):
    """A 280x280 drawing pad; after each stroke, the model's top-3 digits for the drawing."""

    _esm = _ESM
    _css = _CSS
    png = traitlets.Unicode("").tag(sync=True)  # the drawing, a PNG data URL (set by the page)
    seen = traitlets.Unicode("").tag(sync=True)  # the 28x28 image the model saw, a PNG data URL
    result = traitlets.Unicode("Draw a digit.").tag(sync=True)  # top-3, shown under the image

    def __init__(self, model: nn.Module, k: int = 3, **kwargs):
        super().__init__(**kwargs)
        self.model, self.k = model, k
        self.last = None  # the last Prediction, for code that wants the numbers

    @traitlets.observe("png")
    def _classify(self, change) -> None:
        from PIL import Image

        from .images import ImageError
        from .preprocess import classify

        if not change["new"]:
            self.seen, self.result, self.last = "", "Draw a digit.", None
            return
        drawing = Image.open(io.BytesIO(base64.b64decode(change["new"].split(",", 1)[1])))
        try:
            self.last = classify(drawing.convert("RGB"), self.model, k=self.k)[0]
        except ImageError:
            self.seen, self.result, self.last = "", "The pad is empty: draw a digit.", None
            return
        self.seen = _png_url(self.last.image.numpy())
        self.result = "  ".join(
            f"{d} ({p:.0%})" for d, p in zip(self.last.digits, self.last.probabilities, strict=True)
        )


def _png_url(pixels) -> str:
    """A PNG data URL of a uint8 (28, 28) array, white ink on black as the model sees it."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
