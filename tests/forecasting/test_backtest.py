"""Rolling-origin backtests: origins, per-series splits, refit per origin, and no leakage."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tasks.forecasting.backtest import fold_origins, rolling_folds, run_backtest
from tasks.forecasting.statistical import baseline_forecasters


def _frame(lengths: dict[str, int]) -> pd.DataFrame:
    """Series whose value at step i is 1000 * k + i, so a value tells its own step."""
    parts = []
    for k, (sid, n) in enumerate(lengths.items()):
        parts.append(pd.DataFrame({
            "series_id": sid,
            "timestamp": pd.date_range("2020-01-01", periods=n, freq="MS"),
            "value": 1000.0 * k + np.arange(n, dtype=float),
        }))
    return pd.concat(parts, ignore_index=True).sample(frac=1.0, random_state=0)  # order must not matter


def test_fold_origins_step_back_from_the_end():
    assert fold_origins(20, 4, folds=3, fold_step=2) == [16, 14, 12]
    assert fold_origins(20, 4, folds=3) == [16, 12, 8]
    with pytest.raises(ValueError, match=r"^series of 10 steps is too short for folds=3, fold_step=4, horizon=4 "
                                         r"and min_train=1: it needs at least 13$"):
        fold_origins(10, 4, folds=3)
    with pytest.raises(ValueError, match=r"^folds=0: must be >= 1$"):
        fold_origins(10, 2, folds=0)


def test_folds_are_per_series_and_read_only_copies():
    folds = list(rolling_folds(_frame({"a": 10, "b": 8}), horizon=2, folds=2, fold_step=3))
    assert [(f.series_id, f.fold, f.origin) for f in folds] == [("a", 0, 8), ("a", 1, 5), ("b", 0, 6), ("b", 1, 3)]
    b1 = folds[3]
    assert b1.train.tolist() == [1000.0, 1001.0, 1002.0] and b1.test.tolist() == [1003.0, 1004.0]
    assert pd.DatetimeIndex(b1.test_timestamps).strftime("%Y-%m").tolist() == ["2020-04", "2020-05"]
    assert b1.train.base is None  # a copy: no way back to the later values
    with pytest.raises(ValueError, match="read-only"):
        b1.train[0] = 0.0


def test_a_series_too_short_is_named():
    with pytest.raises(ValueError, match=r"^series 'b': series of 3 steps is too short"):
        list(rolling_folds(_frame({"a": 10, "b": 3}), horizon=2, folds=2))


def test_no_forecaster_sees_a_value_after_its_origin():
    """Leakage test: fails if anything fitted sees data at or after the origin it forecasts from."""
    seen: list[tuple[float, int]] = []
    scaler_stats: list[tuple[float, float]] = []

    def recording(train: np.ndarray, horizon: int) -> np.ndarray:
        seen.append((float(train.max() % 1000), train.size))  # the largest step index it saw
        # A scaler fitted inside the forecaster, as a model would: it must see the train part only.
        mean, std = train.mean(), train.std() + 1e-9
        scaler_stats.append((float(mean), float(std)))
        return np.full(horizon, ((train - mean) / std)[-1] * std + mean)

    frame = _frame({"a": 40, "b": 30})
    result = run_backtest(frame, {"rec": recording, **baseline_forecasters(4)}, horizon=5, season_length=4,
                          folds=3, fold_step=4)
    origins = result.scores[result.scores["model"] == "rec"]["origin"].tolist()
    assert origins == [35, 31, 27, 25, 21, 17]
    for (max_index, size), origin in zip(seen, origins, strict=True):
        assert max_index < origin, f"saw step {max_index} at origin {origin}"
        assert max_index == origin - 1 and size == origin  # and everything before it
    values = {"a": np.arange(40.0), "b": 1000.0 + np.arange(30.0)}
    for (mean, std), origin, sid in zip(scaler_stats, origins, ["a"] * 3 + ["b"] * 3, strict=True):
        assert mean == pytest.approx(values[sid][:origin].mean())
        assert std == pytest.approx(values[sid][:origin].std() + 1e-9)
    # The baselines were refit per origin: naive forecasts the last training value of each fold.
    naive = result.forecasts[result.forecasts["model"] == "naive"]
    for (sid, origin), part in naive.groupby(["series_id", "origin"]):
        assert part["yhat"].unique().tolist() == [values[sid][origin - 1]]


def test_run_backtest_tables():
    frame = _frame({"a": 12})
    result = run_backtest(frame, {"naive": lambda x, h: np.full(h, x[-1])}, horizon=3, season_length=1, folds=2)
    f = result.forecasts
    assert list(f.columns) == ["series_id", "model", "fold", "origin", "timestamp", "horizon_step", "yhat", "y"]
    first = f[f["fold"] == 0]
    assert first["horizon_step"].tolist() == [1, 2, 3]
    assert first["y"].tolist() == [9.0, 10.0, 11.0] and first["yhat"].tolist() == [8.0, 8.0, 8.0]
    s = result.scores.set_index("fold")
    assert list(result.scores.columns) == ["series_id", "model", "fold", "origin", "mae", "rmse", "mape", "smape", "mase"]
    assert s.loc[0, "mae"] == pytest.approx(2.0) and s.loc[0, "mase"] == pytest.approx(2.0)  # in-sample step 1


def test_a_forecaster_of_the_wrong_shape_is_named():
    with pytest.raises(ValueError, match=r"^forecaster 'bad' returned \(2,\) for series 'a'; must be \(3,\)$"):
        run_backtest(_frame({"a": 12}), {"bad": lambda x, h: np.zeros(2)}, horizon=3, season_length=1)


def test_progress_is_reported_after_every_series_and_origin_with_the_total():
    calls = []
    fits = []

    def naive(train, horizon):
        fits.append(len(calls))  # how many progress calls came before this fit
        return np.repeat(train[-1], horizon)

    run_backtest(_frame({"a": 30, "b": 40, "c": 25}), {"naive": naive, "again": naive}, horizon=4, season_length=1,
                 folds=2, on_progress=lambda done, total: calls.append((done, total)))
    assert calls == [(k, 6) for k in range(1, 7)]
    # Both forecasters of a series and origin are fit before it is counted done.
    assert fits == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5]


@pytest.mark.parametrize("sorted_rows", [True, False])
def test_series_read_without_a_frame_split_exactly_as_a_frame_does(tmp_path, sorted_rows):
    # Ids that sort differently as text and as numbers, timestamps in and out of order, several row
    # groups (each with its own dictionary of ids): the file's arrays are its frame's.
    import pyarrow as pa
    import pyarrow.parquet as pq

    from tasks import storage
    from tasks.forecasting.backtest import series_arrays

    rng = np.random.default_rng(4)
    ids = np.array([f"s{k}" for k in rng.integers(0, 25, 2000)])
    stamps = pd.Timestamp("2001-01-01") + pd.to_timedelta(rng.permutation(2000), "D")
    frame = pd.DataFrame({"series_id": ids, "timestamp": stamps, "value": rng.normal(size=2000)})
    if sorted_rows:
        frame = frame.sort_values(["series_id", "timestamp"], ignore_index=True)
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), tmp_path / "s.parquet", row_group_size=300)
    assert pq.ParquetFile(tmp_path / "s.parquet").num_row_groups > 1
    expected = series_arrays(pq.read_table(tmp_path / "s.parquet").to_pandas())
    got = storage.read_series_arrays(tmp_path / "s.parquet")
    assert list(got) == list(expected) == sorted(set(ids))
    for sid, (want_stamps, want_values) in expected.items():
        assert got[sid][0].dtype == want_stamps.dtype and got[sid][1].dtype == want_values.dtype
        np.testing.assert_array_equal(got[sid][0], want_stamps)
        np.testing.assert_array_equal(got[sid][1], want_values)
    head = storage.read_head(tmp_path / "s.parquet", 5)
    pd.testing.assert_frame_equal(head, pq.read_table(tmp_path / "s.parquet").to_pandas().head(5))


def test_a_backtest_of_series_already_split_equals_that_of_their_frame():
    from tasks.forecasting.backtest import series_arrays

    frame = _frame({"b": 30, "a": 24, "c": 27})
    forecasters = baseline_forecasters(4)
    from_frame = run_backtest(frame, forecasters, 6, 4, folds=2)
    from_arrays = run_backtest(series_arrays(frame), forecasters, 6, 4, folds=2)
    pd.testing.assert_frame_equal(from_frame.forecasts, from_arrays.forecasts)
    pd.testing.assert_frame_equal(from_frame.scores, from_arrays.scores)
