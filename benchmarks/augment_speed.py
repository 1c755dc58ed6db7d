"""Augmentation speed: torchvision's per-image `RandomAffine` against the batched `augment_batch`, on this CPU.

The training chapter augments whole batches with `mnist_report.transforms.augment_batch`: one random affine map
per image, applied to the batch by a single `affine_grid` / `grid_sample` call. This benchmark times one pass of
augmentation over the same training images both ways, with the same ranges (`mnist_report.transforms.AUGMENT`):
torchvision's `transforms.v2.RandomAffine` applied one image at a time through a `DataLoader` (0 and 2 worker
processes), and `augment_batch` on batches of 128. Model training is not included: this is the cost that
augmentation adds to every epoch. Each time is the best of `--repeat` passes after a short warm-up pass (other
processes on a shared machine can only slow a pass down).

    .venv/bin/python benchmarks/augment_speed.py                 # 20,000 training images, best of 3 (about a minute)
    .venv/bin/python benchmarks/augment_speed.py --images 5000   # a quicker check

Writes the table to stdout and to benchmarks/augment_speed.md, committed with its latest output.
"""
import argparse
import os
import platform
import sys
import time
from pathlib import Path

import torch
from torchvision.transforms import v2

from mnist_report.core import atomic_write
from mnist_report.data import load_mnist
from mnist_report.transforms import AUGMENT, augment_batch, to_unit

BATCH = 128
EPOCH = 55000  # training images per epoch (the full training split)


def random_affine_v2(degrees=AUGMENT['degrees'], translate=AUGMENT['translate'], scale=AUGMENT['scale'],
                     shear=AUGMENT['shear']) -> v2.RandomAffine:
    "Per-image torchvision augmentation with `augment_batch`'s ranges (on 1×28×28 tensors)."
    return v2.RandomAffine(degrees=degrees, translate=(translate, translate), scale=scale,
                           shear=(-shear, shear, -shear, shear))


class AugmentedImages(torch.utils.data.Dataset):
    "A `Dataset` of [0, 1] images augmented one at a time by `transform` (the per-image pipeline)."
    def __init__(self, images, labels, transform):
        self.x, self.y, self.transform = to_unit(images), labels, transform

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return self.transform(self.x[i]), self.y[i]


def per_image_seconds(images, labels, workers: int) -> float:
    "Seconds for one shuffled pass of the per-image pipeline over `images` with `workers` loader processes."
    dataset = AugmentedImages(images, labels, random_affine_v2())
    loader = torch.utils.data.DataLoader(dataset, batch_size=BATCH, num_workers=workers, shuffle=True)
    start = time.perf_counter()
    for _ in loader:
        pass
    return time.perf_counter() - start


def batched_seconds(images) -> float:
    "Seconds for one pass of `augment_batch` over `images` (conversion to [0, 1] included)."
    start = time.perf_counter()
    generator = torch.Generator().manual_seed(0)
    x = to_unit(images)
    for i in range(0, len(x), BATCH):
        augment_batch(x[i:i + BATCH], generator)
    return time.perf_counter() - start


def best_of(seconds, images, repeat: int) -> float:
    "The shortest of `repeat` timings `seconds(images)`, after one warm-up pass over a few batches."
    seconds(images[:4 * BATCH])
    return min(seconds(images) for _ in range(repeat))


def measure(images, labels, repeat: int = 3) -> list[dict]:
    "One row per method: its name and the seconds of its best pass over `images`."
    rows = [{'method': f'transforms.v2 per image, DataLoader workers={workers}',
             'seconds': best_of(lambda x: per_image_seconds(x, labels[:len(x)], workers), images, repeat)}
            for workers in (0, 2)]
    rows.append({'method': f'augment_batch, batches of {BATCH}', 'seconds': best_of(batched_seconds, images, repeat)})
    return rows


def table(rows, n: int) -> str:
    "Markdown table of `rows` (measured on `n` images) and the speed-up of `augment_batch`."
    lines = [f'| method | seconds | ms per 1,000 images | seconds per epoch of {EPOCH:,} |', '|---|---:|---:|---:|']
    for row in rows:
        per_image = row['seconds'] / n
        lines.append(f"| {row['method']} | {row['seconds']:.2f} | {per_image * 1e6:.1f} | {per_image * EPOCH:.1f} |")
    batched, fastest = rows[-1]['seconds'], min(row['seconds'] for row in rows[:-1])
    lines.append(f'\n`augment_batch` is **{fastest / batched:.0f}x faster** than the fastest per-image pipeline: '
                 f'{batched / n * EPOCH:.1f} s instead of {fastest / n * EPOCH:.1f} s of augmentation per epoch.')
    return '\n'.join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--images', type=int, default=20000, help='training images to augment (default: 20000)')
    parser.add_argument('--repeat', type=int, default=3, help='passes per method; the best one counts (default: 3)')
    parser.add_argument('--out', help='markdown file for the results (default: benchmarks/augment_speed.md)')
    args = parser.parse_args(argv)
    images, labels = load_mnist(train=True)
    images, labels = images[:args.images], labels[:args.images]
    load_before = os.getloadavg()[0]
    rows = measure(images, labels, args.repeat)
    header = (f"Benchmark run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {platform.machine()} "
              f"({torch.get_num_threads()} threads), torch {torch.__version__}, {len(images):,} training images, "
              f"best of {args.repeat} passes; "
              f"load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after "
              "(2 means both cores busy with other work).\n\n")
    text = header + table(rows, len(images))
    print(text)
    out = args.out or Path(__file__).with_name('augment_speed.md')
    command = ' '.join(['python benchmarks/augment_speed.py', *(argv if argv is not None else sys.argv[1:])])
    atomic_write(out, f'# Augmentation speed benchmark\n\n`{command}`\n\n{text}\n')


if __name__ == '__main__':
    main()
