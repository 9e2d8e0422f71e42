"""Calendar covariates: cyclic encodings, the panel's and the served model's calendar, the model that reads them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tasks.forecasting import calendar, panel, preprocessing, serving


def _points(stamps, feature):
    """``(time, 2)`` the (sin, cos) of one feature."""
    return calendar.encode(pd.DatetimeIndex(stamps), (feature,)).astype(np.float64)


def _gap(a, b):
    return float(np.linalg.norm(a - b))


def test_december_and_january_are_neighbours_on_the_circle():
    months = _points(pd.date_range("2019-01-01", periods=12, freq="MS"), "month_of_year")
    np.testing.assert_allclose(np.linalg.norm(months, axis=1), 1.0, rtol=1e-6)  # on the unit circle
    steps = [_gap(months[k], months[(k + 1) % 12]) for k in range(12)]
    np.testing.assert_allclose(steps, steps[0], rtol=1e-5)  # Dec → Jan is one step, like Jan → Feb
    assert _gap(months[11], months[0]) < _gap(months[5], months[0]) / 3  # and far closer than June is
    np.testing.assert_allclose(months[0], [0.0, 1.0], atol=1e-7)  # January at angle 0


@pytest.mark.parametrize(
    ("feature", "stamps", "period"),
    [
        ("hour_of_day", pd.date_range("2020-03-01 00:00", periods=48, freq="h"), 24),
        ("day_of_week", pd.date_range("2020-03-02", periods=14, freq="D"), 7),  # a Monday first
    ],
)
def test_hours_and_weekdays_repeat_with_their_period_and_wrap_round(feature, stamps, period):
    points = _points(stamps, feature)
    np.testing.assert_allclose(points[:period], points[period : 2 * period], atol=1e-6)
    assert _gap(points[period - 1], points[0]) == pytest.approx(_gap(points[0], points[1]), rel=1e-5)
    np.testing.assert_allclose(points[0], [0.0, 1.0], atol=1e-7)  # midnight, Monday at angle 0


def test_week_of_year_is_the_place_in_the_year_without_a_week_53_jump():
    weeks = _points(pd.date_range("2019-12-01", periods=10, freq="W-SUN"), "week_of_year")
    gaps = [_gap(weeks[k], weeks[k + 1]) for k in range(9)]
    np.testing.assert_allclose(gaps, 2 * np.sin(np.pi * 7 / 365), rtol=0.01)  # about one 52.18th of the circle
    first = _points(pd.DatetimeIndex(["2020-12-31", "2021-01-01"]), "week_of_year")
    assert _gap(first[0], first[1]) < 0.02  # New Year's Eve next to New Year's Day, leap year or not


def test_the_future_continues_the_calendar_across_a_year_boundary():
    """The served model's future steps (future_timestamps after the history) get the months that follow."""
    history = pd.Series(pd.date_range("2017-01-01", "2019-10-01", freq="MS"))
    future = serving.future_timestamps(history, 5, "monthly")
    months = calendar.encode(future, ("month_of_year",))
    expected = pd.DatetimeIndex(["2019-11-01", "2019-12-01", "2020-01-01", "2020-02-01", "2020-03-01"])
    np.testing.assert_array_equal(months, calendar.encode(expected, ("month_of_year",)))
    angles = np.arctan2(months[:, 0], months[:, 1]) % (2 * np.pi)
    np.testing.assert_allclose(angles, 2 * np.pi * np.array([10, 11, 0, 1, 2]) / 12, atol=1e-6)


def test_a_panel_test_row_reads_the_calendar_of_its_horizon_but_never_its_values():
    stamps = pd.date_range("2014-01-01", periods=60, freq="MS")
    values = 100 + np.arange(60.0)
    table = panel.build_panel_windows({"a": values}, 12, 6, 6, 1, 0.15, stamps={"a": stamps.to_numpy()},
                                      calendar_features=("month_of_year",))
    row = int(table.rows(0, "test")[0])
    origin = int(table.origin[row])
    assert origin == 54 and table.calendar.shape == (len(table.x), 18, 2)
    np.testing.assert_array_equal(table.calendar[row], calendar.encode(stamps[origin - 12 : origin + 6],
                                                                      ("month_of_year",)))
    assert table.calendar_features == ("month_of_year",)
    again = panel.PanelWindows.from_arrays(*table.to_arrays())  # survives storage
    np.testing.assert_array_equal(again.calendar, table.calendar)
    plain = panel.build_panel_windows({"a": values}, 12, 6, 6, 1, 0.15)
    assert plain.calendar is None and plain.calendar_features == () and "calendar" not in plain.to_arrays()[0]


def test_auto_picks_the_cycles_of_the_frequency_and_a_list_is_checked():
    assert calendar.resolve("auto", "monthly") == ("month_of_year",)
    assert calendar.resolve("auto", "weekly") == ("week_of_year",)
    assert calendar.resolve("auto", "daily") == ("day_of_week", "month_of_year")
    assert calendar.resolve("auto", "hourly") == ("hour_of_day", "day_of_week")
    assert calendar.resolve("auto", "yearly") == () and calendar.resolve(None, "hourly") == ()
    assert calendar.resolve(["month_of_year", "hour_of_day"], "hourly") == ("hour_of_day", "month_of_year")
    with pytest.raises(ValueError, match="unknown feature 'moon'"):
        calendar.resolve(["moon"], "daily")


def test_with_calendar_extends_the_window_by_the_future_rows():
    x = np.arange(6, dtype=np.float32).reshape(2, 3, 1)
    cal = np.ones((2, 5, 2), dtype=np.float32)
    joined = preprocessing.with_calendar(x, cal)
    assert joined.shape == (2, 5, 3)
    np.testing.assert_array_equal(joined[:, :3, 0], x[..., 0])
    np.testing.assert_array_equal(joined[:, 3:, 0], 0.0)  # the future's value is unknown: 0
    np.testing.assert_array_equal(joined[..., 1:], cal)
    assert preprocessing.with_calendar(x, None) is x


def test_a_one_step_model_cannot_forecast_with_covariates():
    def one_step(inputs):
        return inputs[:, :1, :1]

    with pytest.raises(ValueError, match="covariates need model.strategy = 'direct'"):
        preprocessing.forecast_windows(one_step, np.zeros((1, 4)), 3, calendar=np.zeros((1, 7, 2)))


def test_the_direct_model_reads_the_calendar_of_the_steps_it_forecasts(tmp_path):
    import keras

    from tasks.forecasting.config import ModelConfig
    from tasks.nets.models import build_forecaster

    model = build_forecaster("gru", ModelConfig(units=4), 8, 3, "horizon", 4, n_targets=1, future_steps=4)
    assert model.input_shape == (None, 12, 3) and model.output_shape == (None, 4, 1)
    x = np.random.default_rng(0).normal(size=(2, 12, 3)).astype(np.float32)
    moved = x.copy()
    moved[:, 8:, 1:] += 1.0  # only the future rows' calendar changes
    assert not np.allclose(model(x), model(moved))
    ignored = x.copy()
    ignored[:, 8:, 0] = 5.0  # the future rows' value channel is never read
    np.testing.assert_allclose(model(x), model(ignored), rtol=1e-6)
    model.save(tmp_path / "m.keras")
    np.testing.assert_allclose(keras.saving.load_model(tmp_path / "m.keras", compile=False)(x), model(x), rtol=1e-6)
