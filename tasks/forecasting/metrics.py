"""Forecast errors with the M4 competition's definitions, per series and aggregated as M4 does.

The definitions follow ``Benchmarks and Evaluation.R`` (github.com/Mcompetitions/M4-methods):

* sMAPE = mean over the horizon of ``200 * |y - yhat| / (|y| + |yhat|)``, on a 0–200 scale.
* MASE = mean ``|y - yhat|`` over the horizon, divided by the in-sample mean absolute error of the
  seasonal naive forecast with lag ``m`` (``mean |x[t] - x[t - m]|`` over the training part).
* OWA = ``(sMAPE / sMAPE_Naive2 + MASE / MASE_Naive2) / 2``, taken from the means over all series,
  not averaged per series.

Every series in an M4 frequency has the same horizon, so M4's mean over all (series, step) pairs
equals the mean over series of each series' mean, which is what :func:`summarize` computes.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

METRICS = ("mae", "rmse", "mape", "smape", "mase")


def _pair(y_true: np.ndarray, y_pred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    truth = np.asarray(y_true, dtype=np.float64).reshape(-1)
    forecast = np.asarray(y_pred, dtype=np.float64).reshape(-1)
    if truth.shape != forecast.shape:
        raise ValueError(f"y_true has {truth.size} values and y_pred {forecast.size}; they must match")
    if truth.size == 0:
        raise ValueError("y_true is empty; an error needs at least one forecast step")
    return truth, forecast


def mae(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Compute the mean absolute error.

    Args:
        y_true: ``(horizon,)`` actual values.
        y_pred: ``(horizon,)`` forecasts.
    """
    truth, forecast = _pair(y_true, y_pred)
    return float(np.mean(np.abs(truth - forecast)))


