"""`mnist-report study`: specs and grids, the cache, --force, resumption, failures, --dry-run, Dask (issue 17)."""
import json
import os
from dataclasses import asdict
from pathlib import Path
from unittest import mock

import pytest

from mnist_report.chain import ChainError, ChainInterrupted
from mnist_report.core import DATA_ENV, project_root, read_json
from mnist_report.study import RECORD, check_members, load_spec, study_members
from mnist_report.train_config import make_config

from cli_helpers import cli   # tests/cli_helpers.py

ROOT = project_root(Path(__file__).parent)
TOY = '''name: toy
description: A toy study.
defaults: {train_baseline: false, epochs: 1, seed: [0, 1]}
members:
  - name: a
  - name: b
    parameters: {ema: 0.0}
'''
TOY_MEMBERS = ['a-seed0', 'a-seed1', 'b-seed0', 'b-seed1']


class FakeChain:
    "Stands in for `run_chain`: notes each member run, writes what the chapters would; fails or stops where told."
    def __init__(self, fail=(), stop_in=None):
        self.calls, self.chapters, self.fail, self.stop_in = [], [], set(fail), stop_in

    def __call__(self, out, quick=False, params=None, chapters=None, progress=True, resume=False):
        out, name = Path(out), Path(out).name
        self.calls.append((name, resume))
        self.chapters.append(chapters)
        manifest = {'status': 'running', 'parameters': params, 'quick': quick, 'chapters': []}
        (out/'manifest.json').write_text(json.dumps(manifest))
        if name == self.stop_in:
            (out/'manifest.json').write_text(json.dumps({**manifest, 'status': 'interrupted'}))
            raise ChainInterrupted('interrupted during chapter 04_training')
        if name in self.fail:
            (out/'manifest.json').write_text(json.dumps({**manifest, 'status': 'failed'}))
            raise ChainError('chapter 04_training failed: ValueError: boom\nThe chain stopped there.')
        (out/'train_summary.json').write_text('{"best_val_acc": 0.99, "epochs_run": 1, "train_seconds": 6.0}')
        if '04_training' in (chapters or []):          # the weights the training chapter keeps
            (out/'best').mkdir(exist_ok=True)
            for name in ('model.safetensors', 'checkpoint.json', 'config.json'):
                (out/'best'/name).write_text('{}')
        manifest.update(status='complete', total_seconds=12.0,
                        chapters=[{'chapter': c, 'status': 'ok'} for c in chapters or ['04_training', '05_evaluation']])
        (out/'manifest.json').write_text(json.dumps(manifest))
        return manifest


@pytest.fixture
def toy(tmp_path, monkeypatch):
    "A 4-member spec file and its output folder; the data hashes stand in for the real ones (no data needed)."
    monkeypatch.setattr('mnist_report.study.data_hashes', lambda data_dir=None: {'root': 'x', 'sha256': {'f': '0'}})
    spec = tmp_path/'toy.yaml'
    spec.write_text(TOY)
    return spec, tmp_path/'out'


def _study(toy, *options, fake=None):
    "`mnist-report study` of the toy spec with `fake` standing in for the chain; (exit code, stdout, stderr, fake)."
    fake = fake or FakeChain()
    with mock.patch('mnist_report.study_run.run_chain', fake):
        code, out, err = cli('study', toy[0], '--out', toy[1], *options)
    return code, out, err, fake


def _status(toy) -> dict:
    records = {m: toy[1]/'toy'/m/RECORD for m in TOY_MEMBERS}
    return {m: read_json(p)['status'] if p.exists() else None for m, p in records.items()}


def test_second_run_is_cached_force_reruns_and_a_changed_member_reruns(toy):
    code, out, err, fake = _study(toy)
    assert code == 0 and [name for name, _ in fake.calls] == TOY_MEMBERS, err
    assert 'study toy: 4 of 4 members to run (new: 4), 0 cached' in err
    assert '[4/4] b-seed1: val 99.00%, trained 0.1 min (1 epoch); 0.2 min' in err
    assert 'study toy: 4 of 4 members complete (4 run now, 0 cached), 0 failed' in out
    record = read_json(toy[1]/'toy'/'b-seed1'/RECORD)
    assert record['parameters'] == {'train_baseline': False, 'epochs': 1, 'seed': 1, 'ema': 0.0}
    assert record['quick'] is False and len(record['code']) == len(record['key']) == 64 and record['seconds'] == 12.0

    code, out, err, fake = _study(toy)
    assert code == 0 and fake.calls == [] and 'members to run' not in err
    assert 'study toy: 4 of 4 members complete (0 run now, 4 cached), 0 failed' in out

    code, out, err, fake = _study(toy, '--force')
    assert code == 0 and [name for name, _ in fake.calls] == TOY_MEMBERS and '--force: 4' in err

    toy[0].write_text(TOY.replace('ema: 0.0', 'ema: 0.5'))
    code, out, err, fake = _study(toy)
    assert code == 0 and fake.calls == [('b-seed0', False), ('b-seed1', False)]
    assert 'training: config changed: 2' in err and '(2 run now, 2 cached)' in out


