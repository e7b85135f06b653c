"""Classify your own digit: MNIST-style preprocessing of any image, top-k predictions and plots.

MNIST digits were made in a particular way: a black-and-white scan of one digit was cropped to the
digit, scaled (anti-aliased, keeping its aspect ratio) to fit a 20x20 box, and pasted into a 28x28
image so that its centre of mass lies at the centre, white ink on black. A model trained on them
only understands images made the same way, so :func:`preprocess` repeats those steps on any photo
or drawing:

1. load it (any mode: RGB, RGBA with transparency, palette, grayscale, 16-bit; photos are turned
   upright by their EXIF orientation) and shrink it to at most ``WORK_SIZE`` pixels a side;
2. grayscale (luminance); when the digit differs from its background mostly in hue rather than
   brightness (red on green), the distance in colour from the background is used instead;
3. invert when the background is light: the background level is the median of the border pixels,
   and the ink is whatever departs furthest from it (darker or lighter);
4. clean: a 3x3 median filter (for photos); pixels at >= 50% of the peak contrast are the digit's
   core, without blobs much smaller than the largest; pixels at >= 15% near the core (6% of the
   digit's size) are its soft edges. Paper texture, JPEG noise, specks and the faint lines of
   ruled paper neither count as ink nor stretch the bounding box;
5. crop to the digit's bounding box; thicken thin strokes (a pen line on a big photo would shrink
   to a faint hair) to MNIST's stroke width;
6. scale into a 20x20 box keeping the aspect ratio, with an anti-aliasing filter;
7. paste into 28x28 with the centre of mass at pixel (14, 14), as in MNIST (whole-pixel shift);
8. (:func:`classify`) normalize with MNIST's mean and std and run the model.
"""

from __future__ import annotations

import io
import math
import os
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Union

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont, ImageOps, UnidentifiedImageError

WORK_SIZE = 256  # images are shrunk to at most this many pixels a side before the analysis
BOX = 20  # MNIST: the digit fits a 20x20 box ...
SIZE = 28  # ... inside a 28x28 image ...
CENTRE = 14  # ... with its centre of mass at pixel (14, 14) (MNIST's test set: 13.99, 14.01)
MIN_CONTRAST = 16  # grey levels (of 255): less than this between digit and background is "blank"
STRONG, WEAK = 0.50, 0.15  # ink thresholds, as fractions of the peak contrast: core, and soft edges
MIN_BLOB = 0.08  # blobs with less ink than this fraction of the largest one are noise
RIM = 0.06  # soft edges count up to this fraction of the digit's size away from its core
MIN_STROKE, TARGET_STROKE = 1.2, 2.2  # stroke width in 28x28 pixels (by stroke_width: MNIST's
# median is 2.2, its 1st percentile 1.36): strokes thinner than MIN_STROKE are thickened to TARGET_STROKE

ImageSource = Union[str, os.PathLike, Image.Image]


class ImageError(ValueError):
    """An image could not be used: missing, not an image, or blank. The message says which."""


# --- loading ----------------------------------------------------------------------------------


def source_name(source: ImageSource) -> str:
    """A short name for messages: the file name, or ``"<image>"`` for an in-memory image."""
    return "<image>" if isinstance(source, Image.Image) else Path(source).name


def load_image(source: ImageSource) -> Image.Image:
    """Open ``source`` (a path or a PIL image) fully, upright by its EXIF orientation.

    Raises :class:`ImageError` for a missing file, a folder, or a file that is not an image.
    """
    if not isinstance(source, Image.Image):
        path = Path(source)
        if not path.exists():
            raise ImageError(f"{path}: no such file")
        if path.is_dir():
            raise ImageError(f"{path}: is a folder, not an image")
        try:
            with Image.open(path) as opened:
                if (
                    opened.format == "JPEG"
                ):  # decode a 12-megapixel photo at a fraction of its size: faster
                    opened.draft(opened.mode, (2 * WORK_SIZE, 2 * WORK_SIZE))
                opened.load()
                image = _upright(opened)
        except UnidentifiedImageError:
            raise ImageError(f"{path}: not an image (PIL cannot read it)") from None
        except (OSError, SyntaxError, ValueError) as exc:
            raise ImageError(f"{path}: cannot read the image ({exc})") from None
    else:
        image = _upright(source)
    if image.width == 0 or image.height == 0:
        raise ImageError(f"{source_name(source)}: the image has no pixels")
    return image


