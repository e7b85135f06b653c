"""Reading any image as arrays: luminance, and colour where there is any.

Learners' pictures come in every form PIL can open: photos (often stored sideways, with an EXIF
tag that says how to turn them), RGB and palette PNGs, drawings on a transparent canvas, 16-bit
scans. :func:`load_image` opens one upright, :func:`shrink` brings it down to a size that is quick
to analyse, and :func:`to_arrays` turns it into plain numbers: grey levels in 0..255, with
transparent pixels painted over with the background.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

ImageSource = str | os.PathLike | Image.Image  # a path, or an image already opened
LUMA = np.array([0.299, 0.587, 0.114])  # ITU-R 601 luminance, as PIL's convert("L")


class ImageError(ValueError):
    """An image could not be used: missing, not an image, or blank. The message says which."""


def source_name(source: ImageSource) -> str:
    """A short name for messages: the file name, or ``"<image>"`` for an in-memory image."""
    return "<image>" if isinstance(source, Image.Image) else Path(source).name


def load_image(source: ImageSource, draft: int | None = None) -> Image.Image:
    """Open ``source`` (a path or a PIL image) fully, upright by its EXIF orientation.

    ``draft``: a JPEG may be decoded at a reduced scale (much faster for a phone photo) as long as
    both sides keep at least this many pixels. Raises :class:`ImageError` for a missing file, a
    folder, or a file that is not an image.
    """
    if not isinstance(source, Image.Image):
        path = Path(source)
        if not path.exists():
            raise ImageError(f"{path}: no such file")
        if path.is_dir():
            raise ImageError(f"{path}: is a folder, not an image")
        try:
            with Image.open(path) as opened:
                if opened.format == "JPEG" and draft is not None:
                    opened.draft(opened.mode, (draft, draft))
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


def shrink(image: Image.Image, size: int) -> Image.Image:
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


def to_arrays(image: Image.Image, name: str) -> tuple[np.ndarray, np.ndarray | None]:
    """``(gray, rgb)``: luminance in 0..255 (H, W), and the colours (H, W, 3) or ``None`` for gray.

    Transparent pixels are painted with the background: the colour of the opaque border pixels when
    most of the border is opaque, else (a drawing on a transparent canvas) black or white,
    whichever contrasts with the drawing. ``name`` is for the error of a fully transparent image.
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
            border_opaque = border_pixels(opaque)
            if border_opaque.mean() >= 0.5:
                fill = np.median(border_pixels(rgb)[border_opaque], axis=0)
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


def border_pixels(a: np.ndarray) -> np.ndarray:
    """The pixels of the outer ring (2% of the shorter side, at least 1 pixel) of ``a`` (H, W, ...),
    flattened to (N, ...)."""
    r = max(1, round(0.02 * min(a.shape[:2])))
    return np.concatenate(
        [
            a[:r].reshape(-1, *a.shape[2:]),
            a[-r:].reshape(-1, *a.shape[2:]),
            a[r:-r, :r].reshape(-1, *a.shape[2:]),
            a[r:-r, -r:].reshape(-1, *a.shape[2:]),
        ]
    )
