"""QMNIST writer labels on the genuine files: the writer-disjoint split, and each error path in a temporary root."""
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import chi2_contingency
from torchvision.datasets import QMNIST

from mnist_report.core import DATA_ENV
from mnist_report.writers import (QMNIST_FILES, QMNISTDataError, check_digits, digit_deviation, ensure_qmnist_labels,
                                  load_writers, mnist_writer_summary, qmnist_folder, verify_qmnist, writer_split,
                                  writer_summary)


@pytest.fixture(scope='module')
def writers(real_root):
    return load_writers(real_root, train=True)


@pytest.fixture(scope='module')
def split(writers):
    return writer_split(writers, n_val=5000, seed=0)


@pytest.fixture
def mnist_only(real_root, tmp_path):
    "A data root linking to the genuine MNIST/ but without QMNIST/."
    (tmp_path/'MNIST').symlink_to(real_root/'MNIST')
    return tmp_path


@pytest.fixture
def scratch(real_root, mnist_only):
    "A data root of links to the genuine MNIST/ and QMNIST label files, safe to damage."
    qmnist_folder(mnist_only).mkdir()
    for name in QMNIST_FILES:
        (qmnist_folder(mnist_only)/name).symlink_to(qmnist_folder(real_root)/name)
    return mnist_only


def test_urls_are_torchvisions():
    folders = {url.rsplit('/', 1)[0] for files in QMNIST.resources.values() for url, _ in files}
    assert {url.rsplit('/', 1)[0] for _, url in QMNIST_FILES.values()} == folders
    assert all(url.endswith('/' + name) for name, (_, url) in QMNIST_FILES.items())


def test_genuine_files_verify(real_root):
    assert set(verify_qmnist(qmnist_folder(real_root))) == set(QMNIST_FILES)
    assert ensure_qmnist_labels(real_root, download=False) == qmnist_folder(real_root)


def test_digits_agree_with_mnist_labels(real_root, writers):
    test = load_writers(real_root, train=False)
    assert list(writers.columns) == ['digit', 'series', 'writer']
    assert len(writers) == 60000 and len(test) == 10000
    assert not set(writers['writer']) & set(test['writer'])
    assert test['series'].value_counts().to_dict() == {0: 4999, 4: 5001}


def test_digit_mismatch_is_refused(writers):
    labels = writers['digit'].to_numpy().copy()
    labels[123] = (labels[123] + 1) % 10
    with pytest.raises(QMNISTDataError, match=r'disagree .* in 1 of 60,000 rows \(first: row 123\).*' + DATA_ENV):
        check_digits(writers, labels)


def test_split_is_writer_disjoint_and_sized(writers, split):
    train_idx, val_idx = split
    assert abs(len(val_idx) - 5000) <= 100 and len(train_idx) + len(val_idx) == 60000
    assert np.array_equal(np.sort(np.concatenate(split)), np.arange(60000))
    assert (np.diff(train_idx) > 0).all() and (np.diff(val_idx) > 0).all() and val_idx.dtype.kind == 'i'
    assert not set(writers['writer'][train_idx]) & set(writers['writer'][val_idx])


def test_writer_zero_stays_together(writers, split):
    "Row 1 (writer id 0, NIST global index 0) is the first digit of writer 0, who is one writer like any other."
    sides = {side for side, idx in zip(('train', 'val'), split) if (writers['writer'][idx] == 0).any()}
    assert len(sides) == 1 and (writers['writer'] == 0).sum() == 104


def test_split_is_stratified_by_series(writers, split):
    series = writers['series'].to_numpy()
    train_idx, val_idx = split
    for s in (0, 4):
        assert abs((series[val_idx] == s).mean() - (series[train_idx] == s).mean()) < 0.005
    table = np.stack([np.bincount(series[idx], minlength=5)[[0, 4]] for idx in split])
    assert chi2_contingency(table).pvalue > 0.5


def test_split_is_stratified_by_digit(writers, split):
    table = np.stack([np.bincount(writers['digit'][idx], minlength=10) for idx in split])
    assert chi2_contingency(table).pvalue > 0.5
    assert digit_deviation(writers, *split) < 0.02


@pytest.mark.parametrize('seed', [1, 2, 3])
def test_split_holds_for_other_seeds(writers, seed):
    train_idx, val_idx = writer_split(writers, seed=seed)
    assert abs(len(val_idx) - 5000) <= 100 and digit_deviation(writers, train_idx, val_idx) < 0.03
    assert not set(writers['writer'][train_idx]) & set(writers['writer'][val_idx])


