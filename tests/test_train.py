"""Training: determinism, exact resume, and parameter validation (quick, small networks on real data)."""
import inspect
import os
import shutil
import sys
from pathlib import Path
from unittest import mock

import pandas as pd
import pytest
import torch
from safetensors.torch import load_file

from mnist_report.splits import prepare_data
from mnist_report.train import train
from mnist_report.train_key import TRAINING_CODE, training_code_digest
from mnist_report.train_config import make_config, pick_threads

SMALL = dict(epochs=2, batch_size=256, model_config={'channels': [8, 16, 16]})
HISTORY = ['epoch', 'train_loss', 'train_acc', 'val_loss', 'val_acc', 'lr']


@pytest.fixture(scope='module')
def prepared(real_root, tmp_path_factory):
    "A quick run folder with its data record (split and normalisation)."
    run = tmp_path_factory.mktemp('prepared')
    prepare_data(run, real_root, quick=True)
    return run


def _copy(prepared, dst):
    dst.mkdir()
    for name in ('data.json', 'splits.npz'):
        shutil.copy(prepared/name, dst/name)
    return dst


def _weights(run):
    return load_file(run/'best'/'model.safetensors')


@pytest.mark.trains
@pytest.mark.slow
def test_same_seed_same_history_and_weights(prepared, real_root, tmp_path):
    a, b = _copy(prepared, tmp_path/'a'), _copy(prepared, tmp_path/'b')
    train(a, make_config(**SMALL, seed=3), real_root, quick=True, progress=False)
    train(b, make_config(**SMALL, seed=3), real_root, quick=True, progress=False)
    assert pd.read_csv(a/'history.csv')[HISTORY].equals(pd.read_csv(b/'history.csv')[HISTORY])
    wa, wb = _weights(a), _weights(b)
    assert wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)


@pytest.mark.trains
@pytest.mark.slow
def test_other_seed_other_weights(prepared, real_root, tmp_path):
    a, b = _copy(prepared, tmp_path/'a'), _copy(prepared, tmp_path/'b')
    train(a, make_config(**{**SMALL, 'epochs': 1}, seed=0), real_root, quick=True, progress=False)
    train(b, make_config(**{**SMALL, 'epochs': 1}, seed=1), real_root, quick=True, progress=False)
    assert not torch.equal(_weights(a)['head.1.weight'], _weights(b)['head.1.weight'])


@pytest.mark.trains
@pytest.mark.slow
def test_the_environment_s_thread_count_does_not_change_the_result(prepared, real_root, tmp_path):
    "The run's own thread count (TrainConfig.threads) is used, whatever the process was set to before."
    a, b = _copy(prepared, tmp_path/'a'), _copy(prepared, tmp_path/'b')
    one_epoch = {**SMALL, 'epochs': 1}
    train(a, make_config(**one_epoch), real_root, quick=True, progress=False)
    before = torch.get_num_threads()
    torch.set_num_threads(1)         # as OMP_NUM_THREADS=1 would (Dask's LocalCluster sets it in its process)
    try:
        summary = train(b, make_config(**one_epoch), real_root, quick=True, progress=False)
        assert torch.get_num_threads() == 1     # put back after the run
    finally:
        torch.set_num_threads(before)
    assert summary['threads'] == pick_threads()
    wa, wb = _weights(a), _weights(b)
    assert all(torch.equal(wa[k], wb[k]) for k in wa)


@pytest.mark.skipif(pick_threads() < 2, reason='needs two cores')
@pytest.mark.trains
@pytest.mark.slow
def test_the_thread_count_changes_the_numbers(prepared, real_root, tmp_path):
    "Why the count is part of the configuration: one thread and two sum the gradients differently."
    a, b = _copy(prepared, tmp_path/'a'), _copy(prepared, tmp_path/'b')
    train(a, make_config(**{**SMALL, 'epochs': 1}, threads=1), real_root, quick=True, progress=False)
    train(b, make_config(**{**SMALL, 'epochs': 1}, threads=2), real_root, quick=True, progress=False)
    assert not torch.equal(_weights(a)['head.1.weight'], _weights(b)['head.1.weight'])


@pytest.mark.trains
@pytest.mark.slow
def test_interrupted_then_resumed_equals_uninterrupted(prepared, real_root, tmp_path):
    cfg = dict(**{**SMALL, 'epochs': 3}, seed=0)
    a, b = _copy(prepared, tmp_path/'a'), _copy(prepared, tmp_path/'b')
    train(a, make_config(**cfg), real_root, quick=True, progress=False)

    def interrupt(model, row):
        if row['epoch'] == 1:
            raise KeyboardInterrupt
    with pytest.raises(KeyboardInterrupt):
        train(b, make_config(**cfg), real_root, quick=True, progress=False, on_epoch=interrupt)
    assert len(pd.read_csv(b/'history.csv')) == 1
    train(b, make_config(**cfg), real_root, quick=True, resume=True, progress=False)
    assert pd.read_csv(a/'history.csv')[HISTORY].equals(pd.read_csv(b/'history.csv')[HISTORY])
    state_a = torch.load(a/'last_state.pt', weights_only=True)['model']
    state_b = torch.load(b/'last_state.pt', weights_only=True)['model']
    assert all(torch.equal(state_a[k], state_b[k]) for k in state_a)


