"""Serving: a forecast from a raw history equals the flow's panel path; histories are checked as files are."""

from __future__ import annotations

import json
import time

import numpy as np
import pandas as pd
import pytest

from tasks.errors import InputError
from tasks.forecasting import panel, preprocessing, serving

HORIZON, LOOKBACK = 4, 8


def _config(multi_step="direct", level=0.9, preprocess=None, ensemble=1):
    return {"window": {"lookback": LOOKBACK, "horizon": HORIZON, "stride": 1},
            "split": {"validation": 0.15}, "evaluate": {"interval_level": level},
            "preprocess": preprocess or {"deseasonalise": "off", "log": False, "level": "off"},
            "model": {"strategy": multi_step, "ensemble": ensemble}}


def _bundle(multi_step="direct", q=(1.0, 1.5, 2.0, 2.5), preprocess=None, ensemble=1, season_length=12):
    return serving.make_bundle(_config(multi_step, preprocess=preprocess, ensemble=ensemble), "gru", "monthly",
                               season_length, np.array(q), np.array([9, 9, 9, 9]), parent_run_id="p")


def _predict(target_steps, tilt=1.0):
    """A deterministic stand-in network: the window's last value plus a slope per step (times ``tilt``)."""
    def predict(x):
        last, slope = x[:, -1, 0], tilt * (x[:, -1, 0] - x[:, -2, 0])
        return np.stack([last + (k + 1) * slope for k in range(target_steps)], axis=1)[..., None]
    return predict


def _milk_like(n=60):
    t = np.arange(n)
    return 600 + 2.0 * t + 60 * np.sin(2 * np.pi * t / 12) + np.random.default_rng(0).normal(0, 5, n)


PREPROCESS = [
    {"deseasonalise": "off", "log": False, "level": "off"},
    {"deseasonalise": "classical", "log": True, "level": "last"},
    {"deseasonalise": "classical", "log": True, "level": "seasonal"},
]


@pytest.mark.parametrize("preprocess", PREPROCESS, ids=["zscore", "deseason-log-last", "deseason-log-seasonal"])
@pytest.mark.parametrize("multi_step", ["direct", "recursive"])
def test_a_forecast_from_the_history_equals_the_panel_path_bit_for_bit(multi_step, preprocess):
    """The served path (transform_state + forecast_series) against the flow's (build_panel_windows +
    forecast_rows), with preprocessing and an ensemble of three members combined by the median."""
    lookback = 12 if preprocess["level"] == "seasonal" else LOOKBACK
    cfg = _config(multi_step, preprocess=preprocess, ensemble=3)
    cfg["window"]["lookback"] = lookback
    bundle = serving.make_bundle(cfg, "gru", "monthly", 12, np.ones(HORIZON), np.full(HORIZON, 9))
    values = _milk_like(72)
    target = bundle["target_steps"]
    spec = serving.transform_spec(bundle)
    table = panel.build_panel_windows({"a": values}, lookback, HORIZON, target, 1, 0.15, spec=spec)
    rows = table.rows(0, "test")
    members = [_predict(target, tilt) for tilt in (0.5, 1.0, 1.5)]
    flow = panel.forecast_rows(table, rows, members, HORIZON)
    origin = int(table.origin[rows[0]])
    history = values[:origin]
    state = serving.transform_state(history, bundle)
    assert state == table.transform(int(rows[0])).to_dict()
    assert json.loads(json.dumps(state)) == state
    served = serving.forecast_series(history, state, members, bundle)
    np.testing.assert_array_equal(served, flow)
    np.testing.assert_array_equal(served[0], preprocessing.forecast_history(
        history, members, preprocessing.SeriesTransform.from_dict(state), lookback, HORIZON))


def test_a_bundle_logged_before_the_strict_season_decision_keeps_m4s_test():
    """A bundle without ``season_rule`` was fitted by M4's test alone: served today it keeps that rule, so an
    old model still divides a slow cycle by the factors it was trained behind; a new bundle refuses them."""
    t = np.arange(200)
    values = 100 + 10 * np.sin(2 * np.pi * t / 132) + np.random.default_rng(0).normal(0, 2, t.size)
    new = _bundle(preprocess=PREPROCESS[1])
    old = {key: value for key, value in new.items() if key != "season_rule"}
    assert new["season_rule"] == "strict"
    assert serving.transform_state(values, new)["factors"] == []
    assert len(serving.transform_state(values, old)["factors"]) == 12


