"""Synthetic digits: pictures of digits made in code, for the tests and notebook 06.

:func:`draw_digit` draws a digit with handwriting-like strokes or in a bold font, in any colours,
size, place, pen width and slant; :func:`photo_like` ages a picture into what a phone camera might
see; :func:`render_mnist` turns an MNIST image back into a bigger picture, as if a learner had
drawn it. None of them needs a file, so everything that uses them runs anywhere.
"""

from __future__ import annotations

import io

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont, ImageOps


def _arc(cx: float, cy: float, rx: float, ry: float, a0: float, a1: float, n: int = 32):
    """Points on an ellipse from angle ``a0`` to ``a1`` (degrees; 0 = right, 90 = down)."""
    t = np.radians(np.linspace(a0, a1, n))
    return list(zip(cx + rx * np.cos(t), cy + ry * np.sin(t), strict=True))


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
        left, top, right, bottom = font.getbbox(str(digit))
        font = digit_font(max(4, round(bh * bh / max(bottom - top, 1))))  # the digit's ink bh tall
        left, top, right, bottom = font.getbbox(str(digit))
        draw.text(((x0 + x1) / 2 - (left + right) / 2, y0 - top), str(digit), fill=ink, font=font)
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
    sensor noise and paper texture (Gaussian, ``noise`` grey levels), JPEG compression at
    ``quality``."""
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
    """An MNIST image (uint8 28x28) as a bigger grayscale picture, as if it were a learner's
    drawing: upscaled ``scale`` times (each pixel a square block; bilinear with ``smooth``, which
    blurs the strokes a little), pasted at ``offset`` (x, y) on a ``canvas`` (width, height;
    default: just the upscaled image), optionally black on white."""
    a = np.asarray(image, dtype=np.uint8)
    resample = Image.Resampling.BILINEAR if smooth else Image.Resampling.NEAREST
    big = Image.fromarray(a, mode="L").resize((28 * scale, 28 * scale), resample)
    if canvas is not None:
        out = Image.new("L", canvas, 0)
        out.paste(big, offset)
        big = out
    return ImageOps.invert(big) if dark_on_light else big
