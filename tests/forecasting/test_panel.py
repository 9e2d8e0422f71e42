"""Many series with a held-out horizon: plans, windows per series (never across two), no leakage, forecasts."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from tasks.forecasting.panel import (
    FoldPlan,
    build_panel_windows,
    holdout_plan,
    iter_panel_windows,
    min_series_length,
    model_forecasts,
    score_forecasts,
)
from tasks.forecasting.preprocessing import forecast_windows


def _series() -> dict[str, np.ndarray]:
    # Each value tells its series and its step: series k holds 1000 * (k + 1) + step.
    rng = np.random.default_rng(0)
    return {sid: 1000.0 * (k + 1) + np.arange(n) + rng.normal(0, 0.1, n)
            for k, (sid, n) in enumerate({"a": 60, "b": 47, "c": 81}.items())}


def test_the_plan_holds_out_the_last_horizon_and_validates_before_it():
    assert holdout_plan(168, 12, 12, 12, 1, 0.15) == [FoldPlan(0, 156, 133)]
    # Validation is never shorter than the horizon.
    assert holdout_plan(40, 4, 6, 6, 1, 0.1) == [FoldPlan(0, 34, 28)]
    assert holdout_plan(100, 8, 5, 5, 1, 0.2, folds=3, fold_step=7) == [
        FoldPlan(0, 95, 76), FoldPlan(1, 88, 71), FoldPlan(2, 81, 65)]


@pytest.mark.parametrize(("lookback", "horizon", "target", "stride", "folds"),
                         [(12, 12, 12, 1, 1), (12, 12, 1, 1, 1), (24, 6, 6, 5, 3), (3, 1, 1, 2, 2)])
def test_min_series_length_is_the_shortest_that_fits(lookback, horizon, target, stride, folds):
    need = min_series_length(lookback, horizon, target, stride, 0.15, folds)
    holdout_plan(need, lookback, horizon, target, stride, 0.15, folds)
    with pytest.raises(ValueError):
        holdout_plan(need - 1, lookback, horizon, target, stride, 0.15, folds)


def test_a_series_too_short_for_the_plan_is_named():
    with pytest.raises(ValueError, match=r"^series 'b': fold 0 \(origin 35 of 47\): 12 validation steps before it "
                                         r"leave no whole training window of 36 steps$"):
        build_panel_windows(_series(), 24, 12, 12, 1, 0.15)


@pytest.mark.parametrize("stride", [1, 3])
def test_no_window_spans_two_series_and_each_is_scaled_on_its_own_train_part(stride):
    series = _series()
    lookback, horizon = 6, 4
    table = build_panel_windows(series, lookback, horizon, horizon, stride, 0.2, folds=2, fold_step=5)
    assert set(table.series_id) == set(series)
    for row in range(len(table.split)):
        values = series[table.series_id[row]]
        raw_x = table.x[row, :, 0] * table.std[row] + table.mean[row]
        start = table.start[row]
        np.testing.assert_allclose(raw_x, values[start : start + lookback], atol=1e-3)
        if table.split[row] != "test":
            raw_y = table.y[row, :, 0] * table.std[row] + table.mean[row]
            np.testing.assert_allclose(raw_y, values[start + lookback : start + lookback + horizon], atol=1e-3)
    for sid, values in series.items():
        for fold in (0, 1):
            plan = holdout_plan(len(values), lookback, horizon, horizon, stride, 0.2, 2, 5)[fold]
            mine = (table.series_id == sid) & (table.fold == fold)
            assert np.allclose(table.mean[mine], values[: plan.train_end].mean())
            assert np.allclose(table.std[mine], values[: plan.train_end].std())
            train_last = table.start[mine & (table.split == "train")] + lookback + horizon - 1
            val_first = table.start[mine & (table.split == "validation")] + lookback
            assert train_last.max() < plan.train_end <= val_first.min()
            # Anchored at the origin: the last validation window's target ends right before it.
            assert (table.start[mine & (table.split == "validation")] + lookback + horizon).max() == plan.origin
            test = mine & (table.split == "test")
            assert test.sum() == 1 and table.start[test][0] == plan.origin - lookback
            assert np.isnan(table.y[test]).all()  # the truth after the origin is never in the windows


def test_no_window_scaler_or_input_sees_a_value_at_or_after_its_origin():
    """Leakage test: rewriting every value from a fold's origin on changes nothing that fold holds."""
    series = _series()
    args = (5, 3, 3, 2, 0.25)
    table = build_panel_windows(series, *args, folds=3, fold_step=4)
    for fold in range(3):
        poisoned = {}
        for sid, values in series.items():
            origin = holdout_plan(len(values), 5, 3, 3, 2, 0.25, 3, 4)[fold].origin
            poisoned[sid] = np.concatenate([values[:origin], np.full(len(values) - origin, 1e9)])
        again = build_panel_windows(poisoned, *args, folds=3, fold_step=4)
        mine = table.fold == fold
        for name in ("x", "start", "origin", "mean", "std"):
            np.testing.assert_array_equal(getattr(table, name)[mine], getattr(again, name)[mine])
        np.testing.assert_array_equal(table.y[mine], again.y[mine])  # NaN == NaN for array_equal


