"""Multi-step statistical baselines; Naive2 worked by hand on a small seasonal series."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from tasks.forecasting import seasonality
from tasks.forecasting import statistical as st

# Four seasons of m = 4: levels 8, 10, 12, 14 plus the pattern -6, 0, +6, 0.
SEASONAL = np.array([2, 8, 14, 8, 4, 10, 16, 10, 6, 12, 18, 12, 8, 14, 20, 14], dtype=float)


def test_naive_and_seasonal_naive():
    x = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    assert st.naive(x, 3).tolist() == [5.0, 5.0, 5.0]
    assert st.seasonal_naive(x, 5, 2).tolist() == [4.0, 5.0, 4.0, 5.0, 4.0]
    assert st.seasonal_naive(x, 2, 1).tolist() == [5.0, 5.0]
    assert st.seasonal_naive(x, 2, 12).tolist() == [5.0, 5.0]  # shorter than a season: naive


def test_autocorrelation_by_hand():
    # centred -1.5, -0.5, 0.5, 1.5; sum of squares 5; lag 1: 1.25; lag 2: -1.5
    np.testing.assert_allclose(seasonality.autocorrelation(np.array([1.0, 2.0, 3.0, 4.0]), 2), [0.25, -0.3])


def test_seasonality_test_follows_m4():
    acf = seasonality.autocorrelation(SEASONAL, 4)
    limit = 1.645 / np.sqrt(16) * np.sqrt(1 + 2 * np.sum(acf[:3] ** 2))
    assert abs(acf[3]) > limit and seasonality.seasonality_test(SEASONAL, 4)
    # Fewer than three seasons: never seasonal.
    assert not seasonality.seasonality_test(SEASONAL[:11], 4)
    # m beyond R's default acf lag limit floor(10 * log10(n)) = 23 for n = 208: NA, read as not seasonal.
    wave = 10 + np.sin(2 * np.pi * np.arange(208) / 52)
    assert not seasonality.seasonality_test(wave, 52)
    assert seasonality.seasonality_test(10 + np.sin(2 * np.pi * np.arange(208) / 12), 12)
    assert not seasonality.seasonality_test(np.full(40, 3.0), 4)  # constant: acf undefined


def test_multiplicative_indices_by_hand():
    # The 2x4 centred moving average of SEASONAL is the line 7.25 + 0.5 t (t = 2..13).
    trend = lambda t: 7.25 + 0.5 * t  # noqa: E731
    raw = np.array([
        np.mean([4 / trend(4), 6 / trend(8), 8 / trend(12)]),
        np.mean([10 / trend(5), 12 / trend(9), 14 / trend(13)]),
        np.mean([14 / trend(2), 16 / trend(6), 18 / trend(10)]),
        np.mean([8 / trend(3), 10 / trend(7), 12 / trend(11)]),
    ])
    np.testing.assert_allclose(seasonality.multiplicative_seasonal_indices(SEASONAL, 4), raw / raw.mean())


def test_naive2_by_hand():
    trend = lambda t: 7.25 + 0.5 * t  # noqa: E731
    raw = [
        np.mean([4 / trend(4), 6 / trend(8), 8 / trend(12)]),
        np.mean([10 / trend(5), 12 / trend(9), 14 / trend(13)]),
        np.mean([14 / trend(2), 16 / trend(6), 18 / trend(10)]),
        np.mean([8 / trend(3), 10 / trend(7), 12 / trend(11)]),
    ]
    # The last value (step 15, season position 3) deseasonalised, then reseasonalised at steps 16..21.
    level = 14 / raw[3]
    expected = [level * raw[j] for j in (0, 1, 2, 3, 0, 1)]
    np.testing.assert_allclose(st.naive2(SEASONAL, 6, 4), expected)
    np.testing.assert_allclose(st.naive2(SEASONAL, 6, 4), [7.887997, 15.404198, 23.758046, 14.0, 7.887997, 15.404198], rtol=1e-6)


def test_naive2_is_naive_without_seasonality():
    assert st.naive2(SEASONAL[:11], 3, 4).tolist() == [18.0, 18.0, 18.0]  # under three seasons
    assert st.naive2(SEASONAL, 3, 1).tolist() == [14.0, 14.0, 14.0]
    negative = SEASONAL - 5.0  # multiplicative indices mean nothing below zero
    assert st.naive2(negative, 2, 4).tolist() == [9.0, 9.0]


def test_holt_winters_continues_a_clean_trend_and_season():
    t = np.arange(96)
    series = 50 + 0.5 * t + 5 * np.sin(2 * np.pi * t / 12)
    future = 50 + 0.5 * np.arange(96, 108) + 5 * np.sin(2 * np.pi * np.arange(96, 108) / 12)
    np.testing.assert_allclose(st.holt_winters(series, 12, 12), future, atol=0.5)
    damped = st.holt_winters(series, 12, 12, damped_trend=True)
    assert damped.shape == (12,) and np.all(np.isfinite(damped))


def test_theta_on_a_line_and_clipped_at_zero():
    line = 10.0 + 2.0 * np.arange(30)
    fc = st.theta(line, 4, 1)
    # Theta line 2 of an exact line is the line itself; SES lags it, so the forecast sits below it.
    assert np.all(fc < 10.0 + 2.0 * np.arange(30, 34)) and np.all(np.diff(fc) > 0)
    assert st.theta(np.full(10, 7.0), 3, 1).tolist() == pytest.approx([7.0, 7.0, 7.0])
    falling = 100.0 - 10.0 * np.arange(10)
    assert st.theta(falling, 20, 1)[-1] == 0.0


def test_every_baseline_forecasts_the_horizon_and_pickles():
    forecasters = st.baseline_forecasters(4)
    assert set(forecasters) == {"naive", "seasonal_naive", "naive2", "holt_winters", "holt_winters_damped", "theta"}
    for name, fit_predict in pickle.loads(pickle.dumps(forecasters)).items():
        fc = fit_predict(SEASONAL, 5)
        assert fc.shape == (5,), name
        assert np.all(np.isfinite(fc)), name


def test_messages_name_the_argument():
    with pytest.raises(ValueError, match=r"^train has shape \(2, 2\); must be one series of shape \(time,\)$"):
        st.naive(np.ones((2, 2)), 1)
    with pytest.raises(ValueError, match=r"^horizon=0: must be >= 1$"):
        st.naive(np.ones(3), 0)
    with pytest.raises(ValueError, match=r"^season_length=0: must be >= 1$"):
        st.seasonal_naive(np.ones(3), 1, 0)
    with pytest.raises(ValueError, match=r"^train holds NaN or infinite values; every value must be finite$"):
        st.naive(np.array([1.0, np.nan]), 1)
    with pytest.raises(ValueError, match=r"^trend='exp': must be 'add', 'mul' or None$"):
        st.holt_winters(SEASONAL, 2, 4, trend="exp")