def _upright(image: Image.Image) -> Image.Image:
    """A copy turned as its EXIF orientation says (phone photos are often stored sideways)."""
    try:
        return ImageOps.exif_transpose(image)
    except Exception:  # a broken EXIF block should not stop a learner's photo
        return image.copy()


def _shrink(image: Image.Image, size: int = WORK_SIZE) -> Image.Image:
    """At most ``size`` pixels a side (area-averaging, so thin strokes fade rather than vanish)."""
    scale = size / max(image.size)
    if scale >= 1:
        return image
    new = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    if image.mode not in ("1", "L", "LA", "RGB", "RGBA", "F"):
        image = image.convert("F" if _is_wide(image) else "RGBA")
    if image.mode == "RGBA":  # premultiply so transparent pixels' hidden colour does not bleed
        return image.convert("RGBa").resize(new, Image.Resampling.BOX).convert("RGBA")
    if image.mode == "LA":
        return image.convert("La").resize(new, Image.Resampling.BOX).convert("LA")
    return image.convert("L" if image.mode == "1" else image.mode).resize(new, Image.Resampling.BOX)


def _is_wide(image: Image.Image) -> bool:
    return image.mode in ("I", "F") or image.mode.startswith("I;16")


def _wide_to_float(image: Image.Image) -> np.ndarray:
    """16-bit / 32-bit integer or float images to 0..255."""
    a = np.asarray(image, dtype=np.float64)
    top = float(np.nanmax(a)) if a.size else 0.0
    if image.mode == "F" and top <= 1.0:
        a = a * 255  # floats in 0..1
    elif image.mode.startswith("I;16") or (255 < top <= 65535):
        a = a / 257  # 16-bit
    elif top > 65535:
        a = a * (255 / top)
    return np.clip(np.nan_to_num(a), 0, 255)


def _has_alpha(image: Image.Image) -> bool:
    return image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info


def _to_arrays(image: Image.Image, name: str) -> tuple[np.ndarray, np.ndarray | None]:
    """``(gray, rgb)``: luminance in 0..255 (H, W), and the colours (H, W, 3) or ``None`` for gray.

    Transparent pixels are painted with the background: the colour of the opaque border pixels when
    most of the border is opaque, else (a drawing on a transparent canvas) black or white,
    whichever contrasts with the drawing.
    """
    if _is_wide(image):
        return _wide_to_float(image), None
    if _has_alpha(image):
        rgba = np.asarray(image.convert("RGBA"), dtype=np.float64)
        rgb, alpha = rgba[..., :3], rgba[..., 3:] / 255
        if alpha.min() < 1:
            opaque = alpha[..., 0] > 0.5
            if not opaque.any():
                raise ImageError(
                    f"{name}: the image is blank (fully transparent): no digit to classify"
                )
            border_opaque = _border(opaque)
            if border_opaque.mean() >= 0.5:
                fill = np.median(_border(rgb)[border_opaque], axis=0)
            else:
                lum = rgb[opaque] @ LUMA
                fill = np.full(3, 255.0 if np.median(lum) < 128 else 0.0)
            rgb = rgb * alpha + fill * (1 - alpha)
    elif image.mode in ("1", "L", "I", "F"):
        return np.asarray(image.convert("L"), dtype=np.float64), None
    else:  # RGB, P, CMYK, YCbCr, HSV, LAB, ...
        rgb = np.asarray(image.convert("RGB"), dtype=np.float64)
    if np.ptp(rgb, axis=-1).max() == 0:  # gray stored as colour
        return rgb[..., 0], None
    return rgb @ LUMA, rgb


