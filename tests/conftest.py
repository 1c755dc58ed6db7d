"""Shared fixtures: no test may reach the network, and tests that need the genuine files find them."""
import os
import socket
from pathlib import Path

import numpy as np
import pytest

from mnist_report.core import DATA_ENV, project_root
from mnist_report.data import RAW_FILES, load_mnist, raw_folder


LOOPBACK = ('127.0.0.1', 'localhost', '::1')


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    "Every test runs with connections refused except to this machine (the browser check drives Chromium locally)."
    real_connect, real_create = socket.socket.connect, socket.create_connection
    def allowed(address):
        "Loopback addresses, and Unix sockets (given as paths)."
        return isinstance(address, tuple) and str(address[0]) in LOOPBACK or isinstance(address, (str, bytes))

    def connect(self, address):
        if not allowed(address):
            raise OSError(f'network access is disabled in tests ({address})')
        return real_connect(self, address)

    def create_connection(address, *args, **kwargs):
        if not allowed(address):
            raise OSError(f'network access is disabled in tests ({address})')
        return real_create(address, *args, **kwargs)
    monkeypatch.setattr(socket.socket, 'connect', connect)
    monkeypatch.setattr(socket, 'create_connection', create_connection)


@pytest.fixture(scope='session')
def real_root() -> Path:
    "Data root with the genuine MNIST files: $MNIST_REPORT_DATA, else ../shared/data beside the project."
    candidates = [os.environ.get(DATA_ENV), project_root().parent/'shared'/'data']
    for root in filter(None, candidates):
        if all((raw_folder(root)/name).is_file() for name in RAW_FILES):
            return Path(root).resolve()
    message = f'the genuine MNIST files are needed: set {DATA_ENV} to a folder holding MNIST/raw/'
    if os.environ.get('CI'):
        pytest.fail(message)  # CI always has ../shared/data: never skip there
    pytest.skip(message)


@pytest.fixture(scope='session')
def mnist_test(real_root) -> tuple[np.ndarray, np.ndarray]:
    """The genuine MNIST test set, loaded once: images (uint8, 10,000×28×28) and labels (int64) as numpy arrays, shared
    by every test of the session: none may change them (they stay writable, as torch warns about read-only arrays)."""
    images, labels = load_mnist(real_root, train=False)
    return images.numpy(), labels.numpy()