def test_the_bundle_is_json_and_says_what_the_model_needs():
    bundle = _bundle(preprocess=PREPROCESS[1], ensemble=3)
    assert json.loads(json.dumps(bundle)) == bundle
    assert bundle["format"] == "seqflow-forecaster/2" and bundle["interval"]["half_widths"] == [1.0, 1.5, 2.0, 2.5]
    assert bundle["preprocess"] == PREPROCESS[1] and bundle["ensemble"] == 3 and bundle["season_length"] == 12
    n = panel.min_series_length(LOOKBACK, HORIZON, HORIZON, 1, 0.15)
    assert bundle["min_history"] == n - HORIZON
    serving.transform_state(np.arange(1, bundle["min_history"] + 1, dtype=float), bundle)  # long enough
    with pytest.raises(ValueError):
        serving.transform_state(np.arange(1, bundle["min_history"], dtype=float), bundle)


def test_a_history_that_does_not_fit_the_log_is_an_input_error():
    bundle = _bundle(preprocess=PREPROCESS[1])
    history = _history().assign(value=lambda h: h["value"].where(h.index != 3, -1.0))
    with pytest.raises(InputError) as info:
        serving.forecast_frame(history, bundle, _predict(HORIZON))
    assert "series 'a'" in str(info.value) and "positive values" in str(info.value)


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


def _calendar_predict(tilt):
    """A stand-in direct network with covariates: the last input value plus ``tilt`` times each future step's sine."""
    def predict(x):
        assert x.shape[1:] == (LOOKBACK + HORIZON, 3), x.shape
        return (x[:, LOOKBACK - 1 : LOOKBACK, :1] + tilt * x[:, LOOKBACK:, 1:2]).astype(np.float32)
    return predict


@pytest.mark.parametrize("preprocess", PREPROCESS[:2], ids=["zscore", "deseason-log-last"])
def test_with_calendar_covariates_the_served_forecast_is_the_panel_paths_bit_for_bit(preprocess):
    """preprocess.calendar = auto (monthly: month_of_year): the flow's panel rows and the served frame, whose
    future months come from the calendar continued past the history, give the same forecast and residuals."""
    cfg = _config(preprocess={**preprocess, "calendar": "auto"}, ensemble=3)
    bundle = serving.make_bundle(cfg, "gru", "monthly", 12, np.ones(HORIZON), np.full(HORIZON, 9))
    assert bundle["calendar"] == ["month_of_year"] and bundle["preprocess"] == preprocess
    values = _milk_like(72)
    stamps = pd.date_range("2015-03-01", periods=72, freq="MS")
    table = panel.build_panel_windows({"a": values}, LOOKBACK, HORIZON, HORIZON, 1, 0.15,
                                      spec=serving.transform_spec(bundle), stamps={"a": stamps.to_numpy()},
                                      calendar_features=tuple(bundle["calendar"]))
    rows = table.rows(0, "test")
    members = [_calendar_predict(tilt) for tilt in (0.5, 1.0, 1.5)]
    flow = panel.forecast_rows(table, rows, members, HORIZON)
    origin = int(table.origin[rows[0]])
    history = pd.DataFrame({"series_id": "a", "timestamp": stamps[:origin], "value": values[:origin]})
    served = serving.forecast_frame(history, bundle, members)
    np.testing.assert_array_equal(served["yhat"].to_numpy(), flow[0])
    assert pd.DatetimeIndex(served["timestamp"]).equals(pd.DatetimeIndex(stamps[origin:]).astype("datetime64[s]"))
    state = preprocessing.SeriesTransform.from_dict(serving.transform_state(values[:origin], bundle))
    cal = table.calendar[rows[0]]
    np.testing.assert_array_equal(preprocessing.forecast_history(values[:origin], members, state, LOOKBACK, HORIZON,
                                                                 calendar=cal), flow[0])
    # the calendar matters: the same history a month later in the year forecasts differently
    shifted = history.assign(timestamp=pd.date_range("2015-04-01", periods=origin, freq="MS"))
    assert not np.allclose(serving.forecast_frame(shifted, bundle, members)["yhat"], flow[0])
    residuals = serving.validation_residuals("a", values, origin, 0, members, bundle, 12, stamps=stamps.to_numpy())
    assert len(residuals) > 0 and np.isfinite(residuals["score"].to_numpy(dtype=float)).all()
    with pytest.raises(ValueError, match="needs the timestamps"):
        serving.forecast_series(values[:origin], state, members, bundle)


