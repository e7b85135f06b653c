"""Your own digits: MNIST-style preprocessing of any photo or drawing, synthetic digits to test
it on, and the drawing pad of notebook 06."""

from .drawpad import DrawPad, data_url, image_from_data_url, uploaded_images
from .preprocess import (
    Prediction,
    PreprocessConfig,
    Preprocessed,
    classify,
    preprocess,
    preprocess_steps,
    stroke_width,
    to_model_input,
)
from .synthetic import digit_font, draw_digit, photo_like, render_mnist

__all__ = [
    "DrawPad",
    "Prediction",
    "PreprocessConfig",
    "Preprocessed",
    "classify",
    "data_url",
    "digit_font",
    "draw_digit",
    "image_from_data_url",
    "photo_like",
    "preprocess",
    "preprocess_steps",
    "render_mnist",
    "stroke_width",
    "to_model_input",
    "uploaded_images",
]
