"""Split-conformal intervals: the quantile, coverage on synthetic residuals, MSIS by hand, no test truth used."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tasks.forecasting import intervals


def test_conformal_quantile_is_the_ceil_n_plus_1_level_th_smallest_score():
    assert intervals.conformal_quantile(np.arange(1.0, 20.0), 0.95) == 19.0  # k = ceil(20 * 0.95) = 19
    assert intervals.conformal_quantile(np.arange(1.0, 11.0), 0.9) == 10.0  # k = ceil(9.9) = 10
    assert intervals.conformal_quantile(np.arange(1.0, 101.0), 0.8) == 81.0  # k = ceil(80.8) = 81
    assert intervals.conformal_quantile(np.array([3.0, 1.0, np.nan]), 0.5) == 3.0  # NaN dropped; k = 2
    assert intervals.conformal_quantile(np.array([1.0, 2.0]), 0.95) == 2.0  # k = 3 > n: the largest
    with pytest.raises(ValueError, match=r"level=1.0: must be in \(0, 1\)"):
        intervals.conformal_quantile(np.ones(3), 1.0)


@pytest.mark.parametrize("level", [0.8, 0.95])
def test_coverage_on_gaussian_residuals_of_series_of_different_scales_is_nominal(level):
    rng = np.random.default_rng(0)
    scales = np.array([0.5, 3.0, 40.0, 2000.0])  # a series' MASE scale; its errors are scale-sized
    n_cal, n_test = 500, 5000
    cal = np.concatenate([intervals.scaled_errors(s * rng.normal(size=n_cal), 0.0, s) for s in scales])
    q = intervals.conformal_quantile(cal, level)
    for s in scales:
        y = s * rng.normal(size=n_test)
        lower, upper = intervals.bounds(np.zeros(n_test), np.full(n_test, q), s)
        assert intervals.coverage(y, lower, upper) == pytest.approx(level, abs=0.015), s


def test_msis_matches_a_hand_worked_example():
    y, lower, upper = np.array([10.0, 20.0, 30.0]), np.array([8.0, 22.0, 25.0]), np.array([12.0, 24.0, 28.0])
    # widths 4, 2, 3; step 2 is 2 below L: + 2/0.05 * 2 = 80; step 3 is 2 above U: + 80
    # mean (4 + 82 + 83) / 3 = 56.333...; scale: in-sample naive (m = 1) differences of 0, 2, 4, 6 = 2
    assert intervals.msis(y, lower, upper, np.array([0.0, 2.0, 4.0, 6.0]), 1, 0.05) == pytest.approx(169 / 3 / 2)
    # seasonal scale, m = 2: |4 - 0|, |6 - 2| = 4
    assert intervals.msis(y, lower, upper, np.array([0.0, 2.0, 4.0, 6.0]), 2, 0.05) == pytest.approx(169 / 3 / 4)
    assert intervals.coverage(y, lower, upper) == pytest.approx(1 / 3)


def _model_rows(values, origins, horizon, offset):
    """Forecast rows of one series at two folds: yhat = truth + offset (a fixed error)."""
    parts = []
    for fold, origin in enumerate(origins):
        truth = values[origin : origin + horizon]
        parts.append(pd.DataFrame({"series_id": "s", "model": "m", "fold": fold, "origin": origin,
                                   "timestamp": np.arange(horizon), "horizon_step": np.arange(1, horizon + 1),
                                   "yhat": truth + offset, "y": truth}))
    return pd.concat(parts, ignore_index=True)


def _two_folds():
    """One series at two folds: ``(horizon, level, series, validation residual rows, forecast rows)``."""
    horizon, level = 3, 0.8
    values = np.cumsum(np.random.default_rng(1).normal(size=60)) + 50
    origins = [57, 54]  # fold 0, fold 1 (fold_step = horizon)
    series = {"s": (np.arange(60), values)}
    rng = np.random.default_rng(2)
    validation = pd.concat([intervals.residual_rows("s", fold, "validation", np.arange(origin - 10, origin - horizon + 1),
                                                    rng.normal(size=(8, horizon)), np.zeros((8, horizon)), np.ones(8))
                            for fold, origin in enumerate(origins)], ignore_index=True)
    return horizon, level, series, validation, _model_rows(values, origins, horizon, offset=0.1)


def test_intervals_never_read_the_truth_they_are_scored_on():
    horizon, level, series, validation, forecasts = _two_folds()
    banded, widths = intervals.attach_intervals(forecasts, validation, series, 1, level, horizon)

    # Poison fold 0's held-out truth: its intervals (and fold 1's) stay as they were.
    poisoned = forecasts.copy()
    poisoned.loc[poisoned["fold"] == 0, "y"] *= 1000
    again, widths_again = intervals.attach_intervals(poisoned, validation, series, 1, level, horizon)
    np.testing.assert_array_equal(banded[["lower", "upper"]].to_numpy(), again[["lower", "upper"]].to_numpy())
    for fold in (0, 1):
        np.testing.assert_array_equal(widths[fold][0], widths_again[fold][0])

    # Fold 0 calibrates on fold 1's test residuals (their truth lies before fold 0's origin); fold 1 does not.
    assert list(widths[0][1]) == [8 + 8 + 1] * horizon and list(widths[1][1]) == [8] * horizon
    kept = intervals.calibration_set(intervals.held_out_residuals(forecasts, series, 1), 0, {"s": 57})
    assert set(kept["fold"]) == {1} and kept["target_index"].max() < 57


def test_interval_scores_report_coverage_msis_and_width_per_fold():
    values = np.arange(20.0)
    forecasts = pd.DataFrame({"series_id": "s", "fold": 0, "origin": 17, "horizon_step": [1, 2, 3],
                              "yhat": [17.0, 18.0, 19.0], "y": [17.0, 18.5, 21.0],
                              "lower": [16.0, 17.0, 18.0], "upper": [18.0, 19.0, 20.0]})
    scored = intervals.interval_scores(forecasts, {"s": (np.arange(20), values)}, 1, 0.95)
    assert scored[0]["coverage"] == pytest.approx(2 / 3)
    assert scored[0]["interval_width"] == pytest.approx(2.0)  # scale 1: a step of 1 per step
    assert scored[0]["msis"] == pytest.approx((2 + 2 + 2 + 40 * 1) / 3)


NO_SCALE = {"constant": np.full(20, 7.0), "periodic": np.tile([1.0, 5.0, 2.0, 8.0], 5)}  # season 4


def test_a_series_without_scale_gets_no_conformity_score_no_interval_and_no_msis():
    assert np.isnan(intervals.scaled_errors(np.array([1.0, 2.0]), np.zeros(2), 0.0)).all()
    np.testing.assert_array_equal(intervals.scaled_errors(np.array([1.0, 2.0]), np.zeros(2), np.array([0.0, 2.0])),
                                  [np.nan, 1.0])
    lower, upper = intervals.bounds(np.array([7.0, 7.0]), np.array([1.0, 2.0]), 0.0)
    assert np.isnan(lower).all() and np.isnan(upper).all()
    for insample in NO_SCALE.values():
        assert np.isnan(intervals.msis(np.array([7.0]), np.array([6.0]), np.array([8.0]), insample, 4))
    assert np.isnan(intervals.coverage(np.array([7.0]), np.array([np.nan]), np.array([np.nan])))


def _banded(sid, values, origin, yhat, lower, upper, fold=0):
    horizon = len(yhat)
    return pd.DataFrame({"series_id": sid, "fold": fold, "origin": origin, "horizon_step": np.arange(1, horizon + 1),
                         "yhat": yhat, "y": values[origin : origin + horizon], "lower": lower, "upper": upper})


@pytest.mark.parametrize("kind", NO_SCALE)
@pytest.mark.parametrize("bands", ["none", "given"])
def test_interval_scores_skip_a_series_without_scale_and_score_the_others_as_before(kind, bands):
    values = np.arange(20.0)
    normal = _banded("s", values, 17, [17.0, 18.0, 19.0], [16.0, 17.0, 18.0], [18.0, 19.0, 20.0])
    flat_values = NO_SCALE[kind]
    given = flat_values[17:] - 1 if bands == "given" else np.full(3, np.nan)
    flat = _banded("flat", flat_values, 17, flat_values[17:], given, given + 2)
    alone = intervals.interval_scores(normal, {"s": (np.arange(20), values)}, 4, 0.95)
    both = intervals.interval_scores(pd.concat([normal, flat], ignore_index=True),
                                     {"s": (np.arange(20), values), "flat": (np.arange(20), flat_values)}, 4, 0.95)
    assert both == alone


def test_a_series_without_scale_does_not_widen_the_others_intervals():
    horizon, level = 3, 0.8
    rng = np.random.default_rng(3)
    values = np.cumsum(rng.normal(size=40)) + 50
    flat_values = np.full(40, 1e6)
    series = {"s": (np.arange(40), values), "flat": (np.arange(40), flat_values)}
    origins = np.arange(27, 35)
    cal_s = intervals.residual_rows("s", 0, "validation", origins, rng.normal(size=(8, horizon)),
                                    np.zeros((8, horizon)), np.ones(8))
    # The network is 500 units off on the flat series: a raw error, in no series' scale.
    cal_flat = intervals.residual_rows("flat", 0, "validation", origins, np.full((8, horizon), 1e6),
                                       np.full((8, horizon), 1e6 - 500), np.zeros(8))
    rows_s = _banded("s", values, 37, values[37:] + 0.1, np.nan, np.nan).drop(columns=["lower", "upper"])
    rows_flat = _banded("flat", flat_values, 37, flat_values[37:] - 500, np.nan, np.nan).drop(columns=["lower", "upper"])
    alone, widths_alone = intervals.attach_intervals(rows_s, cal_s, {"s": series["s"]}, 1, level, horizon)
    both, widths = intervals.attach_intervals(pd.concat([rows_s, rows_flat], ignore_index=True),
                                              pd.concat([cal_s, cal_flat], ignore_index=True), series, 1, level, horizon)
    np.testing.assert_array_equal(widths[0][0], widths_alone[0][0])
    np.testing.assert_array_equal(widths[0][1], widths_alone[0][1])
    assert both[both["series_id"] == "flat"][["lower", "upper"]].isna().all().all()
    np.testing.assert_array_equal(both[both["series_id"] == "s"][["lower", "upper"]].to_numpy(),
                                  alone[["lower", "upper"]].to_numpy())


def test_when_no_series_has_a_scale_the_intervals_are_nan_and_nothing_raises():
    horizon = 3
    flat_values = np.full(40, 5.0)
    series = {"flat": (np.arange(40), flat_values)}
    cal = intervals.residual_rows("flat", 0, "validation", np.arange(27, 35), np.full((8, horizon), 5.0),
                                  np.full((8, horizon), 4.0), np.zeros(8))
    rows = _banded("flat", flat_values, 37, flat_values[37:] - 1, np.nan, np.nan).drop(columns=["lower", "upper"])
    banded, widths = intervals.attach_intervals(rows, cal, series, 1, 0.9, horizon)
    assert banded[["lower", "upper"]].isna().all().all()
    assert np.isnan(widths[0][0]).all() and list(widths[0][1]) == [0] * horizon
    scored = intervals.interval_scores(banded, series, 1, 0.9)
    assert all(np.isnan(v) for v in scored[0].values())


def test_the_compact_pool_keeps_what_calibration_set_keeps_in_20_bytes_a_row():
    # Three series, three folds, validation and test rows, a target at and after an origin, a NaN score
    # and a series that has no origin at fold 0: the pool's scores per step are calibration_set's.
    rng = np.random.default_rng(7)
    horizon, frames = 4, []
    for sid, end in (("a", 60), ("b", 45), ("c", 50)):
        for fold in range(3):
            origin = end - horizon - 2 * fold
            kind = "test" if fold == 1 else "validation"
            starts = np.arange(origin - 12, origin + 1)  # the last ones' targets reach the origin and past it
            frames.append(intervals.residual_rows(sid, fold, kind, starts, rng.normal(size=(starts.size, horizon)),
                                                  np.zeros((starts.size, horizon)), rng.uniform(0.5, 2, starts.size)))
    frames[0].loc[5, "score"] = np.nan
    rows = pd.concat(frames, ignore_index=True)
    pool = intervals.ResidualPool()
    for frame in frames[:4]:
        pool.add(frame)
    pool.add(pd.concat(frames[4:], ignore_index=True))  # one series at a time or many at once
    assert len(pool) == len(rows)
    for fold, origins in ((0, {"a": 56, "b": 41}), (1, {"a": 54, "b": 39, "c": 44}), (2, {"a": 52, "b": 37, "c": 42})):
        expected = intervals.calibration_set(rows, fold, origins)
        assert 0 < len(expected) < len(rows)
        got = pool.calibration_scores(fold, origins)
        for h in range(1, horizon + 1):
            want = expected.loc[expected["horizon_step"] == h, "score"].to_numpy()
            np.testing.assert_array_equal(np.sort(got[h]), np.sort(want))
        np.testing.assert_array_equal(intervals.step_quantiles(got, horizon, 0.9)[0],
                                      intervals.half_widths(expected, horizon, 0.9)[0])
    assert sum(a.nbytes for a in pool._arrays()) == 20 * len(rows)


def test_intervals_from_a_pool_equal_those_from_rows():
    horizon, level, series, validation, forecasts = _two_folds()
    from_rows, widths_rows = intervals.attach_intervals(forecasts, validation, series, 1, level, horizon)
    pool = intervals.ResidualPool()
    pool.add(validation)
    from_pool, widths_pool = intervals.attach_intervals(forecasts, pool, series, 1, level, horizon)
    pd.testing.assert_frame_equal(from_rows, from_pool)
    for fold in (0, 1):
        np.testing.assert_array_equal(widths_rows[fold][0], widths_pool[fold][0])
        np.testing.assert_array_equal(widths_rows[fold][1], widths_pool[fold][1])
