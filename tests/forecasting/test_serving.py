"""Serving: a forecast from a raw history equals the flow's panel path; histories are checked as files are."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from tasks.errors import InputError
from tasks.forecasting import panel, serving

HORIZON, LOOKBACK = 4, 8


def _config(multi_step="direct", level=0.9):
    return {"window": {"lookback": LOOKBACK, "horizon": HORIZON, "stride": 1, "multi_step": multi_step},
            "split": {"validation": 0.15}, "evaluate": {"interval_level": level}}


def _bundle(multi_step="direct", q=(1.0, 1.5, 2.0, 2.5)):
    return serving.make_bundle(_config(multi_step), "gru", "monthly", 12, np.array(q), np.array([9, 9, 9, 9]),
                               parent_run_id="p")


def _predict(target_steps):
    """A deterministic stand-in network: the window's last value plus a slope per step."""
    def predict(x):
        last, slope = x[:, -1, 0], x[:, -1, 0] - x[:, -2, 0]
        return np.stack([last + (k + 1) * slope for k in range(target_steps)], axis=1)[..., None]
    return predict


def _milk_like(n=60):
    t = np.arange(n)
    return 600 + 2.0 * t + 60 * np.sin(2 * np.pi * t / 12) + np.random.default_rng(0).normal(0, 5, n)


@pytest.mark.parametrize("multi_step", ["direct", "recursive"])
def test_a_forecast_from_the_history_equals_the_panel_path_bit_for_bit(multi_step):
    bundle = _bundle(multi_step)
    values = _milk_like()
    target = bundle["target_steps"]
    plan = panel.holdout_plan(values.size, LOOKBACK, HORIZON, target, 1, 0.15)[0]
    cols, mean, std = panel.series_windows(values, plan, LOOKBACK, target, 1)
    flow = panel.forecast_scaled(_predict(target), cols["x"][-1:], HORIZON) * std + mean
    history = values[: plan.origin]
    state = serving.transform_state(history, bundle)
    assert state == {"mean": mean, "std": std}
    np.testing.assert_array_equal(serving.forecast_series(history, state, _predict(target), bundle), flow)


def test_the_bundle_is_json_and_says_what_the_model_needs():
    bundle = _bundle()
    assert json.loads(json.dumps(bundle)) == bundle
    assert bundle["format"] == "seqflow-forecaster/1" and bundle["interval"]["half_widths"] == [1.0, 1.5, 2.0, 2.5]
    n = panel.min_series_length(LOOKBACK, HORIZON, HORIZON, 1, 0.15)
    assert bundle["min_history"] == n - HORIZON
    serving.transform_state(np.arange(bundle["min_history"], dtype=float), bundle)  # long enough
    with pytest.raises(ValueError):
        serving.transform_state(np.arange(bundle["min_history"] - 1, dtype=float), bundle)


def _history(n=40, start="2020-01-01", freq="MS", sid="a"):
    return pd.DataFrame({"series_id": sid, "timestamp": pd.date_range(start, periods=n, freq=freq),
                         "value": _milk_like(n)})


def test_forecast_frame_continues_the_calendar_with_intervals_around_the_forecast():
    bundle = _bundle()
    history = pd.concat([_history(), _history(30, "2019-01-31", "ME", "b")], ignore_index=True)
    out = serving.forecast_frame(history.sample(frac=1, random_state=0), bundle, _predict(HORIZON))
    assert list(out.columns) == ["series_id", "timestamp", "yhat", "lower", "upper"]
    a, b = out[out.series_id == "a"], out[out.series_id == "b"]
    assert pd.DatetimeIndex(a.timestamp).strftime("%Y-%m-%d").tolist() == ["2023-05-01", "2023-06-01", "2023-07-01",
                                                                           "2023-08-01"]
    assert pd.DatetimeIndex(b.timestamp).strftime("%Y-%m-%d").tolist()[:2] == ["2021-07-31", "2021-08-31"]
    values = _history()["value"].to_numpy()
    scale = np.mean(np.abs(values[12:] - values[:-12]))
    np.testing.assert_allclose(a.upper - a.yhat, np.array([1.0, 1.5, 2.0, 2.5]) * scale)
    np.testing.assert_allclose(a.yhat - a.lower, a.upper - a.yhat)
    # text cells (as a JSON request or a CSV brings them) give the same forecast
    text = _history().astype(str)
    pd.testing.assert_frame_equal(serving.forecast_frame(text, bundle, _predict(HORIZON)), a.reset_index(drop=True))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda h: h.drop(columns="value"),
         "input: missing column 'value'; the history has 'series_id', 'timestamp'; expected series_id"),
        (lambda h: h.assign(value=h["value"].astype(str).where(h.index != 4, "n/a!")),
         "input, row 5, column 'value': 'n/a!': not a number"),
        (lambda h: h.drop(index=10), "input, row 11, column 'timestamp': '2020-12-01': gap in the calendar"),
        (lambda h: h.head(12), "input, row 1, column 'value': series 'a' has 12 values (rows 1-12); this model needs "
                               "at least 16 (lookback 8, horizon 4, validation 0.15"),
        (lambda h: h.assign(timestamp=pd.date_range("2020-01-01", periods=40, freq="D")),
         "input, column 'timestamp': the history is daily; this model was trained on monthly series"),
        (lambda h: h.assign(value=h["value"].where(h.index != 7, np.nan)),
         "input, row 8, column 'value': missing value"),
        (lambda h: h.assign(timestamp=h["timestamp"].astype(str).where(h.index != 2, "soon")),
         "input, row 3, column 'timestamp': 'soon': not a date"),
    ],
)
def test_a_bad_history_is_one_line_naming_row_column_and_rule(change, message):
    with pytest.raises(InputError) as info:
        serving.forecast_frame(change(_history()), _bundle(), _predict(HORIZON))
    assert message in str(info.value)
    assert "\n" not in str(info.value)
