"""The chain (`mnist-report run`), its manifest, and the README's generated results."""
import csv
import io
import os
import re
import shutil
from pathlib import Path

import nbformat
import pytest

from mnist_report.chain import CHAPTERS
from mnist_report.readme import update_readme
from mnist_report.core import CANONICAL_RUN, project_root, read_json
from mnist_report.data import RAW_FILES
from mnist_report.writers import QMNIST_FILES

from cli_helpers import cli   # tests/cli_helpers.py

ROOT = project_root(Path(__file__).parent)


@pytest.fixture(scope='module')
def quick_chain(real_root, tmp_path_factory):
    "A complete quick run made by `mnist-report run --quick`: the one `make test` just made, else a new one."
    given = os.environ.get('MNIST_REPORT_CHAIN_RUN')
    if given and (Path(given)/'manifest.json').exists():
        return Path(given)
    out = tmp_path_factory.mktemp('chain')/'quick'
    code, _, err = cli('run', '--quick', '--out', out, '-p', 'data_dir', real_root)
    assert code == 0, err
    return out


@pytest.mark.trains
@pytest.mark.slow
def test_quick_chain_is_complete_and_recorded(quick_chain):
    manifest = read_json(quick_chain/'manifest.json')
    assert manifest['status'] == 'complete' and manifest['quick'] is True
    assert [c['chapter'] for c in manifest['chapters']] == list(CHAPTERS)
    assert all(c['status'] == 'ok' and c['seconds'] > 0 for c in manifest['chapters'])
    assert manifest['data']['sha256'] == {**{name: sha for name, (sha, _) in RAW_FILES.items()},
                                          **{name: sha for name, (sha, _) in QMNIST_FILES.items()}}
    assert len(manifest['git']['commit']) == 40 and manifest['packages']['torch']
    for name in CHAPTERS:
        assert (quick_chain/f'{name}.ipynb').is_file()
    for artifact in ('data.json', 'history.csv', 'best/model.safetensors', 'baseline/best/model.safetensors',
                     'metrics.json', 'hub/model.safetensors', 'hub/config.json', 'hub/README.md'):
        assert (quick_chain/artifact).is_file(), artifact
    assert read_json(quick_chain/'metrics.json')['run']['quick'] is True


def _without_seconds_columns(text: str) -> str:
    "A CSV file's text without its columns of measured seconds."
    rows = list(csv.reader(io.StringIO(text)))
    keep = [i for i, column in enumerate(rows[0]) if not column.endswith('seconds')]
    return '\n'.join(','.join(row[i] for i in keep) for row in rows)


# What may differ between two runs of the same chain: where each was executed and how long it took
NOT_RECORDS = ('*.ipynb', 'logs/*', 'manifest.json', 'figures/*')    # notebooks, logs, PNG encodings
TIMED_RECORDS = {                     # by path in the run, else by file name
    'last_state.pt': None,            # resume state, pickled with its history's seconds (the weights are in best/)
    'hub/README.md': None,            # the model card: its numbers come from the records compared here, plus minutes
    'history.csv': _without_seconds_columns,
    'train_summary.json': lambda text: re.sub(r'"(\w*seconds)": [\d.e-]+', r'"\1": 0', text),
}


def _records(run: Path) -> dict[str, bytes]:
    "Every record of `run` by relative path, time measurements taken out (`TIMED_RECORDS`)."
    records = {}
    for path in sorted(p for p in run.rglob('*') if p.is_file()):
        name = path.relative_to(run).as_posix()
        rule = TIMED_RECORDS.get(name, TIMED_RECORDS.get(path.name, bytes))
        if rule is None or any(path.relative_to(run).match(pattern) for pattern in NOT_RECORDS):
            continue
        records[name] = path.read_bytes() if rule is bytes else rule(path.read_text(encoding='utf-8')).encode()
    return records


@pytest.mark.trains
def test_two_quick_runs_on_one_machine_give_identical_records(request):
    """Same parameters and seed on the same machine, the same numbers: the quick run nbdev_test made of the chapters
    (`make test`'s build/test-run) and the CLI's quick chain have byte-identical weights, splits, logits and records
    (training times and the model card aside). This is the exactness check of the chapters that train and evaluate."""
    other = os.environ.get('MNIST_REPORT_TEST_RUN')
    if not (other and (Path(other)/'metrics.json').exists()):
        pytest.skip('needs the quick run of nbdev_test: `make test` sets MNIST_REPORT_TEST_RUN')
    ours, theirs = _records(request.getfixturevalue('quick_chain')), _records(Path(other))
    assert {'best/model.safetensors', 'baseline/best/model.safetensors', 'metrics.json', 'logits.npz',
            'deploy.json', 'history.csv', 'train_summary.json'} <= set(ours)
    assert sorted(ours) == sorted(theirs)
    assert [name for name in ours if ours[name] != theirs[name]] == []


def test_unknown_parameter_is_rejected_before_anything_runs(tmp_path):
    code, _, err = cli('run', '--quick', '--out', tmp_path/'run', '-p', 'epochz', '3')
    assert code == 2 and 'unknown parameter(s) epochz' in err and 'epochs' in err
    assert not (tmp_path/'run').exists()


@pytest.mark.slow
def test_failing_chapter_stops_the_chain_and_keeps_completed_chapters(tmp_path):
    out = tmp_path/'run'
    code, _, err = cli('run', '--quick', '--out', out, '--chapters', '03_model,01_eda',
                        '-p', 'data_dir', tmp_path/'no-data')
    assert code == 1 and 'chapter 01_eda failed: MNISTDataError' in err and 'Completed chapters (03_model)' in err
    assert 'Traceback' not in err
    manifest = read_json(out/'manifest.json')
    assert manifest['status'] == 'failed' and [c['status'] for c in manifest['chapters']] == ['ok', 'failed']
    assert (out/'03_model.ipynb').is_file() and (out/'model_sizes.json').is_file()


def test_readme_results_table_is_generated_from_the_canonical_metrics(tmp_path):
    "The committed README's table must be exactly what the committed runs/canonical/metrics.json generates."
    copy = tmp_path/'README.md'
    shutil.copy(ROOT/'README.md', copy)
    assert update_readme(copy, ROOT/CANONICAL_RUN) is False, 'README differs from the run: run `mnist-report readme`'


def test_front_page_lists_exactly_the_chain_chapters():
    "The front page's chapter table is prose, checked against the one chapter list (chain.CHAPTERS)."
    text = '\n'.join(c.source for c in nbformat.read(ROOT/'nbs'/'index.ipynb', 4).cells if c.cell_type == 'markdown')
    listed = re.findall(r'^\| \[\d+\. [^]]+\]\((\w+)\.ipynb\)', text, re.M)
    assert listed == [c for c in CHAPTERS if c != 'index']
