"""Bit-reproducibility of training: which settings give identical weights, and what pinning the CPU kernels costs.

Reruns on one machine are bit-identical; a fresh clone on another machine "of the same kind" gave different
weights from epoch 1. PyTorch picks its CPU kernels at run time from what the processor supports: ATen's
vectorised kernels by `ATEN_CPU_CAPABILITY` (default, avx2, avx512), oneDNN's convolutions and bf16 kernels by
`ONEDNN_MAX_CPU_ISA` (AVX2, AVX512_CORE, AVX512_CORE_BF16, AVX512_CORE_AMX, ...). Different kernels sum in
different orders, and training amplifies the last-bit differences. This script trains the default recipe twice
under each setting, each run in a fresh process (the variables are read when torch starts), and compares the
SHA-256 of the best weights: equal within a setting means bit-reproducible on this machine; different between
settings means the kernel choice changes the numbers, so machines whose processors make different choices by
default give different weights. Capping both variables at AVX2 makes every x86-64 machine with AVX2 choose the
same kernels (not verifiable on one machine: the table shows its cost, the cross-machine claim is untested).

    .venv/bin/python benchmarks/reproducibility.py            # quick subsets, 3 epochs per run (a few minutes)
    .venv/bin/python benchmarks/reproducibility.py --full     # full data, 2 epochs per run

Writes the table to stdout and to benchmarks/reproducibility.md (reproducibility_quick.md without --full).
"""
import argparse
import hashlib
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

from mnist_report.core import atomic_write

SETTINGS = {  # name: (environment, training overrides)
    'default (precision auto)': ({}, {}),
    'fp32': ({}, {'precision': 'fp32'}),
    'one thread (threads=1)': ({}, {'threads': 1}),
    'precision auto, kernels capped at AVX2': ({'ATEN_CPU_CAPABILITY': 'avx2', 'ONEDNN_MAX_CPU_ISA': 'AVX2'}, {}),
    'fp32, kernels capped at AVX2': ({'ATEN_CPU_CAPABILITY': 'avx2', 'ONEDNN_MAX_CPU_ISA': 'AVX2'},
                                     {'precision': 'fp32'}),
}
CHILD = '''
import json, sys, torch
from mnist_report.splits import prepare_data
from mnist_report.train import train
from mnist_report.train_config import make_config
run, quick, epochs, overrides = sys.argv[1], sys.argv[2] == '1', int(sys.argv[3]), json.loads(sys.argv[4])
prepare_data(run, quick=quick)
summary = train(run, make_config(quick=quick, epochs=epochs, patience=0, **overrides), quick=quick, progress=False)
print(json.dumps({'capability': torch.backends.cpu.get_cpu_capability(), 'precision': summary['precision'],
                  'seconds_per_epoch': summary['train_seconds'] / summary['epochs_run'],
                  'val_acc': summary['best_val_acc']}))
'''


def one_run(env: dict, overrides: dict, quick: bool, epochs: int) -> dict:
    "Train once in a fresh process with `env`; the weights' SHA-256 and the child's summary."
    with tempfile.TemporaryDirectory() as run:
        out = subprocess.run([sys.executable, '-c', CHILD, run, '1' if quick else '0', str(epochs),
                              json.dumps(overrides)], env={**os.environ, **env}, capture_output=True, text=True,
                             check=True)
        digest = hashlib.sha256((Path(run)/'best'/'model.safetensors').read_bytes()).hexdigest()
    return {**json.loads(out.stdout.strip().splitlines()[-1]), 'sha256': digest}


def main(argv=None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--full', action='store_true', help='full data (default: the quick subsets)')
    parser.add_argument('--epochs', type=int, default=None)
    args = parser.parse_args(argv)
    epochs = args.epochs or (2 if args.full else 3)
    rows = {name: [one_run(env, overrides, not args.full, epochs) for _ in range(2)]
            for name, (env, overrides) in SETTINGS.items()}
    reference = rows['default (precision auto)'][0]['sha256']
    lines = [f'# Bit-reproducibility of training ({platform.machine()}, {os.cpu_count()} cores, '
             f'{"full data" if args.full else "quick subsets"}, {epochs} epochs, two runs per setting)', '',
             '| setting | ATen kernels | precision | weights (SHA-256, first 12) | two runs identical '
             '| same as default | seconds per epoch | validation accuracy |', '|---|---|---|---|---|---|---:|---:|']
    for name, (a, b) in rows.items():
        lines.append(f"| {name} | {a['capability']} | {a['precision']} | {a['sha256'][:12]} | "
                     f"{'yes' if a['sha256'] == b['sha256'] else 'NO'} | {'yes' if a['sha256'] == reference else 'no'} "
                     f"| {(a['seconds_per_epoch'] + b['seconds_per_epoch']) / 2:.1f} | {a['val_acc']:.4f} |")
    table = '\n'.join(lines) + '\n'
    print(table)
    suffix = '' if args.full else '_quick'
    atomic_write(Path(__file__).with_name(f'reproducibility{suffix}.md'), table)
    return table


if __name__ == '__main__':
    main()
