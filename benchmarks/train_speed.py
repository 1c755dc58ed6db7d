"""Training speed: this project's default recipe against the pytorch/examples recipe, in one process.

The pytorch/examples recipe runs twice: as published (float32), and in bfloat16 autocast as the training
chapter trains the report's baseline, so the table separates what bf16 gives from what the recipe gives.
All recipes train on the same split of the same machine; after every epoch the benchmark (not the
recipes) measures test accuracy, to find the time each recipe needs to reach 99.0% and 99.2%. Time is
the recipe's own wall time (training plus its per-epoch validation), excluding the benchmark's test
evaluation. Peak RSS is sampled from /proc while each recipe runs.

    .venv/bin/python benchmarks/train_speed.py          # full data, all three rows (about 14 minutes on 2 cores)
    .venv/bin/python benchmarks/train_speed.py --quick  # quick mode (5,000 training images, 6 epochs; about 2 minutes)

Writes the table to stdout and to benchmarks/train_speed.md (train_speed_quick.md with --quick),
committed with their latest output.
"""
import argparse
import json
import os
import platform
import resource
import sys
import tempfile
import threading
import time
from pathlib import Path

import torch

from mnist_report.core import atomic_write, pct, read_json
from mnist_report.data import ensure_mnist, load_split, prepare_data
from mnist_report.train import loss_and_accuracy, predict_logits, train
from mnist_report.train_config import make_config

TARGETS = (0.990, 0.992)
RECIPES = {'mnist_report default': ('default', {}), 'pytorch/examples': ('pytorch-examples', {}),
           'pytorch/examples, bf16': ('pytorch-examples', {'precision': 'bf16'})}
COLUMNS = ['recipe', 'precision', 'epochs', 'seconds per epoch', *[f'seconds to {pct(t, 1)}' for t in TARGETS],
           'final test accuracy', 'total seconds', 'peak RSS (MiB)']


def _rss_kib() -> int:
    "This process's resident memory in KiB (the peak so far where /proc is unavailable)."
    try:
        with open('/proc/self/status') as status:
            return next(int(line.split()[1]) for line in status if line.startswith('VmRSS'))
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


class PeakRSS:
    "Samples this process's resident memory every 50 ms while active; `.peak` in MiB."
    def __enter__(self):
        self.peak, self._stop = 0.0, threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, _rss_kib() / 1024)
            self._stop.wait(0.05)

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def bench(name, recipe, overrides, run, test_x, test_y, norm, quick, epochs) -> dict:
    "Train `recipe` in `run`, measuring test accuracy after every epoch; its row of the table (and its curve)."
    elapsed, rows = 0.0, []

    def on_epoch(model, row):
        nonlocal elapsed
        elapsed += row['seconds']
        _, acc = loss_and_accuracy(predict_logits(model, test_x, norm['mean'], norm['std']), test_y)
        rows.append({'epoch': row['epoch'], 'seconds': elapsed, 'train_seconds': row['train_seconds'], 'test_acc': acc})
        print(f"  {name}: epoch {row['epoch']:2d}  {elapsed:6.0f} s  test accuracy {acc:.4f}",
              file=sys.stderr, flush=True)
    cfg = make_config(recipe, quick=quick, **overrides, **({'epochs': epochs} if epochs else {}))
    with PeakRSS() as rss:
        summary = train(run, cfg, quick=quick, progress=False, on_epoch=on_epoch)
    reach = {t: next((r['seconds'] for r in rows if r['test_acc'] >= t), None) for t in TARGETS}
    return {'recipe': name, 'precision': summary['precision'], 'epochs': len(rows),
            'seconds per epoch': sum(r['train_seconds'] for r in rows) / len(rows),
            **{f'seconds to {pct(t, 1)}': reach[t] for t in TARGETS}, 'final test accuracy': rows[-1]['test_acc'],
            'best test accuracy': max(r['test_acc'] for r in rows), 'total seconds': elapsed,
            'peak RSS (MiB)': rss.peak, 'curve': rows}


