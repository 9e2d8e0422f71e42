"""Comparing forecasters on held-out horizons: M4 aggregates per fold, tables, which series to plot."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tasks.forecasting.holdout import fold_scores, headline_metrics, score_table, series_to_plot, unscaled_series


def _scores() -> pd.DataFrame:
    rows = []
    for model, k in (("naive2", 2.0), ("lstm", 1.0), ("theta", 4.0)):
        for i, sid in enumerate(("s1", "s2", "s3")):
            for fold in (0, 1):
                rows.append({"series_id": sid, "model": model, "fold": fold, "origin": 50 - 5 * fold,
                             "mae": k, "rmse": k * 1.5, "mape": k, "smape": k * (i + 1), "mase": k * (i + 1) + fold})
    return pd.DataFrame(rows)


def test_fold_scores_are_means_over_series_with_owa_against_naive2():
    table = fold_scores(_scores(), {"lstm": "model"})
    lstm0 = next(f for f in table if f.forecaster == "lstm" and f.fold == 0)
    assert (lstm0.kind, lstm0.n_series, lstm0.mase, lstm0.smape) == ("model", 3, 2.0, 2.0)
    assert lstm0.owa == pytest.approx(0.5)  # half of Naive2's sMAPE and MASE
    assert [f.forecaster for f in table if f.fold == 0] == ["lstm", "naive2", "theta"]
    headline = headline_metrics(table, "lstm")
    assert headline["mase"] == 2.0 and headline["test_rmse"] == 1.5 and headline["backtest_mase"] == 2.5


def test_score_table_and_series_to_plot():
    scores = _scores()
    data, text = score_table(scores, "theta", 1)
    assert data["n_series"] == 3 and data["mean"]["mase"] == pytest.approx(9.0)
    assert text.splitlines()[0] == "# theta, fold 1 (3 series)"
    assert text.splitlines()[-1].startswith("| **mean** | | 4 | 6 | 4 | 8 | 9 |")
    assert series_to_plot(scores, "lstm", 1) == [("first-1", "s1"), ("worst-1", "s3")]
    assert series_to_plot(scores, "lstm", 3) == [("first-1", "s1"), ("first-2", "s2"), ("first-3", "s3")]
    assert np.isnan(fold_scores(scores[scores.model != "naive2"], {})[0].owa)


def test_series_without_a_scale_are_found_per_origin_and_said_why():
    t = np.arange(40.0)
    flat_then_moving = np.concatenate([np.full(30, 2.0), t[30:]])  # no scale before origin 30 only
    series = {sid: (t, values) for sid, values in {
        "trend": 3.0 * t + 1,
        "flat": np.full(40, 9.0),
        "cycle": np.tile([1.0, 4.0, 2.0, 8.0], 10),  # exactly periodic, season 4
        "late": flat_then_moving,
    }.items()}
    origins = {0: 36, 1: 30}
    scores = pd.DataFrame([{"series_id": sid, "model": model, "fold": fold, "origin": origin}
                           for sid in series for model in ("gru", "naive2") for fold, origin in origins.items()])
    found = unscaled_series(scores, series, 4)
    assert [(u.series_id, u.folds, u.origins) for u in found] == [
        ("cycle", (0, 1), (36, 30)), ("flat", (0, 1), (36, 30)), ("late", (1,), (30,))]
    assert found[0].reason == "its values before the origin repeat exactly every 4 steps"
    assert found[1].reason == "its values before the origin are constant"
    assert found[2].message == ("series 'late' (origin 30): its values before the origin are constant "
                                "(seasonal-naive MAE 0); its MASE and MSIS are NaN, left out of the means over "
                                "series, and it has no interval")
    assert found[0].message.startswith("series 'cycle' (origins 36, 30): ")
    assert unscaled_series(scores[scores.series_id == "trend"], series, 4) == ()
