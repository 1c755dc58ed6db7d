"""Statistics for model comparison: the exact McNemar test against statsmodels on known 2×2 tables, Newcombe's paired
interval, the percentile bootstrap on known cases, determinism, and the errors on bad input."""
import math

import numpy as np
import pytest
import torch
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.proportion import confint_proportions_2indep

from mnist_report.metrics import calibration_metrics, classification_metrics, wilson_interval
from mnist_report.stats import (Interval, McNemarResult, bootstrap_ci, calibration_intervals, mcnemar_exact,
                                mcnemar_p_value, paired_bootstrap_diff, paired_diff_interval, paired_table,
                                per_class_intervals, per_image_brier, per_image_nll)


def correctness_from_table(table):
    "Per-image correctness of models A and B (shuffled) that give the 2×2 `table` [[both, only A], [only B, neither]]."
    (both, only_a), (only_b, neither) = table
    a = np.repeat([True, True, False, False], [both, only_a, only_b, neither])
    b = np.repeat([True, False, True, False], [both, only_a, only_b, neither])
    order = np.random.default_rng(0).permutation(len(a))
    return a[order], b[order]


def mean_last(x):
    return x.mean(-1)


TABLES = [
    [[50, 0], [0, 50]],          # no discordant pair: p = 1
    [[10, 0], [0, 0]],           # every image right for both
    [[0, 7], [0, 0]],            # all discordant, all favouring A
    [[10, 1], [4, 5]],           # small counts
    [[5, 20], [20, 5]],          # balanced discordant pairs: p = 1
    [[100, 3], [12, 885]],
    [[9940, 31], [14, 15]],      # two good MNIST models
    [[9000, 400], [350, 250]],   # large counts
    [[0, 1000], [1030, 0]],
]


@pytest.mark.parametrize('table', TABLES, ids=[str(t) for t in TABLES])
def test_mcnemar_exact_matches_statsmodels(table):
    expected = mcnemar(np.array(table), exact=True).pvalue
    r = mcnemar_exact(*correctness_from_table(table))
    assert r.table.tolist() == table
    assert r.p_value == pytest.approx(expected, rel=1e-9, abs=1e-15)
    assert mcnemar_p_value(table[0][1], table[1][0]) == r.p_value
    (both, only_a), (only_b, neither) = table
    assert (r.n, r.both_correct, r.only_a, r.only_b, r.both_wrong) == (sum(map(sum, table)), both, only_a, only_b,
                                                                          neither)
    assert r.accuracy_diff == pytest.approx((only_a - only_b) / r.n)
    assert r.diff_ci[0] <= r.accuracy_diff <= r.diff_ci[1] and -1 <= r.diff_ci[0] and r.diff_ci[1] <= 1


def test_mcnemar_p_is_one_without_discordant_pairs_and_symmetric():
    a, b = correctness_from_table([[50, 0], [0, 50]])
    assert mcnemar_exact(a, b).p_value == 1.0
    a, b = correctness_from_table([[100, 3], [12, 885]])
    forward, backward = mcnemar_exact(a, b), mcnemar_exact(b, a)
    assert forward.p_value == backward.p_value and forward.accuracy_diff == -backward.accuracy_diff
    assert forward.diff_ci == pytest.approx((-backward.diff_ci[1], -backward.diff_ci[0]))


def test_mcnemar_result_record():
    r = mcnemar_exact(*correctness_from_table([[100, 3], [12, 885]]), confidence=0.9)
    assert isinstance(r, McNemarResult) and r.confidence == 0.9 and r.ci_method == 'newcombe-10'
    assert r.accuracy_a == pytest.approx(0.103) and r.accuracy_b == pytest.approx(0.112)
    with pytest.raises(AttributeError):
        r.p_value = 0.5   # frozen


@pytest.mark.parametrize('table', [[[4, 2], [6, 3]], [[6, 2], [3, 1]], [[20, 10], [40, 20]]])
def test_newcombe_interval_without_correlation_is_the_unpaired_newcombe_interval(table):
    # phi = 0 when ad = bc: method 10 reduces to the hybrid score interval of two proportions (statsmodels 'newcomb')
    (both, only_a), (only_b, neither) = table
    n = both + only_a + only_b + neither
    low, high = confint_proportions_2indep(both + only_a, n, both + only_b, n, method='newcomb', compare='diff')
    assert paired_diff_interval(table) == pytest.approx((low, high), abs=1e-12)