def test_split_is_deterministic(writers, split):
    again = writer_split(writers, n_val=5000, seed=0)
    assert all(np.array_equal(a, b) for a, b in zip(again, split))
    assert not np.array_equal(writer_split(writers, seed=1)[1], split[1])


def test_split_rejects_bad_n_val(writers):
    for n_val in (0, 60000):
        with pytest.raises(ValueError, match='n_val must be between'):
            writer_split(writers, n_val=n_val)


def test_summaries(real_root, writers, split):
    summary = writer_summary(writers, *split)
    assert summary.index.tolist() == ['train', 'val']
    assert summary['images'].tolist() == [len(split[0]), len(split[1])] and summary['writers'].sum() == 539
    assert np.allclose(summary[['series 0 share', 'series 4 share']].sum(axis=1), 1)
    mnist = mnist_writer_summary(real_root)
    assert mnist.loc['train', ['writers', 'series 0 writers', 'series 4 writers']].tolist() == [539, 289, 250]
    assert mnist.loc['test', ['writers', 'series 0 writers', 'series 4 writers']].tolist() == [297, 48, 249]


def test_missing_files_without_download(mnist_only):
    with pytest.raises(QMNISTDataError, match=f'missing qmnist-train-labels.tsv.gz.*{DATA_ENV}.*shared/data'):
        ensure_qmnist_labels(mnist_only, download=False)
    assert sorted(p.name for p in mnist_only.iterdir()) == ['MNIST']


def test_missing_files_and_no_network(mnist_only):
    "torchvision's real download path runs; the socket guard makes it fail like an offline machine."
    with pytest.raises(QMNISTDataError) as err:
        ensure_qmnist_labels(mnist_only)
    message = str(err.value)
    assert 'qmnist-train-labels.tsv.gz' in message and 'could not be downloaded' in message
    assert DATA_ENV in message and '../shared/data' in message
    assert sorted(p.name for p in mnist_only.iterdir()) == ['MNIST']           # nothing half-written


def _fake_download(payload):
    "A stand-in for torchvision's `download_url` that writes `payload(name)` where the download would go."
    return lambda url, root, filename: (Path(root)/filename).write_bytes(payload(filename))


def test_download_is_checked_before_it_is_kept(real_root, mnist_only, monkeypatch):
    monkeypatch.setattr('mnist_report.writers.download_url', _fake_download(lambda name: b'<html>oops</html>'))
    with pytest.raises(QMNISTDataError, match='downloaded qmnist-train-labels.tsv.gz is corrupt.*nothing was kept'):
        ensure_qmnist_labels(mnist_only)
    assert not qmnist_folder(mnist_only).exists()
    genuine = _fake_download(lambda name: (qmnist_folder(real_root)/name).read_bytes())
    monkeypatch.setattr('mnist_report.writers.download_url', genuine)
    assert set(verify_qmnist(ensure_qmnist_labels(mnist_only))) == set(QMNIST_FILES)
    assert sorted(p.name for p in qmnist_folder(mnist_only).iterdir()) == sorted(QMNIST_FILES)


@pytest.mark.parametrize('name', sorted(QMNIST_FILES))
def test_corrupt_file(scratch, name):
    path = qmnist_folder(scratch)/name
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01                                               # one byte changed
    path.unlink()
    path.write_bytes(bytes(data))
    for download in (False, True):
        with pytest.raises(QMNISTDataError, match=f'{name} is corrupt.*delete it.*{DATA_ENV}'):
            ensure_qmnist_labels(scratch, download=download)
    with pytest.raises(QMNISTDataError, match='is corrupt'):
        load_writers(scratch, train='train' in name)


def test_named_root_that_does_not_exist(tmp_path):
    with pytest.raises(QMNISTDataError, match='does not exist'):
        ensure_qmnist_labels(tmp_path/'typo')
    assert not (tmp_path/'typo').exists()


def test_env_var_root(real_root, monkeypatch):
    monkeypatch.setenv(DATA_ENV, str(real_root))
    assert ensure_qmnist_labels() == qmnist_folder(real_root)
    monkeypatch.setenv(DATA_ENV, str(real_root/'nowhere'))
    with pytest.raises(QMNISTDataError, match=f'\\${DATA_ENV}'):
        ensure_qmnist_labels()

