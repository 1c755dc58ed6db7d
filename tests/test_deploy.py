"""Deployment: prediction on synthetic photos, every bad input, the Hub folder round trip, the CLI, token hygiene."""
import dataclasses
import io
import json
import logging
import os
import pickle
import re
import secrets
import shutil
import struct
import subprocess
import sys
import traceback
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw
from safetensors.torch import load_file, save_file

from mnist_report import packaged
from mnist_report.card import card_values, model_card
from mnist_report.core import CANONICAL_RUN, pct, project_root, read_json, write_json
from mnist_report.corruptions import CORRUPTIONS
from mnist_report.eda import ensure_stroke_profile
from mnist_report.strokes import load_stroke_profile
from mnist_report.evaluate import compare
from mnist_report.splits import load_split, prepare_data
from mnist_report.images import ImageInputError, mnist_style
from mnist_report.metrics import Metrics, Rejection
from mnist_report.metrics_json import SERIES_NAMES, MetricsError, load_metrics, write_metrics
from mnist_report.model import DigitCNN
from mnist_report.packaged import (PREPROCESSOR, DigitModel, ModelLoadError, Prediction, PushError, export_hub,
                                   load_model, predict, push_to_hub)
from mnist_report.synthetic import draw_digit
from mnist_report.train import load_best, predict_logits, train
from mnist_report.train_config import make_config

from cli_helpers import cli                                  # tests/cli_helpers.py
from metrics_stand_in import fake_logits, stand_in_metrics   # tests/metrics_stand_in.py

pytestmark = pytest.mark.network     # every test here runs a network on real or drawn digits

# ---------------------------------------------------------------------------------------------------- fixtures

def _trained_runs():
    "Run folders with a trained quick model: the chain of `make test` ($MNIST_REPORT_CHAIN_RUN), nbdev_test's run."
    root = project_root(Path(__file__).parent)
    candidates = [os.environ.get('MNIST_REPORT_CHAIN_RUN'), root/'build'/'test-run']
    needed = ('best/model.safetensors', 'best/checkpoint.json', 'data.json', 'splits.npz', 'train_summary.json')
    for run in filter(None, candidates):
        run = Path(run)
        if all((run/n).is_file() for n in needed) and read_json(run/'data.json').get('quick'):
            yield run


def _current_metrics(path) -> bool:
    "Whether `path` holds a metrics record this code reads (a run evaluated before schema 2 gets a new one)."
    try:
        load_metrics(path)
    except MetricsError:
        return False
    return True


def _measured_metrics(run, data_dir) -> Metrics:
    "The run's metrics record, built by mnist_report.metrics from the quick model's real test and validation logits."
    network, meta = load_best(run/'best')
    mean, std = meta['normalization']['mean'], meta['normalization']['std']
    test_x, test_y = load_split(run, 'test', data_dir)
    val_x, val_y = load_split(run, 'val', data_dir)
    return stand_in_metrics(test_y, predict_logits(network, test_x, mean, std), val_labels=val_y,
                            val_logits=predict_logits(network, val_x, mean, std), quick=True,
                            seed=read_json(run/'data.json').get('seed', 0), architecture=meta['architecture'],
                            parameters=sum(t.numel() for t in network.parameters()),
                            checkpoint_epoch=meta['epoch'], val_accuracy=meta['val_acc'])


@pytest.fixture(scope='session')
def run(real_root, tmp_path_factory) -> Path:
    "A private copy of a trained quick run (or a small model trained here when there is none) with metrics.json."
    dst = tmp_path_factory.mktemp('deploy')/'run'
    source = next(_trained_runs(), None)
    if source:
        dst.mkdir()
        for name in ('data.json', 'splits.npz', 'train_summary.json', 'strokes.json'):
            if (source/name).is_file():
                shutil.copy(source/name, dst/name)
        if _current_metrics(source/'metrics.json'):
            shutil.copy(source/'metrics.json', dst/'metrics.json')
        shutil.copytree(source/'best', dst/'best')
    else:
        prepare_data(dst, real_root, quick=True)
        cfg = make_config(quick=True, epochs=3, model_config={'channels': [16, 32, 64]})
        train(dst, cfg, real_root, quick=True, progress=False)
    if not (dst/'metrics.json').is_file():
        write_metrics(dst/'metrics.json', _measured_metrics(dst, real_root))
    ensure_stroke_profile(dst, real_root)            # the EDA chapter's measurement, which the hub folder carries
    return dst