LUMA = np.array([0.299, 0.587, 0.114])  # ITU-R 601 luminance, as PIL's convert("L")


def _border(a: np.ndarray) -> np.ndarray:
    """The pixels of the outer ring (2% of the shorter side, at least 1 pixel) of ``a`` (H, W, ...)."""
    r = max(1, round(0.02 * min(a.shape[:2])))
    return np.concatenate(
        [
            a[:r].reshape(-1, *a.shape[2:]),
            a[-r:].reshape(-1, *a.shape[2:]),
            a[r:-r, :r].reshape(-1, *a.shape[2:]),
            a[r:-r, -r:].reshape(-1, *a.shape[2:]),
        ]
    )


def _median3(a: np.ndarray) -> np.ndarray:
    """3x3 median filter (edges replicated)."""
    p = np.pad(a, 1, mode="edge")
    h, w = a.shape
    return np.median(
        np.stack([p[i : i + h, j : j + w] for i in range(3) for j in range(3)]), axis=0
    )


def _dilate(a: np.ndarray, steps: int) -> np.ndarray:
    """Grey-level dilation: ``steps`` rounds of a 3x3 max, alternating square and cross (roundish)."""
    h, w = a.shape
    for step in range(steps):
        p = np.pad(a, 1)
        cross = [
            p[1 : h + 1, 1 : w + 1],
            p[:h, 1 : w + 1],
            p[2:, 1 : w + 1],
            p[1 : h + 1, :w],
            p[1 : h + 1, 2:],
        ]
        corners = [p[:h, :w], p[:h, 2:], p[2:, :w], p[2:, 2:]] if step % 2 == 0 else []
        a = np.max(np.stack(cross + corners), axis=0)
    return a


def _blobs(mask: np.ndarray, ink: np.ndarray) -> np.ndarray:
    """The 8-connected blobs of ``mask`` without those much smaller (by ink) than the largest."""
    h, w = mask.shape
    labels = np.zeros((h, w), dtype=np.int32)
    masses = [0.0]
    for y0, x0 in zip(*np.nonzero(mask)):
        if labels[y0, x0]:
            continue
        label = len(masses)
        labels[y0, x0] = label
        mass, queue = 0.0, deque([(y0, x0)])
        while queue:
            y, x = queue.popleft()
            mass += ink[y, x]
            for yy in range(max(y - 1, 0), min(y + 2, h)):
                for xx in range(max(x - 1, 0), min(x + 2, w)):
                    if mask[yy, xx] and not labels[yy, xx]:
                        labels[yy, xx] = label
                        queue.append((yy, xx))
        masses.append(mass)
    masses_a = np.array(masses)
    keep = masses_a >= MIN_BLOB * masses_a.max()
    keep[0] = False
    return keep[labels]


def _bbox(mask: np.ndarray) -> tuple[int, int, int, int]:
    """(top, left, bottom, right) of the True pixels, bottom and right exclusive."""
    rows, cols = np.nonzero(mask.any(1))[0], np.nonzero(mask.any(0))[0]
    return int(rows[0]), int(cols[0]), int(rows[-1]) + 1, int(cols[-1]) + 1


def stroke_width(mask: np.ndarray) -> float:
    """Mean stroke width of a binary drawing, in pixels: area over half the perimeter."""
    area = mask.sum()
    if not area:
        return 0.0
    p = np.pad(mask, 1)
    edges = (p[1:, :] != p[:-1, :]).sum() + (p[:, 1:] != p[:, :-1]).sum()
    return float(2 * area / edges)


# --- preprocessing ----------------------------------------------------------------------------


