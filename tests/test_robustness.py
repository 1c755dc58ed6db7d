"""The robustness module: the shipped pipeline under corruptions, its summaries, non-digits and the rejection rule."""
import numpy as np
import pandas as pd
import pytest
import torch

from mnist_report import robustness as rb
from mnist_report.corruptions import CORRUPTIONS, SIZE, corrupt
from mnist_report.images import mnist_style
from mnist_report.images_batch import mnist_style_batch
from mnist_report.model import build_model

pytestmark = pytest.mark.network     # every test here runs a network on real or drawn digits

N = 60   # test digits: enough to score, few enough to stay quick


@pytest.fixture(scope='module')
def digits(mnist_test):
    "The first `N` MNIST test images (numpy uint8) and labels."
    images, labels = mnist_test
    return images[:N], labels[:N]


@pytest.fixture(scope='module')
def pipes():
    "The bare-network and shipped pipelines of a tiny untrained network (one thread: faster at this size)."
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    network = build_model('default', channels=[4, 8, 8]).eval()
    yield [rb.Pipeline('tiny', network, 0.13, 0.31, 1.5, shipped) for shipped in (False, True)]
    torch.set_num_threads(threads)


def test_shipped_inputs_shapes_and_mask(digits):
    images = np.concatenate([digits[0][:5], np.zeros((1, SIZE, SIZE), np.uint8)])
    inputs, ok = rb.shipped_inputs(images, progress=False)
    assert inputs.shape == (6, SIZE, SIZE) and inputs.dtype == np.uint8 and ok.dtype == bool
    assert ok.tolist() == [True] * 5 + [False] and not inputs[5].any()
    assert np.array_equal(inputs[0], mnist_style(images[0]))


def test_uniform_row_for_rejected_images_counts_as_wrong(digits, pipes):
    network, shipped = pipes
    images = np.concatenate([digits[0][:4], np.full((2, SIZE, SIZE), 7, np.uint8)])
    probs = rb.pipeline_probabilities(shipped, images)
    assert probs.dtype == np.float64 and probs.shape == (6, 10) and np.allclose(probs.sum(1), 1)
    assert (probs[4:] == 0.1).all() and not (probs[:4] == 0.1).all()
    labels = np.array([*digits[1][:4], 0, 0])       # argmax of a uniform row is 0: still wrong
    row = rb.corruption_results([shipped], images, labels, corruptions=[], progress=False).iloc[0]
    correct = (probs[:4].argmax(1) == labels[:4]).sum()
    assert row.errors == 6 - correct and row.rejected == pytest.approx(2 / 6)
    with pytest.raises(ValueError, match='uint8'):
        rb.pipeline_probabilities(network, images.astype(np.float32))


def test_table_columns_rows_and_determinism(digits, pipes):
    names = ['rotate', 'gaussian_noise']
    table = rb.corruption_results(pipes, *digits, corruptions=names, seed=3, progress=False)
    assert list(table.columns) == ['corruption', 'model', 'pipeline', 'accuracy', 'errors', 'n', 'ece',
                                   'mean_confidence', 'top_class_share', 'rejected']
    assert table.corruption.tolist() == ['clean', 'clean', 'rotate', 'rotate', 'gaussian_noise', 'gaussian_noise']
    assert table.pipeline.tolist() == ['network', 'shipped'] * 3 and (table.n == N).all()
    assert table.rejected.isna().tolist() == [True, False] * 3
    assert table[['accuracy', 'ece', 'mean_confidence', 'top_class_share']].apply(lambda c: c.between(0, 1)).all().all()
    pd.testing.assert_frame_equal(table, rb.corruption_results(pipes, *digits, corruptions=names, seed=3,
                                                               progress=False))
    other = rb.corruption_results(pipes, *digits, corruptions=names, seed=4, progress=False)
    assert not other.equals(table)


def test_default_suite_is_every_corruption(digits, pipes):
    table = rb.corruption_results(pipes[:1], digits[0][:8], digits[1][:8], progress=False)
    assert table.corruption.tolist() == ['clean', *CORRUPTIONS]


def test_corrupt_once_and_preprocess_once(digits, pipes, monkeypatch):
    calls = {'corrupt': [], 'converted': 0}

    def counting_corrupt(images, name, severity=None, seed=0):
        calls['corrupt'].append(name)
        return corrupt(images, name, severity, seed)

    def counting_style(images, stroke=None, chunk=1000, progress=False):
        calls['converted'] += len(images)
        return mnist_style_batch(images, stroke, chunk, progress)
    monkeypatch.setattr(rb, 'corrupt', counting_corrupt)
    monkeypatch.setattr(rb, 'mnist_style_batch', counting_style)
    second_shipped = rb.Pipeline('other', pipes[1].network, 0.1, 0.3, 1.0, True)
    images, labels = digits[0][:10], digits[1][:10]
    rb.corruption_results([*pipes, second_shipped], images, labels, corruptions=['rotate', 'inverse'], progress=False)
    assert calls == {'corrupt': ['rotate', 'inverse'], 'converted': 3 * len(images)}
    calls.update(corrupt=[], converted=0)
    rb.severity_curves([*pipes, second_shipped], images, labels, levels={'rotate': [0, 30]}, progress=False)
    assert calls == {'corrupt': ['rotate', 'rotate'], 'converted': 2 * len(images)}


