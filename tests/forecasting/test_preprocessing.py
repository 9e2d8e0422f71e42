"""Series ↔ model space: round trips, the classical decomposition, level normalisation, the forecast path."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tasks.forecasting.panel import build_panel_windows, forecast_rows, holdout_plan
from tasks.forecasting.preprocessing import (
    SeriesTransform,
    TransformSpec,
    fit,
    forecast_history,
    forecast_windows,
    forward,
    inverse,
    level_normalise,
    median_forecast,
    multiplicative_seasonal_indices,
    train_part_end,
)
from tasks.forecasting.seasonality import seasonality_test

M = 12
TRUE_FACTORS = 1.0 + 0.3 * np.sin(2 * np.pi * np.arange(M) / M)  # mean exactly 1


def _seasonal(n: int, noise: float = 0.0, seed: int = 0) -> np.ndarray:
    """A multiplicative series: a rising trend times known monthly factors (times noise)."""
    t = np.arange(n)
    rng = np.random.default_rng(seed)
    return (100.0 + 0.5 * t) * TRUE_FACTORS[t % M] * np.exp(rng.normal(0, noise, n))


SPECS = [
    TransformSpec(),
    TransformSpec(level="seasonal", season_length=M),
    TransformSpec(log=True),
    TransformSpec(deseasonalise="classical", season_length=M),
    TransformSpec(log=True, deseasonalise="classical", season_length=M, level="last"),
]


@pytest.mark.parametrize("spec", SPECS, ids=["standardise", "seasonal-level", "log", "deseasonalise", "all"])
def test_forward_then_inverse_is_the_identity(spec):
    values = _seasonal(120, noise=0.02)
    state = spec.fit(values[:90])
    np.testing.assert_allclose(inverse(state, forward(state, values)), values, rtol=1e-12)
    # From any start position (the factors' phase follows the position).
    np.testing.assert_allclose(inverse(state, forward(state, values[37:], start=37), start=37), values[37:], rtol=1e-12)


def test_the_state_survives_json():
    state = TransformSpec(log=True, deseasonalise="classical", season_length=M, level="last").fit(_seasonal(96, 0.01))
    again = SeriesTransform.from_dict(json.loads(json.dumps(state.to_dict())))
    assert again == state and again.deseasonalised and len(again.factors) == M


def test_classical_factors_match_the_truth():
    values = _seasonal(144)
    np.testing.assert_allclose(multiplicative_seasonal_indices(values, M), TRUE_FACTORS, rtol=5e-3)
    state = fit(values, deseasonalise="classical", season_length=M)
    np.testing.assert_allclose(state.factors, TRUE_FACTORS, rtol=5e-3)


def test_factors_are_fitted_on_the_training_part_only():
    values = _seasonal(144, noise=0.05)
    train_end = 100
    state = fit(values[:train_end], deseasonalise="classical", season_length=M, log=True)
    poisoned = values.copy()
    poisoned[train_end:] = 1e6
    again = fit(poisoned[:train_end], deseasonalise="classical", season_length=M, log=True)
    assert again == state
    # And in the panel: rewriting every value from train_end on leaves the fold's transform as it was.
    spec = TransformSpec(log=True, deseasonalise="classical", season_length=M, level="last")
    plan = holdout_plan(144, 24, 12, 12, 1, 0.15)[0]
    a = build_panel_windows({"s": values}, 24, 12, 12, 1, 0.15, spec=spec)
    b = build_panel_windows({"s": np.r_[values[: plan.train_end], np.full(144 - plan.train_end, 5.0)]},
                            24, 12, 12, 1, 0.15, spec=spec)
    assert a.transform(0) == b.transform(0)


def test_a_non_seasonal_series_keeps_factor_one():
    rng = np.random.default_rng(1)
    state = fit(100 + rng.normal(0, 1, 120), deseasonalise="classical", season_length=M)
    assert state.factors == () and not state.deseasonalised


def test_a_slow_cycle_is_not_deseasonalised():
    """An 11-year cycle sampled monthly passes M4's test at m = 12 but has no 12-month pattern to divide out."""
    t = np.arange(216)
    for seed in (0, 1, 2):
        rng = np.random.default_rng(seed)
        values = 100 + 10 * np.sin(2 * np.pi * t / 132) + rng.normal(0, 2, t.size)
        assert seasonality_test(values, M)  # the old rule's false season
        state = fit(values, log=True, deseasonalise="classical", season_length=M)
        assert state.factors == () and not state.deseasonalised
        # The rule models logged before the strict decision are refitted by when served.
        assert fit(values, log=True, deseasonalise="classical", season_length=M, season_rule="m4").deseasonalised