@dataclass
class Preprocessed:
    """Every step of :func:`preprocess_steps`, for showing (arrays are at the working resolution)."""

    name: str
    original: Image.Image  # as loaded (upright)
    gray: np.ndarray  # float 0..255 (H, W): luminance, transparency painted over
    inverted: bool  # the background was light: dark ink became bright
    by_colour: bool  # the ink was found by colour distance, not luminance
    ink: np.ndarray  # float 0..1 (H, W): the digit bright on black, background and noise removed
    bbox: tuple[int, int, int, int]  # (top, left, bottom, right) of the digit in ``ink``, exclusive
    thickened: int  # dilation steps applied to thin strokes (0: none)
    cropped: np.ndarray  # float 0..1: ``ink`` cropped to the bbox (after any thickening)
    boxed: np.ndarray  # float 0..1: scaled into the 20x20 box, aspect ratio kept
    image: torch.Tensor  # uint8 (28, 28): the MNIST-style result


def preprocess_steps(source: ImageSource) -> Preprocessed:
    """Turn a photo or drawing of one digit into an MNIST-style 28x28 image, keeping each step.

    Raises :class:`ImageError` when the file is missing or not an image, or the image is blank.
    """
    name = source_name(source)
    original = load_image(source)
    gray, rgb = _to_arrays(_shrink(original), name)
    photo = min(gray.shape) >= 64  # big enough that a 3x3 median does not eat the strokes
    smooth = _median3 if photo else (lambda a: a)

    # Ink = contrast against the background (the median of the border), on the side where the
    # image departs furthest from it: darker (a light background, inverted) or lighter.
    g = smooth(gray)
    bg = float(np.median(_border(g)))
    inverted = bg - g.min() > g.max() - bg
    ink = np.clip(bg - g if inverted else g - bg, 0, None)
    by_colour = False
    if rgb is not None:  # red on green has little luminance contrast: use the colour distance
        bg_rgb = np.median(_border(rgb), axis=0)
        dist = smooth(np.sqrt(((rgb - bg_rgb) ** 2).sum(-1) / 3))
        if ink.max() < 0.5 * dist.max():
            ink, by_colour = dist, True
    peak = float(ink.max())
    if peak < MIN_CONTRAST:
        raise ImageError(
            f"{name}: the image is blank (contrast {peak:.0f} of 255 grey levels): "
            "no digit to classify"
        )
    ink = ink / peak
    core = _blobs(ink >= STRONG, ink)
    top, left, bottom, right = _bbox(core)
    rim = max(1, round(RIM * max(bottom - top, right - left)))
    kept = (ink >= WEAK) & (_dilate(core.astype(np.float64), rim) > 0)
    ink = np.where(kept, ink, 0.0)
    top, left, bottom, right = _bbox(kept)

    # Thin strokes (a pen on a big photo) would become a faint hair at 20x20: thicken them first,
    # to MNIST's typical width.
    scale = BOX / max(bottom - top, right - left)  # working pixels -> 28x28 pixels
    width = stroke_width(ink[top:bottom, left:right] >= 0.25) * scale
    steps = 0
    if width < MIN_STROKE:
        steps = math.ceil((TARGET_STROKE - width) / scale / 2)  # a 3x3 max widens by 2 pixels
        padded = np.pad(ink, steps)
        cropped = _dilate(padded[top : bottom + 2 * steps, left : right + 2 * steps], steps)
    else:
        cropped = ink[top:bottom, left:right]

    # Scale the longer side to 20 pixels, anti-aliased, and stretch so the strongest pixel is 1.
    h, w = cropped.shape
    scale = BOX / max(h, w)
    new = (max(1, round(w * scale)), max(1, round(h * scale)))
    resample = Image.Resampling.BOX if scale < 1 else Image.Resampling.BILINEAR
    boxed = np.asarray(Image.fromarray(cropped.astype(np.float32), mode="F").resize(new, resample))
    boxed = np.clip(boxed / max(float(boxed.max()), 1e-6), 0, 1)

    # Paste into 28x28 with the centre of mass at (14, 14), a whole-pixel shift as in MNIST.
    bh, bw = boxed.shape
    ys, xs = np.mgrid[0:bh, 0:bw]
    mass = boxed.sum()
    cy, cx = (boxed * ys).sum() / mass, (boxed * xs).sum() / mass
    oy = min(max(round(CENTRE - cy), 0), SIZE - bh)  # (clamped: never push ink out of the frame)
    ox = min(max(round(CENTRE - cx), 0), SIZE - bw)
    out = np.zeros((SIZE, SIZE), dtype=np.float64)
    out[oy : oy + bh, ox : ox + bw] = boxed
    image = torch.from_numpy(np.round(out * 255).astype(np.uint8))
    return Preprocessed(
        name,
        original,
        gray,
        bool(inverted),
        by_colour,
        ink,
        (int(top), int(left), int(bottom), int(right)),
        steps,
        cropped,
        boxed,
        image,
    )


