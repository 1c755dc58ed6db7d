"""Corruption speed: seconds to corrupt the 10,000 MNIST test images with each corruption of the suite, on this CPU.

The evaluation measures every model under every corruption of `mnist_report.corruptions.CORRUPTIONS` on the whole
test set, so each corruption must take seconds, not minutes. This benchmark times `corrupt(images, name)` (uint8 in,
uint8 out, conversion included) at the fixed severity of each corruption, best of `--repeat` passes (other processes
on a shared machine can only slow a pass down).

    .venv/bin/python benchmarks/corruption_speed.py                  # 10,000 test images, best of 3
    .venv/bin/python benchmarks/corruption_speed.py --repeat 1       # a quicker look

Prints a Markdown table to stdout.
"""
import argparse
import os
import platform
import time

import torch

from mnist_report.corruptions import CORRUPTIONS, corrupt
from mnist_report.data import load_mnist


def seconds(images, name: str, repeat: int) -> float:
    "The shortest of `repeat` timings of `corrupt(images, name)`."
    best = float('inf')
    for _ in range(repeat):
        start = time.perf_counter()
        corrupt(images, name)
        best = min(best, time.perf_counter() - start)
    return best


def table(images, repeat: int) -> str:
    "Markdown table: each corruption, its severity and the seconds it takes on `images`."
    lines = ['| corruption | severity | seconds | µs per image |', '|---|---:|---:|---:|']
    total = 0.0
    for name, c in CORRUPTIONS.items():
        s = seconds(images, name, repeat)
        total += s
        lines.append(f'| {name} | {c.severity:g} | {s:.2f} | {s / len(images) * 1e6:.0f} |')
    lines.append(f'| **all {len(CORRUPTIONS)}** | | **{total:.1f}** | |')
    return '\n'.join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--images', type=int, default=10000, help='test images to corrupt (default: 10000)')
    parser.add_argument('--repeat', type=int, default=3, help='passes per corruption; the best counts (default: 3)')
    args = parser.parse_args(argv)
    images = load_mnist(train=False)[0][:args.images].numpy()
    corrupt(images[:100], 'rotate')                                   # warm-up: torch's first call is slow
    load_before = os.getloadavg()[0]
    text = table(images, args.repeat)
    print(f"Benchmark run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {platform.machine()} "
          f"({os.cpu_count()} CPUs, torch {torch.get_num_threads()} threads), {len(images):,} test images, "
          f"best of {args.repeat} passes; load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after.\n")
    print(text)


if __name__ == '__main__':
    main()
