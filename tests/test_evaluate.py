"""Evaluation: metrics on hand-made cases with known answers, calibration, the metrics.json record and its schema,
and checkpoint errors that write nothing."""
import math

import pytest
import torch

from mnist_report.core import read_json, write_json
from mnist_report.evaluate import compare, evaluate_checkpoint, robustness_record, with_calibration_intervals
from mnist_report.metrics import (SCHEMA_VERSION, ConfusedPair, calibration_metrics, classification_metrics,
                                  expected_calibration_error, fit_temperature, group_accuracy, wilson_interval)
from mnist_report.metrics_json import MetricsError, load_metrics, parse_metrics, results_table, write_metrics
from mnist_report.robustness import Pipeline, corruption_results, mce, severity_curves
from mnist_report.model import build_model
from mnist_report.train import CheckpointError, save_best

from metrics_stand_in import fake_logits, stand_in_metrics   # tests/metrics_stand_in.py


def test_metrics_on_a_hand_made_case():
    # 10 images of 3 classes; two errors: a 0 read as 1, a 2 read as 1
    y_true = [0, 0, 0, 0, 1, 1, 1, 2, 2, 2]
    y_pred = [0, 0, 0, 1, 1, 1, 1, 2, 2, 1]
    m = classification_metrics(y_true, y_pred, n_classes=3)
    assert (m.n, m.correct, m.errors, m.error_rate) == (10, 8, 2, pytest.approx(0.2))
    # class 1: tp 3, fp 2 -> precision 3/5, recall 1; class 0: precision 1, recall 3/4; class 2: precision 1, recall 2/3
    assert m.per_class['1'].precision == pytest.approx(0.6) and m.per_class['1'].recall == 1
    assert m.per_class['0'].recall == pytest.approx(0.75) and m.per_class['2'].recall == pytest.approx(2 / 3)
    f1 = [2 * 0.75 / 1.75, 2 * 0.6 / 1.6, 2 * (2 / 3) / (5 / 3)]
    assert m.macro.f1 == pytest.approx(sum(f1) / 3)
    assert m.weighted.f1 == pytest.approx((4 * f1[0] + 3 * f1[1] + 3 * f1[2]) / 10)
    # Wilson 95% for 8/10 (z = 1.95996): 0.4902 to 0.9433
    lo, hi = m.accuracy_ci95
    assert lo == pytest.approx(0.4902, abs=1e-4) and hi == pytest.approx(0.9433, abs=1e-4)


def test_wilson_interval_rejects_an_empty_sample():
    with pytest.raises(ValueError, match='n must be positive'):
        wilson_interval(0, 0)


def test_ece_is_near_zero_for_calibrated_and_large_for_overconfident_predictions():
    g = torch.Generator().manual_seed(1)
    logits = torch.randn(100_000, 10, generator=g, dtype=torch.float64) * 3
    probs = logits.softmax(1)
    labels = torch.multinomial(probs, 1, generator=g).squeeze(1)        # calibrated by construction
    assert expected_calibration_error(probs, labels) < 0.01
    sharp = (logits * 4).softmax(1)                                    # same ranking, far too confident
    assert expected_calibration_error(sharp, labels) > 0.2
    assert calibration_metrics(logits, labels).nll < calibration_metrics(logits * 4, labels).nll


def test_temperature_scaling_recovers_a_known_temperature():
    g = torch.Generator().manual_seed(2)
    logits = torch.randn(50_000, 10, generator=g, dtype=torch.float64) * 2
    labels = torch.multinomial(logits.softmax(1), 1, generator=g).squeeze(1)
    assert fit_temperature(logits * 2.5, labels) == pytest.approx(2.5, rel=0.03)
    assert fit_temperature(logits / 2, labels) == pytest.approx(0.5, rel=0.03)


