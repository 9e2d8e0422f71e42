"""Comparing forecasters on held-out horizons: M4 aggregates per fold, tables, which series to plot."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tasks.forecasting.holdout import fold_scores, headline_metrics, score_table, series_to_plot


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