def test_changed_evaluation_reevaluates_kept_weights_and_changed_training_retrains(toy):
    _study(toy)
    first = read_json(toy[1]/'toy'/'a-seed0'/RECORD)
    with mock.patch('mnist_report.study.code_hash', return_value='0' * 64):    # the code after training
        code, _, err, fake = _study(toy, '--dry-run')
        assert code == 0 and fake.calls == [] and err == ''
        assert 'a-seed0  evaluate (code changed; its training did not)' in _study(toy, '--dry-run')[1]
        with mock.patch('mnist_report.study_run._now', return_value='2100-01-01T00:00:00+00:00'):
            code, out, err, fake = _study(toy)
        assert code == 0 and fake.calls == [(m, False) for m in TOY_MEMBERS]
        assert fake.chapters == [['05_evaluation']] * 4 and 'code changed; its training did not: 4' in err
        record = read_json(toy[1]/'toy'/'a-seed0'/RECORD)
        assert record['trained'] == 'complete' and record['code'] == '0' * 64
        assert record['started'] == '2100-01-01T00:00:00+00:00'
        assert record['training_run'] == {k: first[k] for k in ('started', 'host', 'cpu')}
        assert (toy[1]/'toy'/'a-seed0'/'best'/'model.safetensors').exists()
        assert _study(toy)[3].calls == []
    (toy[1]/'toy'/'a-seed0'/'best'/'model.safetensors').unlink()
    assert 'a-seed0  changed (code changed; its weights are not kept)' in _study(toy, '--dry-run')[1]
    with mock.patch('mnist_report.study.training_code_digest', return_value='1' * 64):
        assert 'b-seed1  changed (training: code changed)' in _study(toy, '--dry-run')[1]
        code, out, err, fake = _study(toy)
        assert fake.chapters == [['04_training', '05_evaluation']] * 4
    code, out, _, fake = _study(toy, '--quick')           # quick members live in a folder of their own
    assert len(fake.calls) == 4 and (toy[1]/'toy'/'a-seed0'/RECORD).exists()


def test_an_interrupted_study_resumes_with_the_members_left(toy):
    code, out, err, fake = _study(toy, fake=FakeChain(stop_in='a-seed1'))
    assert code == 130 and 'Traceback' not in err and out == ''
    assert ('study toy interrupted during a-seed1 (recorded as interrupted: it continues from its last saved state).\n'
            'Complete: 1 of 4 members (a-seed0). Continue with: mnist-report study ') in err
    assert f"--out {toy[1]}" in err
    assert _status(toy) == {'a-seed0': 'complete', 'a-seed1': 'interrupted', 'b-seed0': None, 'b-seed1': None}

    code, out, err, fake = _study(toy, '--dry-run')
    assert 'a-seed1  resume (interrupted)' in out and '4 members: 1 cached, 3 to run' in out and fake.calls == []

    code, out, err, fake = _study(toy)
    assert code == 0 and fake.calls == [('a-seed1', True), ('b-seed0', False), ('b-seed1', False)]
    assert set(_status(toy).values()) == {'complete'} and '(3 run now, 1 cached)' in out


def test_a_failing_member_is_recorded_and_the_others_still_run(toy):
    code, out, err, fake = _study(toy, fake=FakeChain(fail={'a-seed1'}))
    assert code == 1 and [name for name, _ in fake.calls] == TOY_MEMBERS and 'Traceback' not in err
    record = read_json(toy[1]/'toy'/'a-seed1'/RECORD)
    assert record['status'] == 'failed' and record['error'] == 'chapter 04_training failed: ValueError: boom'
    assert '[2/4] a-seed1: FAILED after 0.0 min: chapter 04_training failed: ValueError: boom' in err
    assert 'a-seed1 failed' in out and '3 of 4 members complete' in out and '1 failed' in out
    assert 'mnist-report: 1 member(s) failed: a-seed1;' in err

    code, out, err, fake = _study(toy)                  # the failed member is tried again, the others are cached
    assert code == 0 and fake.calls == [('a-seed1', True)]