@pytest.fixture(scope='session')
def hub(run) -> Path:
    return export_hub(run)


@pytest.fixture(scope='session')
def model(hub) -> DigitModel:
    return load_model(hub)


@pytest.fixture(scope='session')
def canonical_hub() -> Path:
    """The committed canonical model's Hub folder. Tests of what the model reads use it, not the quick model: its
    weights are fixed, so only the inference kernels differ between processors, and its answers on the drawn images
    below have top probabilities of 0.999 and more (asserted for the photos), far beyond any float32 rounding."""
    folder = project_root(Path(__file__).parent)/CANONICAL_RUN/'hub'
    if not (folder/'model.safetensors').is_file():
        if os.environ.get('CI'):
            pytest.fail(f'{folder} is committed: CI checks out the whole repository')
        pytest.skip(f'no canonical model in {folder} (make report rewrites it)')
    return folder


@pytest.fixture(scope='session')
def canonical_model(canonical_hub) -> DigitModel:
    return load_model(canonical_hub)


def _png(image, path) -> Path:
    image.save(path)
    return path

# ---------------------------------------------------------------------------------------------------- prediction

PHOTOS = {   # name: (digit, draw_digit arguments): dark ink on light paper, off-centre, large, slightly rotated
    **{f'{d} off-centre, rotated': (d, dict(offset=((-1) ** d * 35, 10 * (d % 3) - 10), angle=(-1) ** d * 7))
       for d in range(10)},
    **{f'{d} large': (d, dict(size=(640, 640), height=0.92, angle=-(d % 5))) for d in (2, 5, 7)},
    'small 6 in a corner': (6, dict(size=(500, 320), height=0.2, offset=(170, -100), angle=4)),
    'low-contrast 4': (4, dict(ink=140, paper=185, pen=0.08, angle=6)),
}


@pytest.mark.parametrize('name', PHOTOS)
def test_synthetic_photo_is_read_correctly(canonical_model, name):
    digit, kwargs = PHOTOS[name]
    result = predict(draw_digit(digit, **kwargs), canonical_model)
    assert isinstance(result, Prediction) and result.digit == digit, (name, result)
    assert result.confidence >= 0.999, (name, result)             # no tie that another CPU's rounding could break


def test_digits_drawn_by_hand_with_pil(canonical_model):
    "Digits drawn here with plain PIL strokes (not draw_digit), dark on light and off-centre, in colour."
    def canvas():
        return Image.new('RGB', (300, 220), (235, 230, 215))
    one, seven, zero = canvas(), canvas(), canvas()
    ImageDraw.Draw(one).line([(210, 30), (196, 190)], fill=(20, 20, 60), width=14)
    ImageDraw.Draw(seven).line([(40, 40), (130, 38), (75, 200)], fill=(20, 20, 60), width=13, joint='curve')
    ImageDraw.Draw(zero).ellipse([150, 40, 250, 200], outline=(20, 20, 60), width=14)
    assert [r.digit for r in predict([one, seven, zero], canonical_model)] == [1, 7, 0]


def test_every_input_type_gives_the_same_answer(canonical_model, tmp_path):
    image = draw_digit(3, offset=(25, -10), angle=5)
    path = _png(image, tmp_path/'three.png')
    array = np.array(image)
    sources = [str(path), path, path.read_bytes(), image, image.convert('RGB'), array, array / 255.0,
               np.stack([array] * 3, -1), torch.as_tensor(array)]
    results = predict(sources, canonical_model)
    assert [r.digit for r in results] == [3] * len(sources)
    assert results[0].source == str(path) and results[3].source == 'PIL image' and results[5].source == 'array'
    for r in results:
        assert len(r.probabilities) == 10 and abs(sum(r.probabilities) - 1) < 1e-5
        assert r.confidence == max(r.probabilities)
    assert predict([], canonical_model) == []