@pytest.mark.trains
def test_resume_with_other_parameters_is_refused(prepared, real_root, tmp_path):
    a = _copy(prepared, tmp_path/'a')
    train(a, make_config(**{**SMALL, 'epochs': 1}), real_root, quick=True, progress=False)
    with pytest.raises(ValueError, match='other parameters'):
        train(a, make_config(**{**SMALL, 'epochs': 1}, lr=0.01), real_root, quick=True, resume=True, progress=False)


@pytest.mark.parametrize('bad, name', [
    (dict(epochs=0), 'epochs'), (dict(epochs=-3), 'epochs'), (dict(lr=0), 'lr'), (dict(lr=-0.1), 'lr'),
    (dict(lr=float('nan')), 'lr'), (dict(optimizer='adam9'), 'optimizer'), (dict(schedule='warmup'), 'schedule'),
    (dict(batch_size=0), 'batch_size'), (dict(batch_size=5001), 'batch_size'), (dict(model='vit'), 'model'),
    (dict(weight_decay=-1), 'weight_decay'), (dict(label_smoothing=1.5), 'label_smoothing'),
    (dict(precision='fp8'), 'precision'),
    (dict(warmup=0), 'warmup'), (dict(ema=1.0), 'ema'), (dict(patience=-1), 'patience'),
])
def test_bad_parameter_rejected_before_data_is_loaded(bad, name, tmp_path):
    "A data root that does not exist proves no data was touched: the ValueError comes first."
    with pytest.raises(ValueError, match=rf'^{name}='):
        train(tmp_path/'run', make_config(**bad), data_dir=tmp_path/'no-data', quick=True, progress=False)
    assert not (tmp_path/'run'/'history.csv').exists()


def test_unknown_parameter_is_rejected():
    with pytest.raises(ValueError, match='unknown training parameter.*epoch'):
        make_config(epoch=3)


# What training runs of the package that cannot change a network's numbers: reading records, checking files and
# configurations, counting, the summary
NOT_TRAINING = {'core.py': None, 'data.py': {'ensure_mnist', 'raw_folder', 'resolve_data_dir', 'sha256_file',
                                             'verify_raw'},
                'writers.py': {'ensure_qmnist_labels', 'qmnist_folder', 'verify_qmnist', 'check_digits'},
                'model.py': {'count_parameters'},
                'train_config.py': {'TrainConfig.validate', '_number', '_whole', '<lambda>'},
                'train.py': {'_summary', '_expected_train_size'}}


def _declared_lines() -> dict[str, list[range]]:
    "The source lines of each object of TRAINING_CODE, by file name."
    spans = {}
    for obj in TRAINING_CODE:
        lines, start = inspect.getsourcelines(obj)
        name = Path(inspect.getsourcefile(inspect.unwrap(obj))).name
        spans.setdefault(name, []).append(range(start, start + len(lines)))
    return spans


@pytest.mark.trains
def test_everything_training_runs_is_declared_training_code(real_root, tmp_path):
    """A real training of both networks (DigitCNN with affine, photometric and stroke-width augmentation, EMA and AdamW
    one-cycle; the baseline with Adadelta and its step schedule) runs no function of the package outside TRAINING_CODE.
    Other options (SGD, cosine or constant schedules, bf16, resumption) run code of the same declared functions."""
    ran = set()

    def note(frame, event, arg):
        if event == 'call' and f'{os.sep}mnist_report{os.sep}' in frame.f_code.co_filename:
            code = frame.f_code
            ran.add((Path(code.co_filename).name, code.co_qualname.split('.<locals>')[0], code.co_firstlineno))
    sys.setprofile(note)
    try:
        prepare_data(tmp_path, real_root, quick=True)
        train(tmp_path/'a', make_config(**{**SMALL, 'epochs': 1}, stroke_width=True), real_root, quick=True,
              progress=False)
        train(tmp_path/'b', make_config('pytorch-examples', quick=True, epochs=1), real_root, quick=True,
              progress=False)
    finally:
        sys.setprofile(None)
    spans = _declared_lines()
    undeclared = sorted({(name, qualname) for name, qualname, line in ran
                        if not any(line in span for span in spans.get(name, []))
                        and NOT_TRAINING.get(name, set()) is not None
                        and qualname.split('.')[-1] not in NOT_TRAINING.get(name, set())
                        and qualname not in NOT_TRAINING.get(name, set())})
    assert len(ran) > 40 and undeclared == [], f'declare these in train_key.TRAINING_CODE: {undeclared}'


def test_the_training_code_digest_follows_the_declared_code_only():
    digest = training_code_digest()
    assert len(digest) == 64 and digest == training_code_digest()
    with mock.patch('mnist_report.train_key.TRAINING_CODE', TRAINING_CODE[:-1]):           # one function less
        assert training_code_digest() != digest
    with mock.patch.dict('mnist_report.train_key.TRAINING_VALUES', {'N_VAL': 4999}):       # another default
        assert training_code_digest() != digest
    quick = training_code_digest(quick=True)
    with mock.patch.dict('mnist_report.train_key.QUICK_VALUES', {'QUICK_SIZES': {'train': 10}}):   # other quick subsets
        assert training_code_digest() == digest and training_code_digest(quick=True) != quick
