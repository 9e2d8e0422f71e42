"""A served auto forecaster applies the choice: on each series' history it forecasts what the flow's auto did.

The candidates here are the statistical forecasters only (no Keras: fast); the networks' part of
the served model goes through the served-network path that tests/forecasting/test_serving.py checks,
and the end-to-end test (tests/flows/test_auto_recipe.py) runs both together.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest

from tasks.errors import InputError
from tasks.forecasting import backtest, choice, served_choice, statistical

H, M = 6, 12
NAMES = ("seasonal_naive", "naive2", "holt_winters_damped", "theta")


def _values(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return 200 + (0.3 + seed / 10) * t + 20 * np.sin(2 * np.pi * t / M) + rng.normal(0, 3 + seed, n)


@pytest.fixture(scope="module")
def panel():
    """Two monthly series, every candidate backtested at 1 held-out and 2 inner origins."""
    rows = []
    for k, (sid, n) in enumerate((("a", 60), ("b", 54))):
        rows.append(pd.DataFrame({"series_id": sid, "timestamp": pd.date_range("2010-01-01", periods=n, freq="MS"),
                                  "value": _values(n, k)}))
    frame = pd.concat(rows, ignore_index=True)
    fitters = statistical.baseline_forecasters(M)
    found = backtest.run_backtest(frame, {n: fitters[n] for n in NAMES}, H, M, folds=3)
    return frame, found.forecasts


def _chosen(panel, rule, monkeypatch):
    frame, forecasts = panel
    monkeypatch.setattr(choice, "RULES", (rule,))  # this rule is the one chosen
    chosen = choice.choose(forecasts, backtest.series_arrays(frame), NAMES, (), 1, 2, H, M, 0.9)
    assert chosen.rules[0] == rule
    plan = choice.served_plan(chosen)
    config = {"window": {"horizon": H, "lookback": 12}, "split": {"validation": 0.2},
              "evaluate": {"interval_level": 0.9}}
    bundle = served_choice.make_bundle(config, plan, {}, "monthly", M, chosen.half_widths[0],
                                       chosen.n_calibration[0])
    flow = chosen.forecasts.sort_values(["series_id", "horizon_step"], ignore_index=True)
    history = frame[frame["timestamp"] < frame["series_id"].map(flow.groupby("series_id")["timestamp"].min())]
    return flow, history.reset_index(drop=True), bundle


@pytest.mark.parametrize("rule", choice.RULES)
def test_the_served_forecast_equals_the_flows_auto_forecast_bit_for_bit(panel, rule, monkeypatch):
    flow, history, bundle = _chosen(panel, rule, monkeypatch)
    served = served_choice.forecast_frame(history, bundle, [])
    assert served["series_id"].tolist() == flow["series_id"].tolist()
    assert pd.DatetimeIndex(served["timestamp"]).equals(pd.DatetimeIndex(flow["timestamp"]))
    for column in ("yhat", "lower", "upper"):
        want = flow[column].to_numpy(np.float64)
        assert np.isfinite(want).all()
        assert served[column].to_numpy(np.float64).tobytes() == want.tobytes(), column
    assert (served["lower"] < served["yhat"]).all() and (served["yhat"] < served["upper"]).all()
    kind = rule.removeprefix("shared_")
    for plan in bundle["choice"]["series"].values():
        assert len(plan["members"]) == (1 if kind == "best" else 3)
        assert plan["weights"][0] > 0 and sum(plan["weights"]) == pytest.approx(1.0)


@pytest.mark.parametrize("rule", ["weighted_top3", "shared_median_top3", "shared_weighted_top3"])
def test_a_new_series_is_forecast_with_the_shared_ranking_and_the_log_says_so(panel, rule, monkeypatch, caplog):
    flow, history, bundle = _chosen(panel, rule, monkeypatch)
    fallback = bundle["choice"]["new_series"]
    assert fallback["ranking"] == "shared" and set(fallback["members"]) <= set(NAMES)
    renamed = history[history["series_id"] == "a"].assign(series_id="zeta")
    with caplog.at_level(logging.WARNING, logger=served_choice.__name__):
        served = served_choice.forecast_frame(renamed, bundle, [])
    assert "1 series not seen in training (zeta): forecast with the shared ranking's" in caplog.text
    fitters = statistical.baseline_forecasters(M)
    values = renamed["value"].to_numpy(np.float64)
    members = np.stack([fitters[n](values, H) for n in fallback["members"]])
    expected = choice.combine(rule.removeprefix("shared_"), members, np.asarray(fallback["weights"]))
    assert served["yhat"].to_numpy().tobytes() == expected.tobytes()
    if rule.startswith("shared_"):  # every series has the shared members: a new one gets what "a" got
        assert served["yhat"].to_numpy().tobytes() == flow[flow["series_id"] == "a"]["yhat"].to_numpy().tobytes()


def test_without_a_shared_ranking_a_new_series_is_refused_by_name(panel, monkeypatch):
    _, history, bundle = _chosen(panel, "best", monkeypatch)
    bundle = {**bundle, "choice": {**bundle["choice"], "new_series": None}}
    with pytest.raises(InputError, match="series 'zeta' was not in the run this model was chosen on"):
        served_choice.forecast_frame(history[history["series_id"] == "a"].assign(series_id="zeta"), bundle, [])
