"""MNIST-style preprocessing: any photo or drawing of one digit made the way MNIST's images were.

MNIST digits were made in a particular way: a black-and-white scan of one digit was cropped to the
digit, scaled (anti-aliased, keeping its aspect ratio) to fit a 20x20 box, and pasted into a 28x28
image so that its centre of mass lies at the centre, white ink on black. A model trained on them
only understands images made the same way, so :func:`preprocess` repeats those steps on any photo
or drawing, and :func:`classify` runs a model on the result:

1. load it (any mode: RGB, RGBA with transparency, palette, grayscale, 16-bit; photos are turned
   upright by their EXIF orientation) and shrink it to at most 256 pixels a side;
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

The numbers are the defaults of :class:`PreprocessConfig`; to change one, pass a config:
``preprocess(photo, PreprocessConfig(min_stroke=0))`` does not thicken thin strokes.
"""

from __future__ import annotations

import math
import numbers
import os
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, fields

import numpy as np
import torch
from PIL import Image

from ..data.images import (
    ImageError,
    ImageSource,
    border_pixels,
    load_image,
    shrink,
    source_name,
    to_arrays,
)

SIZE = 28  # MNIST's images are 28x28 ...
CENTRE = 14  # ... with the centre of mass at pixel (14, 14) (MNIST's test set: 13.99, 14.01)


@dataclass(frozen=True)
class PreprocessConfig:
    """The settings of :func:`preprocess_steps`. The defaults make images the way MNIST's were made.

    Change one with ``dataclasses.replace(PreprocessConfig(), min_blob=0.0)`` or
    ``PreprocessConfig(min_blob=0.0)``. Fractions are of the peak contrast (``strong``, ``weak``),
    of the largest blob's ink (``min_blob``) or of the digit's size (``rim``).
    """

    work_size: int = 256  # images are shrunk to at most this many pixels a side before the analysis
    box: int = 20  # the digit is scaled to fit a box x box square (MNIST: 20x20)
    min_contrast: float = 16.0  # grey levels (of 255): less between digit and background is blank
    strong: float = 0.50  # pixels at this fraction of the peak contrast or more: the digit's core
    weak: float = 0.15  # pixels at this fraction or more, near the core: its soft edges
    min_blob: float = 0.08  # core blobs with less ink than this fraction of the largest: noise
    rim: float = 0.06  # soft edges count up to this fraction of the digit's size from its core
    min_stroke: float = 1.2  # strokes thinner than this (in 28x28 pixels; 0: never) are thickened
    target_stroke: float = 2.2  # to this width: MNIST's median (its 1st percentile is 1.36)

    def __post_init__(self) -> None:
        for field in fields(self):
            value = getattr(self, field.name)
            if isinstance(value, bool) or not isinstance(value, numbers.Real):
                raise ValueError(f"PreprocessConfig.{field.name} must be a number, not {value!r}")
            if not math.isfinite(value):
                raise ValueError(f"PreprocessConfig.{field.name} must be finite, not {value!r}")
        whole = numbers.Integral
        rules = [  # (setting, whether its value is valid, what it must be)
            (
                "work_size",
                isinstance(self.work_size, whole) and self.work_size >= SIZE,
                "an int >= 28",
            ),
            ("box", isinstance(self.box, whole) and 1 <= self.box <= SIZE, "an int from 1 to 28"),
            ("min_contrast", 0 < self.min_contrast <= 255, "more than 0 and at most 255"),
            ("strong", 0 <= self.strong <= 1, "a fraction from 0 to 1"),
            ("weak", 0 <= self.weak <= self.strong, "a fraction from 0 to strong"),
            ("min_blob", 0 <= self.min_blob <= 1, "a fraction from 0 (keep every blob) to 1"),
            ("rim", 0 <= self.rim <= 1, "a fraction from 0 to 1"),
            ("min_stroke", self.min_stroke >= 0, "0 (never thicken) or more"),
            ("target_stroke", self.target_stroke >= self.min_stroke, "at least min_stroke"),
        ]
        for name, valid, rule in rules:
            if not valid:
                raise ValueError(
                    f"PreprocessConfig.{name} must be {rule}, not {getattr(self, name)!r}"
                )


def _median3(a: np.ndarray) -> np.ndarray:
    """3x3 median filter (edges replicated)."""
    p = np.pad(a, 1, mode="edge")
    h, w = a.shape
    return np.median(
        np.stack([p[i : i + h, j : j + w] for i in range(3) for j in range(3)]), axis=0
    )


def _dilate(a: np.ndarray, steps: int) -> np.ndarray:
    """Grey-level dilation: ``steps`` rounds of a 3x3 max, alternating square and cross
    (roundish)."""
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