def test_mce_is_one_for_the_reference_and_summaries(digits, pipes):
    table = rb.corruption_results(pipes, *digits, corruptions=['rotate', 'shot_noise'], progress=False)
    assert (rb.mce(table, 'tiny').mce == 1.0).all()
    doubled = table.assign(model='worse', errors=table.errors * 2)
    both = pd.concat([table, doubled], ignore_index=True)
    assert rb.mce(both, 'tiny').set_index('model').mce['worse'].tolist() == [2.0, 2.0]
    assert rb.mce(both, 'worse').set_index('model').mce['tiny'].tolist() == [0.5, 0.5]
    summary = rb.mean_corruption_accuracy(table)
    damaged = table[table.corruption != 'clean']
    expected = damaged.groupby('pipeline').accuracy.mean()
    assert summary.set_index('pipeline').mean_corruption_accuracy.to_dict() == pytest.approx(expected.to_dict())
    assert summary.set_index('pipeline').clean_accuracy.to_dict() == pytest.approx(
        table[table.corruption == 'clean'].set_index('pipeline').accuracy.to_dict())


def test_severity_curves_columns(digits, pipes):
    curves = rb.severity_curves(pipes, digits[0][:20], digits[1][:20], levels={'rotate': [0, 45], 'contrast': [1.0]},
                                progress=False)
    assert list(curves.columns) == ['corruption', 'severity', 'model', 'pipeline', 'accuracy']
    assert curves[['corruption', 'severity']].values.tolist() == [['rotate', 0], ['rotate', 0], ['rotate', 45],
                                                                  ['rotate', 45], ['contrast', 1.0], ['contrast', 1.0]]


def test_rejection_threshold_keeps_the_requested_share():
    confidence = np.random.default_rng(0).uniform(0.1, 1, 2000)
    probs = np.column_stack([confidence, np.repeat((1 - confidence[:, None]) / 9, 9, axis=1)])   # top: confidence
    for keep in (0.5, 0.9, 0.995, 1.0):
        threshold = rb.rejection_threshold(probs, np.zeros(2000), keep=keep)
        assert (confidence >= threshold).mean() == keep
        assert (confidence > threshold).mean() < keep           # the highest such threshold
    with pytest.raises(ValueError, match='one label per'):
        rb.rejection_threshold(probs, np.zeros(10))


def test_rejection_summary():
    digit_probs = np.array([[0.95, 0.05] + [0] * 8, [0.3, 0.7] + [0] * 8, [0.6, 0.4] + [0] * 8, [0.1] * 10])
    out = rb.rejection_summary(0.65, digit_probs, [0, 0, 0, 0], np.array([0.2, 0.9, 0.5, 0.64]))
    assert out['digits_answered'] == 0.5 and out['answered_accuracy'] == 0.5
    assert out['non_digits_rejected'] == 0.75 and (out['digits'], out['non_digits']) == (4, 4)
    assert rb.rejection_summary(0.05, digit_probs, [0] * 4, [0.5])['digits_answered'] == 0.75   # uniform: never


def test_non_digit_images_are_deterministic_and_of_the_right_kinds():
    images, kinds = rb.non_digit_images(n_per_kind=2, seed=5)
    assert kinds.tolist() == [k for k in (*rb.LETTERS, *rb.SHAPES) for _ in range(2)]
    assert set('ABCEFHKMPRWX') == set(rb.LETTERS) and len(rb.SHAPES) == 7
    again, _ = rb.non_digit_images(n_per_kind=2, seed=5)
    assert all(np.array_equal(np.asarray(a), np.asarray(b)) for a, b in zip(images, again))
    fewer, _ = rb.non_digit_images(n_per_kind=1, seed=5)
    assert np.array_equal(np.asarray(fewer[0]), np.asarray(images[0]))       # per-kind generators
    arrays = np.stack([np.asarray(im) for im in images])
    assert arrays.dtype == np.uint8 and arrays.shape == (len(kinds), rb.PHOTO, rb.PHOTO)
    assert (np.median(arrays, axis=(1, 2)) > 150).all()                    # light paper, dark ink
    assert rb.shipped_inputs(images, progress=False)[1].all()


def test_non_digit_confidence(pipes):
    images, _ = rb.non_digit_images(n_per_kind=1)
    confidence = rb.non_digit_confidence(pipes[1], images)
    assert confidence.shape == (len(images),) and ((confidence >= 0.1) & (confidence <= 1)).all()
    with pytest.raises(ValueError, match='shipped'):
        rb.non_digit_confidence(pipes[0], images)


def test_figures(digits, pipes):
    table = rb.corruption_results(pipes, *digits, corruptions=['inverse', 'rotate'], progress=False)
    ax = rb.plot_corruption_accuracy(table).axes[0]
    widths = sorted(p.get_width() for p in ax.patches if p.get_height() > 0)     # horizontal bars
    assert np.allclose(widths, sorted(table.accuracy)) and ax.get_title()
    assert [t.get_text() for t in ax.get_yticklabels()] == ['clean', 'inverse', 'rotate']
    curves = rb.severity_curves(pipes, digits[0][:10], digits[1][:10], levels={'rotate': [0, 45]}, progress=False)
    fig = rb.plot_severity_curves(curves)
    assert [ax.get_title() for ax in fig.axes if ax.get_title()] == ['rotate']
