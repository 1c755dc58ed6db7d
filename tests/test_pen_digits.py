"""Pen digits: the pen draws strokes of its own width, photos are reproducible from their seed, dark ink on light
paper of the right kind for every effect, and every condition keeps genuine MNIST test digits inside the photo."""
import numpy as np
import pytest
from skimage.draw import circle_perimeter, line
from skimage.morphology import skeletonize

from mnist_report.pen_digits import (EFFECTS, HEIGHTS, MAX_PEN, PEN_WIDTHS, PenCondition, pen_conditions,
                                     pen_images, pen_photo, restroke, skeleton, ink_width, trace_length)

N_DIGITS = 10   # genuine test digits per condition


@pytest.fixture(scope='module')
def digits(mnist_test):
    "The first genuine MNIST test digits (uint8 numpy, N×28×28)."
    return mnist_test[0][:N_DIGITS]


@pytest.fixture
def seven():
    "A 28×28 digit drawn here (a 7 of two thick strokes), so most tests need no data."
    digit = np.zeros((28, 28), np.uint8)
    for r0, c0, r1, c1 in ((5, 6, 5, 21), (5, 21, 23, 11)):
        for dr in (-1, 0, 1):
            rows, cols = line(r0 + dr, c0, r1 + dr, c1)
            digit[rows, cols] = 255
    return digit


def _grey(photo) -> np.ndarray:
    return np.asarray(photo.convert('L'), dtype=float)


def _border(grey: np.ndarray) -> np.ndarray:
    return np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])


@pytest.mark.parametrize('pen', PEN_WIDTHS)
def test_restroke_draws_strokes_as_wide_as_the_pen(pen):
    "On skeletons of known length (a straight line, a circle) the ink's area over that length is the pen's width."
    bar = np.zeros((30, 200), bool)
    bar[15, 20:180] = True
    circle = np.zeros((120, 120), bool)
    circle[circle_perimeter(60, 60, 45)] = True
    for skel, length, ends in ((bar, 160, 2), (circle, 2 * np.pi * 45, 0)):
        ink = restroke(skel, pen)
        caps = ends * np.pi * pen ** 2 / 8                      # a round pen's half-disc at each end of a line
        assert abs((ink.sum() - caps) / length / pen - 1) < 0.2
        assert abs(ink_width(ink) / pen - 1) < 0.2 or (ends and abs(ink.sum() / (pen * length + caps) - 1) < 0.2)
        assert ink.min() == 0 and ink.max() == 1


def test_a_1px_pen_leaves_a_1px_trace():
    "pen=1: full ink on the skeleton, none anywhere else; each column of a horizontal line has one ink pixel."
    bar = np.zeros((9, 50), bool)
    bar[4, 5:45] = True
    ink = restroke(bar, 1)
    assert set(np.unique(ink)) == {0.0, 1.0}
    assert np.array_equal(ink > 0, np.pad(bar, 2))
    assert (ink.sum(axis=0) <= 1).all()
    with pytest.raises(ValueError, match='at least 1 px'):
        restroke(bar, 0.5)


def test_trace_length_of_lines_in_every_direction():
    "Kulpa's weights measure a straight line of any direction to within 6%."
    for angle in range(0, 181, 15):
        skel = np.zeros((200, 200), bool)
        dr, dc = round(80 * np.sin(np.radians(angle))), round(80 * np.cos(np.radians(angle)))
        skel[line(100, 100, 100 + dr, 100 + dc)] = True
        assert abs(trace_length(skel) / np.hypot(dr, dc) - 1) < 0.06, angle


@pytest.mark.parametrize('height', HEIGHTS)
def test_skeleton_is_thin_about_height_tall_and_deterministic(seven, height):
    skel = skeleton(seven, height)
    assert skel.dtype == bool and np.array_equal(skeletonize(skel), skel)
    assert 0.75 * height < skel.shape[0] - 4 <= height
    assert np.array_equal(skeleton(seven.copy(), height), skel)
    with pytest.raises(ValueError, match='some ink'):
        skeleton(np.zeros((28, 28), np.uint8), height)


@pytest.mark.parametrize('effect', EFFECTS)
def test_the_same_seed_gives_the_same_photo(seven, effect):
    def photo(seed):
        return np.asarray(pen_photo(seven, 3, 96, effect, np.random.default_rng(seed)))
    assert np.array_equal(photo(0), photo(0))
    assert any(photo(0).shape != photo(s).shape or not np.array_equal(photo(0), photo(s)) for s in (1, 2))


