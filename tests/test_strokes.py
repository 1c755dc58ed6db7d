"""Stroke width: measured on strokes of known width, and the stroke normalisation of `mnist_style` (issue 16)."""
import numpy as np
import pytest
from PIL import Image, ImageDraw

from mnist_report.data import load_mnist
from mnist_report.images import ImageInputError, digit_ink, mnist_style
from mnist_report.strokes import WORK, StrokeProfile, normalise_strokes, stroke_width, working_ink

# MNIST's profile as the EDA chapter measures it on the training split (1st, 50th, 99th percentiles)
MNIST_LIKE = StrokeProfile(width=0.117, low=0.073, high=0.235, centre=0.98, faint=0.77)


def _seven(size: int, pen: int) -> np.ndarray:
    "A 7 drawn with a `pen`-pixel pen on a `size`-pixel light canvas, dark ink."
    image = Image.new('L', (size, size), 235)
    s = size / 400
    ImageDraw.Draw(image).line([(120 * s, 60 * s), (300 * s, 60 * s), (180 * s, 350 * s)], fill=20, width=pen,
                               joint='curve')
    return np.asarray(image)


@pytest.mark.parametrize('size, pen', [(100, 1), (100, 5), (400, 3), (400, 21), (1200, 9), (1200, 41)])
def test_stroke_width_of_known_pens(size, pen):
    ink = digit_ink(_seven(size, pen))
    measured = stroke_width(working_ink(ink)).width
    true = pen / max(ink.shape)                            # as a fraction of the digit's longer side
    assert abs(measured - true) <= 1.5 / WORK, (measured, true)     # to a pixel and a half at the working resolution


def test_mnist_digits_are_left_alone():
    digits = load_mnist(None, train=False)[0][:300].numpy()
    unchanged = [np.array_equal(mnist_style(d, stroke=MNIST_LIKE), mnist_style(d)) for d in digits]
    assert np.mean(unchanged) >= 0.95


def test_a_one_pixel_skeleton_is_thickened_to_mnist_width():
    thin = digit_ink(_seven(400, 1))
    assert stroke_width(working_ink(thin)).width < 0.03
    thickened = normalise_strokes(thin, MNIST_LIKE)
    rows, cols = np.nonzero(thickened > 0.25)
    width = stroke_width(working_ink(thickened[rows.min():rows.max() + 1, cols.min():cols.max() + 1])).width
    assert abs(width - MNIST_LIKE.width) < 0.03
    assert (mnist_style(_seven(400, 1), stroke=MNIST_LIKE) > 127).sum() > 3 * (mnist_style(_seven(400, 1)) > 127).sum()


def test_a_marker_digit_is_thinned():
    thick = digit_ink(_seven(400, 100))
    assert stroke_width(working_ink(thick)).width > MNIST_LIKE.high
    thinned = normalise_strokes(thick, MNIST_LIKE)
    assert thinned.sum() < working_ink(thick).sum()


def test_faint_strokes_are_stretched():
    pencil = 235 - (235 - _seven(400, 12).astype(float)) * 0.4         # a faint pencil 7...
    pencil[55:75, 190:210] = 10                                        # ...with one dark blot on its bar
    pencil = pencil.astype(np.uint8)
    as_written, stretched = mnist_style(pencil), mnist_style(pencil, stroke=MNIST_LIKE)
    assert np.median(as_written[as_written > 0]) < 100 < 200 < np.median(stretched[stretched > 20])


@pytest.mark.parametrize('image, words', [(np.full((50, 50), 128, np.uint8), 'blank'),
                                          (np.zeros((0, 5)), 'empty'),
                                          (np.full((28, 28), np.nan), 'NaN')])
def test_bad_inputs_keep_their_errors(image, words):
    with pytest.raises(ImageInputError, match=words) as err:
        mnist_style(image, stroke=MNIST_LIKE)
    assert 'Fix:' in str(err.value)


def test_a_profile_that_is_not_one_is_refused():
    with pytest.raises(ValueError, match='not a stroke profile'):
        StrokeProfile(width=0.3, low=0.1, high=0.2, centre=1.0, faint=0.9)
