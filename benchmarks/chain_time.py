"""Each chapter's time in real runs of the chain, against the time budgets: the canonical run and the quick chain.

Reads the manifests the chain writes (`runs/canonical/manifest.json` from `make report`, and the quick chain's,
`build/quick-chain/manifest.json` from `make test`, or any run folders given), takes each chapter's seconds from the
latest execution of that chapter (a resumed run keeps its earlier executions under `earlier`), and prints one table
per run with the budgets beside them:

* canonical run: evaluation ≤ 3 min, deployment ≤ 2 min, the chapters other than training ≤ 7 min together, chain
  start to rendered site ≤ 22 min (training as it is today, about 13.4 min for both models on the project's
  machines; the budget of the whole is the sum);
* quick chain: ≤ 2 min from its first chapter to its last.

Times are wall-clock seconds on the machine that ran the chain, recorded with its processor. A run is only a fair
measure when nothing else shared the cores; the table says whether the run was resumed (then the chapters come from
different executions and the total is their sum, not one wall-clock span).

    .venv/bin/python benchmarks/chain_time.py            # writes benchmarks/chain_time.md
"""
import argparse
import json
from pathlib import Path

from mnist_report.core import CANONICAL_RUN, atomic_write, display_path, resolve_path

QUICK_CHAIN = 'build/quick-chain'
BUDGETS = {'05_evaluation': 180, '06_deployment': 120}        # seconds, per chapter
OTHERS_BUDGET = 7 * 60                                           # every chapter but training, together
TRAINING = '04_training'
WHOLE_BUDGET = {False: 22 * 60, True: 2 * 60}                    # the whole chain: full run, quick run


def latest_chapters(manifest: dict) -> tuple[dict, int]:
    "chapter -> its latest record (seconds, status) across the manifest and its earlier executions; executions used."
    runs = [*manifest.get('earlier', []), manifest]
    chapters, used = {}, set()
    for i, run in enumerate(runs):
        for record in run.get('chapters', []):
            if record.get('status') == 'ok':
                chapters[record['chapter']] = record
    for record in chapters.values():
        used.update(i for i, run in enumerate(runs) if record in run.get('chapters', []))
    return chapters, len(used)


def _minutes(seconds: float) -> str:
    return f'{seconds / 60:.1f} min ({seconds:,.0f} s)'


def table(folder: Path, report_seconds: float | None = None) -> str:
    """A markdown section on the chain run in `folder`: each chapter's time, the budgets and whether they are met;
    `report_seconds`: the wall time of the `make report` that made it, chain start to rendered site."""
    manifest = json.loads((folder/'manifest.json').read_text(encoding='utf-8'))
    quick = bool(manifest.get('quick'))
    chapters, executions = latest_chapters(manifest)
    cpu = manifest.get('machine', {}).get('cpu') or manifest.get('machine', {}).get('processor', '?')
    git = manifest.get('git', {})
    commit = git.get('commit', '?')[:10] + (' with uncommitted code changes' if git.get('dirty') else '')
    lines = [f'## {display_path(folder)} ({"quick" if quick else "full"} run; commit {commit}; {cpu})', '',
             f'Status: {manifest.get("status", "?")}; chapters from {executions} execution(s) of the chain'
             + (' (resumed: the total is a sum, not one span).' if executions > 1 else '.'), '',
             '| chapter | time | budget | within |', '|---|---:|---:|---|']
    for name, record in chapters.items():
        budget = None if quick else BUDGETS.get(name)
        lines.append(f'| {name} | {_minutes(record["seconds"])} | {_minutes(budget) if budget else ""} | '
                     f'{"" if budget is None else ("yes" if record["seconds"] <= budget else "no")} |')
    total = sum(r['seconds'] for r in chapters.values())
    if not quick:
        others = sum(r['seconds'] for n, r in chapters.items() if n != TRAINING)
        lines.append(f'| all but training | {_minutes(others)} | {_minutes(OTHERS_BUDGET)} | '
                     f'{"yes" if others <= OTHERS_BUDGET else "no"} |')
    whole = WHOLE_BUDGET[quick]
    lines.append(f'| **all chapters** | {_minutes(total)} | {_minutes(whole)} | {"yes" if total <= whole else "no"} |')
    if report_seconds and not quick:
        lines.append(f'| **make report** (chain start to rendered site) | {_minutes(report_seconds)} | '
                     f'{_minutes(whole)} | {"yes" if report_seconds <= whole else "no"} |')
    return '\n'.join(lines) + '\n'


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('runs', nargs='*', default=[CANONICAL_RUN, QUICK_CHAIN], help='run folders with a manifest')
    parser.add_argument('--report-seconds', type=float, help='wall time of the make report that made the full run')
    parser.add_argument('--out', default='benchmarks/chain_time.md')
    args = parser.parse_args(argv)
    sections = [table(resolve_path(run), args.report_seconds) for run in args.runs
                if (resolve_path(run)/'manifest.json').is_file()]
    text = ('# Chain time\n\nEach chapter\'s wall-clock time in real runs of the chain (`benchmarks/chain_time.py`), '
            'against the budgets in its docstring. Site rendering is not a chapter and is not included.\n\n'
            + '\n'.join(sections))
    print(text)
    atomic_write(resolve_path(args.out), text.encode())


if __name__ == '__main__':
    main()