def test_not_sure_answers_below_the_threshold(canonical_model):
    image = draw_digit(3, offset=(25, -10), angle=5)
    strict = dataclasses.replace(canonical_model, not_sure_below=1.1)     # no answer can reach it
    assert predict(image, strict).digit == 3 and not predict(image, strict).sure
    refused = predict(image, strict, not_sure=True)
    assert refused.digit is None and not refused.sure
    assert refused.confidence == predict(image, canonical_model).confidence
    lenient = dataclasses.replace(canonical_model, not_sure_below=0.0)
    assert predict(image, lenient, not_sure=True).digit == 3 and predict(image, lenient, not_sure=True).sure


def test_hub_folder_carries_the_stroke_profile_and_threshold(run, model):
    metrics = load_metrics(run/'metrics.json')
    assert model.stroke == load_stroke_profile(run)
    assert model.not_sure_below == (metrics.primary_model.rejection.threshold if metrics.primary_model.rejection
                                    else None)


def test_mnist_style_makes_mnist_conventions():
    photo = np.full((400, 300), 220, np.uint8)
    photo[50:250, 30:60] = 15                                                      # dark bar, top left
    digit = mnist_style(photo)
    rows, cols = np.nonzero(digit)
    assert digit.shape == (28, 28) and digit.dtype == np.uint8 and digit.max() == 255 and digit[0].max() == 0
    assert rows.max() - rows.min() + 1 == 20                                      # fitted into 20×20
    from scipy import ndimage
    assert np.allclose(ndimage.center_of_mass(digit.astype(float)), 14, atol=0.5)  # centred by mass
    assert np.array_equal(mnist_style(255 - photo), digit)                         # the same from light-on-dark


def test_preprocessing_leaves_real_test_digits_almost_unchanged(mnist_test, canonical_model):
    x, y = mnist_test[0][:300], torch.as_tensor(mnist_test[1][:300])
    raw = (canonical_model.probabilities(x).argmax(1) == y).float().mean()
    styled = (canonical_model.probabilities(np.stack([mnist_style(d) for d in x])).argmax(1) == y).float().mean()
    assert styled >= raw - 0.02

# ---------------------------------------------------------------------------------------------------- bad images

def _png_header_claiming(width: int, height: int) -> bytes:
    "A small PNG whose header claims `width`×`height` pixels (to test the size check)."
    buf = io.BytesIO()
    Image.new('L', (1, 1)).save(buf, format='PNG')
    png = bytearray(buf.getvalue())
    ihdr = png[12:29]                                           # 'IHDR' + 13 bytes of data
    ihdr[4:12] = struct.pack('>II', width, height)
    png[12:29] = ihdr
    png[29:33] = struct.pack('>I', zlib.crc32(bytes(ihdr)))
    return bytes(png)


def _huge_png_header() -> bytes:
    return _png_header_claiming(9000, 9000)


def _truncated_png() -> bytes:
    buf = io.BytesIO()
    draw_digit(5).save(buf, format='PNG')
    return buf.getvalue()[:300]


BAD_FILES = {  # file content -> words the message must contain
    'empty.png': (b'', 'empty (0 bytes)'),
    'notes.png': (b'this is text, not pixels', 'not an image file'),
    'truncated.png': (_truncated_png(), 'damaged or truncated'),
    'huge.png': (_huge_png_header(), '9,000×9,000 pixels is too large'),
}


@pytest.mark.parametrize('name', BAD_FILES)
def test_bad_image_file_is_a_clear_error(model, tmp_path, name):
    content, words = BAD_FILES[name]
    (tmp_path/name).write_bytes(content)
    with pytest.raises(ImageInputError, match=re.escape(words)) as err:
        predict(tmp_path/name, model)
    assert str(err.value).startswith(str(tmp_path/name)) and 'Fix:' in str(err.value)