def test_a_bundle_without_a_calendar_key_has_no_covariates():
    bundle = _bundle()
    old = {k: v for k, v in bundle.items() if k != "calendar"}
    np.testing.assert_array_equal(serving.forecast_frame(_history(), old, _predict(HORIZON))["yhat"],
                                  serving.forecast_frame(_history(), bundle, _predict(HORIZON))["yhat"])


@pytest.mark.parametrize(
    ("history", "message"),
    [
        (_history(n=1), "input, row 1, column 'value': series 'a' has 1 value (rows 1-1); this model needs at least 16"),
        (_history(n=3), "series 'a' has 3 values (rows 1-3); this model needs at least 16"),
        (pd.concat([_history(n=20), _history(n=1, sid="b")], ignore_index=True), "series 'b' has 1 value (rows 21-21)"),
    ],
    ids=["one-row", "three-rows", "one-short-series"],
)
def test_a_short_history_over_http_says_what_the_caller_must_send(history, message):
    """An HTTP caller cannot pass Python arguments: the refusal says which rows and columns to send."""
    with pytest.raises(InputError) as info:
        serving.forecast_frame(history, _bundle(), _predict(HORIZON))
    text = str(info.value)
    assert message in text
    assert "send at least 16 consecutive monthly rows per series, as columns series_id, timestamp, value" in text
    assert "frequency=" not in text and "\n" not in text


def test_a_history_of_irregular_steps_names_the_models_frequency_not_an_argument():
    history = _history(n=30).assign(timestamp=pd.date_range("2020-01-01", periods=30, freq="3D"))
    with pytest.raises(InputError) as info:
        serving.forecast_frame(history, _bundle(), _predict(HORIZON))
    text = str(info.value)
    assert "input, row 2, column 'timestamp'" in text and "cannot infer the frequency" in text
    assert "this model forecasts monthly series: send one row per month" in text
    assert "frequency=" not in text


@pytest.mark.parametrize("preprocess", PREPROCESS[:2], ids=["zscore", "deseason-log-last"])
def test_a_request_of_many_series_calls_each_member_once_and_equals_the_per_series_forecast(preprocess):
    # One network call per member per request, not per series: a 10 MB request of a few thousand series
    # ran past MLflow's 60 s request timeout when every series was its own call.
    bundle = _bundle(preprocess=preprocess, ensemble=2)
    histories = [_history(40 + k, "2019-01-01", "MS", f"s{k:02d}") for k in range(25)]
    for k, h in enumerate(histories):
        h["value"] = h["value"] + 10.0 * k
    calls = []
    members = [_predict(HORIZON, tilt) for tilt in (0.5, 1.5)]
    counted = [lambda x, p=p: (calls.append(len(x)), p(x))[1] for p in members]
    out = serving.forecast_frame(pd.concat(histories, ignore_index=True), bundle, counted)
    assert calls == [25, 25]
    for h in histories:
        values = h["value"].to_numpy(dtype=np.float64)
        one = serving.forecast_series(values, serving.transform_state(values, bundle), members, bundle)[0]
        got = out[out.series_id == h["series_id"].iloc[0]]["yhat"].to_numpy()
        assert got.tobytes() == one.tobytes()


def test_a_request_that_would_outlast_the_servers_timeout_stops_and_says_how_many_series_to_send():
    # The served model is given a deadline before MLflow's request timeout: past it, the work stops
    # (the core is freed) and the caller learns how many series fit, instead of a bare 504 while the
    # forecast runs on for minutes.
    bundle = _bundle()
    history = pd.concat([_history(40, "2019-01-01", "MS", f"s{k}") for k in range(6)], ignore_index=True)
    with pytest.raises(serving.OutOfTime) as caught:
        serving.forecast_frame(history, bundle, _predict(HORIZON), deadline=time.monotonic() - 1, limit_seconds=60)
    message = str(caught.value)
    assert message.startswith("input: the request's 6 series cannot be forecast within this server's 60 s request "
                              "timeout: 0 were ready after "), message
    assert "send fewer series per request" in message and "MLFLOW_SCORING_SERVER_REQUEST_TIMEOUT" in message
    # No deadline (seqflow predict, in-process): no limit.
    assert len(serving.forecast_frame(history, bundle, _predict(HORIZON))) == 6 * HORIZON
