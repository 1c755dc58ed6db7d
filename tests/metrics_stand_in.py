"""Stand-in metrics records for tests, built by the real builder (mnist_report.metrics) from real or fake predictions.

Usage in a test module of tests/: `from metrics_stand_in import fake_logits, stand_in_metrics`, then
`write_metrics(run/'metrics.json', stand_in_metrics(labels, logits))`.
"""
import torch
import torch.nn.functional as F

import dataclasses

from mnist_report.metrics import (CorruptionScore, GroupAccuracy, Metrics, Robustness, RobustnessPoint, build_metrics,
                                  model_metrics)


def fake_logits(labels, n_wrong: int = 0, seed: int = 0, n_classes: int = 10) -> torch.Tensor:
    "Float64 logits that predict `labels`, except the first `n_wrong` images, read as the next digit (seeded noise)."
    labels = torch.as_tensor(labels)
    predicted = labels.clone()
    predicted[:n_wrong] = (labels[:n_wrong] + 1) % n_classes
    noise = torch.randn(len(labels), n_classes, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    return F.one_hot(predicted, n_classes).double() * 8 + noise    # a margin of 8 noise stds: no accidental errors


def _stand_in_robustness(accuracy: float, n: int) -> Robustness:
    "A corruption record: the clean accuracy, one corruption at half of it, a two-point rotation curve."
    def score(a):
        return CorruptionScore(accuracy=a, ece=0.01, mean_confidence=a, top_class_share=0.1)
    scores = {pipeline: {'clean': score(accuracy), 'fog': score(accuracy / 2)} for pipeline in ('network', 'shipped')}
    curve = [RobustnessPoint(level=0, accuracy=accuracy), RobustnessPoint(level=45, accuracy=0.5)]
    return Robustness(images=n, seed=0, scores=scores, mean_accuracy={'network': accuracy / 2, 'shipped': accuracy / 2},
                      severity={'network': {'rotate': curve}, 'shipped': {'rotate': curve}})


def stand_in_metrics(test_labels, test_logits=None, *, val_labels=None, val_logits=None, quick: bool = True,
                     seed: int = 0, robustness: Robustness | None = None, **checkpoint) -> Metrics:
    """A whole record of one model ('default') from its test logits (default: `fake_logits` with 1% errors).

    The temperature is fitted on the validation logits (default: the test ones); `checkpoint` overrides
    `architecture`, `parameters`, `checkpoint_epoch` and `val_accuracy`; the default robustness record has the
    clean accuracy, one corruption at half of it and a two-point rotation curve; the writer groups split the test
    images in two halves (series '0' and '4')."""
    test_labels = torch.as_tensor(test_labels)
    if test_logits is None:
        test_logits = fake_logits(test_labels, n_wrong=len(test_labels) // 100, seed=seed)
    if val_logits is None:
        val_labels, val_logits = test_labels, test_logits
    correct = (torch.as_tensor(test_logits).argmax(1) == test_labels).numpy()
    accuracy = float(correct.mean())
    checkpoint = {'architecture': 'DigitCNN', 'parameters': 1000, 'checkpoint_epoch': 1, 'val_accuracy': accuracy,
                  **checkpoint}
    model = model_metrics(test_logits, test_labels, val_logits, val_labels, **checkpoint)
    half = len(correct) // 2
    groups = {series: GroupAccuracy(n=len(part), correct=int(part.sum()), accuracy=float(part.mean()),
                                    accuracy_ci95=[0.0, 1.0]) for series, part in (('0', correct[:half]),
                                                                                  ('4', correct[half:]))}
    model = dataclasses.replace(model, robustness=robustness or _stand_in_robustness(accuracy, len(correct)),
                                writer_groups=groups)
    return build_metrics({'default': model}, quick=quick, seed=seed, test_images=len(test_labels),
                         val_images=len(val_labels))
