"""The fast paths give what the reference paths give: `mnist_style_batch` image for image, `network_logits` answer
for answer, on the MNIST test digits, their corruptions and the pen-written digits."""
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from mnist_report.core import CANONICAL_RUN, project_root
from mnist_report.corruptions import CORRUPTIONS, corrupt
from mnist_report.images import SIZE, ImageInputError, mnist_style
from mnist_report.images_batch import mnist_style_batch
from mnist_report.inference import network_logits
from mnist_report.pen_digits import pen_conditions, pen_images
from mnist_report.strokes import load_stroke_profile
from mnist_report.train import load_best, predict_logits

CANONICAL = project_root(Path(__file__).parent)/CANONICAL_RUN


def _canonical(path: str) -> Path:
    "A file or folder of the committed canonical run (CI has them all; elsewhere `make report` may be rewriting it)."
    if not (CANONICAL/path).exists():
        if os.environ.get('CI'):
            pytest.fail(f'{CANONICAL/path} is committed: CI checks out the whole repository')
        pytest.skip(f'no {CANONICAL/path} (make report rewrites it)')
    return CANONICAL/path


@pytest.fixture(scope='module')
def stroke():
    "MNIST's stroke as the canonical run measured it: what the shipped pipeline normalises to."
    return load_stroke_profile(_canonical('strokes.json').parent)


def _one_by_one(images, stroke=None) -> tuple[np.ndarray, np.ndarray]:
    "The reference: `mnist_style` of each image; zeros and False where it refuses."
    out, ok = np.zeros((len(images), SIZE, SIZE), np.uint8), np.zeros(len(images), bool)
    for i, image in enumerate(images):
        try:
            out[i], ok[i] = mnist_style(image, f'image {i}', stroke), True
        except ImageInputError:
            pass
    return out, ok


def _assert_same(images, stroke):
    batch, ok = mnist_style_batch(images, stroke)
    reference, reference_ok = _one_by_one(images, stroke)
    assert np.array_equal(ok, reference_ok)
    differences = np.abs(batch.astype(int) - reference).max(axis=(1, 2))
    assert differences.max() <= 1, f'{(differences > 1).sum()} images differ by more than one grey level'


@pytest.mark.slow
@pytest.mark.parametrize('normalised', [False, True], ids=['strokes as written', 'strokes normalised'])
def test_batch_equals_one_image_path_on_test_digits(mnist_test, stroke, normalised):
    images = mnist_test[0][:2000]
    _assert_same(images, stroke if normalised else None)


@pytest.mark.slow
def test_batch_equals_one_image_path_under_every_corruption(mnist_test, stroke):
    images = mnist_test[0][2000:2100]
    for name in CORRUPTIONS:
        _assert_same(images if name == 'clean' else corrupt(images, name, seed=3), stroke)


@pytest.mark.slow
def test_batch_equals_one_image_path_on_pen_digits(mnist_test, stroke):
    digits = mnist_test[0][:20]
    photos = [photo for condition in pen_conditions(quick=True) for photo in pen_images(digits, condition, seed=1)]
    _assert_same(photos, stroke)


@pytest.mark.network
@pytest.mark.parametrize('model', ['best', 'baseline/best'])
def test_fast_inference_gives_the_plain_networks_answers(mnist_test, model):
    """Folded and plain float32 networks may differ in the last bits of a logit, so only an image whose two best
    logits are that close could change its answer; on the canonical weights there is none on the test set."""
    network, meta = load_best(_canonical(model))
    mean, std = meta['normalization']['mean'], meta['normalization']['std']
    images = torch.as_tensor(mnist_test[0])
    plain, fast = predict_logits(network, images, mean, std), network_logits(network, images, mean, std)
    assert (plain - fast).abs().max() < 1e-3
    top2 = plain.topk(2, dim=1).values
    near_ties = (top2[:, 0] - top2[:, 1]) < 1e-3
    assert torch.equal(plain.argmax(1)[~near_ties], fast.argmax(1)[~near_ties])