def _cell(v) -> str:
    "A table cell: '-' for none, accuracies with 4 decimals, seconds and MiB rounded."
    if v is None:
        return '-'
    if isinstance(v, float):
        return f'{v:.4f}' if v < 1 else f'{v:.0f}'
    return str(v)


def _verdict(results, target: float) -> str:
    "How much faster the first recipe (mnist_report) reached `target` than each other recipe."
    key = f'seconds to {pct(target, 1)}'
    a = results[0][key]
    verdicts = []
    for theirs in results[1:]:
        b = theirs[key]
        if a and b:
            verdicts.append(f'**{b / a:.1f}x faster** than {theirs["recipe"]} ({a:.0f} s vs {b:.0f} s)')
        elif a:
            verdicts.append(f'**more than {theirs["total seconds"] / a:.1f}x faster** than {theirs["recipe"]}, which '
                            f'did not reach it in its {theirs["epochs"]} epochs ({theirs["total seconds"]:.0f} s; '
                            f'mnist_report: {a:.0f} s)')
    if a:
        return 'mnist_report is ' + '; '.join(verdicts)
    reached = [f'{r["recipe"]} in {r[key]:.0f} s' for r in results[1:] if r[key]]
    return f'not reached by mnist_report; reached by {", ".join(reached)}' if reached else 'not reached by any recipe'


def table(results) -> str:
    "Markdown table of `results` and, per target accuracy, how much faster mnist_report reached it."
    lines = ['| ' + ' | '.join(COLUMNS) + ' |', '|' + '---|' * len(COLUMNS)]
    lines += ['| ' + ' | '.join(_cell(r[c]) for c in COLUMNS) + ' |' for r in results]
    lines += [f'\nTime to {pct(t, 1)} test accuracy: {_verdict(results, t)}.' for t in TARGETS]
    return '\n'.join(lines)


def run_all(quick: bool, epochs) -> tuple[list, int]:
    "Every recipe trained on one shared split in a temporary folder: the results and the number of test images."
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)/'data'
        prepare_data(base, quick=quick)
        norm = read_json(base/'data.json')['normalization']
        test_x, test_y = load_split(base, 'test')
        for name, (recipe, overrides) in RECIPES.items():
            run = Path(tmp)/name.replace('/', '-').replace(', ', '-')
            run.mkdir()
            for f in ('data.json', 'splits.npz'):
                (run/f).write_bytes((base/f).read_bytes())
            results.append(bench(name, recipe, overrides, run, test_x, test_y, norm, quick, epochs))
    return results, len(test_y)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--quick', action='store_true', help='quick mode: the quick subsets and epochs')
    parser.add_argument('--epochs', type=int, help='override both recipes\' epochs')
    parser.add_argument('--out', help='markdown file for the results (default: train_speed.md, '
                                      'train_speed_quick.md with --quick)')
    args = parser.parse_args(argv)
    ensure_mnist()
    load_before = os.getloadavg()[0]
    results, n_test = run_all(args.quick, args.epochs)
    header = (f"Benchmark run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {platform.machine()} "
              f"({torch.get_num_threads()} threads), torch {torch.__version__}, "
              f"{'quick subset' if args.quick else 'full MNIST'} ({n_test:,} test images); "
              f"load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after "
              "(2 means both cores busy with other work).\n\n")
    text = header + table(results)
    print(text)
    out = args.out or Path(__file__).with_name('train_speed_quick.md' if args.quick else 'train_speed.md')
    curves = '\n\n<details><summary>test accuracy after each epoch</summary>\n\n```json\n' + \
             json.dumps({r['recipe']: r['curve'] for r in results}, indent=1) + '\n```\n</details>\n'
    command = 'python benchmarks/train_speed.py' + (' --quick' if args.quick else '')
    atomic_write(out, f'# Training speed benchmark\n\n`{command}`\n\n' + text + curves)


if __name__ == '__main__':
    main()