def test_dry_run_lists_members_state_and_estimate(toy):
    code, out, err, fake = _study(toy, '--dry-run')
    assert code == 0 and fake.calls == [] and not (toy[1]/'toy').exists()
    lines = out.splitlines()
    assert lines[0] == 'study toy: A toy study.'
    assert lines[2:] == ['  a-seed0  new  seed=0',
                         '  a-seed1  new  seed=1',
                         '  b-seed0  new  seed=0 ema=0.0',
                         '  b-seed1  new  seed=1 ema=0.0',
                         '4 members: 0 cached, 4 to run; estimated time 40 min (10 min per member, none has run yet)']
    assert 'estimated time 6.0 min (1.5 min per member' in _study(toy, '--dry-run', '--quick')[1]
    _study(toy)
    toy[0].write_text(TOY.replace('ema: 0.0', 'ema: 0.5'))
    out = _study(toy, '--dry-run')[1]
    assert '  a-seed0  cached' in out and '  b-seed1  changed (training: config changed)  seed=1 ema=0.5' in out
    assert out.splitlines()[-1] == ('4 members: 2 cached, 2 to run; estimated time 0.4 min '
                                    '(the mean of 4 member(s) run before)')


@pytest.mark.parametrize('change, message', [
    (('ema: 0.0', 'emma: 0.0'), 'study toy, member b-seed0: unknown parameter(s) emma: no chapter declares them.'),
    (('ema: 0.0', 'schedule: cosin'), "study toy, member b-seed0: schedule='cosin' is invalid: choose one of"),
    (('ema: 0.0', 'lr: 1e-3'), "study toy, member b-seed0: lr='1e-3' is invalid: it must be a number > 0"),
    (('ema: 0.0', 'quick: true'), 'member b-seed0: run_dir and quick are set by the chain'),
    (('seed: [0, 1]', 'seed: []'), 'member a: parameter seed has an empty list of values'),
    (('name: b', 'name: a'), 'study toy: member names repeat (a-seed0, a-seed1)'),
    (('name: b', 'name: b/c'), "study toy, member b/c: the name 'b/c' must be letters"),
    (('description:', 'descripton:'), 'unknown key(s) descripton'),
    (('members:', 'chapters: [04_training, 09_no_such_chapter]\nmembers:'), 'unknown chapter(s) 09_no_such_chapter'),
])
def test_spec_errors_name_the_member_and_the_parameter(toy, change, message):
    toy[0].write_text(TOY.replace(*change))
    code, out, err, fake = _study(toy, '--dry-run')
    assert code == 2 and fake.calls == [] and out == ''
    assert err.startswith('mnist-report: error: ') and message in err and 'Traceback' not in err


def test_unknown_study_lists_the_studies():
    code, _, err = cli('study', 'no-such-study', '--dry-run')
    assert code == 2 and "no study 'no-such-study'" in err and 'ablations, ci, crossover, robust, seeds' in err


def test_the_studies_of_the_project_expand_and_validate():
    sizes = {'ci': 2, 'seeds': 10, 'ablations': 17, 'crossover': 4, 'robust': 2}   # ablations: 5 reference seeds
    assert sorted(p.stem for p in (ROOT/'studies').glob('*.yaml')) == sorted(sizes)
    for name, size in sizes.items():
        spec = load_spec(name)
        members = study_members(spec)
        assert len(members) == size and all(m['parameters']['train_baseline'] is False for m in members), name
        if name == 'ci':                                      # CI's study trains only, to keep CI short
            assert spec['chapters'] == ['04_training'] and members[0]['parameters']['epochs'] == 1
        else:
            assert spec['chapters'] == ['04_training', '05_evaluation'], name
            evaluation = {k: members[0]['parameters'][k] for k in ('corruption_images', 'val_corruption_images',
                                                                 'severity_images', 'n_boot')}
            assert evaluation == {'corruption_images': 2000, 'val_corruption_images': 1000, 'severity_images': 200,
                                  'n_boot': 200}, name
        check_members(spec, members)


