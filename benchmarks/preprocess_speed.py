"""Preprocessing speed: `mnist_style` with and without stroke normalisation, per image, on one core.

Inputs are pen-stroke digits drawn by `synthetic.draw_digit` (dark ink on light paper) at sizes from a cropped
digit to a full phone photo, with a fine pen (thin strokes are the case the stroke normalisation changes) and
with MNIST's stroke width. The stroke profile is the canonical run's `strokes.json` (the EDA chapter's
measurement). Each row is the median of `--repeats` timed calls after a warm-up call; decoding the image file
is not included (the inputs are in memory, as `predict` has them after `load_image`).

    .venv/bin/python benchmarks/preprocess_speed.py

Writes the table to stdout and to benchmarks/preprocess_speed.md, committed with its latest output.
"""
import argparse
import os
import platform
import statistics
import time
from pathlib import Path

os.environ.setdefault('OMP_NUM_THREADS', '1')     # one core, as the goal states

from mnist_report.core import CANONICAL_RUN, atomic_write, resolve_path  # noqa: E402
from mnist_report.images import mnist_style  # noqa: E402
from mnist_report.strokes import load_stroke_profile  # noqa: E402
from mnist_report.synthetic import draw_digit  # noqa: E402

INPUTS = {  # name: (frame size, digit height as a fraction of the frame, pen as a fraction of the digit's height)
    'cropped digit 200×260, fine pen': ((200, 260), 0.6, 0.01),
    'cropped digit 200×260, MNIST-like pen': ((200, 260), 0.6, 0.12),
    'photo 1000×1000, fine pen': ((1000, 1000), 0.4, 0.01),
    'phone photo 3000×4000, fine pen': ((3000, 4000), 0.3, 0.005),
}


def _median_ms(function, repeats: int) -> float:
    "Median wall time of `function()` in milliseconds over `repeats` calls, after one warm-up call."
    function()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def main(argv=None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--repeats', type=int, default=20)
    args = parser.parse_args(argv)
    profile = load_stroke_profile(resolve_path(CANONICAL_RUN))
    lines = [f'# mnist_style speed per image ({platform.processor() or platform.machine()}, one thread, median of '
             f'{args.repeats})', '', '| input | without stroke normalisation (ms) | with (ms) |', '|---|---:|---:|']
    for name, (size, height, pen) in INPUTS.items():
        image = draw_digit(3, size=size, height=height, pen=pen)
        before = _median_ms(lambda: mnist_style(image), args.repeats)
        after = _median_ms(lambda: mnist_style(image, stroke=profile), args.repeats)
        lines.append(f'| {name} | {before:.2f} | {after:.2f} |')
    table = '\n'.join(lines) + '\n'
    print(table)
    atomic_write(Path(__file__).with_suffix('.md'), table)
    return table


if __name__ == '__main__':
    main()