def test_an_unknown_season_rule_is_named():
    with pytest.raises(ValueError, match=r"season_rule = 'stl': valid: strict, m4"):
        fit(np.arange(1.0, 50.0), deseasonalise="classical", season_length=M, season_rule="stl")


def test_log_refuses_a_non_positive_value_naming_the_key():
    with pytest.raises(ValueError, match=r"preprocess.log = true needs positive values"):
        fit(np.array([1.0, 0.0, 2.0]), log=True)


def test_level_normalisation_and_its_inverse():
    x = np.arange(12, dtype=np.float32).reshape(2, 6, 1)
    y = x[:, -2:] + 10
    xn, yn = level_normalise(x, y, "last")
    np.testing.assert_array_equal(xn[:, -1, 0], [0, 0])
    np.testing.assert_array_equal(xn + x[:, -1:], x)
    np.testing.assert_array_equal(yn + x[:, -1:], y)
    # A model that predicts "level-normalised value + 1" forecasts last + 1, last + 2, ... when fed back.
    plus_one = lambda w: w[:, -1:, :] + 1  # noqa: E731
    np.testing.assert_array_equal(forecast_windows(plus_one, x, 3, "last"), [[6, 7, 8], [12, 13, 14]])
    # A direct model that predicts zeros (no change) forecasts the last level.
    flat = lambda w: np.zeros((len(w), 3, 1), dtype=np.float32)  # noqa: E731
    np.testing.assert_array_equal(forecast_windows(flat, x, 3, "last"), [[5, 5, 5], [11, 11, 11]])


def test_seasonal_level_makes_zeros_the_seasonal_naive_forecast():
    x = np.array([[1, 2, 3, 4, 5, 6]], dtype=np.float32)[:, :, None]  # season of 4: [3, 4, 5, 6] is the last
    y = np.array([[7, 9, 9, 9, 7, 4]], dtype=np.float32)[:, :, None]
    xn, yn = level_normalise(x, y, "seasonal", 4)
    np.testing.assert_array_equal(xn[0, :, 0], [-5, -4, -3, -2, -1, 0])
    np.testing.assert_array_equal(yn[0, :, 0], [7 - 3, 9 - 4, 9 - 5, 9 - 6, 7 - 3, 4 - 4])
    zeros = lambda w: np.zeros((len(w), 6, 1), dtype=np.float32)  # noqa: E731
    np.testing.assert_array_equal(forecast_windows(zeros, x, 6, "seasonal", 4), [[3, 4, 5, 6, 3, 4]])
    one_step = lambda w: np.zeros((len(w), 1, 1), dtype=np.float32)  # noqa: E731
    np.testing.assert_array_equal(forecast_windows(one_step, x, 6, "seasonal", 4), [[3, 4, 5, 6, 3, 4]])
    with pytest.raises(ValueError, match="needs window.lookback >= the season length 12; it is 6"):
        level_normalise(x, y, "seasonal", 12)


def test_the_median_ensemble():
    a, b, c = np.array([1.0, 5.0]), np.array([2.0, 4.0]), np.array([9.0, 3.0])
    np.testing.assert_array_equal(median_forecast([a, b, c]), [2.0, 4.0])
    np.testing.assert_array_equal(median_forecast([a, b]), [1.5, 4.5])
    with pytest.raises(ValueError, match="at least one member"):
        median_forecast([])