def preprocess(source: ImageSource) -> torch.Tensor:
    """A photo or drawing of one digit (path or PIL image) as an MNIST-style uint8 image (28, 28):
    white digit on black, fitted to 20x20, centre of mass at the centre. See :func:`preprocess_steps`."""
    return preprocess_steps(source).image


def to_model_input(images: torch.Tensor) -> torch.Tensor:
    """uint8 (28, 28) or (N, 28, 28) -> normalized float (N, 1, 28, 28), as the training data."""
    from .data import normalize

    return normalize(images.reshape(-1, SIZE, SIZE))


# --- classifying ------------------------------------------------------------------------------


@dataclass
class Prediction:
    """The top-k digits for one image, most likely first."""

    name: str
    image: torch.Tensor  # uint8 (28, 28): what the model saw
    digits: list[int]  # top-k digits
    probabilities: list[float]  # their probabilities (0..1)
    all_probabilities: torch.Tensor  # (10,)
    original: Image.Image | None = None  # the image as loaded

    @property
    def digit(self) -> int:
        return self.digits[0]

    def __str__(self) -> str:
        return f"{self.name}: " + "  ".join(
            f"{d} ({p:.1%})" for d, p in zip(self.digits, self.probabilities)
        )


def classify(
    sources: ImageSource | Sequence[ImageSource], model: torch.nn.Module, k: int = 3
) -> list[Prediction]:
    """Preprocess each image (path or PIL image) and return its top-``k`` digits and probabilities.

    Raises :class:`ImageError` for the first image that is missing, not an image, or blank.
    """
    from .train import predict

    if isinstance(sources, (str, os.PathLike, Image.Image)):
        sources = [sources]
    if not 1 <= k <= 10:
        raise ValueError(f"k must be between 1 and 10, not {k}")
    steps = [preprocess_steps(s) for s in sources]
    if not steps:
        return []
    probs = predict(model, to_model_input(torch.stack([st.image for st in steps])))
    top = probs.topk(k, dim=1)
    return [
        Prediction(
            st.name,
            st.image,
            top.indices[i].tolist(),
            top.values[i].tolist(),
            probs[i],
            st.original,
        )
        for i, st in enumerate(steps)
    ]


# --- plots --------------------------------------------------------------------------------------


def _figure(width: float, height: float):
    """A figure in the notebooks' style (shown as PNG when it is a cell's last value, no pyplot)."""
    from . import plots  # imported here: classifying without plotting needs no matplotlib

    return plots._figure(width, height)


def _style():
    import matplotlib

    from .plots import STYLE

    return matplotlib.rc_context(STYLE)


def _show(ax, image, title: str, gray: bool = True) -> None:
    if isinstance(image, Image.Image):
        image = np.asarray(image if image.mode in ("RGB", "RGBA", "L") else image.convert("RGBA"))
        gray = image.ndim == 2
    ax.imshow(
        image,
        cmap="gray" if gray else None,
        vmin=0 if gray else None,
        vmax=(255 if image.dtype == np.uint8 or image.max() > 1 else 1) if gray else None,
        interpolation="nearest" if max(image.shape[:2]) <= 64 else "antialiased",
    )
    ax.set_title(title)
    ax.set_xticks([])
    ax.set_yticks([])


