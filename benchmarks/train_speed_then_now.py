"""Training speed of the code of 2026-11-23 and of today's, back to back on this machine (the quick benchmark).

The issue's training-time target ("no more than 1.25 x today's 3.5 min") refers to `benchmarks/train_speed.md` of
2026-11-23, measured on a processor that was not recorded. To separate the code from the machine, this script runs
the quick speed benchmark of that code (commit 2955ba4, checked out into a temporary folder) and of today's, one
after the other, and compares their mean training seconds per epoch over epochs 2-6 (epoch 1 includes warm-up).

    .venv/bin/python benchmarks/train_speed_then_now.py     # writes benchmarks/train_speed_then_now.md
"""
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
THEN = '2955ba4'                                    # the code that measured the 3.5 minutes
RECIPES = {'mnist_report default': 'mnist_report default (bf16)', 'pytorch/examples': 'pytorch/examples (fp32)',
           'pytorch/examples, bf16': 'pytorch/examples, bf16'}


def run_benchmark(code: Path, out: Path) -> str:
    "The quick benchmark of the checkout `code`, its markdown output (written to `out`)."
    env = {**os.environ, 'PYTHONPATH': str(code)}
    subprocess.run([sys.executable, str(code/'benchmarks'/'train_speed.py'), '--quick', '--out', str(out)],
                   cwd=code, env=env, check=True)
    return out.read_text(encoding='utf-8')


def seconds_per_epoch(output: str) -> dict[str, float]:
    "Per recipe, the mean `train_seconds` of epochs 2 and later, from the per-epoch JSON of a benchmark output."
    curves = json.loads(re.search(r'```json\n(.*?)\n```', output, re.S).group(1))
    return {name: sum(e['train_seconds'] for e in epochs[1:]) / len(epochs[1:]) for name, epochs in curves.items()}


def report(then: str, now: str, commit: str) -> str:
    "The markdown: the comparison table, what it says, and both outputs."
    before, after = seconds_per_epoch(then), seconds_per_epoch(now)
    rows = [f'| {label} | {before[name]:.2f} | {after[name]:.2f} | {after[name] / before[name]:.2f} |'
            for name, label in RECIPES.items() if name in before and name in after]
    ratio = after['mnist_report default'] / before['mnist_report default']
    verdict = ('not slower than' if ratio <= 1.0 else f'{ratio:.2f} times as slow as')
    return '\n'.join([
        "# Training speed: the code of 2026-11-23 and today's, on the studies' machine", '',
        __doc__.split('\n\n')[1].replace('\n', ' '), '',
        f'Run with `python benchmarks/train_speed_then_now.py` (today\'s code: commit {commit}). Mean training seconds '
        'per epoch over epochs 2-6, 5,000 training images, from the `train_seconds` of each output\'s curves (below):',
        '', "| recipe | code of 2026-11-23 (2955ba4) | today's code | today / then |", '|---|---|---|---|', *rows, '',
        f"Today's default recipe is {verdict} the code that measured 3.5 min, on this machine (today / then = "
        f"{ratio:.2f}; one run each, so a few percent either way is noise). The default recipe is today's "
        '(`TrainConfig`); the 2026-11-23 code trains its own default of that day.', '',
        '## Output of the 2026-11-23 code (2955ba4) on this machine', '', then.strip(), '',
        "## Output of today's code on this machine", '', now.strip(), ''])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--out', default=str(ROOT/'benchmarks'/'train_speed_then_now.md'))
    args = parser.parse_args()
    commit = subprocess.run(['git', 'rev-parse', '--short', 'HEAD'], cwd=ROOT, capture_output=True, text=True,
                            check=True).stdout.strip()
    with tempfile.TemporaryDirectory() as tmp:
        old = Path(tmp)/'old'
        subprocess.run(['git', 'worktree', 'add', '--detach', str(old), THEN], cwd=ROOT, check=True,
                       capture_output=True)
        try:
            then = run_benchmark(old, Path(tmp)/'then.md')
            now = run_benchmark(ROOT, Path(tmp)/'now.md')
        finally:
            subprocess.run(['git', 'worktree', 'remove', '--force', str(old)], cwd=ROOT, check=False)
    text = report(then, now, commit)
    out = Path(args.out)
    out.with_suffix('.tmp').write_text(text, encoding='utf-8')
    out.with_suffix('.tmp').replace(out)                # atomically: an interrupted run leaves the old file
    print(text.split('## Output')[0])


if __name__ == '__main__':
    main()
