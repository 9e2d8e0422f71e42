"""Rank forecasters by their held-out MASE: models that failed are never ranked."""

from __future__ import annotations

import math

from tasks.forecasting.records import BaselineScore, ModelResult, RankedForecaster

RANKED_BY = "mase"


def rank_forecasters(
    models: list[ModelResult] | tuple[ModelResult, ...], baselines: list[BaselineScore] | tuple[BaselineScore, ...],
    chosen: str | None = None,
) -> tuple[RankedForecaster, ...]:
    """Order successful models and baselines by MASE at the latest origin (lower is better), best first.

    A model that failed or whose MASE is not finite is left out: a NaN must never rank first.
    Ties keep their input order (models before baselines). ``chosen`` names the forecaster chosen
    before the test part was seen (its row is marked).
    """
    rows = [(m.cell, "model", m.metrics) for m in models if m.ok]
    rows += [(b.name, "baseline", b.metrics) for b in baselines]
    rows = [r for r in rows if math.isfinite(r[2].get(RANKED_BY, math.nan))]
    rows.sort(key=lambda r: r[2][RANKED_BY])
    return tuple(
        RankedForecaster(rank, name, kind, float(m["test_rmse"]), float(m["test_mae"]),
                         float(m.get("mase", math.nan)), float(m.get("smape", math.nan)), float(m.get("owa", math.nan)), name == chosen)
        for rank, (name, kind, m) in enumerate(rows, start=1)
    )
