"""The drawing pad of notebook 06, tested in Python (no browser): the page's side of it only sets
``png`` to the canvas's PNG data URL, so setting it here exercises everything the kernel does.
And ``uploaded_images``, which turns either kind of upload (Colab, ipywidgets) into PIL images.
"""

import base64
import io
import re

import ipywidgets
import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from effmnist.data.images import ImageError
from effmnist.digits.drawpad import (
    EMPTY,
    START,
    DrawPad,
    data_url,
    image_from_data_url,
    uploaded_images,
)
from effmnist.digits.synthetic import draw_digit

RESULT = re.compile(
    r"^\d \(\d{1,3}%\)  \d \(\d{1,3}%\)  \d \(\d{1,3}%\)$"
)  # "7 (98%)  1 (1%)  2 (0%)"


class Always(nn.Module):
    """A stand-in model (no training needed): the same logits for every image, ``digit`` first."""

    def __init__(self, digit: int = 4):
        super().__init__()
        self.logits = nn.Parameter(torch.arange(10.0) / 10)
        with torch.no_grad():
            self.logits[digit] = 5.0

    def forward(self, x):
        return self.logits.expand(len(x), 10)


def canvas(digit: int | None) -> str:
    """What the page sends after a stroke: the 280x280 canvas, black ink on opaque white (RGBA),
    as a PNG data URL; ``None``: a blank canvas."""
    if digit is None:
        picture = Image.new("RGB", (280, 280), "white")
    else:
        picture = draw_digit(digit, canvas=(280, 280), ink="black", background="white", stroke=0.12)
    return data_url(picture.convert("RGBA"))


def png_bytes(image: Image.Image, fmt: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()


@pytest.mark.parametrize("digit", [7, 2, 3])
def test_a_drawn_digit_is_classified_and_shown(reference, digit):
    model, _ = reference
    pad = DrawPad(model)
    assert pad.result == START and pad.seen == "" and pad.last is None
    pad.png = canvas(digit)
    assert RESULT.match(pad.result), pad.result
    assert pad.result.startswith(f"{digit} (") and pad.last.digit == digit
    assert pad.last.probabilities[0] > 0.5
    seen = image_from_data_url(pad.seen)  # the 28x28 image the model saw, white on black
    assert seen.size == (28, 28) and seen.mode == "L"
    assert torch.equal(torch.from_numpy(np.array(seen)), pad.last.image)
    assert pad.last.image[0, 0] == 0 and pad.last.image.max() == 255


def test_the_result_text_has_the_page_format():
    pad = DrawPad(Always(4))
    pad.png = canvas(1)
    assert RESULT.match(pad.result) and pad.result.startswith("4 (")
    assert pad.result.split("  ")[1].startswith("9 (")  # the stand-in's second largest logit
    assert len(pad.last.digits) == 3
    two = DrawPad(Always(4), k=2)
    two.png = canvas(1)
    assert len(two.result.split("  ")) == 2
    with pytest.raises(ValueError, match="k must be"):
        DrawPad(Always(4), k=0)


def test_a_blank_drawing_gives_the_empty_message_and_clearing_resets():
    pad = DrawPad(Always(4))
    pad.png = canvas(None)
    assert pad.result == EMPTY and pad.seen == "" and pad.last is None
    pad.png = canvas(5)
    assert pad.last is not None and pad.seen.startswith("data:image/png;base64,")
    pad.png = ""  # the Clear button
    assert pad.result == START and pad.seen == "" and pad.last is None


def test_a_drawing_that_is_not_an_image_gives_a_message_not_an_exception():
    pad = DrawPad(Always(4))
    pad.png = "data:image/png;base64," + base64.b64encode(b"not a png").decode()
    assert pad.result.startswith("Cannot read the drawing") and pad.last is None
    pad.png = "hello"
    assert pad.result.startswith("Cannot read the drawing") and pad.seen == ""


def test_the_plain_text_repr_is_the_same_on_every_run():
    one, two = DrawPad(Always(4)), DrawPad(Always(4))
    bundle = one._repr_mimebundle_()
    bundle = bundle[0] if isinstance(bundle, tuple) else bundle
    assert bundle["text/plain"] == repr(one) == repr(two)
    assert "0x" not in repr(one) and one.model_id not in repr(one)
    assert len(repr(one)) <= 110  # ipywidgets cuts a longer text/plain


def test_the_page_keeps_the_class_names_the_browser_test_looks_for():
    assert 'className = "effmnist-pad"' in DrawPad._esm
    assert 'className = "effmnist-result"' in DrawPad._esm


# --- uploads ----------------------------------------------------------------------------------


def test_colab_upload_dict_gives_named_images_in_order():
    seven = png_bytes(draw_digit(7))
    three = png_bytes(draw_digit(3).convert("RGB"), "JPEG")
    images = uploaded_images({"seven.png": seven, "three.jpg": three})
    assert [name for name, _ in images] == ["seven.png", "three.jpg"]
    assert all(isinstance(im, Image.Image) and im.size == (200, 200) for _, im in images)
    assert images[1][1].mode == "RGB"


def test_ipywidgets_8_file_upload_value_and_the_widget_itself():
    upload = ipywidgets.FileUpload(accept="image/*", multiple=True)
    assert uploaded_images(upload.value) == [] and uploaded_images(upload) == []
    content = png_bytes(draw_digit(5, canvas=(120, 90)))
    # what the browser sends when a file is picked (content arrives as a memoryview)
    entry = {"name": "five.png", "type": "image/png", "size": len(content)}
    upload.set_state(
        {"value": [{**entry, "content": memoryview(content), "last_modified": 1_700_000_000_000}]}
    )
    assert isinstance(upload.value, tuple) and isinstance(upload.value[0]["content"], memoryview)
    for value in (upload.value, upload):
        ((name, image),) = uploaded_images(value)
        assert name == "five.png" and image.size == (120, 90)


def test_ipywidgets_7_dict_of_dicts_and_nothing_uploaded():
    content = png_bytes(draw_digit(2))
    ((name, image),) = uploaded_images({"two.png": {"metadata": {}, "content": content}})
    assert name == "two.png" and image.size == (200, 200)
    assert uploaded_images({}) == uploaded_images(()) == uploaded_images(None) == []


def test_a_photo_stored_sideways_comes_upright():
    sideways = draw_digit(7, canvas=(200, 100)).convert("RGB")
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: turn 90 degrees clockwise to view
    buffer = io.BytesIO()
    sideways.save(buffer, format="JPEG", exif=exif)
    ((_, image),) = uploaded_images({"photo.jpg": buffer.getvalue()})
    assert image.size == (100, 200)


def test_a_file_that_is_not_an_image_is_named_in_the_error():
    with pytest.raises(ImageError, match=r"notes\.txt: not an image"):
        uploaded_images({"seven.png": png_bytes(draw_digit(7)), "notes.txt": b"hello"})
    with pytest.raises(ImageError, match=r"cut\.png: cannot read"):
        uploaded_images({"cut.png": png_bytes(draw_digit(7))[:200]})
