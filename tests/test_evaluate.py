"""Evaluation: metrics on hand-made cases with known answers, calibration, and checkpoint errors that write nothing."""
import math
import shutil

import numpy as np
import pytest
import torch

from mnist_report.evaluate import (calibration_metrics, classification_metrics, evaluate_checkpoint,
                                   expected_calibration_error, fit_temperature, perturb, wilson_interval)
from mnist_report.model import build_model
from mnist_report.train import CheckpointError, save_best


def test_metrics_on_a_hand_made_case():
    # 10 images of 3 classes; two errors: a 0 read as 1, a 2 read as 1
    y_true = [0, 0, 0, 0, 1, 1, 1, 2, 2, 2]
    y_pred = [0, 0, 0, 1, 1, 1, 1, 2, 2, 1]
    m = classification_metrics(y_true, y_pred, n_classes=3)
    assert (m['n'], m['correct'], m['error_rate']) == (10, 8, pytest.approx(0.2))
    # class 1: tp 3, fp 2 -> precision 3/5, recall 1; class 0: precision 1, recall 3/4; class 2: precision 1, recall 2/3
    assert m['per_class']['1']['precision'] == pytest.approx(0.6) and m['per_class']['1']['recall'] == 1
    assert m['per_class']['0']['recall'] == pytest.approx(0.75) and m['per_class']['2']['recall'] == pytest.approx(2 / 3)
    f1 = [2 * 0.75 / 1.75, 2 * 0.6 / 1.6, 2 * (2 / 3) / (5 / 3)]
    assert m['macro']['f1'] == pytest.approx(sum(f1) / 3)
    assert m['weighted']['f1'] == pytest.approx((4 * f1[0] + 3 * f1[1] + 3 * f1[2]) / 10)
    # Wilson 95% for 8/10 (z = 1.95996): 0.4902 to 0.9433
    lo, hi = m['accuracy_ci95']
    assert lo == pytest.approx(0.4902, abs=1e-4) and hi == pytest.approx(0.9433, abs=1e-4)


def test_wilson_interval_rejects_an_empty_sample():
    with pytest.raises(ValueError, match='n must be positive'): wilson_interval(0, 0)


def test_ece_is_near_zero_for_calibrated_and_large_for_overconfident_predictions():
    g = torch.Generator().manual_seed(1)
    logits = torch.randn(100_000, 10, generator=g, dtype=torch.float64) * 3
    probs = logits.softmax(1)
    labels = torch.multinomial(probs, 1, generator=g).squeeze(1)        # calibrated by construction
    assert expected_calibration_error(probs, labels) < 0.01
    sharp = (logits * 4).softmax(1)                                    # same ranking, far too confident
    assert expected_calibration_error(sharp, labels) > 0.2
    assert calibration_metrics(logits, labels)['nll'] < calibration_metrics(logits * 4, labels)['nll']


def test_temperature_scaling_recovers_a_known_temperature():
    g = torch.Generator().manual_seed(2)
    logits = torch.randn(50_000, 10, generator=g, dtype=torch.float64) * 2
    labels = torch.multinomial(logits.softmax(1), 1, generator=g).squeeze(1)
    assert fit_temperature(logits * 2.5, labels) == pytest.approx(2.5, rel=0.03)
    assert fit_temperature(logits / 2, labels) == pytest.approx(0.5, rel=0.03)


def test_perturbations_keep_shape_and_range():
    x = torch.rand(4, 1, 28, 28)
    for kind, level in [('gaussian_noise', 0.5), ('blur', 2.0), ('rotation', 45), ('translation', 6), ('contrast', 0.9), ('inverted', 1)]:
        y = perturb(x, kind, level, torch.Generator().manual_seed(0))
        assert y.shape == x.shape and 0 <= y.min() and y.max() <= 1


def _split(n=50):
    g = torch.Generator().manual_seed(0)
    return torch.randint(0, 256, (n, 28, 28), generator=g, dtype=torch.uint8), torch.arange(n) % 10


@pytest.mark.parametrize('damage', ['missing', 'corrupt', 'truncated'])
def test_bad_checkpoint_is_a_clear_error_and_writes_nothing(damage, tmp_path):
    folder = tmp_path/'best'
    save_best(folder, build_model('default', channels=[4, 8, 8]), 'default',
              {'epoch': 1, 'val_acc': 0.5, 'normalization': {'mean': 0.13, 'std': 0.31}})
    weights = folder/'model.safetensors'
    if damage == 'missing': weights.unlink()
    elif damage == 'corrupt': weights.write_bytes(b'\x00' * 64)
    else: weights.write_bytes(weights.read_bytes()[:-100])
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob('*'))
    with pytest.raises(CheckpointError, match='missing|corrupt'):
        evaluate_checkpoint(folder, _split(), _split(), robustness_subset=20, progress=False)
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob('*')) == before


def test_evaluate_checkpoint_record_shape(tmp_path):
    save_best(tmp_path/'best', build_model('default', channels=[4, 8, 8]), 'default',
              {'epoch': 3, 'val_acc': 0.5, 'normalization': {'mean': 0.13, 'std': 0.31}})
    record, logits = evaluate_checkpoint(tmp_path/'best', _split(), _split(), robustness_subset=20, progress=False)
    assert logits.shape == (50, 10) and record['checkpoint_epoch'] == 3 and record['test']['n'] == 50
    assert set(record['robustness']) == {'gaussian_noise', 'blur', 'rotation', 'translation', 'contrast', 'inverted'}
    assert math.isfinite(record['calibration']['temperature'])
