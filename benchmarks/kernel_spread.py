"""How far trained numbers move with the CPU's kernels: the quick chain's default recipe under each kernel setting.

A test that asserts a trained network's quality passes or fails by these numbers on a machine with another processor.
Each kernel setting of the Makefile (`KERNELS_<name>`, the settings `make test-kernels` runs the test suite under)
makes this machine run the kernels another CPU would; this script trains the quick chain's default recipe (quick
subsets, its default epochs) under each setting for three seeds, each run in a fresh process (the variables are read
when torch starts), and prints the validation accuracy of every run, whether the weights differ from the default
setting's, and the spread: the range over all runs, and over the settings for each seed.

    .venv/bin/python benchmarks/kernel_spread.py                       # settings default, avx2, sse41; seeds 0-2
    .venv/bin/python benchmarks/kernel_spread.py --settings default avx2 avx512core --seeds 0 1 2

Writes the table to stdout and to benchmarks/kernel_spread.md.
"""
import argparse
import re
from pathlib import Path

from mnist_report.core import atomic_write
from mnist_report.core import cpu_description
from mnist_report.train_config import make_config

from reproducibility import one_run          # benchmarks/reproducibility.py: one training run in a fresh process

MAKEFILE = Path(__file__).resolve().parent.parent/'Makefile'


def kernel_settings() -> dict[str, dict]:
    "The Makefile's kernel settings, `KERNELS_<name> := VAR=value ...`, as environment dicts by name."
    found = re.findall(r'^KERNELS_(\w+) :=(.*)$', MAKEFILE.read_text(), flags=re.M)
    return {name: dict(pair.split('=', 1) for pair in assignments.split()) for name, assignments in found}


def spread_table(runs: dict, seeds: list[int]) -> str:
    "Markdown: one row per setting (validation accuracy per seed), the weights' identity and the ranges."
    reference = runs[next(iter(runs))]
    lines = ['| setting | ATen kernels | precision | ' + ' | '.join(f'seed {s}' for s in seeds)
             + ' | weights equal to the first setting\'s |', '|---|---|---|' + '---:|' * len(seeds) + '---|']
    for name, by_seed in runs.items():
        first = by_seed[seeds[0]]
        same = sum(by_seed[s]['sha256'] == reference[s]['sha256'] for s in seeds)
        lines.append(f"| {name} | {first['capability']} | {first['precision']} | "
                     + ' | '.join(f"{by_seed[s]['val_acc']:.4f}" for s in seeds) + f' | {same} of {len(seeds)} |')
    every = [r['val_acc'] for by_seed in runs.values() for r in by_seed.values()]
    per_seed = [max(runs[n][s]['val_acc'] for n in runs) - min(runs[n][s]['val_acc'] for n in runs) for s in seeds]
    lines += ['', f'Range of validation accuracy over all {len(every)} runs: {min(every):.4f} to {max(every):.4f} '
              f'({(max(every) - min(every)) * 100:.2f} points); over the settings, per seed: '
              + ', '.join(f'{d * 100:.2f}' for d in per_seed) + ' points.']
    return '\n'.join(lines) + '\n'


def main(argv=None) -> str:
    settings = kernel_settings()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--settings', nargs='+', default=['default', 'avx2', 'sse41'], choices=list(settings))
    parser.add_argument('--seeds', nargs='+', type=int, default=[0, 1, 2])
    args = parser.parse_args(argv)
    epochs = make_config(quick=True).epochs
    runs = {name: {seed: one_run(settings[name], {'seed': seed}, True, epochs) for seed in args.seeds}
            for name in args.settings}
    table = (f'# Trained numbers under other kernels ({cpu_description()}; quick subsets, default recipe, '
             f'{epochs} epochs)\n\n' + spread_table(runs, args.seeds))
    print(table)
    atomic_write(Path(__file__).with_name('kernel_spread.md'), table)
    return table


if __name__ == '__main__':
    main()
