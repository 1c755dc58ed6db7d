"""The chain stopped and continued: interrupts, failures, `--resume`, and progress on stderr (issue 17)."""
import contextlib
import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from unittest import mock

import nbformat
import papermill as pm
import pytest

from mnist_report.chain import run_chain
from mnist_report.core import project_root, read_json, write_json

from cli_helpers import cli   # tests/cli_helpers.py

ROOT = project_root(Path(__file__).parent)
CHAPTERS = '03_model,04_training,index'


class FakeChapters:
    "Stands in for `execute.execute_chapter`: notes each call, writes the notebook, stops where it is told to once."
    def __init__(self, stop_in=None, error=KeyboardInterrupt):
        self.calls, self.stop_in, self.error = [], stop_in, error

    def __call__(self, source, target, parameters, in_place=False, log=None, on_cell=None):
        name = Path(source).stem
        self.calls.append((name, parameters))
        if name == self.stop_in:
            self.stop_in = None
            raise self.error
        nbformat.write(nbformat.v4.new_notebook(), target)


def _papermill_error():
    return pm.PapermillExecutionError(cell_index=3, exec_count=2, source='1/0', ename='ZeroDivisionError',
                                      evalue='division by zero', traceback=[])


def test_interrupt_is_recorded_and_resume_runs_only_the_chapters_left(tmp_path):
    out, fake = tmp_path/'run', FakeChapters(stop_in='04_training')
    with mock.patch('mnist_report.chain.execute_chapter', fake):
        code, _, err = cli('run', '--quick', '--out', out, '--chapters', CHAPTERS, '-p', 'epochs', '1')
        assert code == 130 and 'Traceback' not in err
        assert 'interrupted during chapter 04_training' in err and 'Completed chapters (03_model)' in err
        assert 'Not completed: 04_training, index.' in err
        assert f'Continue with: mnist-report run --out {out} --quick --resume' in err
        manifest = read_json(out/'manifest.json')
        assert manifest['status'] == 'interrupted' and manifest['stopped_at'] == '04_training'
        assert [(c['chapter'], c['status']) for c in manifest['chapters']] == [('03_model', 'ok'),
                                                                                ('04_training', 'interrupted')]
        fake.calls.clear()
        code, stdout, err = cli('run', '--quick', '--out', out, '--resume')
    assert code == 0 and 'chain complete: 3 chapters' in stdout, err
    assert [name for name, _ in fake.calls] == ['04_training', 'index']
    assert fake.calls[0][1] == {'epochs': 1, 'run_dir': str(out), 'quick': True, 'resume': True}
    assert 'resume' not in fake.calls[1][1]
    manifest = read_json(out/'manifest.json')
    assert manifest['status'] == 'complete' and 'stopped_at' not in manifest
    assert [(c['chapter'], c['status']) for c in manifest['chapters']] == [('03_model', 'ok'), ('04_training', 'ok'),
                                                                            ('index', 'ok')]
    assert [c['status'] for c in manifest['attempts']] == ['interrupted'] and len(manifest['resumed']) == 1
    assert manifest['parameters'] == {'epochs': 1} and manifest['plan'] == CHAPTERS.split(',')


def test_failed_chapter_is_recorded_and_resume_retries_it(tmp_path):
    out, fake = tmp_path/'run', FakeChapters(stop_in='04_training', error=_papermill_error())
    with mock.patch('mnist_report.chain.execute_chapter', fake):
        code, _, err = cli('run', '--quick', '--out', out, '--chapters', CHAPTERS)
        assert code == 1 and 'Traceback' not in err
        assert 'chapter 04_training failed: ZeroDivisionError: division by zero' in err
        assert f'Continue after fixing the cause with: mnist-report run --out {out} --quick --resume' in err
        manifest = read_json(out/'manifest.json')
        assert manifest['status'] == 'failed' and manifest['stopped_at'] == '04_training'
        assert manifest['chapters'][-1]['error'] == 'ZeroDivisionError: division by zero'
        fake.calls.clear()
        assert cli('run', '--quick', '--out', out, '--resume')[0] == 0
    assert [name for name, _ in fake.calls] == ['04_training', 'index']
    assert read_json(out/'manifest.json')['status'] == 'complete'


def test_resume_of_a_complete_run_runs_nothing(tmp_path):
    out, fake = tmp_path/'run', FakeChapters()
    with mock.patch('mnist_report.chain.execute_chapter', fake):
        run_chain(out, quick=True, chapters=['03_model'], progress=False)
        fake.calls.clear()
        assert run_chain(out, quick=True, resume=True, progress=False)['status'] == 'complete'
    assert fake.calls == []


@pytest.mark.parametrize('argv, message', [
    (['--quick', '-p', 'epochs', '2'], 'the parameters differ from those'),
    (['--quick', '-p', 'lr', '0.1'], 'lr: given 0.1, recorded: not set'),
    ([], 'was started with --quick; a resumed run keeps its mode'),
    (['--quick', '--chapters', '03_model'], 'Fix: resume without --chapters'),
])
def test_resume_with_other_options_is_refused(tmp_path, argv, message):
    out = tmp_path/'run'
    write_json(out/'manifest.json', {'quick': True, 'parameters': {'epochs': 1}, 'plan': CHAPTERS.split(','),
                                     'chapters': [], 'status': 'interrupted'})
    with mock.patch('mnist_report.chain.execute_chapter', FakeChapters()) as fake:
        code, _, err = cli('run', '--out', out, '--resume', *argv)
    assert code == 2 and message in err and 'Traceback' not in err
    assert fake.calls == [] and read_json(out/'manifest.json')['status'] == 'interrupted'