def plot_prediction(prediction: Prediction, axes=None, title: str | None = None):
    """The image as loaded (when known), the 28x28 image the model saw, and a bar chart of the top-k
    probabilities. ``axes``: 2 or 3 matplotlib axes (default: a new figure). Returns the figure."""
    if axes is None:
        with _style():
            fig = _figure(8.5 if prediction.original is not None else 6, 2.8)
            n = 3 if prediction.original is not None else 2
            axes = fig.subplots(1, n, width_ratios=[1, 1, 1.5][-n:])
            _plot_prediction(prediction, axes, title)
        return fig
    _plot_prediction(prediction, axes, title)
    return axes[0].figure


def _plot_prediction(prediction: Prediction, axes, title: str | None) -> None:
    *ax_imgs, ax_bar = axes
    if len(ax_imgs) == 2:
        _show(ax_imgs[0], prediction.original, title if title is not None else prediction.name)
        _show(ax_imgs[1], prediction.image.numpy(), "model input")
    else:
        _show(ax_imgs[0], prediction.image.numpy(), title if title is not None else prediction.name)
    k = len(prediction.digits)
    probs = prediction.probabilities[::-1]
    ax_bar.barh(
        [str(d) for d in prediction.digits][::-1],
        probs,
        color=["tab:blue"] * (k - 1) + ["tab:green"],
    )
    for y, p in enumerate(probs):
        ax_bar.text(
            p + 0.02 if p < 0.6 else p - 0.02,
            y,
            f"{p:.1%}",
            va="center",
            ha="left" if p < 0.6 else "right",
            color="black" if p < 0.6 else "white",
        )
    ax_bar.set_xlim(0, 1)
    ax_bar.set_xlabel("probability")
    ax_bar.set_title(f"top {k}")


def plot_predictions(
    predictions: Sequence[Prediction],
    path: str | os.PathLike | None = None,
    columns: int = 2,
    titles: Sequence[str] | None = None,
    originals: bool = True,
):
    """A grid of :func:`plot_prediction` panels (with the images as loaded, when ``originals`` and they
    are known); also saved as PNG to ``path`` when given. Returns the figure."""
    n = len(predictions)
    if n == 0:
        raise ValueError("no predictions to plot")
    originals = originals and all(p.original is not None for p in predictions)
    columns = max(1, min(columns, n))
    rows = -(-n // columns)
    per = 3 if originals else 2
    with _style():
        fig = _figure((8.5 if originals else 6) * columns, 2.8 * rows)
        axes = np.array(
            fig.subplots(
                rows, per * columns, width_ratios=[1, 1, 1.5][-per:] * columns, squeeze=False
            )
        )
        for i, pred in enumerate(predictions):
            r, c = divmod(i, columns)
            _plot_prediction(
                pred if originals else _without_original(pred),
                axes[r, per * c : per * (c + 1)],
                titles[i] if titles else None,
            )
        for j in range(n, rows * columns):
            r, c = divmod(j, columns)
            for ax in axes[r, per * c : per * (c + 1)]:
                ax.set_axis_off()
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path)
    return fig


def _without_original(prediction: Prediction) -> Prediction:
    from dataclasses import replace

    return replace(prediction, original=None)


def plot_steps(steps: Preprocessed):
    """The preprocessing of one image, step by step: as loaded, grayscale, ink (inverted when the
    background was light; cleaned) with the digit's bounding box, cropped (and thickened), scaled into
    the 20x20 box, and pasted into 28x28 with the centre of mass (+) at the centre. Returns the figure."""
    top, left, bottom, right = steps.bbox
    ink_title = "colour contrast" if steps.by_colour else ("inverted" if steps.inverted else "ink")
    panels = [
        (steps.original, "as loaded"),
        (steps.gray, "grayscale"),
        (steps.ink, ink_title + ", cleaned"),
        (steps.cropped, "cropped" + (", thicker" if steps.thickened else "")),
        (steps.boxed, f"{steps.boxed.shape[1]}x{steps.boxed.shape[0]}: fits 20x20"),
        (steps.image.numpy(), "28x28, centred"),
    ]
    with _style():
        fig = _figure(16, 3.2)
        axes = fig.subplots(1, 6)
        for ax, (image, title) in zip(axes, panels):
            _show(ax, image, title)
        axes[2].add_patch(_rectangle(left - 0.5, top - 0.5, right - left, bottom - top))
        axes[5].add_patch(_rectangle(3.5, 3.5, BOX, BOX, ls="--"))
        axes[5].plot([CENTRE], [CENTRE], "r+", ms=14, mew=2)
    return fig


