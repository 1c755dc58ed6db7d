"""Inference speed against the machine's limit: the network by each engine, the shipped pipeline, the input generators.

One run measures, side by side on the same threads:

* the **limit**: sustained GFLOP/s of a large matrix product (2048×2048, fp32 and bf16), a practical reference for
  the dense arithmetic a convolutional network is made of (not the processor's peak: a well-fused path can pass it);
* the **bare network** (the canonical run's DigitCNN, or the baseline) on MNIST test digits, by each path:
  `train.predict_logits` (the plain network, as training validates it: the reference); `inference.network_logits`
  (what the library runs on a trained network: batch norm folded, channels_last); the network converted to
  channels_last only; TorchScript frozen and optimised for inference (oneDNN fusions); bf16 autocast; and the same
  weights exported with `torch.onnx.export` and run by ONNX Runtime in fp32. Each path's largest logit difference
  from the first and the number of test predictions that differ are printed beside its speed;
* `predict`'s **shipped preprocessing** (`mnist_style` with the stroke profile) on 28×28 digits and on synthetic photos
  (`synthetic.photograph`), one image at a time (`mnist_style`, as `predict` runs it) and as a batch
  (`images_batch.mnist_style_batch`, as the evaluation and deployment chapters run it), and on 28×28 digits without
  stroke normalisation;
* the **generators** the evaluation chapters use: the corruption suite (every corruption of `corruptions.CORRUPTIONS`
  at its default severity) and pen-written digits (`pen_digits.pen_images`, one condition per effect).

Images per second are the median of `--repeats` timed runs after a warm-up (half as many for the preprocessing and
corruption rows, one for the pen digits); GFLOP/s count the network's multiply-adds as two operations
(`model.count_flops`). On a CPU without bf16 instructions the bf16 limit is emulated, and so is the bf16 path.
Run it alone on an idle machine:

    .venv/bin/python benchmarks/inference_speed.py            # writes benchmarks/inference_speed.md

Writes the table to stdout and to benchmarks/inference_speed.md (with the processor), committed with its output.
"""
import argparse
import contextlib
import copy
import io
import platform
import statistics
import tempfile
import time
import timeit
from pathlib import Path

import numpy as np
import torch

from mnist_report.core import CANONICAL_RUN, atomic_write, resolve_path
from mnist_report.corruptions import CORRUPTIONS, corrupt
from mnist_report.data import load_mnist
from mnist_report.images import SIZE, ImageInputError, mnist_style
from mnist_report.images_batch import mnist_style_batch
from mnist_report.inference import inference_network, network_logits
from mnist_report.model import count_flops
from mnist_report.pen_digits import pen_conditions, pen_images
from mnist_report.strokes import load_stroke_profile
from mnist_report.core import cpu_description
from mnist_report.synthetic import photograph
from mnist_report.train import load_best, predict_logits
from mnist_report.transforms import to_input


def _median_seconds(function, repeats: int) -> float:
    "Median wall time of `function()` over `repeats` calls, after one warm-up call."
    function()
    return statistics.median(timeit.repeat(function, number=1, repeat=repeats))


def ceiling_gflops(dtype: torch.dtype, seconds: float = 2.0, n: int = 2048) -> float:
    "Sustained GFLOP/s of `n`×`n` matrix products in `dtype` on the current threads, over about `seconds`."
    a, b = torch.randn(n, n).to(dtype), torch.randn(n, n).to(dtype)
    torch.mm(a, b)
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        torch.mm(a, b)
        count += 1
    return 2 * n ** 3 * count / (time.perf_counter() - start) / 1e9


def onnx_session(network: torch.nn.Module, folder: Path):
    "An ONNX Runtime session (fp32, CPU) of `network` exported with `torch.onnx.export` (batch size free)."
    import onnxruntime as ort
    path = folder/'model.onnx'
    example = torch.zeros(2, 1, SIZE, SIZE)
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        torch.onnx.export(network.eval(), (example,), str(path), input_names=['input'], output_names=['logits'],
                          dynamic_shapes={'x': {0: torch.export.Dim('batch')}}, dynamo=True)
    options = ort.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads()
    return ort.InferenceSession(str(path), options, providers=['CPUExecutionProvider'])


def network_paths(network, mean: float, std: float, batch: int = 1000) -> dict:
    "name -> function(uint8 images) -> float32 logits, one per inference path of the bare network."
    network = network.eval()
    last = copy.deepcopy(network).to(memory_format=torch.channels_last)      # the library's network stays as loaded
    fused = inference_network(network)
    with tempfile.TemporaryDirectory() as folder:
        session = onnx_session(inference_network(network).to(memory_format=torch.contiguous_format), Path(folder))
    example = torch.zeros(batch, 1, SIZE, SIZE).contiguous(memory_format=torch.channels_last)
    with torch.no_grad():
        frozen = torch.jit.optimize_for_inference(torch.jit.freeze(torch.jit.trace(last, example)))

    def batched(run):
        def logits(images):
            return torch.cat([run(to_input(images[i:i + batch], mean, std)) for i in range(0, len(images), batch)])
        return logits

    def torch_path(model, bf16=False):
        def run(x):
            with torch.inference_mode(), torch.autocast('cpu', torch.bfloat16, enabled=bf16):
                return model(x.contiguous(memory_format=torch.channels_last)).float()
        return batched(run)

    return {
        'predict_logits (plain network, the reference)':
            lambda images: predict_logits(network, images, mean, std, batch),
        'network_logits (library: batch norm folded, channels_last)':
            lambda images: network_logits(network, images, mean, std, batch),
        'channels_last only, inference_mode': torch_path(last),
        'TorchScript frozen, optimize_for_inference': torch_path(frozen),
        'bf16 autocast, batch norm folded, channels_last': torch_path(fused, bf16=True),
        'ONNX Runtime fp32 (folded export)': batched(
            lambda x: torch.from_numpy(session.run(None, {session.get_inputs()[0].name: x.numpy()})[0])),
    }