def test_resume_without_a_manifest_is_refused(tmp_path):
    code, _, err = cli('run', '--quick', '--out', tmp_path/'none', '--resume')
    assert code == 2 and 'has no manifest.json: there is no run to resume there' in err


def _training_history(out: Path):
    "What the training chapter writes after each epoch, in the run folder and in baseline/, as the fake's side effect."
    for folder, model in ((out, 'default'), (out/'baseline', 'baseline')):
        write_json(folder/'best'/'checkpoint.json', {'model': model, 'config': {'epochs': 2}})
        (folder/'history.csv').write_text('epoch,val_acc,seconds\n1,0.91,3.0\n2,0.95,3.1\n')


@pytest.mark.parametrize('progress', [True, False])
def test_training_epochs_are_shown_only_with_progress(tmp_path, progress):
    out, fake = tmp_path/'run', FakeChapters()
    def chapter(source, target, parameters, in_place=False, log=None, on_cell=None):
        fake(source, target, parameters)
        _training_history(out)
    err = io.StringIO()
    with mock.patch('mnist_report.chain.execute_chapter', chapter), contextlib.redirect_stderr(err):
        run_chain(out, quick=True, chapters=['04_training'], progress=progress)
    lines = [line for line in err.getvalue().replace('\r', '\n').splitlines() if ' model, epoch ' in line]
    if not progress:
        assert err.getvalue() == ''
        return
    assert [line.split(': ')[1] for line in lines] == ['default model, epoch 1/2', 'default model, epoch 2/2',
                                                       'baseline model, epoch 1/2', 'baseline model, epoch 2/2']
    assert 'val_acc 0.9500 (best 0.9500), 3.1 s;' in lines[1]


def _stopped_after_the_first_epoch(out: Path, real_root, stop) -> tuple[int, str]:
    """`mnist-report run` of a real quick training (2 epochs, no baseline) into `out`, in a process group of its own,
    and `stop(child)` called once the first epoch is in history.csv: the child's exit code and standard error."""
    argv = ['run', '--quick', '--out', str(out), '--chapters', '04_training', '-p', 'epochs', '2',
            '-p', 'train_baseline', 'False', '-p', 'data_dir', str(real_root)]
    # a Python started with SIGINT ignored (as a background job is) keeps ignoring it: take it as from a terminal
    script = 'import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); ' \
             'from mnist_report.cli import main; sys.exit(main())'
    env = {k: v for k, v in os.environ.items() if k not in ('MNIST_REPORT_QUICK', 'MNIST_REPORT_RUN_DIR')}
    child = subprocess.Popen([sys.executable, '-c', script, *argv], cwd=ROOT, env=env, stderr=subprocess.PIPE,
                             text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 600
        while not (out/'history.csv').exists() and child.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        if child.poll() is None:         # one that failed before its first epoch says why in its stderr
            stop(child)
        err = child.communicate(timeout=120)[1]
    finally:
        if child.poll() is None:         # a child that did not stop is not left training
            os.killpg(child.pid, signal.SIGKILL)
            child.wait()
    return child.returncode, err


@pytest.mark.trains
@pytest.mark.slow
def test_sigint_during_training_then_resume(real_root, tmp_path):
    "Ctrl-C (SIGINT to the process group, as a terminal sends it) after the first epoch of a real quick training."
    out = tmp_path/'run'
    code, err = _stopped_after_the_first_epoch(out, real_root, lambda child: os.killpg(child.pid, signal.SIGINT))
    assert code == 130, err
    assert 'Traceback' not in err and 'IPKernelApp' not in err
    assert 'interrupted during chapter 04_training' in err and '04_training: default model, epoch 1/2' in err
    assert f'Continue with: mnist-report run --out {out} --quick --resume' in err
    assert read_json(out/'manifest.json')['status'] == 'interrupted'
    assert 'was interrupted' in nbformat.read(out/'04_training.ipynb', 4).cells[0].source
    first_epoch = (out/'history.csv').read_text().splitlines()[1]

    code, _, err = cli('run', '--quick', '--out', out, '--resume')
    assert code == 0, err
    manifest = read_json(out/'manifest.json')
    assert manifest['status'] == 'complete' and [c['status'] for c in manifest['chapters']] == ['ok']
    history = (out/'history.csv').read_text().splitlines()
    assert len(history) == 3 and history[1] == first_epoch
    cells = nbformat.read(out/'04_training.ipynb', 4).cells
    assert not any('was interrupted' in c.source for c in cells)


@pytest.mark.trains
@pytest.mark.slow
def test_sigterm_during_training_is_recorded_as_an_interrupt(real_root, tmp_path):
    "SIGTERM to the command alone (as `kill PID` or a scheduler sends it) after the first epoch of a real training."
    out = tmp_path/'run'
    code, err = _stopped_after_the_first_epoch(out, real_root, lambda child: child.send_signal(signal.SIGTERM))
    assert code == 130, err
    assert 'Traceback' not in err and 'interrupted during chapter 04_training' in err
    manifest = read_json(out/'manifest.json')
    assert manifest['status'] == 'interrupted' and manifest['stopped_at'] == '04_training'