def _rectangle(x, y, w, h, ls="-"):
    from matplotlib.patches import Rectangle

    return Rectangle((x, y), w, h, fill=False, ec="tab:red", lw=1.5, ls=ls)


# --- synthetic digits (for the tests and the notebook) --------------------------------------------


def _arc(cx: float, cy: float, rx: float, ry: float, a0: float, a1: float, n: int = 32):
    """Points on an ellipse from angle ``a0`` to ``a1`` (degrees; 0 = right, 90 = down)."""
    t = np.radians(np.linspace(a0, a1, n))
    return list(zip(cx + rx * np.cos(t), cy + ry * np.sin(t)))


# Handwriting-style strokes in a unit box (x right, y down), shaped like typical MNIST digits:
# an open-top 4, a 1 without base or flag, a 7 without a bar.
HAND_STROKES: dict[int, list[list[tuple[float, float]]]] = {
    0: [_arc(0.5, 0.5, 0.32, 0.46, -90, 270)],
    1: [[(0.58, 0.03), (0.52, 0.5), (0.46, 0.97)]],
    2: [_arc(0.5, 0.3, 0.32, 0.25, 190, 390) + [(0.18, 0.95), (0.88, 0.95)]],
    3: [_arc(0.48, 0.28, 0.3, 0.23, 200, 450) + _arc(0.48, 0.73, 0.33, 0.23, 270, 520)],
    4: [[(0.55, 0.03), (0.14, 0.62), (0.9, 0.62)], [(0.7, 0.28), (0.68, 0.97)]],
    5: [[(0.82, 0.04), (0.33, 0.04), (0.29, 0.46)], _arc(0.48, 0.69, 0.32, 0.27, 235, 510)],
    6: [
        [(0.72, 0.03), (0.5, 0.18), (0.33, 0.4), (0.23, 0.66)]
        + _arc(0.5, 0.72, 0.27, 0.25, 180, 540)
    ],
    7: [[(0.14, 0.06), (0.86, 0.06), (0.62, 0.5), (0.45, 0.97)]],
    8: [_arc(0.5, 0.26, 0.25, 0.23, 90, 450), _arc(0.5, 0.72, 0.3, 0.25, -90, 270)],
    9: [_arc(0.5, 0.3, 0.29, 0.26, 0, 360), [(0.79, 0.3), (0.74, 0.65), (0.66, 0.97)]],
}

FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
    "DejaVuSans-Bold.ttf",
    "DejaVuSans.ttf",
    "Arial Bold.ttf",
    "arialbd.ttf",
    "Arial.ttf",
)


def digit_font(size: int) -> ImageFont.ImageFont:
    """A bold TrueType font (DejaVu Sans Bold where installed), else PIL's built-in font."""
    for candidate in FONT_CANDIDATES:
        try:
            return ImageFont.truetype(candidate, size)
        except OSError:
            continue
    return ImageFont.load_default(size=size)