def _one_at_a_time(images, stroke) -> list:
    "`mnist_style` of each image, as `predict` runs it (None where it refuses one)."
    out = []
    for image in images:
        try:
            out.append(mnist_style(image, stroke=stroke))
        except ImageInputError:
            out.append(None)
    return out


def _row(what: str, images: int, seconds: float, flops: float | None = None, limit: float | None = None,
         note: str = '') -> dict:
    rate = images / seconds
    gflops = flops * rate / 1e9 if flops else None
    return {'path': what, 'images/s': f'{rate:,.0f}', 'GFLOP/s': f'{gflops:.1f}' if gflops else '',
            'of the limit': f'{gflops / limit:.0%}' if gflops and limit else '', 'note': note}


def measure(run: Path, n: int, repeats: int, data_dir=None) -> tuple[list[dict], dict]:
    "The table's rows and the limits, for the checkpoint of `run` on `n` MNIST test digits."
    images, labels = load_mnist(data_dir, train=False)
    images = images[:n]
    network, meta = load_best(run/'best')
    mean, std = meta['normalization']['mean'], meta['normalization']['std']
    flops = count_flops(network)
    limits = {'fp32': ceiling_gflops(torch.float32), 'bf16': ceiling_gflops(torch.bfloat16)}
    rows = [{'path': f'limit: 2048×2048 matrix product, {dtype}', 'images/s': '', 'GFLOP/s': f'{g:.1f}',
             'of the limit': '100%', 'note': ''} for dtype, g in limits.items()]
    reference = None
    for name, logits_of in network_paths(network, mean, std).items():
        seconds = _median_seconds(lambda: logits_of(images), repeats)
        logits = logits_of(images)
        reference = logits if reference is None else reference
        differ = int((logits.argmax(1) != reference.argmax(1)).sum())
        note = '' if logits is reference else \
            f'max |Δlogit| {float((logits - reference).abs().max()):.1e}; {differ} of {n:,} predictions differ'
        limit = max(limits.values()) if 'bf16' in name else limits['fp32']   # bf16 emulated: slower than fp32
        rows.append(_row(f'network: {name}', n, seconds, flops, limit, note))
    stroke = load_stroke_profile(run)
    few = images[:max(200, n // 2)].numpy()
    rng = np.random.default_rng(0)
    photos = [photograph(digit, rng) for digit in few[:100]]
    sides = [side for photo in photos for side in photo.size]
    inputs = {'28×28 digits': (few, stroke), '28×28 digits, strokes as written': (few, None),
              f'synthetic photos ({min(sides)} to {max(sides)} px a side)': (photos, stroke)}
    for what, (these, profile) in inputs.items():
        one = _median_seconds(lambda: _one_at_a_time(these, profile), max(1, repeats // 2))
        batch = _median_seconds(lambda: mnist_style_batch(these, profile), max(1, repeats // 2))
        rows.append(_row(f'mnist_style on {what}, one image at a time', len(these), one))
        rows.append(_row(f'mnist_style_batch on {what}', len(these), batch, note=f'{one / batch:.1f}× one at a time'))
    names = list(CORRUPTIONS)
    seconds = _median_seconds(lambda: [corrupt(few, name, seed=0) for name in names], max(1, repeats // 2))
    rows.append(_row(f'corruption suite: {len(names)} corruptions', len(few) * len(names), seconds))
    conditions = {c.effect: c for c in pen_conditions(quick=True)}.values()
    digits = images[:20].numpy()
    seconds = _median_seconds(lambda: [list(pen_images(digits, c, seed=0)) for c in conditions], 1)
    rows.append(_row(f'pen-written digits: {len(conditions)} conditions', len(digits) * len(conditions), seconds))
    return rows, limits


def markdown(rows: list[dict], n: int) -> str:
    head = (f'# Inference speed ({cpu_description()}, {torch.get_num_threads()} threads; PyTorch '
            f'{torch.__version__}, Python {platform.python_version()})\n\n'
            f'Network rows: {n:,} MNIST test digits in batches of 1,000. The limit is the rate of a large fp32 matrix '
            'product (for the bf16 path, of the faster of the two products); it is a practical reference, not the '
            "processor's peak, and a path that fuses well can pass it. Images per second are medians of repeated "
            'runs.\n\n')
    columns = list(rows[0])
    lines = ['| ' + ' | '.join(columns) + ' |', '|' + '|'.join('---:' if c in ('images/s', 'GFLOP/s', 'of the limit')
                                                            else '---' for c in columns) + '|']
    lines += ['| ' + ' | '.join(str(r[c]) for c in columns) + ' |' for r in rows]
    return head + '\n'.join(lines) + '\n'


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--run', default=CANONICAL_RUN, help='run folder whose best/ checkpoint is measured')
    parser.add_argument('--images', type=int, default=4000, help='MNIST test digits for the network rows')
    parser.add_argument('--repeats', type=int, default=5)
    parser.add_argument('--out', default='benchmarks/inference_speed.md')
    args = parser.parse_args(argv)
    rows, _ = measure(resolve_path(args.run), args.images, args.repeats)
    text = markdown(rows, args.images)
    print(text)
    atomic_write(resolve_path(args.out), text)


if __name__ == '__main__':
    main()
