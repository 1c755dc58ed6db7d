"""Shared fixtures: no test may reach the network, and tests that need the genuine files find them."""
import os
import socket
from pathlib import Path

import pytest

from mnist_report.core import DATA_ENV, project_root
from mnist_report.data import RAW_FILES, raw_folder


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    "Every test runs with outbound connections refused, so a test can never touch the network."
    def refuse(*args, **kwargs): raise OSError('network access is disabled in tests')
    monkeypatch.setattr(socket.socket, 'connect', refuse)
    monkeypatch.setattr(socket, 'create_connection', refuse)


@pytest.fixture(scope='session')
def real_root() -> Path:
    "Data root with the genuine MNIST files: $MNIST_REPORT_DATA, else ../shared/data beside the project."
    candidates = [os.environ.get(DATA_ENV), project_root().parent/'shared'/'data']
    for root in filter(None, candidates):
        if all((raw_folder(root)/name).is_file() for name in RAW_FILES): return Path(root).resolve()
    message = f'the genuine MNIST files are needed: set {DATA_ENV} to a folder holding MNIST/raw/'
    if os.environ.get('CI'): pytest.fail(message)  # CI always has ../shared/data: never skip there
    pytest.skip(message)