@pytest.mark.parametrize("level", ["last", "seasonal"])
@pytest.mark.parametrize("steps", [12, 1], ids=["direct", "recursive"])
def test_forecast_history_is_the_flows_own_forecast(steps, level):
    """A served model calling forecast_history gets exactly what the flow's batched path scored."""
    series = {"a": _seasonal(150, 0.02, seed=1), "b": _seasonal(130, 0.02, seed=2) * 3}
    spec = TransformSpec(log=True, deseasonalise="classical", season_length=M, level=level)
    table = build_panel_windows(series, 24, 12, steps, 1, 0.15, folds=2, spec=spec)
    rng = np.random.default_rng(0)
    weights = [rng.normal(0, 0.1, (24, steps)).astype(np.float32) for _ in range(3)]
    predicts = [lambda w, k=k: np.einsum("bl,ls->bs", w[:, :, 0], k)[:, :, None] for k in weights]
    for fold in (0, 1):
        rows = table.rows(fold, "test")
        batched = forecast_rows(table, rows, predicts, 12)
        for i, row in enumerate(rows):
            sid, origin = str(table.series_id[row]), int(table.origin[row])
            one = forecast_history(series[sid][:origin], predicts, table.transform(int(row)), 24, 12)
            np.testing.assert_array_equal(one, batched[i])


def test_train_part_end_is_the_panels_rule():
    for n, lookback, horizon, validation in [(168, 24, 12, 0.15), (300, 36, 12, 0.08), (80, 8, 5, 0.3)]:
        assert holdout_plan(n, lookback, horizon, horizon, 1, validation)[0].train_end == train_part_end(
            n - horizon, horizon, validation)


def test_a_deseasonalised_forecast_of_a_clean_seasonal_series_is_close_to_the_truth():
    """End to end without a network: the ideal model of a deseasonalised, logged, levelled series."""
    values = _seasonal(168)
    origin = 156
    state = fit(values[: train_part_end(origin, 12, 0.15)], log=True, deseasonalise="classical", season_length=M,
                level="last")
    # Deseasonalised and logged, the series is a smooth trend: a model that extends the last step's
    # change is all it takes.
    def extend(w):
        slope = w[:, -1:, :] - w[:, -2:-1, :]
        return slope * np.arange(1, 13, dtype=np.float32)[None, :, None]

    yhat = forecast_history(values[:origin], extend, state, 24, 12)
    truth = values[origin:]
    assert np.max(np.abs(yhat - truth) / truth) < 0.02  # log-linear extension of a linear trend


@pytest.mark.slow
def test_a_small_gru_on_a_deseasonalised_clean_series_forecasts_close_to_the_truth():
    """Deterministic end to end with a real network: panel windows → GRU → forecast_history."""
    from tasks.config import load_config
    from tasks.forecasting.config import ForecastConfig
    from tasks.nets.training import train_cell

    values = _seasonal(168)
    cfg = load_config(ForecastConfig, None, [
        "source.kind=csv", "source.path=x.csv", "model.units=8", "train.epochs=60", "train.batch_size=16",
        "train.learning_rate=0.01", "train.progress=false"])
    spec = TransformSpec(log=True, deseasonalise="classical", season_length=M, level="seasonal")
    table = build_panel_windows({"s": values}, 24, 12, 12, 1, 0.15, spec=spec)
    (xt, yt), (xv, yv) = table.part(0, "train"), table.part(0, "validation")
    xt, yt = level_normalise(xt, yt, "seasonal", M)
    xv, yv = level_normalise(xv, yv, "seasonal", M)
    model, _ = train_cell("gru", xt, yt, xv, yv, cfg.model, cfg.train, 7, "horizon", 12)
    row = int(table.rows(0, "test")[0])
    yhat = forecast_history(values[:156], lambda w: np.asarray(model(w, training=False)), table.transform(row), 24, 12)
    assert np.max(np.abs(yhat - values[156:]) / values[156:]) < 0.03
