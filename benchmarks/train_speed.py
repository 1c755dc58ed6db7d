"""Training speed: this project's default recipe against the pytorch/examples recipe, in one process.

The pytorch/examples recipe runs twice: as published (float32), and in bfloat16 autocast as the training
chapter trains the report's baseline, so the table separates what bf16 gives from what the recipe gives.
All recipes train on the same split of the same machine; after every epoch the benchmark (not the
recipes) measures test accuracy, to find the time each recipe needs to reach 99.0% and 99.2%. Time is
the recipe's own wall time (training plus its per-epoch validation), excluding the benchmark's test
evaluation. Peak RSS is sampled from /proc while each recipe runs.

    .venv/bin/python benchmarks/train_speed.py            # full data, all three rows (about 14 minutes on 2 cores)
    .venv/bin/python benchmarks/train_speed.py --quick    # quick mode (5,000 training images, 6 epochs; about 2 minutes)

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

from mnist_report.core import atomic_write
from mnist_report.data import ensure_mnist, load_split, prepare_data
from mnist_report.train import loss_and_accuracy, make_config, predict_logits, train

TARGETS = (0.990, 0.992)
RECIPES = {'mnist_report default': ('default', {}), 'pytorch/examples': ('pytorch-examples', {}),
           'pytorch/examples, bf16': ('pytorch-examples', {'precision': 'bf16'})}


class PeakRSS:
    "Samples this process's resident memory every 50 ms while active; `.peak` in MiB."
    def __enter__(self):
        self.peak, self._stop = 0.0, threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True); self._thread.start()
        return self

    def _sample(self):
        while not self._stop.is_set():
            try:
                kib = next(int(l.split()[1]) for l in open('/proc/self/status') if l.startswith('VmRSS'))
            except (OSError, StopIteration):
                kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            self.peak = max(self.peak, kib / 1024)
            self._stop.wait(0.05)

    def __exit__(self, *exc): self._stop.set(); self._thread.join()


def bench(name, recipe, overrides, run, test_x, test_y, norm, quick, epochs):
    elapsed, rows = 0.0, []
    def on_epoch(model, row):
        nonlocal elapsed
        elapsed += row['seconds']
        _, acc = loss_and_accuracy(predict_logits(model, test_x, norm['mean'], norm['std']), test_y)
        rows.append({'epoch': row['epoch'], 'seconds': elapsed, 'train_seconds': row['train_seconds'], 'test_acc': acc})
        print(f"  {name}: epoch {row['epoch']:2d}  {elapsed:6.0f} s  test accuracy {acc:.4f}", file=sys.stderr, flush=True)
    cfg = make_config(recipe, quick=quick, **overrides, **({'epochs': epochs} if epochs else {}))
    with PeakRSS() as rss: summary = train(run, cfg, quick=quick, progress=False, on_epoch=on_epoch)
    reach = {t: next((r['seconds'] for r in rows if r['test_acc'] >= t), None) for t in TARGETS}
    return {'recipe': name, 'precision': summary['precision'], 'epochs': len(rows), 'seconds per epoch': sum(r['train_seconds'] for r in rows) / len(rows),
            **{f'seconds to {t:.1%}': reach[t] for t in TARGETS}, 'final test accuracy': rows[-1]['test_acc'],
            'best test accuracy': max(r['test_acc'] for r in rows), 'total seconds': elapsed, 'peak RSS (MiB)': rss.peak,
            'curve': rows}


def table(results) -> str:
    cols = ['recipe', 'precision', 'epochs', 'seconds per epoch', *[f'seconds to {t:.1%}' for t in TARGETS], 'final test accuracy',
            'total seconds', 'peak RSS (MiB)']
    fmt = lambda v: '-' if v is None else f'{v:.4f}' if isinstance(v, float) and v < 1 else f'{v:.0f}' if isinstance(v, float) else str(v)
    lines = ['| ' + ' | '.join(cols) + ' |', '|' + '---|' * len(cols)]
    lines += ['| ' + ' | '.join(fmt(r[c]) for c in cols) + ' |' for r in results]
    ours = results[0]
    for t in TARGETS:
        a = ours[f'seconds to {t:.1%}']
        verdicts = []
        for theirs in results[1:]:
            b = theirs[f'seconds to {t:.1%}']
            if a and b: verdicts.append(f'**{b / a:.1f}x faster** than {theirs["recipe"]} ({a:.0f} s vs {b:.0f} s)')
            elif a: verdicts.append(f'**more than {theirs["total seconds"] / a:.1f}x faster** than {theirs["recipe"]}, which did not '
                                    f'reach it in its {theirs["epochs"]} epochs ({theirs["total seconds"]:.0f} s; mnist_report: {a:.0f} s)')
        reached = [f'{r["recipe"]} in {r[f"seconds to {t:.1%}"]:.0f} s' for r in results[1:] if r[f'seconds to {t:.1%}']]
        verdict = ('mnist_report is ' + '; '.join(verdicts) if a else
                   f'not reached by mnist_report; reached by {", ".join(reached)}' if reached else 'not reached by any recipe')
        lines.append(f'\nTime to {t:.1%} test accuracy: {verdict}.')
    return '\n'.join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--quick', action='store_true', help='quick mode: the quick subsets and epochs')
    parser.add_argument('--epochs', type=int, help='override both recipes\' epochs')
    parser.add_argument('--out', help='markdown file for the results (default: train_speed.md, train_speed_quick.md with --quick)')
    args = parser.parse_args(argv)
    ensure_mnist()
    load_before = os.getloadavg()[0]
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)/'data'; prepare_data(base, quick=args.quick)
        norm = json.loads((base/'data.json').read_text())['normalization']
        test_x, test_y = load_split(base, 'test')
        for name, (recipe, overrides) in RECIPES.items():
            run = Path(tmp)/name.replace('/', '-').replace(', ', '-'); run.mkdir()
            for f in ('data.json', 'splits.npz'): (run/f).write_bytes((base/f).read_bytes())
            results.append(bench(name, recipe, overrides, run, test_x, test_y, norm, args.quick, args.epochs))
    header = (f"Benchmark run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {platform.machine()} "
              f"({torch.get_num_threads()} threads), torch {torch.__version__}, {'quick subset' if args.quick else 'full MNIST'} "
              f"({len(test_y):,} test images); load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after "
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