def test_newcombe_interval_approaches_the_paired_wald_interval_for_large_counts():
    b, c, n = 450, 380, 20_000
    half = 1.959964 * math.sqrt(b + c - (b - c) ** 2 / n) / n
    low, high = paired_diff_interval([[n - b - c - 600, b], [c, 600]])
    assert low == pytest.approx((b - c) / n - half, abs=3e-4) and high == pytest.approx((b - c) / n + half, abs=3e-4)


def test_newcombe_interval_is_narrower_for_positively_correlated_models():
    # same margins, more agreement between the models -> a narrower interval for the difference
    independent = np.diff(paired_diff_interval([[25, 25], [25, 25]]))[0]
    correlated = np.diff(paired_diff_interval([[45, 5], [5, 45]]))[0]
    assert correlated < independent


def test_mcnemar_rejects_bad_input():
    a, b = correctness_from_table([[10, 1], [4, 5]])
    with pytest.raises(ValueError, match='same images'):
        mcnemar_exact(a, b[:-1])
    with pytest.raises(ValueError, match='must be boolean'):
        mcnemar_exact(a.astype(int), b)
    with pytest.raises(ValueError, match='must be boolean'):
        mcnemar_exact(a, np.where(b, 1.0, 0.0))
    with pytest.raises(ValueError, match='non-empty 1-D'):
        mcnemar_exact(np.ones((2, 3), dtype=bool), np.ones((2, 3), dtype=bool))
    with pytest.raises(ValueError, match='non-empty 1-D'):
        mcnemar_exact([], [])
    with pytest.raises(ValueError, match='confidence'):
        mcnemar_exact(a, b, confidence=0)
    assert paired_table(torch.tensor(a), list(b)).tolist() == [[10, 1], [4, 5]]


@pytest.mark.parametrize('p', [0.05, 0.3, 0.5])
def test_bootstrap_of_a_bernoulli_mean_is_close_to_the_wilson_interval(p):
    x = np.random.default_rng(1).random(4000) < p
    estimate, low, high = bootstrap_ci(mean_last, x, n_boot=2000, batched=True)
    w_low, w_high = wilson_interval(int(x.sum()), len(x))
    assert estimate == x.mean()
    assert low == pytest.approx(w_low, abs=0.003) and high == pytest.approx(w_high, abs=0.003)


def test_bootstrap_is_deterministic_and_batching_changes_nothing():
    x = np.random.default_rng(2).normal(size=700)
    first = bootstrap_ci(np.mean, x, n_boot=500, seed=3)
    assert isinstance(first, Interval) and first == bootstrap_ci(np.mean, x, n_boot=500, seed=3)
    assert first == bootstrap_ci(mean_last, x, n_boot=500, seed=3, batched=True)
    assert first != bootstrap_ci(np.mean, x, n_boot=500, seed=4)
    assert first.low < first.estimate < first.high


def test_bootstrap_resamples_rows_jointly():
    # y is a copy of x: on every resample the statistic sees the same rows in both arrays
    x = np.random.default_rng(3).normal(size=(300, 4))
    spread = bootstrap_ci(lambda a, b: np.abs(a - b).max(), x, x.copy(), n_boot=200)
    assert spread == (0, 0, 0)
    labels = np.arange(300) % 10
    probs = np.eye(10)[labels] * 0.9 + 0.01
    assert bootstrap_ci(lambda p, y: (p.argmax(1) == y).mean(), probs, labels, n_boot=100) == (1, 1, 1)