def test_huge_file_is_refused_before_decoding(model, tmp_path, monkeypatch):
    (tmp_path/'huge.png').write_bytes(_huge_png_header())
    from PIL import ImageFile
    monkeypatch.setattr(ImageFile.ImageFile, 'load', lambda self: pytest.fail('the huge image was decoded'))
    with pytest.raises(ImageInputError, match='too large'):
        predict(tmp_path/'huge.png', model)


BAD_IMAGES = {
    'missing file': (lambda tmp: tmp/'nowhere.png', 'no such file'),
    'a folder': (lambda tmp: tmp, 'is a folder'),
    'blank file': (lambda tmp: _png(Image.new('L', (80, 60), 200), tmp/'blank.png'), 'blank'),
    'blank white RGB': (lambda tmp: Image.new('RGB', (64, 64), 'white'), 'blank'),
    'blank array': (lambda tmp: np.full((40, 40), 17, np.uint8), 'blank'),
    'zero-size image': (lambda tmp: Image.new('L', (0, 0)), 'empty'),
    'zero-size array': (lambda tmp: np.zeros((0, 28)), 'empty'),
    'huge PIL image': (lambda tmp: Image.new('1', (8000, 6000)), 'too large'),
    'NaN array': (lambda tmp: np.full((28, 28), np.nan), 'NaN'),
    'a batch as one array': (lambda tmp: np.zeros((5, 28, 28), np.uint8), 'list'),
    'not an image': (lambda tmp: 42, 'not an image'),
}


@pytest.mark.parametrize('case', BAD_IMAGES)
def test_bad_image_is_a_clear_error(model, tmp_path, case):
    make, words = BAD_IMAGES[case]
    with pytest.raises(ImageInputError, match=words) as err:
        predict(make(tmp_path), model)
    assert 'Fix:' in str(err.value)

# ---------------------------------------------------------------------------------------------------- bad models

def _copy(hub, tmp_path) -> Path:
    folder = tmp_path/'hub'
    shutil.copytree(hub, folder)
    return folder


def test_wrong_model_folders_are_clear_errors(tmp_path):
    with pytest.raises(ModelLoadError, match='config.json and model.safetensors missing'):
        load_model(tmp_path)
    with pytest.raises(ModelLoadError, match='no such model folder'):
        load_model(tmp_path/'a'/'b'/'c')
    (tmp_path/'image.png').write_bytes(b'x')
    with pytest.raises(ModelLoadError, match='not a model folder'):
        load_model(tmp_path/'image.png')


def test_no_model_and_no_default_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr(packaged, 'DEFAULT_MODEL', str(tmp_path/'runs'/'canonical'/'hub'))
    with pytest.raises(ModelLoadError, match='no model given.*Fix: pass a model'):
        predict(draw_digit(1))


def test_unreachable_repo_id_is_a_clear_error():
    with pytest.raises(ModelLoadError, match='downloading it from the Hugging Face Hub failed'):
        load_model('nobody/no-such-model')


def test_changed_weight_bytes_are_detected(hub, tmp_path):
    folder = _copy(hub, tmp_path)
    data = bytearray((folder/'model.safetensors').read_bytes())
    data[-5] ^= 0x01
    (folder/'model.safetensors').write_bytes(bytes(data))
    with pytest.raises(ModelLoadError, match='altered or damaged'):
        load_model(folder)


def _rewrite(folder, change):
    "Apply `change` to the weights and record the new SHA-256 (a consistent but wrong folder)."
    weights = load_file(folder/'model.safetensors')
    change(weights)
    save_file(weights, folder/'model.safetensors')
    prep = read_json(folder/PREPROCESSOR)
    prep['weights_sha256'] = packaged._sha256(folder/'model.safetensors')
    write_json(folder/PREPROCESSOR, prep)


@pytest.mark.parametrize('change', [
    lambda w: w.__setitem__('head.1.weight', w['head.1.weight'][:5].clone()),          # another shape
    lambda w: w.pop('head.1.bias'),                                                    # a tensor missing
    lambda w: w.__setitem__('head.1.bias', torch.full_like(w['head.1.bias'], float('nan'))),  # NaN weights
], ids=['shape', 'missing tensor', 'nan'])
def test_inconsistent_weights_are_refused(hub, tmp_path, change):
    folder = _copy(hub, tmp_path)
    _rewrite(folder, change)
    with pytest.raises(ModelLoadError, match='corrupt or do not fit|NaN'):
        load_model(folder)


