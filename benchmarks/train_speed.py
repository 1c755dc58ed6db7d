"""Training speed: this project's default recipe against the pytorch/examples recipe, in one process.

The pytorch/examples recipe runs twice: as published (float32), and in bfloat16 autocast as the training
chapter trains the report's baseline, so the table separates what bf16 gives from what the recipe gives.
All recipes train on the same split of the same machine; after every epoch the benchmark (not the
recipes) measures the accuracy of the weights each recipe keeps on the run folder's VALIDATION split
(`load_split(run, 'val')`, writer-disjoint from the training split), to find the time each recipe needs to
reach 99.0% and 99.2% validation accuracy. The test set is not used. Time is the recipe's own wall time
(training plus its per-epoch validation), excluding the benchmark's measurement, and is known only at the
end of each epoch. Peak RSS is sampled from /proc while each recipe runs.

    .venv/bin/python benchmarks/train_speed.py          # full data, all three rows (about 14 minutes on 2 cores)
    .venv/bin/python benchmarks/train_speed.py --quick  # quick mode (5,000 training images, 6 epochs; about 2 minutes)

Writes the table to stdout and to benchmarks/train_speed.md (train_speed_quick.md with --quick),
committed with their latest output.
"""
import argparse
import json
import math
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
from mnist_report.data import ensure_mnist
from mnist_report.splits import load_split, prepare_data
from mnist_report.train import predict_logits, train
from mnist_report.train_config import make_config

TARGETS = (0.990, 0.992)
RECIPES = {'mnist_report default': ('default', {}), 'pytorch/examples': ('pytorch-examples', {}),
           'pytorch/examples, bf16': ('pytorch-examples', {'precision': 'bf16'})}
COLUMNS = ['recipe', 'precision', 'epochs', 'seconds per epoch',
           *[f'seconds to {pct(t, 1)} validation' for t in TARGETS], 'final validation accuracy', 'total seconds',
           'peak RSS (MiB)']
CLOSE = 5   # a target reached (or missed) by fewer than this many validation images is reported as a close call


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


def _needed(target: float, n: int) -> int:
    "Correct images out of `n` needed for accuracy `target`."
    return math.ceil(round(target * n, 6))


def _reach(rows, target: float, n: int) -> dict:
    "When `rows` (the curve) first reached `target`, and by how many images it was reached or missed."
    needed = _needed(target, n)
    first = next((r for r in rows if r['val_correct'] >= needed), None)
    if first:
        return {'seconds': first['seconds'], 'epoch': first['epoch'], 'spare': first['val_correct'] - needed}
    return {'seconds': None, 'short': needed - max(r['val_correct'] for r in rows)}


def bench(name, recipe, overrides, run, val_x, val_y, norm, quick, epochs) -> dict:
    "Train `recipe` in `run`, measuring validation accuracy after every epoch; its row of the table (and curve)."
    elapsed, rows = 0.0, []

    def on_epoch(model, row):
        nonlocal elapsed
        elapsed += row['seconds']
        logits = predict_logits(model, val_x, norm['mean'], norm['std'])
        correct = int((logits.argmax(1) == val_y).sum())
        rows.append({'epoch': row['epoch'], 'seconds': elapsed, 'train_seconds': row['train_seconds'],
                     'val_correct': correct, 'val_acc': correct / len(val_y)})
        print(f"  {name}: epoch {row['epoch']:2d}  {elapsed:6.0f} s  validation accuracy {correct / len(val_y):.4f}",
              file=sys.stderr, flush=True)
    cfg = make_config(recipe, quick=quick, **overrides, **({'epochs': epochs} if epochs else {}))
    with PeakRSS() as rss:
        summary = train(run, cfg, quick=quick, progress=False, on_epoch=on_epoch)
    reach = {t: _reach(rows, t, len(val_y)) for t in TARGETS}
    return {'recipe': name, 'precision': summary['precision'], 'epochs': len(rows),
            'seconds per epoch': sum(r['train_seconds'] for r in rows) / len(rows),
            **{f'seconds to {pct(t, 1)} validation': reach[t]['seconds'] for t in TARGETS}, 'reach': reach,
            'final validation accuracy': rows[-1]['val_acc'], 'total seconds': elapsed, 'peak RSS (MiB)': rss.peak,
            'curve': rows}