def test_round_trip_through_arrays():
    table = build_panel_windows(_series(), 5, 3, 1, 1, 0.2)
    arrays, meta = table.to_arrays()
    again = type(table).from_arrays(arrays, meta)
    np.testing.assert_array_equal(again.x, table.x)
    assert list(again.series_id) == list(table.series_id)
    assert meta["target_steps"] == "1" and meta["horizon"] == "3"


def test_windows_built_a_few_series_at_a_time_are_the_rows_of_all_at_once():
    series = {**_series(), "d": np.arange(50.0), "e": np.arange(70.0) ** 0.5}
    whole = build_panel_windows(series, 5, 3, 3, 1, 0.2, folds=2)
    parts = list(iter_panel_windows(series, 5, 3, 3, 1, 0.2, folds=2, series_per_part=2))
    assert [sorted(set(p.series_id)) for p in parts] == [["a", "b"], ["c", "d"], ["e"]]
    for name in ("fold", "series_id", "split", "start", "origin", "x", "y", "mean", "std"):
        np.testing.assert_array_equal(np.concatenate([getattr(p, name) for p in parts]), getattr(whole, name))
    assert sum((json.loads(p.metadata["transforms"]) for p in parts), []) == json.loads(whole.metadata["transforms"])


def test_direct_and_recursive_forecasts():
    x = np.arange(12, dtype=np.float32).reshape(2, 6, 1)  # windows 0..5 and 6..11

    def next_is_last_plus_one(window):  # a one-step model
        return window[:, -1:, :] + 1

    np.testing.assert_array_equal(forecast_windows(next_is_last_plus_one, x, 4), [[6, 7, 8, 9], [12, 13, 14, 15]])

    def direct(window):  # a horizon head that outputs 5 steps
        return np.repeat(window[:, -1:, :], 5, axis=1) * 2

    np.testing.assert_array_equal(forecast_windows(direct, x, 3), [[10, 10, 10], [22, 22, 22]])
    with pytest.raises(ValueError, match="a model with 2 target steps cannot cover a horizon of 4"):
        forecast_windows(lambda w: w[:, -2:, :], x, 4)


def test_model_forecasts_are_unscaled_and_scored_per_series_against_the_truth():
    values = {"a": np.arange(40.0), "b": 100.0 + 2 * np.arange(30.0)}
    series = {sid: (pd.date_range("2020-01", periods=len(v), freq="MS").to_numpy(), v) for sid, v in values.items()}
    table = build_panel_windows(values, 4, 3, 3, 1, 0.2)
    rows = table.rows(0, "test")
    # A perfect forecast, in series units.
    truth = np.stack([values[table.series_id[r]][table.origin[r] : table.origin[r] + 3] for r in rows])
    frame = model_forecasts(table, 0, truth, series, "perfect")
    assert list(frame.columns) == ["series_id", "model", "fold", "origin", "timestamp", "horizon_step", "yhat", "y"]
    np.testing.assert_allclose(frame["yhat"], frame["y"])
    assert frame.groupby("series_id").size().to_dict() == {"a": 3, "b": 3}
    assert pd.DatetimeIndex(frame[frame.series_id == "b"]["timestamp"]).strftime("%Y-%m").tolist() == [
        "2022-04", "2022-05", "2022-06"]  # steps 27-29 of a series starting 2020-01
    scores = score_forecasts(frame.assign(yhat=frame["y"] + 1.0), series, season_length=1)
    # MASE scaled by the in-sample naive error (1 for a, 2 for b) of the values before the origin.
    assert scores.set_index("series_id")["mase"].to_dict() == pytest.approx({"a": 1.0, "b": 0.5})
    assert scores["mae"].tolist() == pytest.approx([1.0, 1.0])
