"""Baselines every forecaster is scored beside, on the very same test points.

All three are one-step-ahead, like the models' headline metric: each forecast for step ``t`` uses
the true values before ``t`` only.
"""

from __future__ import annotations

import warnings

import numpy as np
from statsmodels.tools.sm_exceptions import SingularMatrixWarning
from statsmodels.tsa.ar_model import AutoReg


def naive(series: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Forecast each step in ``points`` as the step before it; ``series`` is ``(time, n_features)``."""
    return series[points - 1]


def seasonal_naive(series: np.ndarray, points: np.ndarray, season_length: int) -> np.ndarray:
    """Forecast each step as the value one season earlier.

    Args:
        series: ``(time, n_features)`` values.
        points: ``(n_points,)`` series indices to forecast.
        season_length: steps per season.

    Raises:
        ValueError: a point has no value one season back.
    """
    if season_length <= 0:
        raise ValueError(f"season_length={season_length}: must be > 0")
    if np.min(points) - season_length < 0:
        raise ValueError(
            f"season_length={season_length} reaches before the series start for step {int(np.min(points))}"
        )
    return series[points - season_length]


def autoregressive(series: np.ndarray, points: np.ndarray, train_end: int, lags: int) -> np.ndarray:
    """statsmodels ``AutoReg(lags)`` fitted on ``series[:train_end]``, then one step ahead per point.

    The coefficients are fitted once on the training part only; each forecast then plugs in the
    true previous ``lags`` values, as the models' one-step forecasts do.
    """
    out = np.empty((len(points), series.shape[1]))
    for feature in range(series.shape[1]):
        values = series[:, feature]
        with warnings.catch_warnings():
            # A clean sine makes lagged columns collinear; the least-squares fit is still usable.
            warnings.simplefilter("ignore", SingularMatrixWarning)
            fitted = AutoReg(values[:train_end], lags=lags, trend="c").fit()
        const, coefs = fitted.params[0], fitted.params[1:]  # coefs[j] multiplies lag j + 1
        lagged = np.stack([values[points - (j + 1)] for j in range(lags)], axis=1)  # (n_points, lags)
        out[:, feature] = const + lagged @ coefs
    return out


def score_baselines(
    values: np.ndarray, points: np.ndarray, train_end: int, season_length: int, ar_lags: int
) -> dict[str, dict[str, float]]:
    """RMSE and MAE of every baseline on the given one-step test points of ``(time, n_features)`` values."""
    truth = values[points]
    forecasts = {
        "naive": naive(values, points),
        "seasonal_naive": seasonal_naive(values, points, season_length),
        "autoreg": autoregressive(values, points, train_end, ar_lags),
    }
    return {
        name: {
            "test_rmse": float(np.sqrt(np.mean((truth - fc) ** 2))),
            "test_mae": float(np.mean(np.abs(truth - fc))),
        }
        for name, fc in forecasts.items()
    }