def _cell(v) -> str:
    "A table cell: '-' for none, accuracies with 4 decimals, seconds and MiB rounded."
    if v is None:
        return '-'
    if isinstance(v, float):
        return f'{v:.4f}' if v < 1 else f'{v:.0f}'
    return str(v)


def _verdict(results, target: float) -> str:
    "How much faster the first recipe (mnist_report) reached `target` than each other recipe."
    key = f'seconds to {pct(target, 1)} validation'
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


def _close_calls(results, target: float, n: int) -> str:
    "The recipes that reached or missed `target` by fewer than `CLOSE` of the `n` validation images, in words."
    needed, calls = _needed(target, n), []
    for r in results:
        reach = r['reach'][target]
        if reach['seconds'] is not None and reach['spare'] < CLOSE:
            calls.append(f"{r['recipe']} reached it within {reach['spare'] + 1} image(s) (epoch {reach['epoch']}: "
                         f"{needed + reach['spare']:,} correct, {needed:,} needed; {reach['spare'] + 1} more error(s) "
                         "would have missed it)")
        elif reach['seconds'] is None and reach['short'] < CLOSE:
            calls.append(f"{r['recipe']} missed it by {reach['short']} image(s)")
    return (' Close calls, where one or a few images decide: ' + '; '.join(calls) + '.') if calls else ''


def table(results, n_val: int) -> str:
    "Markdown table of `results` and, per target accuracy, how much faster mnist_report reached it."
    lines = ['| ' + ' | '.join(COLUMNS) + ' |', '|' + '---|' * len(COLUMNS)]
    lines += ['| ' + ' | '.join(_cell(r[c]) for c in COLUMNS) + ' |' for r in results]
    lines += [f'\nTime to {pct(t, 1)} accuracy on the {n_val:,} validation images ({_needed(t, n_val):,} correct), '
              f'measured at the end of each epoch: {_verdict(results, t)}.{_close_calls(results, t, n_val)}'
              for t in TARGETS]
    return '\n'.join(lines)


def run_all(quick: bool, epochs) -> tuple[list, int]:
    "Every recipe trained on one shared split in a temporary folder: the results and the number of validation images."
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)/'data'
        prepare_data(base, quick=quick)
        norm = read_json(base/'data.json')['normalization']
        val_x, val_y = load_split(base, 'val')
        for name, (recipe, overrides) in RECIPES.items():
            run = Path(tmp)/name.replace('/', '-').replace(', ', '-')
            run.mkdir()
            for f in ('data.json', 'splits.npz'):
                (run/f).write_bytes((base/f).read_bytes())
            results.append(bench(name, recipe, overrides, run, val_x, val_y, norm, quick, epochs))
    return results, len(val_y)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--quick', action='store_true', help='quick mode: the quick subsets and epochs')
    parser.add_argument('--epochs', type=int, help='override both recipes\' epochs')
    parser.add_argument('--out', help='markdown file for the results (default: train_speed.md, '
                                      'train_speed_quick.md with --quick)')
    args = parser.parse_args(argv)
    ensure_mnist()
    load_before = os.getloadavg()[0]
    results, n_val = run_all(args.quick, args.epochs)
    threads = torch.get_num_threads()
    header = (f"Benchmark run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {platform.machine()} "
              f"({threads} threads), torch {torch.__version__}, "
              f"{'quick subset' if args.quick else 'full MNIST'} ({n_val:,} validation images, writer-disjoint "
              f"from training; the test set is not used). Load average (1 minute) {load_before:.1f} before the run: "
              "other work competing for the cores (0: an idle machine). At its end it was "
              f"{os.getloadavg()[0]:.1f}, which includes the benchmark's own load (about {threads} while it keeps its "
              f"{threads} threads busy), so only the value before says whether other work competed.\n\n")
    text = header + table(results, n_val)
    print(text)
    out = args.out or Path(__file__).with_name('train_speed_quick.md' if args.quick else 'train_speed.md')
    curves = '\n\n<details><summary>validation accuracy after each epoch</summary>\n\n```json\n' + \
             json.dumps({r['recipe']: r['curve'] for r in results}, indent=1) + '\n```\n</details>\n'
    command = 'python benchmarks/train_speed.py' + (' --quick' if args.quick else '') + \
        (f' --epochs {args.epochs}' if args.epochs else '')
    atomic_write(out, f'# Training speed benchmark\n\n`{command}`\n\n' + text + curves)


if __name__ == '__main__':
    main()