def test_paired_comparison_counts_the_discordant_images():
    a = [True] * 90 + [False] * 10
    b = [True] * 80 + [False] * 20
    c = compare('a', 'b', a, b, 'toy')
    assert (c.n, c.both_correct, c.only_a, c.only_b, c.both_wrong) == (100, 80, 10, 0, 10)
    assert c.accuracy_diff == pytest.approx(0.1) and c.p_value == pytest.approx(2 * 0.5 ** 10)
    assert c.diff_ci95[0] < 0.1 < c.diff_ci95[1]


def test_writer_groups_have_wilson_intervals():
    groups = group_accuracy([True] * 95 + [False] * 5 + [True] * 50, ['0'] * 100 + ['4'] * 50)
    assert groups['0'].accuracy == 0.95 and groups['4'].accuracy == 1.0
    assert groups['0'].accuracy_ci95 == pytest.approx(list(wilson_interval(95, 100)))

# ---------------------------------------------------------------------------------------------------- the record


def test_the_record_is_built_from_predictions():
    labels = torch.arange(1000) % 10
    record = stand_in_metrics(labels, fake_logits(labels, n_wrong=30))
    m = record.primary_model
    assert (m.test.n, m.test.errors, m.test.accuracy) == (1000, 30, 0.97)
    assert sum(map(sum, m.confusion_matrix)) == 1000
    assert sum(m.confusion_matrix[d][d] for d in range(10)) == m.test.correct
    # fake_logits reads the first 30 images (digits 0-9, three times) as the next digit
    assert all(m.confusion_matrix[d][(d + 1) % 10] == 3 for d in range(10))
    assert m.confused_pairs[0] == ConfusedPair(true=9, predicted=0, count=3) and len(m.confused_pairs) == 10
    assert record.run.test_images == 1000 and record.schema_version == SCHEMA_VERSION


def test_the_record_round_trips(tmp_path):
    record = stand_in_metrics(torch.arange(500) % 10)
    write_metrics(tmp_path/'metrics.json', record)
    assert load_metrics(tmp_path/'metrics.json') == record
    assert read_json(tmp_path/'metrics.json') == record.to_dict()
    assert not list(tmp_path.glob('.*'))                              # no temporary file left behind


@pytest.mark.parametrize('version', [None, 0, SCHEMA_VERSION + 1, '1'])
def test_another_schema_version_is_a_clear_error(tmp_path, version):
    data = stand_in_metrics(torch.arange(100) % 10).to_dict()
    if version is None:
        del data['schema_version']
    else:
        data['schema_version'] = version
    write_json(tmp_path/'metrics.json', data)
    with pytest.raises(MetricsError, match=f'schema_version {SCHEMA_VERSION}.*Fix: re-run the evaluation chapter'):
        load_metrics(tmp_path/'metrics.json')


def test_a_missing_or_malformed_record_is_a_clear_error(tmp_path):
    with pytest.raises(MetricsError, match='does not exist'):
        load_metrics(tmp_path/'metrics.json')
    (tmp_path/'metrics.json').write_text('{"schema_version": 1,')
    with pytest.raises(MetricsError, match='not readable JSON'):
        load_metrics(tmp_path/'metrics.json')
    data = stand_in_metrics(torch.arange(100) % 10).to_dict()
    del data['models']['default']['confusion_matrix']
    with pytest.raises(MetricsError, match=r"models\.default \(ModelMetrics\) lacks \['confusion_matrix'\]"):
        parse_metrics(data)
    data = stand_in_metrics(torch.arange(100) % 10).to_dict()
    data['models']['default']['test']['accuracy'] = '99%'
    with pytest.raises(MetricsError, match=r'models\.default\.test\.accuracy should be float'):
        parse_metrics(data)