@pytest.mark.parametrize('effect', EFFECTS)
def test_every_effect_gives_dark_ink_on_light_paper_of_the_right_kind(seven, effect):
    "Mode 'RGB' with blue ink, else 'L'; larger than the digit; the border's median far lighter than the ink."
    photo = pen_photo(seven, 5, 96, effect, np.random.default_rng(0))
    assert photo.mode == ('RGB' if effect in ('blue ink', 'all') else 'L')
    assert photo.size[1] > 1.3 * 0.75 * 96 and photo.size[0] > 1.3 * 0.7 * 0.75 * 96
    grey = _grey(photo)
    assert np.median(_border(grey)) > 150 and np.median(_border(grey)) - grey.min() > 80


def test_unknown_effect_is_refused(seven):
    with pytest.raises(ValueError, match='unknown effect'):
        pen_photo(seven, 3, 96, 'sepia', np.random.default_rng(0))


def test_conditions_are_the_two_grids():
    conditions = pen_conditions()
    assert len(conditions) == len(set(conditions)) == 39
    assert all(c.pen <= MAX_PEN * c.height and c.effect in EFFECTS for c in conditions)
    assert {c.effect for c in conditions} == set(EFFECTS)
    assert all(PenCondition(c.pen, c.height, 'none') in conditions for c in conditions)


def test_each_condition_keeps_the_digits_inside_the_photo(digits):
    "The ink (darker than halfway from paper to the darkest pixel) is about `height` tall and off the border."
    for condition in pen_conditions():
        if condition.effect in ('grid lines', 'all'):
            continue   # ruled lines cross the border; the frame is drawn before them (next test)
        for photo in pen_images(digits, condition):
            grey = _grey(photo)
            dark = grey < (np.median(_border(grey)) + grey.min()) / 2
            assert not _border(dark).any(), condition
            rows = np.nonzero(dark.any(axis=1))[0]
            assert 0.7 * condition.height <= rows[-1] - rows[0] + 1 <= 1.3 * condition.height, condition


def _without_ruled_lines(photo) -> np.ndarray:
    """Darkness (-log grey) of `photo` less each row's and then each column's median: full-length lines and a linear
    light ramp cancel, the digit's ink (a minority of every row and column) stays."""
    darkness = -np.log(_grey(photo) + 1)
    darkness -= np.median(darkness, axis=1, keepdims=True)
    return darkness - np.median(darkness, axis=0, keepdims=True)


def _best_shift(ink: np.ndarray, darkness: np.ndarray, reach: int = 6) -> tuple[int, int]:
    "The shift (rows, columns) of at most `reach` px that moves `darkness` onto the ink mask `ink` best."
    shifts = [(dr, dc) for dr in range(-reach, reach + 1) for dc in range(-reach, reach + 1)]
    return max(shifts, key=lambda s: (ink * np.roll(darkness, (-s[0], -s[1]), axis=(0, 1))).sum())


@pytest.mark.parametrize('pen', (1, 8))
def test_ruled_lines_do_not_move_the_frame(digits, pen):
    """Frame and digit are placed before the lines are ruled: with the same generator, the photo with ruled lines has
    the plain photo's size and its ink (the lines taken out) lies exactly where the plain photo's ink is."""
    for digit in digits[:5]:
        plain = pen_photo(digit, pen, 96, 'none', np.random.default_rng(3))
        grey = _grey(plain)
        ink = grey < (np.median(_border(grey)) + grey.min()) / 2
        for effect in ('grid lines', 'all'):
            lined = pen_photo(digit, pen, 96, effect, np.random.default_rng(3))
            assert lined.size == plain.size, effect
            assert _best_shift(ink, _without_ruled_lines(lined)) == (0, 0), effect


def test_pen_images_do_not_depend_on_the_order_of_conditions(digits):
    first, last = pen_conditions()[0], pen_conditions()[-1]
    alone = [np.asarray(p) for p in pen_images(digits[:3], last)]
    list(pen_images(digits[:3], first))
    again = [np.asarray(p) for p in pen_images(digits[:3], last)]
    assert all(np.array_equal(a, b) for a, b in zip(alone, again))
    other_seed = [np.asarray(p) for p in pen_images(digits[:3], last, seed=1)]
    assert not all(a.shape == b.shape and np.array_equal(a, b) for a, b in zip(alone, other_seed))