class _Payload:
    "Unpickling this creates a marker file: proof that a pickle was executed."
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (Path.touch, (Path(self.marker),))


def test_weights_are_never_unpickled(hub, tmp_path):
    marker = tmp_path/'unpickled'
    folder = _copy(hub, tmp_path)
    (folder/'model.safetensors').write_bytes(pickle.dumps(_Payload(marker)))
    prep = read_json(folder/PREPROCESSOR)
    prep.pop('weights_sha256')
    write_json(folder/PREPROCESSOR, prep)
    with pytest.raises(ModelLoadError, match='corrupt'):
        load_model(folder)
    (folder/'model.safetensors').unlink()
    (folder/'pytorch_model.bin').write_bytes(pickle.dumps(_Payload(marker)))
    with pytest.raises(ModelLoadError, match='pickled weights are never loaded'):
        load_model(folder)
    assert not marker.exists()

# ---------------------------------------------------------------------------------------------------- the Hub folder

def test_round_trip_gives_identical_logits_and_the_recorded_accuracy(run, hub, real_root):
    original, meta = load_best(run/'best')
    reloaded = DigitCNN.from_pretrained(hub, strict=True)
    x, y = load_split(run, 'test', real_root)
    prep = read_json(hub/PREPROCESSOR)
    assert (prep['mean'], prep['std']) == (meta['normalization']['mean'], meta['normalization']['std'])
    a = predict_logits(original, x, prep['mean'], prep['std'])
    b = predict_logits(reloaded, x, prep['mean'], prep['std'])
    assert torch.equal(a, b)
    metrics = read_json(run/'metrics.json')
    assert int((b.argmax(1) == y).sum()) == metrics['models'][metrics['primary']]['test']['correct']


CARD_SECTIONS = ('Model details', 'How to get started', 'Intended uses', 'Out-of-scope uses',
                 'Bias, risks and limitations', 'Training data', 'Training procedure', 'Evaluation', 'Results',
                 'Compute')


def test_hub_folder_contents_and_card(run, hub):
    assert sorted(p.name for p in hub.iterdir()) == ['README.md', 'config.json', 'model.safetensors', PREPROCESSOR]
    assert all(p.stat().st_mode & 0o044 for p in [hub, *hub.iterdir()])   # readable by others, unlike temp files
    from huggingface_hub import ModelCard
    card = ModelCard.load(hub/'README.md')
    record = load_metrics(run/'metrics.json').primary_model
    index = {r.metric_type: r.metric_value for r in card.data.eval_results}
    assert index == {'accuracy': round(record.test.accuracy, 6), 'f1': round(record.test.macro.f1, 6)}
    for section in CARD_SECTIONS:
        assert f' {section}\n' in card.text, section
    low, high = record.test.accuracy_ci95
    assert f'**{pct(record.test.accuracy)}** (95% Wilson interval {pct(low)} to {pct(high)})' in card.text
    assert f'softmax(logits / {record.calibration.temperature:.4f})' in card.text
    for series, group in record.writer_groups.items():
        assert f'| accuracy, {SERIES_NAMES[series]} | {pct(group.accuracy)} (95% Wilson interval' in card.text


def _card_text(run, metrics: Metrics) -> str:
    "The model card of `metrics` with the run's training and data records, whitespace runs made single spaces."
    card = model_card(metrics, read_json(run/'train_summary.json'), read_json(run/'data.json'), 'someone/digitcnn')
    return ' '.join(card.text.split())