def draw_digit(
    digit: int,
    canvas: tuple[int, int] = (200, 200),
    box: tuple[float, float, float, float] | None = None,
    ink="black",
    background="white",
    stroke: float = 0.13,
    slant: float = 0.0,
    style: str = "hand",
) -> Image.Image:
    """A synthetic picture of ``digit``: ``style="hand"`` draws handwriting-like strokes with round
    ends, ``style="font"`` types it in a bold font.

    ``canvas``: (width, height) in pixels; ``box``: (left, top, right, bottom) where the digit goes
    (default: the middle 60% of the canvas height, 3:4 aspect); ``ink``/``background``: PIL colours
    (an RGBA background such as ``(0, 0, 0, 0)`` gives a transparent image); ``stroke``: pen width
    as a fraction of the digit's height; ``slant``: horizontal shear (0.2 leans the top right).
    """
    if digit not in HAND_STROKES:
        raise ValueError(f"digit must be 0..9, not {digit!r}")
    W, H = canvas
    if box is None:
        h = 0.6 * H
        box = (W / 2 - 0.375 * h, 0.2 * H, W / 2 + 0.375 * h, 0.8 * H)
    mode = "RGBA" if isinstance(background, tuple) and len(background) == 4 else "RGB"
    ss = 4  # supersampling, for smooth edges
    img = Image.new(mode, (W * ss, H * ss), background)
    draw = ImageDraw.Draw(img)
    x0, y0, x1, y1 = (v * ss for v in box)
    bw, bh = x1 - x0, y1 - y0
    if style == "font":
        font = digit_font(max(4, round(bh)))
        l, t, r, b = font.getbbox(str(digit))
        font = digit_font(max(4, round(bh * bh / max(b - t, 1))))
        l, t, r, b = font.getbbox(str(digit))
        draw.text(((x0 + x1) / 2 - (l + r) / 2, y0 - t), str(digit), fill=ink, font=font)
    elif style == "hand":
        width = max(1, round(stroke * bh))
        for line in HAND_STROKES[digit]:
            pts = [(x0 + (u + slant * (0.5 - v)) * bw, y0 + v * bh) for u, v in line]
            draw.line(pts, fill=ink, width=width, joint="curve")
            for x, y in (pts[0], pts[-1]):
                draw.ellipse((x - width / 2, y - width / 2, x + width / 2, y + width / 2), fill=ink)
    else:
        raise ValueError(f"style must be 'hand' or 'font', not {style!r}")
    return img.resize((W, H), Image.Resampling.BOX)


def photo_like(
    image: Image.Image, light: float = 0.25, noise: float = 8.0, quality: int = 60, seed: int = 0
) -> Image.Image:
    """``image`` as a phone camera might see it: light falling off towards the left by ``light``,
    sensor noise and paper texture (Gaussian, ``noise`` grey levels), JPEG compression at ``quality``."""
    rng = np.random.default_rng(seed)
    a = np.asarray(image.convert("RGB"), dtype=np.float64)
    a = a * (1 - light + light * np.linspace(0, 1, a.shape[1]))[None, :, None] + rng.normal(
        0, noise, a.shape
    )
    buffer = io.BytesIO()
    Image.fromarray(np.clip(a, 0, 255).astype(np.uint8)).save(buffer, "JPEG", quality=quality)
    return Image.open(io.BytesIO(buffer.getvalue()))


def render_mnist(
    image: torch.Tensor | np.ndarray,
    scale: int = 4,
    canvas: tuple[int, int] | None = None,
    offset: tuple[int, int] = (0, 0),
    dark_on_light: bool = False,
    smooth: bool = False,
) -> Image.Image:
    """An MNIST image (uint8 28x28) as a bigger grayscale picture, as if it were a learner's drawing:
    upscaled ``scale`` times (each pixel a square block; bilinear with ``smooth``, which blurs the
    strokes a little), pasted at ``offset`` (x, y) on a ``canvas`` (width, height; default: just the
    upscaled image), optionally black on white."""
    a = np.asarray(image, dtype=np.uint8)
    resample = Image.Resampling.BILINEAR if smooth else Image.Resampling.NEAREST
    big = Image.fromarray(a, mode="L").resize((28 * scale, 28 * scale), resample)
    if canvas is not None:
        out = Image.new("L", canvas, 0)
        out.paste(big, offset)
        big = out
    return ImageOps.invert(big) if dark_on_light else big