def test_results_table_reads_the_record():
    record = stand_in_metrics(torch.arange(1000) % 10, parameters=140_458)
    table = results_table(record, manifest={'total_seconds': 660})
    row = '| DigitCNN (this project) | 140,458 | **99.00%** (98.17% to 99.46%) | 10 of 1,000 |'
    assert table.splitlines()[2].startswith(row)
    assert 'ECE raw | ECE calibrated | NLL raw | NLL calibrated' in table.splitlines()[0]
    assert table.endswith('\n\nwhole chain: 11.0 min.')
    partial = {'total_seconds': 660, 'chapters': [{'chapter': '05_evaluation'}, {'chapter': 'index'}]}
    assert results_table(record, manifest=partial).endswith(
        '\n\nlast chain run: 2 chapters (05_evaluation, index) in 11.0 min.')

# ---------------------------------------------------------------------------------------------------- checkpoints


def _split(n=50):
    g = torch.Generator().manual_seed(0)
    return torch.randint(0, 256, (n, 28, 28), generator=g, dtype=torch.uint8), torch.arange(n) % 10


def _checkpoint(folder, epoch=1):
    save_best(folder, build_model('default', channels=[4, 8, 8]), 'default',
              {'epoch': epoch, 'val_acc': 0.5, 'normalization': {'mean': 0.13, 'std': 0.31}})
    return folder


def _damage(weights, how):
    if how == 'missing':
        weights.unlink()
    elif how == 'corrupt':
        weights.write_bytes(b'\x00' * 64)
    else:
        weights.write_bytes(weights.read_bytes()[:-100])


@pytest.mark.parametrize('damage', ['missing', 'corrupt', 'truncated'])
def test_bad_checkpoint_is_a_clear_error_and_writes_nothing(damage, tmp_path):
    folder = _checkpoint(tmp_path/'best')
    _damage(folder/'model.safetensors', damage)
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob('*'))
    with pytest.raises(CheckpointError, match='missing|corrupt'):
        evaluate_checkpoint(folder, _split(), _split())
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob('*')) == before


def test_evaluate_checkpoint_record_shape(tmp_path):
    folder = _checkpoint(tmp_path/'best', epoch=3)
    record, logits = evaluate_checkpoint(folder, _split(), _split(30))
    assert logits['test'].shape == (50, 10) and logits['val'].shape == (30, 10)
    assert record.checkpoint_epoch == 3 and record.test.n == 50
    assert record.architecture == 'DigitCNN' and record.robustness is None and record.rejection is None
    assert math.isfinite(record.calibration.temperature)
    record = with_calibration_intervals(record, logits['test'], _split()[1], n_boot=50)
    for scores in (record.calibration.before, record.calibration.after):
        assert set(scores.ci95) == {'ece', 'nll', 'brier'}
        assert scores.ci95['nll'][0] <= scores.nll <= scores.ci95['nll'][1]


def test_robustness_record_from_the_tables(tmp_path):
    network, (images, labels) = build_model('default', channels=[4, 8, 8]).eval(), _split(40)
    pipelines = [Pipeline(name, network, 0.13, 0.31, 1.0, shipped) for name in ('default', 'baseline')
                 for shipped in (False, True)]
    table = corruption_results(pipelines, images.numpy(), labels.numpy(), corruptions=['gaussian_noise', 'inverse'],
                               progress=False)
    curves = severity_curves(pipelines, images.numpy(), labels.numpy(), levels={'rotate': [0, 30]}, progress=False)
    record = robustness_record(table, curves, mce(table, 'baseline'), 'default', images=40, seed=0)
    assert set(record.scores) == {'network', 'shipped'}
    assert set(record.scores['network']) == {'clean', 'gaussian_noise', 'inverse'}
    assert record.mce == {'network': pytest.approx(1.0), 'shipped': pytest.approx(1.0)}   # same network as reference
    assert [p.level for p in record.severity['shipped']['rotate']] == [0, 30]
    network_rows = table[(table.model == 'default') & (table.pipeline == 'network') & (table.corruption != 'clean')]
    assert record.mean_accuracy['network'] == pytest.approx(network_rows.accuracy.mean())