def _with_baseline(metrics: Metrics, baseline_errors: int) -> Metrics:
    "`metrics` with a baseline that misreads the first `baseline_errors` test images, and the paired test."
    labels = torch.arange(metrics.run.test_images) % 10
    logits = {'default': fake_logits(labels, n_wrong=len(labels) // 100),
              'baseline': fake_logits(labels, n_wrong=baseline_errors, seed=1)}
    correct = {name: (x.argmax(1) == labels).numpy() for name, x in logits.items()}
    baseline = stand_in_metrics(labels, logits['baseline'], architecture='ExamplesNet').primary_model
    comparison = compare('default', 'baseline', correct['default'], correct['baseline'], 'test, network')
    return dataclasses.replace(metrics, models={**metrics.models, 'baseline': baseline}, comparisons=[comparison])


def test_card_takes_only_the_typed_record(run):
    metrics = stand_in_metrics(torch.arange(1000) % 10)
    with pytest.raises(TypeError, match='typed record'):
        card_values(metrics.to_dict(), read_json(run/'train_summary.json'), read_json(run/'data.json'), 'a/b')


def test_card_shows_the_corruption_suite_and_writer_groups(run):
    metrics = stand_in_metrics(torch.arange(1000) % 10)      # the stand-in: clean, and fog at half the accuracy
    record = metrics.primary_model
    text = _card_text(run, metrics)
    shipped, network = record.robustness.scores['shipped'], record.robustness.scores['network']
    fog = f"| fog | {CORRUPTIONS['fog'].description} | {CORRUPTIONS['fog'].unit}: {CORRUPTIONS['fog'].severity:g} |"
    assert f"{fog} {pct(network['fog'].accuracy, 1)} / {pct(shipped['fog'].accuracy, 1)} |" in text
    assert f"accuracy is below 90% under fog ({pct(shipped['fog'].accuracy, 1)})" in text
    means = record.robustness.mean_accuracy
    assert f"**mean over the 1 corruptions** | | | **{pct(means['network'], 1)} / {pct(means['shipped'], 1)}**" in text
    assert 'mean corruption error' not in text                   # the stand-in has no mCE: no baseline
    for series, group in record.writer_groups.items():
        assert f'{SERIES_NAMES[series]}, {pct(group.accuracy)} (95% Wilson interval' in text
    assert 'McNemar' not in text and 'not sure' not in text     # no baseline, no rejection rule in the record


@pytest.mark.parametrize('baseline_errors, verdict', [(30, 'the difference is significant at the 5% level'),
                                                      (12, 'the difference is not significant at the 5% level')])
def test_card_reports_the_paired_comparison_neutrally(run, baseline_errors, verdict):
    metrics = _with_baseline(stand_in_metrics(torch.arange(1000) % 10), baseline_errors)
    c = metrics.comparisons[0]
    text = _card_text(run, metrics)
    assert (c.only_a, c.only_b) == (baseline_errors - 10, 0)
    assert (f'this model is right on {c.only_a} that the baseline gets wrong and wrong on {c.only_b} that the '
            f'baseline gets right') in text
    assert f"McNemar's exact test gives p = {c.p_value:.2g}: {verdict}" in text


@pytest.mark.parametrize('refused, phrase', [(0.05, 'does not reliably flag non-digits'),
                                             (0.8, 'catches most of those non-digits, but not all')])
def test_card_reports_the_rejection_rule(run, refused, phrase):
    metrics = stand_in_metrics(torch.arange(1000) % 10)
    rejection = Rejection(threshold=0.6, val_answered=0.995, test_answered=0.99, test_answered_accuracy=0.995,
                          non_digits=95, non_digit_rejected=refused, non_digit_mean_confidence=0.85)
    model = dataclasses.replace(metrics.primary_model, rejection=rejection)
    text = _card_text(run, dataclasses.replace(metrics, models={'default': model}))
    assert ('calibrated top probability reaches 0.6000, a threshold chosen on the validation split to answer 99.5% '
            f'of its digits) answers 99.0% of the test digits, 99.50% of them correctly, and refuses '
            f'{pct(refused, 1)} of 95 letters and shapes') in text
    assert phrase in text and '`predict` applies the rule only when' in text


def test_card_example_runs(hub, tmp_path, monkeypatch, capsys):
    card = (hub/'README.md').read_text()
    monkeypatch.chdir(tmp_path)
    draw_digit(7, offset=(-20, 15), angle=4).save('my_digit.png')
    for snippet in [b.split('```', 1)[0] for b in card.split('```python\n')[1:]]:
        exec(snippet.replace(packaged.DEFAULT_REPO_ID, str(hub)), {})
    assert capsys.readouterr().out.startswith('7 ')


def _disk_full(*args, **kwargs):
    raise OSError('disk full')


def test_export_is_atomic(run, hub, monkeypatch):
    before = {p.name: p.read_bytes() for p in hub.iterdir()}
    monkeypatch.setattr(packaged, 'atomic_write', _disk_full)
    with pytest.raises(OSError, match='disk full'):
        export_hub(run)
    assert {p.name: p.read_bytes() for p in hub.iterdir()} == before              # the old folder is untouched
    assert not [p for p in run.iterdir() if p.name.startswith('.hub')]             # and no half-written folder is left
    monkeypatch.undo()
    assert export_hub(run) == hub and {p.name: p.read_bytes() for p in hub.iterdir()} == before
    assert not [p for p in run.iterdir() if p.name.startswith('.hub')]


def test_export_needs_the_evaluation(run, tmp_path):
    partial = tmp_path/'run'
    shutil.copytree(run, partial, ignore=shutil.ignore_patterns('metrics.json', 'hub'))
    with pytest.raises(FileNotFoundError, match='metrics.json not found'):
        export_hub(partial)
    write_json(partial/'metrics.json', {**read_json(run/'metrics.json'), 'schema_version': 1})
    with pytest.raises(MetricsError, match='schema_version 1'):         # an older record is refused, not misread
        export_hub(partial)
    assert not (partial/'hub').exists()

# ---------------------------------------------------------------------------------------------------- the command line

def test_cli_reports_every_good_image_and_fails(canonical_hub, tmp_path):
    good = [_png(draw_digit(d, offset=(10 * d - 40, 5), angle=3), tmp_path/f'{d}.png') for d in (8, 1, 6)]
    (tmp_path/'notes.png').write_text('text')
    files = [str(good[0]), str(tmp_path/'notes.png'), str(good[1]), str(tmp_path/'missing.png'), str(good[2])]
    code, out, err = cli('predict', *files, '--model', canonical_hub)
    assert code == 1
    lines = out.splitlines()
    assert [line.split(' (probability ')[0] for line in lines] == [f'{good[0]}: 8', f'{good[1]}: 1', f'{good[2]}: 6']
    errors = err.splitlines()
    assert len(errors) == 2
    assert errors[0].startswith(f'mnist-report: error: {tmp_path/"notes.png"}: not an image file')
    assert 'Fix:' in errors[0]
    assert errors[1] == f'mnist-report: error: {tmp_path/"missing.png"}: no such file. Fix: check the path.'
    code, out, _ = cli('predict', good[1], '--json', '--model', canonical_hub)
    assert code == 0
    record = json.loads(out)
    assert record[0]['source'] == str(good[1]) and record[0]['digit'] == 1 and len(record[0]['probabilities']) == 10


def test_cli_not_sure(canonical_hub, tmp_path):
    strict = _copy(canonical_hub, tmp_path)
    prep = read_json(strict/'preprocessor_config.json')
    write_json(strict/'preprocessor_config.json', {**prep, 'not_sure_below': 1.1})      # no answer reaches it
    path = _png(draw_digit(4), tmp_path/'four.png')
    code, out, _ = cli('predict', path, '--model', strict, '--not-sure')
    assert code == 0 and 'four.png: not sure (best guess 4' in out
    code, out, _ = cli('predict', path, '--model', strict, '--not-sure', '--json')
    row = json.loads(out)[0]
    assert code == 0 and row['digit'] is None and row['sure'] is False
    code, out, _ = cli('predict', path, '--model', strict)
    assert code == 0 and 'four.png: 4 (probability' in out


def test_cli_without_a_usable_model_exits_2(tmp_path):
    image = _png(draw_digit(2), tmp_path/'2.png')
    code, _, err = cli('predict', image, '--model', tmp_path)
    assert code == 2 and err.startswith(f'mnist-report: error: {tmp_path}: not a model folder')

# ---------------------------------------------------------------------------------------------------- publishing

SECRET = 'hf' + '_' + secrets.token_hex(16)  # a fresh fake token per run (never a real one, nor a literal in the repo)


class FakeApi:
    "Records what push_to_hub asks of the Hub API; never touches the network."
    calls, fail = [], None

    def __init__(self, token=None):
        FakeApi.calls.append(('init', token))

    def create_repo(self, repo_id, **kwargs):
        FakeApi.calls.append(('create_repo', repo_id, kwargs))
        return f'https://huggingface.co/{repo_id}'

    def upload_folder(self, **kwargs):
        FakeApi.calls.append(('upload_folder', kwargs))
        if FakeApi.fail:
            raise RuntimeError(FakeApi.fail)


@pytest.fixture
def fake_api(monkeypatch):
    FakeApi.calls, FakeApi.fail = [], None
    monkeypatch.setattr(packaged, 'HfApi', FakeApi)
    monkeypatch.delenv('HF_TOKEN', raising=False)
    monkeypatch.setattr(packaged, 'get_token', lambda: None)
    return FakeApi


def _leaks(secret, texts, folders) -> list:
    found = [t[:80] for t in texts if secret in t]
    for folder in folders:
        found += [str(p) for p in Path(folder).rglob('*') if p.is_file() and secret.encode() in p.read_bytes()]
    return found


@pytest.mark.parametrize('source', ['argument', 'HF_TOKEN', 'huggingface-cli login'])
def test_push_hands_the_token_to_the_api_and_nowhere_else(hub, fake_api, monkeypatch, capsys, caplog, tmp_path, source):
    caplog.set_level(logging.DEBUG)
    if source == 'HF_TOKEN':
        monkeypatch.setenv('HF_TOKEN', SECRET)
    if source == 'huggingface-cli login':
        monkeypatch.setattr(packaged, 'get_token', lambda: SECRET)
    url = push_to_hub(hub, 'someone/digits', token=SECRET if source == 'argument' else None)
    assert url == 'https://huggingface.co/someone/digits'
    assert fake_api.calls[0] == ('init', SECRET)
    assert fake_api.calls[1][:2] == ('create_repo', 'someone/digits') and fake_api.calls[1][2]['exist_ok'] is True
    assert fake_api.calls[2][1]['folder_path'] == str(hub) and fake_api.calls[2][1]['repo_id'] == 'someone/digits'
    out, err = capsys.readouterr()
    assert not _leaks(SECRET, [out, err, caplog.text, url], [hub, tmp_path])


def test_failed_upload_does_not_reveal_the_token(hub, fake_api, capsys, caplog):
    caplog.set_level(logging.DEBUG)
    fake_api.fail = f'401 Unauthorized: token {SECRET} may not write'
    with pytest.raises(PushError, match=r'uploading .* failed .*\*\*\*') as err:
        push_to_hub(hub, 'someone/digits', token=SECRET)
    text = ''.join(traceback.format_exception(err.value))
    assert err.value.__context__ is None and err.value.__cause__ is None
    out, errs = capsys.readouterr()
    assert not _leaks(SECRET, [str(err.value), repr(err.value), text, out, errs, caplog.text], [hub])


def test_push_without_a_token_says_how_to_log_in(hub, fake_api):
    with pytest.raises(PushError, match='no Hugging Face token.*huggingface-cli login.*HF_TOKEN'):
        push_to_hub(hub, 'someone/digits')
    assert fake_api.calls == []


def test_push_checks_its_inputs_first(hub, fake_api, tmp_path):
    with pytest.raises(PushError, match='not a complete hub folder'):
        push_to_hub(tmp_path, 'someone/digits', token=SECRET)
    with pytest.raises(PushError, match='invalid repository id'):
        push_to_hub(hub, 'not a repo id!', token=SECRET)
    assert fake_api.calls == []

# ---------------------------------------------------------------------------------------------------- the package

def test_import_is_light_and_predict_is_lazy():
    code = ("import sys, mnist_report; assert 'torch' not in sys.modules, 'torch imported'; "
            "from mnist_report.packaged import predict; assert mnist_report.predict is predict; print('ok')")
    done = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True)
    assert done.stdout.strip() == 'ok', done.stderr[-500:]
