"""Rank the study's forecasters by their one-step test RMSE: models that failed are never ranked."""

from __future__ import annotations

import math

from tasks.study.records import BaselineScore, ModelResult, RankedForecaster


def rank_forecasters(
    models: list[ModelResult] | tuple[ModelResult, ...], baselines: list[BaselineScore] | tuple[BaselineScore, ...],
) -> tuple[RankedForecaster, ...]:
    """Order successful models and baselines by test RMSE (lower is better), best first.

    A model that failed or whose RMSE is not finite is left out: a NaN must never rank first.
    Ties keep their input order (models before baselines).
    """
    rows = [(m.cell, "model", m.metrics) for m in models if m.ok]
    rows += [(b.name, "baseline", b.metrics) for b in baselines]
    rows = [r for r in rows if math.isfinite(r[2].get("test_rmse", math.nan))]
    rows.sort(key=lambda r: r[2]["test_rmse"])
    return tuple(
        RankedForecaster(rank, name, kind, float(m["test_rmse"]), float(m["test_mae"]))
        for rank, (name, kind, m) in enumerate(rows, start=1)
    )
