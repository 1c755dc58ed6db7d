"""Error paths of the data layer, each in a temporary folder: the message names the file and the fix."""
import hashlib
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.error import URLError

import pytest

from mnist_report.cli import main
from mnist_report.core import CANONICAL_RUN, DATA_ENV, project_root, read_json
from mnist_report.data import MNISTDataError, RAW_FILES, _scratch_copy, ensure_mnist, load_mnist, raw_folder, verify_raw
from mnist_report.splits import prepare_data


@pytest.fixture
def scratch(real_root):
    "A data root of symlinks to the genuine files, safe to damage."
    root = _scratch_copy(real_root)
    yield root
    shutil.rmtree(root)


def _replace(path, data: bytes):
    "Replace the symlink at `path` by a file holding `data` (the genuine file stays untouched)."
    path.unlink()
    path.write_bytes(data)


def test_genuine_files_verify(real_root):
    """verify_raw returns each file's SHA-256 as hashlib computes it from the bytes, which is the expected digest; a
    file whose contents are not the expected ones (the expectation changed here, not the file) is refused."""
    digests = verify_raw(real_root)
    actual = {name: hashlib.sha256((raw_folder(real_root)/name).read_bytes()).hexdigest() for name in RAW_FILES}
    assert digests == actual == {name: sha for name, (sha, _) in RAW_FILES.items()}
    name = 't10k-labels-idx1-ubyte'                         # 10 kB: the cheapest to hash twice
    sha, size = RAW_FILES[name]
    with pytest.raises(MNISTDataError, match=f'{name} is corrupt'):
        verify_raw(real_root, {name: (sha[::-1], size)})


def test_canonical_split_reproduces(real_root, tmp_path):
    "The committed canonical run's split and normalisation are what `prepare_data` makes today, byte for byte."
    canonical = project_root()/CANONICAL_RUN
    if not (canonical/'data.json').exists():
        pytest.skip('no canonical run committed yet')
    record = prepare_data(tmp_path, real_root, seed=0)
    assert record == read_json(canonical/'data.json')
    assert (tmp_path/'splits.npz').read_bytes() == (canonical/'splits.npz').read_bytes()


def test_missing_file_without_download(scratch):
    (raw_folder(scratch)/'train-labels-idx1-ubyte').unlink()
    with pytest.raises(MNISTDataError, match=f'missing train-labels-idx1-ubyte.*{DATA_ENV}'):
        ensure_mnist(scratch, download=False)


def test_missing_file_and_no_network(scratch, monkeypatch):
    (raw_folder(scratch)/'t10k-images-idx3-ubyte').unlink()
    monkeypatch.setattr('urllib.request.urlopen', lambda *a, **k: (_ for _ in ()).throw(URLError('no network')))
    with pytest.raises(MNISTDataError, match='Could not download MNIST.*Fix: connect to the internet'):
        ensure_mnist(scratch)


def test_empty_root_and_no_network(tmp_path):
    "torchvision's real download path runs; the socket guard makes it fail like an offline machine."
    with pytest.raises(MNISTDataError) as err:
        ensure_mnist(tmp_path)
    message = str(err.value)
    assert message.startswith('Could not download MNIST into') and DATA_ENV in message
    assert 'Traceback' not in message and len(message) < 600


def test_truncated_file(scratch):
    path = raw_folder(scratch)/'train-images-idx3-ubyte'
    _replace(path, path.resolve().read_bytes()[:1000])
    with pytest.raises(MNISTDataError, match='train-images-idx3-ubyte is truncated.*1,000 bytes.*Fix: delete it'):
        verify_raw(scratch)


def test_wrong_checksum_same_size(scratch):
    path = raw_folder(scratch)/'t10k-labels-idx1-ubyte'
    data = bytearray(path.resolve().read_bytes())
    data[-1] = (data[-1] + 1) % 10  # one label changed
    _replace(path, bytes(data))
    with pytest.raises(MNISTDataError, match='t10k-labels-idx1-ubyte is corrupt.*SHA-256'):
        verify_raw(scratch)


def test_corrupt_copy_is_caught_before_anything_is_written(scratch, tmp_path):
    path = raw_folder(scratch)/'train-images-idx3-ubyte'
    data = bytearray(path.resolve().read_bytes())
    data[20000] ^= 0xFF  # one pixel flipped
    _replace(path, bytes(data))
    with pytest.raises(MNISTDataError, match='corrupt'):
        load_mnist(scratch)
    with pytest.raises(MNISTDataError, match='corrupt'):
        prepare_data(tmp_path/'run', scratch)
    assert not (tmp_path/'run').exists() or not any((tmp_path/'run').iterdir())


def test_named_root_that_does_not_exist(tmp_path, monkeypatch):
    monkeypatch.setenv(DATA_ENV, str(tmp_path/'typo'))
    with pytest.raises(MNISTDataError, match=r'typo \(from \$MNIST_REPORT_DATA\) does not exist'):
        ensure_mnist()
    assert not (tmp_path/'typo').exists()


def test_cli_reports_data_errors_briefly(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(DATA_ENV, str(tmp_path/'nowhere'))
    assert main(['data']) == 2
    err = capsys.readouterr().err
    assert err.startswith('mnist-report: error: The MNIST data root') and 'Traceback' not in err


def test_console_script_exit_code(tmp_path):
    "The installed `mnist-report` script, as `make report` calls it before running any chapter."
    script = Path(sys.executable).parent/'mnist-report'
    env = {DATA_ENV: str(tmp_path/'nowhere'), 'PATH': str(script.parent)}
    proc = subprocess.run([str(script), 'data'], env=env, capture_output=True, text=True)
    assert proc.returncode == 2 and 'does not exist' in proc.stderr and 'Traceback' not in proc.stderr