def _blobs(mask: np.ndarray, ink: np.ndarray, min_blob: float) -> np.ndarray:
    """The 8-connected blobs of ``mask`` without those with less ink than ``min_blob`` times the
    largest one's (``min_blob=0`` keeps every blob)."""
    h, w = mask.shape
    labels = np.zeros((h, w), dtype=np.int32)
    masses = [0.0]
    for y0, x0 in zip(*np.nonzero(mask), strict=True):
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
    keep = masses_a >= min_blob * masses_a.max()
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
    """Every step of :func:`preprocess_steps`, for showing (arrays at the working resolution)."""

    name: str
    original: Image.Image  # as loaded (upright)
    gray: np.ndarray  # float 0..255 (H, W): luminance, transparency painted over
    inverted: bool  # the background was light: dark ink became bright
    by_colour: bool  # the ink was found by colour distance, not luminance
    ink: np.ndarray  # float 0..1 (H, W): the digit bright on black, background and noise removed
    bbox: tuple[int, int, int, int]  # (top, left, bottom, right) of the digit in ``ink``, exclusive
    thickened: int  # dilation steps applied to thin strokes (0: none)
    cropped: np.ndarray  # float 0..1: ``ink`` cropped to the bbox (after any thickening)
    boxed: np.ndarray  # float 0..1: scaled into the box (20x20), aspect ratio kept
    image: torch.Tensor  # uint8 (28, 28): the MNIST-style result
    config: PreprocessConfig  # the settings used


def preprocess_steps(
    source: ImageSource, config: PreprocessConfig = PreprocessConfig()
) -> Preprocessed:
    """Turn a photo or drawing of one digit into an MNIST-style 28x28 image, keeping each step.

    ``config``: the thresholds and sizes (the defaults make images as MNIST's were made).
    Raises :class:`ImageError` when the file is missing or not an image, or the image is blank.
    """
    name = source_name(source)
    original = load_image(source, draft=2 * config.work_size)
    gray, rgb = to_arrays(shrink(original, config.work_size), name)
    photo = min(gray.shape) >= 64  # big enough that a 3x3 median does not eat the strokes
    smooth = _median3 if photo else (lambda a: a)

    # Ink = contrast against the background (the median of the border), on the side where the
    # image departs furthest from it: darker (a light background, inverted) or lighter.
    g = smooth(gray)
    bg = float(np.median(border_pixels(g)))
    inverted = bg - g.min() > g.max() - bg
    ink = np.clip(bg - g if inverted else g - bg, 0, None)
    by_colour = False
    if rgb is not None:  # red on green has little luminance contrast: use the colour distance
        bg_rgb = np.median(border_pixels(rgb), axis=0)
        dist = smooth(np.sqrt(((rgb - bg_rgb) ** 2).sum(-1) / 3))
        if ink.max() < 0.5 * dist.max():
            ink, by_colour = dist, True
    peak = float(ink.max())
    if peak < config.min_contrast:
        raise ImageError(
            f"{name}: the image is blank (contrast {peak:.0f} of 255 grey levels): "
            "no digit to classify"
        )
    ink = ink / peak
    core = _blobs(ink >= config.strong, ink, config.min_blob)
    top, left, bottom, right = _bbox(core)
    rim = max(1, round(config.rim * max(bottom - top, right - left)))
    kept = (ink >= config.weak) & (_dilate(core.astype(np.float64), rim) > 0)
    ink = np.where(kept, ink, 0.0)
    top, left, bottom, right = _bbox(kept)

    # Thin strokes (a pen on a big photo) would become a faint hair at 20x20: thicken them first,
    # to MNIST's typical width.
    scale = config.box / max(bottom - top, right - left)  # working pixels -> 28x28 pixels
    width = stroke_width(ink[top:bottom, left:right] >= 0.25) * scale
    steps = 0
    if width < config.min_stroke:
        steps = math.ceil((config.target_stroke - width) / scale / 2)  # 3x3 max: 2 pixels wider
        padded = np.pad(ink, steps)
        cropped = _dilate(padded[top : bottom + 2 * steps, left : right + 2 * steps], steps)
    else:
        cropped = ink[top:bottom, left:right]

    # Scale the longer side to 20 pixels (the box), anti-aliased; stretch the strongest pixel to 1.
    h, w = cropped.shape
    scale = config.box / max(h, w)
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
        config,
    )


def preprocess(source: ImageSource, config: PreprocessConfig = PreprocessConfig()) -> torch.Tensor:
    """A photo or drawing of one digit (path or PIL image) as an MNIST-style uint8 image (28, 28):
    white digit on black, fitted to 20x20, centre of mass at the centre.

    See :func:`preprocess_steps`; ``config`` as there.
    """
    return preprocess_steps(source, config).image


def to_model_input(images: torch.Tensor) -> torch.Tensor:
    """uint8 (28, 28) or (N, 28, 28) -> normalized float (N, 1, 28, 28), as the training data."""
    from ..data.mnist import normalize

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
            f"{d} ({p:.1%})" for d, p in zip(self.digits, self.probabilities, strict=True)
        )


def classify(
    sources: ImageSource | Sequence[ImageSource],
    model: torch.nn.Module,
    k: int = 3,
    config: PreprocessConfig = PreprocessConfig(),
) -> list[Prediction]:
    """Preprocess each image (path or PIL image) and return its top-``k`` digits and probabilities.

    ``config``: the preprocessing's settings, as for :func:`preprocess_steps`. Raises
    :class:`ImageError` for the first image that is missing, not an image, or blank.
    """
    from ..evaluate import predict

    if isinstance(sources, (str, os.PathLike, Image.Image)):
        sources = [sources]
    if not 1 <= k <= 10:
        raise ValueError(f"k must be between 1 and 10, not {k}")
    steps = [preprocess_steps(s, config) for s in sources]
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
