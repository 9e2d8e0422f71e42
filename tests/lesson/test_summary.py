"""Rows of the sweep from its trials: who solved the task, failed trials, ratios over seeds."""

import math

import pytest

from tasks.lesson.records import NoMemoryBaseline, TrialResult
from tasks.lesson.summary import geometric_mean, summarise


def _trial(cell, length, seed, mse, r0=1e-3, r1=1e-1):
    metrics = {"test_mse": mse, "gradient_ratio_init": r0, "gradient_ratio_trained": r1}
    return TrialResult(cell, length, seed, f"run-{cell}-{length}-{seed}", metrics)


def test_geometric_mean():
    assert geometric_mean([1e-4, 1e-2]) == pytest.approx(1e-3)
    assert geometric_mean([0.0, 1.0]) == 0.0
    assert math.isnan(geometric_mean([float("nan")]))


def test_rows_per_length_and_cell_in_order_with_failures_unsolved():
    baselines = [NoMemoryBaseline(10, 1 / 6, 0.16), NoMemoryBaseline(50, 1 / 6, 0.17)]
    trials = [
        _trial("rnn", 10, 1, 0.005), _trial("rnn", 10, 2, 0.02),
        _trial("lstm", 10, 1, 0.001), _trial("lstm", 10, 2, 0.002),
        _trial("rnn", 50, 1, 0.165), _trial("rnn", 50, 2, 0.168, r0=1e-8, r1=1e-6),
        _trial("lstm", 50, 1, 0.003, r0=1e-4, r1=1.0),
        TrialResult("lstm", 50, 2, "run-x", {}, failure="training diverged"),
    ]
    rows = summarise(trials, baselines, ["rnn", "lstm"], [1, 2], 0.01)
    assert [(r.length, r.cell) for r in rows] == [(10, "rnn"), (10, "lstm"), (50, "rnn"), (50, "lstm")]
    assert [r.solved for r in rows] == [1, 2, 0, 1]
    rnn50, lstm50 = rows[2], rows[3]
    assert rnn50.fails and not rows[0].fails
    assert rnn50.ratio_init == pytest.approx(math.sqrt(1e-3 * 1e-8))  # geometric mean over the seeds
    assert lstm50.test_mse[0] == 0.003 and math.isnan(lstm50.test_mse[1])
    assert lstm50.mean_test_mse == 0.003
    assert lstm50.ratio_trained == 1.0  # the failed seed is left out of the ratios
    assert rnn50.no_memory_mse == 0.17