def test_paired_bootstrap_difference_agrees_with_newcombe():
    rng = np.random.default_rng(4)
    a = rng.random(10_000) < 0.99
    b = a.copy()
    b[rng.choice(10_000, 60, replace=False)] ^= True
    r = mcnemar_exact(a, b)
    diff = paired_bootstrap_diff(mean_last, a, b, batched=True)
    assert diff.estimate == pytest.approx(r.accuracy_diff)
    assert diff.low == pytest.approx(r.diff_ci[0], abs=7e-4) and diff.high == pytest.approx(r.diff_ci[1], abs=7e-4)
    # ignoring the pairing gives a much wider interval
    a_alone, b_alone = bootstrap_ci(np.mean, a, n_boot=500), bootstrap_ci(np.mean, b, n_boot=500, seed=1)
    assert diff.high - diff.low < 0.5 * ((a_alone.high - a_alone.low) + (b_alone.high - b_alone.low))


def test_paired_bootstrap_takes_tuples_of_arrays():
    rng = np.random.default_rng(5)
    labels = rng.integers(0, 10, 400)
    pred_a = np.where(rng.random(400) < 0.9, labels, (labels + 1) % 10)
    pred_b = np.where(rng.random(400) < 0.8, labels, (labels + 1) % 10)
    def accuracy(pred, y):
        return (pred == y).mean()
    diff = paired_bootstrap_diff(accuracy, (pred_a, labels), (pred_b, labels), n_boot=300)
    assert diff.estimate == pytest.approx(accuracy(pred_a, labels) - accuracy(pred_b, labels))
    assert paired_bootstrap_diff(accuracy, (pred_a, labels), (pred_a, labels), n_boot=50) == (0, 0, 0)


def test_bootstrap_rejects_bad_input():
    x = np.arange(10.0)
    with pytest.raises(ValueError, match='same positive number of rows'):
        bootstrap_ci(np.mean, x, np.arange(9.0))
    with pytest.raises(ValueError, match='same positive number of rows'):
        bootstrap_ci(np.mean, np.array([]))
    with pytest.raises(ValueError, match='at least one array'):
        bootstrap_ci(np.mean)
    with pytest.raises(ValueError, match='confidence'):
        bootstrap_ci(np.mean, x, confidence=1.5)
    with pytest.raises(ValueError, match='n_boot'):
        bootstrap_ci(np.mean, x, n_boot=0)
    with pytest.raises(ValueError, match='one value per resample'):
        bootstrap_ci(np.mean, x, batched=True)
    with pytest.raises(ValueError, match='same positive number of rows'):
        paired_bootstrap_diff(np.mean, x, x[:5])


def test_calibration_intervals_use_the_metrics_definitions():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(2000, 10, generator=g, dtype=torch.float64) * 2
    labels = torch.multinomial(logits.softmax(1), 1, generator=g).squeeze(1)
    probs = logits.softmax(1)
    scores = calibration_metrics(logits, labels)
    assert per_image_nll(probs, labels).mean() == pytest.approx(scores.nll, rel=1e-12)
    assert per_image_brier(probs, labels).mean() == pytest.approx(scores.brier, rel=1e-12)
    intervals = calibration_intervals(probs, labels, n_boot=100, seed=0)
    for name, (estimate, low, high) in intervals.items():
        assert estimate == pytest.approx(getattr(scores, name), rel=1e-12, abs=1e-15)
        assert low < estimate < high
    assert calibration_intervals(probs, labels, n_boot=100, seed=0) == intervals
    with pytest.raises(ValueError, match='probs must be'):
        calibration_intervals(probs[:10], labels)


def test_per_class_intervals_match_the_metrics():
    rng = np.random.default_rng(6)
    y_true = rng.integers(0, 10, 3000)
    y_pred = np.where(rng.random(3000) < 0.95, y_true, rng.integers(0, 10, 3000))
    table = per_class_intervals(y_true, y_pred)
    m = classification_metrics(y_true, y_pred)
    assert len(table) == 10 and table.support.sum() == 3000
    for c, row in table.iterrows():
        assert row.recall == pytest.approx(m.per_class[str(c)].recall)
        assert (row.low, row.high) == wilson_interval(int(row.correct), int(row.support))
        assert row.low <= row.recall <= row.high
    empty = per_class_intervals([0, 0, 1], [0, 1, 1], n_classes=3)
    assert empty.loc[2, ['recall', 'low', 'high']].isna().all() and empty.loc[0, 'recall'] == 0.5
