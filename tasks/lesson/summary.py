"""Gather a sweep's trials into one row per cell and length: who solved the task, and the gradients."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from tasks.lesson.records import LessonRow, NoMemoryBaseline, TrialResult


def geometric_mean(values: Sequence[float]) -> float:
    """Geometric mean of the finite, non-negative ``values`` (ratios spread over decades); NaN if none.

    A zero (a gradient that underflowed to exactly 0) makes the mean 0.
    """
    kept = [v for v in values if math.isfinite(v) and v >= 0]
    if not kept:
        return float("nan")
    if min(kept) == 0:
        return 0.0
    return float(np.exp(np.mean(np.log(kept))))


def summarise(
    trials: Sequence[TrialResult],
    baselines: Sequence[NoMemoryBaseline],
    cells: Sequence[str],
    seeds: Sequence[int],
    solved_mse: float,
) -> tuple[LessonRow, ...]:
    """One :class:`LessonRow` per length and cell, lengths in the baselines' order, cells in ``cells``' order.

    Args:
        trials: every trial of the sweep, failed ones included (their MSE counts as NaN, never solved).
        baselines: one per length.
        cells: the cells, in the order rows are wanted.
        seeds: the training seeds, in the order per-seed values are listed.
        solved_mse: a trial solves the task when its test MSE is below this.
    """
    by_key = {(t.length, t.cell, t.seed): t for t in trials}
    rows = []
    for baseline in baselines:
        for cell in cells:
            found = [by_key.get((baseline.length, cell, seed)) for seed in seeds]
            ok = [t for t in found if t is not None and t.ok]
            mses = tuple(t.metrics["test_mse"] if t is not None and t.ok else float("nan") for t in found)
            finite = [m for m in mses if math.isfinite(m)]
            rows.append(LessonRow(
                length=baseline.length,
                cell=cell,
                test_mse=mses,
                mean_test_mse=float(np.mean(finite)) if finite else float("nan"),
                solved=sum(m < solved_mse for m in finite),
                seeds=len(seeds),
                ratio_init=geometric_mean([t.metrics["gradient_ratio_init"] for t in ok]),
                ratio_trained=geometric_mean([t.metrics["gradient_ratio_trained"] for t in ok]),
                no_memory_mse=baseline.measured,
            ))
    return tuple(rows)
