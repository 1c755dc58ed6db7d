"""Training: determinism, exact resume, and parameter validation (quick, small networks on real data)."""
import shutil

import pandas as pd
import pytest
import torch
from safetensors.torch import load_file

from mnist_report.splits import prepare_data
from mnist_report.train import train
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