def test_the_crossover_members_are_the_two_recipes_swapped():
    members = {m['name']: m['parameters'] for m in study_members(load_spec('crossover'))}
    for seed in (0, 1):
        examples_recipe, own_recipe = members[f'digitcnn-examples-recipe-seed{seed}'], \
            members[f'examplesnet-default-recipe-seed{seed}']
        assert (examples_recipe['model'], examples_recipe['recipe']) == ('default', 'pytorch-examples')
        assert (own_recipe['model'], own_recipe['recipe']) == ('baseline', 'default')
        assert asdict(make_config(examples_recipe['recipe'], model='default', seed=seed)) == \
            {**asdict(make_config(model='baseline', seed=seed)), 'model': 'default'}
        assert asdict(make_config(own_recipe['recipe'], model='baseline', seed=seed)) == \
            {**asdict(make_config(seed=seed)), 'model': 'baseline'}


@pytest.fixture(scope='module')
def ci_study(real_root, tmp_path_factory):
    "The ci study run for real on the quick subsets: the one `make test` just made (its --out), else a new one."
    given = os.environ.get('MNIST_REPORT_STUDY_RUN')
    if given and (Path(given)/'ci'/'default-seed1'/RECORD).exists():
        return Path(given), None
    out = tmp_path_factory.mktemp('studies')
    with mock.patch.dict(os.environ, {DATA_ENV: str(real_root)}):
        code, stdout, err = cli('study', 'ci', '--quick', '--out', out)
    assert code == 0, err
    return out, err


@pytest.mark.trains
@pytest.mark.slow
def test_a_real_quick_study_runs_and_then_is_cached(ci_study, real_root):
    out, err = ci_study
    for seed in (0, 1):
        folder = out/'ci'/f'default-seed{seed}'
        record, manifest = read_json(folder/RECORD), read_json(folder/'manifest.json')
        assert record['status'] == manifest['status'] == 'complete' and record['quick'] is manifest['quick'] is True
        assert manifest['parameters'] == record['parameters'] and record['parameters']['seed'] == seed
        assert [c['chapter'] for c in manifest['chapters']] == ['04_training']
        assert set(record['result']) >= {'val_acc', 'epochs', 'train_minutes'}
        assert read_json(folder/'train_summary.json')['epochs_run'] == 1
        assert (folder/'best'/'model.safetensors').is_file()
    if err is not None:
        assert '[2/2] default-seed1: val ' in err and 'Traceback' not in err
    with mock.patch.dict(os.environ, {DATA_ENV: str(real_root)}), \
            mock.patch('mnist_report.study_run.run_chain', side_effect=AssertionError('a cached member ran')):
        code, stdout, err = cli('study', 'ci', '--quick', '--out', out)     # the patch fails any execution
    assert code == 0 and '(0 run now, 2 cached), 0 failed' in stdout, err


@pytest.mark.trains
@pytest.mark.cluster
@pytest.mark.slow
def test_members_run_on_a_dask_cluster(real_root, tmp_path):
    distributed = pytest.importorskip('dask.distributed')
    spec = tmp_path/'dask.yaml'
    spec.write_text(f'chapters: [04_training]\ndefaults: {{train_baseline: false, epochs: 1, data_dir: {real_root}}}\n'
                    'members:\n  - name: one\n')
    # the cluster's nanny sets OMP_NUM_THREADS=1 in this process's environment: restored afterwards, so the notebooks
    # nbval executes later in this session (their kernels inherit it) see the machine as the chain did
    with mock.patch.dict(os.environ), \
            distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                                     dashboard_address=None) as cluster:
        options = ('--quick', '--out', tmp_path/'out', '--scheduler', cluster.scheduler_address)
        code, out, err = cli('study', spec, *options)
        assert code == 0, err
        record = read_json(tmp_path/'out'/'dask'/'one'/RECORD)
        assert record['status'] == 'complete' and record['result']['epochs'] == 1 and record['host']
        assert '[1/1] one: val ' in err and '1 of 1 members complete (1 run now, 0 cached)' in out
        code, out, err = cli('study', spec, *options)
        assert code == 0 and '(0 run now, 1 cached)' in out


def test_an_unreachable_scheduler_is_a_clear_error(toy):
    with mock.patch('mnist_report.study_run.SCHEDULER_TIMEOUT', 1):
        code, out, err, fake = _study(toy, '--scheduler', 'tcp://127.0.0.1:9')
    assert code == 2 and fake.calls == [] and 'cannot reach a Dask scheduler at tcp://127.0.0.1:9' in err
