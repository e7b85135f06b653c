import numpy as np
import pytest
import torch

from effmnist.digits.synthetic import draw_digit, photo_like, render_mnist


def test_draw_digit_draws_ink_inside_its_box_on_the_canvas():
    image = draw_digit(4, canvas=(120, 80), box=(20, 10, 60, 70), ink="black", background="white")
    assert image.size == (120, 80) and image.mode == "RGB"
    dark = np.asarray(image.convert("L")) < 128
    rows, cols = np.nonzero(dark.any(1))[0], np.nonzero(dark.any(0))[0]
    assert rows[0] >= 10 - 5 and rows[-1] < 70 + 5  # round pen ends may poke out a little
    assert cols[0] >= 20 - 5 and cols[-1] < 60 + 5
    typed = draw_digit(4, canvas=(120, 80), box=(20, 10, 60, 70), style="font")
    assert not np.array_equal(np.asarray(typed), np.asarray(image))


def test_draw_digit_on_a_transparent_background_is_rgba():
    image = draw_digit(1, background=(0, 0, 0, 0))
    alpha = np.asarray(image)[..., 3]
    assert image.mode == "RGBA" and alpha.min() == 0 and alpha.max() == 255


@pytest.mark.parametrize(
    "kwargs, message", [({"digit": 10}, "digit must be 0..9"), ({"style": "brush"}, "style must")]
)
def test_draw_digit_rejects_what_it_cannot_draw(kwargs, message):
    with pytest.raises(ValueError, match=message):
        draw_digit(**{"digit": 3, **kwargs})


def test_photo_like_is_a_jpeg_of_the_same_size_and_repeatable_by_seed():
    clean = draw_digit(7, canvas=(160, 120))
    photo = photo_like(clean, seed=1)
    assert photo.format == "JPEG" and photo.size == clean.size
    assert np.array_equal(np.asarray(photo), np.asarray(photo_like(clean, seed=1)))
    assert not np.array_equal(np.asarray(photo), np.asarray(photo_like(clean, seed=2)))


def test_render_mnist_upscales_pastes_and_inverts():
    digit = torch.zeros(28, 28, dtype=torch.uint8)
    digit[10:18, 12:16] = 255
    big = np.asarray(render_mnist(digit, scale=3, canvas=(100, 90), offset=(5, 7)))
    assert big.shape == (90, 100)
    assert (big[7 + 30 : 7 + 54, 5 + 36 : 5 + 48] == 255).all() and big.sum() == 255 * 24 * 12
    dark = np.asarray(render_mnist(digit, scale=2, dark_on_light=True))
    assert dark.shape == (56, 56) and dark[0, 0] == 255 and dark[20, 24] == 0