def rmse(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Compute the root mean squared error.

    Args:
        y_true: ``(horizon,)`` actual values.
        y_pred: ``(horizon,)`` forecasts.
    """
    truth, forecast = _pair(y_true, y_pred)
    return float(np.sqrt(np.mean((truth - forecast) ** 2)))


def mape(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Compute the mean absolute percentage error, in percent: ``100 * mean |y - yhat| / |y|``.

    An actual value of 0 makes it infinite (or NaN for a perfect forecast of 0); sMAPE and MASE
    are the metrics that stay defined there.

    Args:
        y_true: ``(horizon,)`` actual values.
        y_pred: ``(horizon,)`` forecasts.
    """
    truth, forecast = _pair(y_true, y_pred)
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(100.0 * np.mean(np.abs(truth - forecast) / np.abs(truth)))


def smape(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Compute the symmetric MAPE on M4's 0–200 scale: ``mean 200 * |y - yhat| / (|y| + |yhat|)``.

    A step where actual and forecast are both 0 counts as a perfect 0 (M4's formula gives 0/0
    there; no M4 series has a zero).

    Args:
        y_true: ``(horizon,)`` actual values.
        y_pred: ``(horizon,)`` forecasts.
    """
    truth, forecast = _pair(y_true, y_pred)
    denominator = np.abs(truth) + np.abs(forecast)
    error = 200.0 * np.abs(truth - forecast)
    terms = np.divide(error, denominator, out=np.zeros_like(error), where=denominator > 0)
    return float(np.mean(terms))


def seasonal_naive_scale(insample: np.ndarray, season_length: int) -> float:
    """Compute the MASE denominator: the in-sample mean absolute error of seasonal naive.

    ``mean |x[t] - x[t - m]|`` for ``t = m .. n - 1``. When the training part is not longer than
    one season there is no such error, and the lag falls back to ``m = 1`` (M4's own code has no
    such case: its shortest series are longer than their season).

    Args:
        insample: ``(time,)`` training values the forecast was fitted on.
        season_length: ``m``, the lag (M4: 24 hourly, 12 monthly, 4 quarterly, else 1).

    Returns:
        The scale; 0 for a series that repeats itself exactly (constant, or periodic with period
        ``m``): it has no scale, and :func:`mase` is then NaN.
    """
    x = np.asarray(insample, dtype=np.float64).reshape(-1)
    if season_length < 1:
        raise ValueError(f"season_length={season_length}: must be >= 1")
    if x.size < 2:
        raise ValueError(f"insample has {x.size} values; the MASE scale needs at least 2")
    m = season_length if x.size > season_length else 1
    return float(np.mean(np.abs(x[m:] - x[:-m])))


def mase(y_true: np.ndarray, y_pred: np.ndarray, insample: np.ndarray, season_length: int) -> float:
    """Compute the mean absolute scaled error, scaled by :func:`seasonal_naive_scale` of ``insample``.

    NaN when the series has no scale (it repeats itself exactly before the origin): an error of 0.1
    is then neither small nor large, and an infinite MASE would swamp every mean over series. Means
    over series leave such a series out (:func:`summarize`).

    Args:
        y_true: ``(horizon,)`` actual values.
        y_pred: ``(horizon,)`` forecasts.
        insample: ``(time,)`` training values of the same series.
        season_length: ``m``, steps per season.
    """
    scale = seasonal_naive_scale(insample, season_length)
    error = mae(y_true, y_pred)
    return error / scale if has_scale(scale) else float("nan")


def has_scale(scale: float) -> bool:
    """Whether a MASE scale can divide: positive and finite (0 for a series that repeats itself exactly)."""
    return bool(np.isfinite(scale) and scale > 0)


def owa(smape_value: float, mase_value: float, smape_naive2: float, mase_naive2: float) -> float:
    """Compute the overall weighted average relative to Naive2: ``(sMAPE / sMAPE_N2 + MASE / MASE_N2) / 2``.

    Args:
        smape_value: the method's sMAPE (mean over series).
        mase_value: the method's MASE (mean over series).
        smape_naive2: Naive2's sMAPE on the same series.
        mase_naive2: Naive2's MASE on the same series.
    """
    return 0.5 * (smape_value / smape_naive2 + mase_value / mase_naive2)


def score_forecast(
    y_true: np.ndarray, y_pred: np.ndarray, insample: np.ndarray, season_length: int
) -> dict[str, float]:
    """Score one series' forecast with every metric.

    Args:
        y_true: ``(horizon,)`` actual values.
        y_pred: ``(horizon,)`` forecasts.
        insample: ``(time,)`` training values (for MASE).
        season_length: ``m``, steps per season (for MASE).

    Returns:
        ``{"mae", "rmse", "mape", "smape", "mase"}`` to value.
    """
    return {
        "mae": mae(y_true, y_pred),
        "rmse": rmse(y_true, y_pred),
        "mape": mape(y_true, y_pred),
        "smape": smape(y_true, y_pred),
        "mase": mase(y_true, y_pred, insample, season_length),
    }


def summarize(scores: pd.DataFrame, by: tuple[str, ...] = ("model",), reference: str = "naive2") -> pd.DataFrame:
    """Aggregate per-series scores as M4 does: the mean over series, then OWA from those means.

    A NaN score is left out of its mean (pandas' ``skipna``): a series without a MASE scale has a
    NaN MASE and is left out of every forecaster's MASE alike (the scale is the series', not the
    forecaster's), so the means stay comparable; ``n_series`` counts every series.

    Args:
        scores: one row per series (and whatever else ``by`` names) with a ``model`` column and
            the columns of :data:`METRICS`.
        by: columns to group by; must include ``model``.
        reference: the model OWA is relative to. Without it in ``scores`` (or with another value
            of the other ``by`` columns) the OWA is NaN.

    Returns:
        One row per group: the mean of each metric, ``n_series`` and ``owa``.
    """
    keys = list(by)
    if "model" not in keys:
        raise ValueError(f"by={by!r}: must include 'model', OWA is per model")
    missing = [c for c in (*keys, *METRICS) if c not in scores.columns]
    if missing:
        raise ValueError(f"scores lacks columns {missing}; it has {list(scores.columns)}")
    summary = scores.groupby(keys, sort=False)[list(METRICS)].mean()
    summary["n_series"] = scores.groupby(keys, sort=False).size()
    summary = summary.reset_index()
    others = [k for k in keys if k != "model"]
    ref = summary[summary["model"] == reference][[*others, "smape", "mase"]]
    ref = ref.rename(columns={"smape": "_smape_ref", "mase": "_mase_ref"})
    summary = summary.merge(ref, on=others, how="left") if others else summary.assign(
        _smape_ref=ref["_smape_ref"].iloc[0] if len(ref) else np.nan,
        _mase_ref=ref["_mase_ref"].iloc[0] if len(ref) else np.nan,
    )
    summary["owa"] = owa(summary["smape"], summary["mase"], summary["_smape_ref"], summary["_mase_ref"])
    return summary.drop(columns=["_smape_ref", "_mase_ref"])
