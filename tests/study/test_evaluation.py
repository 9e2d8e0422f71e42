import keras
import numpy as np
import pytest

from tasks.study.baselines import autoregressive, naive, score_baselines, seasonal_naive
from tasks.study.evaluation import (
    forecast_points,
    generate,
    gradient_ratio,
    input_gradient_norms,
    mae,
    rmse,
)


def test_error_metrics():
    assert rmse([0, 0], [3, 4]) == pytest.approx(np.sqrt(12.5))
    assert mae([0, 0], [3, -4]) == pytest.approx(3.5)


def test_generate_feeds_forecasts_back_in():
    # A step that continues a straight line from the last two points must extend it exactly.
    def step(window):
        w = window[0]
        return (2 * w[-1] - w[-2])[None]

    seed = np.arange(5, dtype=float).reshape(-1, 1)
    out = generate(step, seed, 4)
    np.testing.assert_allclose(out[:, 0], [5, 6, 7, 8])


def test_generate_trims_multi_step_chunks():
    out = generate(lambda w: np.ones((3, 1)) * w[0, -1] + 1, np.zeros((2, 1)), 5)
    np.testing.assert_allclose(out[:, 0], [1, 1, 1, 2, 2])


def test_baselines_on_a_known_series():
    series = np.arange(30, dtype=float).reshape(-1, 1) * 2.0
    points = np.array([20, 25])
    np.testing.assert_allclose(naive(series, points)[:, 0], [38, 48])
    np.testing.assert_allclose(seasonal_naive(series, points, 7)[:, 0], [26, 36])
    with pytest.raises(ValueError, match="season_length=21 reaches before the series start for step 20"):
        seasonal_naive(series, points, 21)


def test_autoregressive_recovers_a_linear_recurrence():
    # x_t = 1.6 x_{t-1} - 0.8 x_{t-2} + noise: AutoReg(2) fitted on the start predicts the rest well.
    rng = np.random.default_rng(0)
    x = np.zeros(400)
    for t in range(2, 400):
        x[t] = 1.6 * x[t - 1] - 0.8 * x[t - 2] + rng.normal(scale=0.1)
    points = np.arange(300, 400)
    fc = autoregressive(x.reshape(-1, 1), points, train_end=300, lags=2)
    assert rmse(x[points], fc[:, 0]) < 0.12  # close to the noise floor 0.1
    scores = score_baselines(x.reshape(-1, 1), points, 300, season_length=10, ar_lags=2)
    assert set(scores) == {"naive", "seasonal_naive", "autoreg"}
    assert scores["autoreg"]["test_rmse"] < scores["naive"]["test_rmse"]


def test_forecast_points_are_the_step_after_each_input():
    assert forecast_points(np.array([0, 5]), 3).tolist() == [3, 8]


def test_input_gradient_norms_see_only_what_the_model_uses():
    # A model that reads only the last input step: every earlier step gets a zero gradient.
    inputs = keras.Input((4, 1))
    last = keras.layers.Lambda(lambda x: x[:, -1:, :])(inputs)
    model = keras.Model(inputs, keras.layers.Dense(1)(last))
    x = np.random.default_rng(0).normal(size=(8, 4, 1)).astype("float32")
    y = np.zeros((8, 1, 1), "float32")
    norms = input_gradient_norms(model, x, y, target="horizon")
    assert norms.shape == (4,)
    assert np.all(norms[:3] == 0) and norms[3] > 0
    assert gradient_ratio(norms) == 0.0


@pytest.mark.parametrize("target", ["horizon", "shifted"])
def test_a_model_that_repeats_its_last_input_scores_exactly_the_naive_baseline(target):
    """Pins the forecast points, the forecast step and the seed points together: an off-by-one in
    any of them would score this model far from naive."""
    from tasks.nets.windowing import build_window_table
    from tasks.study.evaluation import evaluate_cell

    rng = np.random.default_rng(3)
    values = np.cumsum(rng.normal(size=400)).reshape(-1, 1)  # a random walk: naive is its best guess
    lookback = 10
    table = build_window_table(values, lookback, 1, 1, target, 0.6, 0.2)
    inputs = keras.Input(shape=(lookback, 1))
    if target == "horizon":
        outputs = keras.layers.Lambda(lambda x: x[:, -1:, :])(inputs)  # (batch, 1, 1): the last input
    else:
        outputs = keras.layers.Lambda(lambda x: x)(inputs)  # step k forecasts k + 1 as the value at k
    model = keras.Model(inputs, outputs)
    ev = evaluate_cell(model, values, table, generate_steps=5, gradient_windows=8)

    points = forecast_points(table.start[table.split == "test"], lookback)
    expected = score_baselines(values, points, table.bounds.train_end, season_length=12, ar_lags=2)["naive"]
    assert ev.metrics["test_rmse"] == pytest.approx(expected["test_rmse"], rel=1e-6)
    assert ev.metrics["test_mae"] == pytest.approx(expected["test_mae"], rel=1e-6)
    np.testing.assert_allclose(ev.forecast, naive(values, ev.points), rtol=1e-5)
    # Generation from the seed (the lookback steps before the test part) repeats the seed's last value.
    np.testing.assert_array_equal(ev.seed_points, np.arange(table.bounds.validation_end - lookback, table.bounds.validation_end))
    np.testing.assert_allclose(ev.generated[:, 0], values[table.bounds.validation_end - 1, 0], rtol=1e-5)
