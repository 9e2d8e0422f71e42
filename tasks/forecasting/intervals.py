"""Prediction intervals from backtest residuals: split-conformal, one half-width per horizon step.

The recipe (split-conformal, e.g. Angelopoulos & Bates, "A Gentle Introduction to Conformal
Prediction", 2021, section 1): take forecasts whose truth is known and was never used to fit them,
score each by its absolute error, and at every horizon step ``h`` take the
``ceil((n + 1) * level) / n`` empirical quantile of the ``n`` scores of that step. The interval of a
new forecast is ``yhat ± q_h * scale``.

**Scaled per series.** A global model forecasts series of very different sizes (milk in pounds per
cow, sales in millions); their raw errors cannot share one quantile. Each score is divided by the
series' in-sample MASE scale — the mean absolute seasonal-naive difference of the history the forecast
was made from (:func:`tasks.forecasting.metrics.seasonal_naive_scale`) — and each interval is
multiplied back by it. That scale (not the z-score ``std`` the model sees) is used because it measures
how much a series moves from one season to the next, which is what a forecast error is made of (a
trending series has a large ``std`` and a small seasonal change), because MSIS divides by the very same
number (so ``2 * q_h`` is an interval's width in MSIS units), and because it does not depend on how a
model preprocesses its input, which may change.

**A series without a scale** (constant, or repeating itself exactly every season before the origin:
a seasonal-naive MAE of 0) has no unit to measure an error in. Its conformity scores are NaN, so its
raw errors never enter the quantile the other series share; its interval is NaN (no width can be
said to fit it); its MSIS and width are NaN and left out of the means over series, as its MASE is.
Nothing divides by zero.

**What is calibrated on (never the test part being scored).** For the origin of fold ``k`` a
residual counts when it comes from a model fitted at that origin or an earlier one and its truth lies
before the origin: the forecasts from every step of fold ``k``'s validation part (the last
``max(horizon, validation * origin)`` steps before the origin, which training used for early stopping
only, never for a gradient step) and the test forecasts of the earlier folds. With ``evaluate.folds =
1`` that is the validation part alone: the forecasts made one horizon (and less) before the origin.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from tasks.forecasting.metrics import has_scale, seasonal_naive_scale

# One row per calibration forecast step; see :func:`residual_rows`.
RESIDUAL_COLUMNS = ("series_id", "fold", "kind", "forecast_origin", "horizon_step", "target_index", "score")
INTERVAL_COLUMNS = ("lower", "upper")
METRICS = ("coverage", "msis", "interval_width")  # what :func:`interval_scores` reports


def scaled_errors(y: np.ndarray, yhat: np.ndarray, scale: float | np.ndarray) -> np.ndarray:
    """Compute conformity scores ``|y - yhat| / scale``.

    Args:
        y: ``(n,)`` or ``(n, horizon)`` truth.
        yhat: the forecasts, same shape.
        scale: the series' MASE scale, a scalar or broadcastable to ``y``; where it is 0 (a series
            that repeats itself exactly) the score is NaN, which calibration leaves out.
    """
    return np.abs(np.asarray(y, dtype=np.float64) - np.asarray(yhat, dtype=np.float64)) / usable_scale(scale)


def usable_scale(scale: float | np.ndarray) -> np.ndarray:
    """``scale`` where it can divide (positive, finite), NaN where the series has none."""
    scale = np.asarray(scale, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        return np.where(np.isfinite(scale) & (scale > 0), scale, np.nan)


def conformal_quantile(scores: np.ndarray, level: float) -> float:
    """Find the split-conformal quantile of ``scores`` at nominal coverage ``level``.

    It is the ``k``-th smallest score, ``k = ceil((n + 1) * level)``: a new exchangeable score is at
    most it with probability at least ``level``. When ``k > n`` (too few scores for that guarantee,
    e.g. 12 scores at 95 %) the largest score is returned, and the interval is then narrower than
    the guarantee asks; :func:`half_widths` reports ``n`` so that this can be seen.

    Args:
        scores: ``(n,)`` conformity scores; NaN ones are dropped.
        level: nominal coverage in (0, 1).

    Returns:
        The quantile; NaN when there is no score.

    Raises:
        ValueError: ``level`` is not in (0, 1).
    """
    if not 0 < level < 1:
        raise ValueError(f"level={level}: must be in (0, 1)")
    s = np.sort(np.asarray(scores, dtype=np.float64).reshape(-1))
    s = s[np.isfinite(s)]
    if s.size == 0:
        return math.nan
    k = math.ceil((s.size + 1) * level)
    return float(s[min(k, s.size) - 1])


def half_widths(residuals: pd.DataFrame, horizon: int, level: float) -> tuple[np.ndarray, np.ndarray]:
    """Compute the conformal quantile of the scores of every horizon step.

    Args:
        residuals: rows of :data:`RESIDUAL_COLUMNS` (the calibration set; see :func:`calibration_set`).
        horizon: steps forecast.
        level: nominal coverage.

    Returns:
        ``(q, n)``: ``(horizon,)`` half-widths in units of the series' scale, and ``(horizon,)`` the
        number of scores each was taken from. A step whose every score is NaN (no series had a
        scale) has ``q`` NaN and ``n`` 0: its intervals are NaN.

    Raises:
        ValueError: a step has no residual at all (nothing to calibrate on).
    """
    return step_quantiles({int(h): part["score"].to_numpy() for h, part in residuals.groupby("horizon_step")},
                          horizon, level)


def step_quantiles(by_step: dict[int, np.ndarray], horizon: int, level: float) -> tuple[np.ndarray, np.ndarray]:
    """:func:`half_widths` of scores already grouped by horizon step (their order does not matter)."""
    q = np.empty(horizon)
    n = np.zeros(horizon, dtype=np.int64)
    for h in range(1, horizon + 1):
        scores = by_step.get(h, np.empty(0))
        if scores.size == 0:
            raise ValueError(f"horizon step {h}: no residual to calibrate its interval on")
        n[h - 1] = int(np.isfinite(scores).sum())
        q[h - 1] = conformal_quantile(scores, level)
    return q, n


class ResidualPool:
    """Residual rows held as a few compact arrays: what :func:`attach_intervals` calibrates on.

    A long series has a residual row for every step of its validation part, horizon by horizon, at
    every fold: 13 million rows for 10,000 series of 1,000 days. As data frames (one per series, an
    8-byte slot per field, then concatenated and filtered per fold) they took 4 GB; here a row is 20
    bytes (series code, fold, horizon step, target index, score) and only the scores a fold keeps are
    copied. The kept scores are the same as :func:`calibration_set`'s, so the quantiles are too.
    """

    _DTYPES = (np.int32, np.int16, np.int16, np.int32, np.float64)  # code, fold, horizon step, target index, score

    def __init__(self) -> None:
        self.ids: dict[str, int] = {}
        self._parts: list[list[np.ndarray]] = [[] for _ in self._DTYPES]  # per column, its chunks

    def add(self, residuals: pd.DataFrame) -> None:
        """Take rows of :data:`RESIDUAL_COLUMNS` (any number of series)."""
        if not len(residuals):
            return
        sids = residuals["series_id"].astype(str).to_numpy()
        for sid in dict.fromkeys(sids):
            self.ids.setdefault(sid, len(self.ids))
        columns = (np.fromiter((self.ids[s] for s in sids), dtype=np.int32, count=len(sids)), residuals["fold"],
                   residuals["horizon_step"], residuals["target_index"], residuals["score"])
        for parts, column, dtype in zip(self._parts, columns, self._DTYPES):
            parts.append(np.array(column, dtype=dtype))  # a copy: a view would keep the frame's whole block alive

    def __len__(self) -> int:
        return sum(len(chunk) for chunk in self._parts[0])

    def _arrays(self) -> list[np.ndarray]:
        # Each column joined once, its chunks let go as it is: the peak is the pool plus one column.
        for k, dtype in enumerate(self._DTYPES):
            if len(self._parts[k]) != 1:
                self._parts[k] = [np.concatenate(self._parts[k]) if self._parts[k] else np.empty(0, dtype=dtype)]
        return [parts[0] for parts in self._parts]

    def calibration_scores(self, fold: int, origins: dict[str, int]) -> dict[int, np.ndarray]:
        """The scores :func:`calibration_set` keeps for ``fold``, by horizon step."""
        codes, folds, steps, targets, scores = self._arrays()
        origin_of = np.full(len(self.ids), np.iinfo(np.int32).min, dtype=np.int32)  # a series not at this fold: none kept
        for sid, origin in origins.items():
            if sid in self.ids:
                origin_of[self.ids[sid]] = origin
        keep = (folds >= fold) & (targets < origin_of[codes])
        # Step by step: only the kept scores are copied, once.
        return {int(h): scores[keep & (steps == h)] for h in np.unique(steps[keep])}


def residual_rows(
    series_id: str, fold: int, kind: str, origins: np.ndarray, y: np.ndarray, yhat: np.ndarray, scales: np.ndarray
) -> pd.DataFrame:
    """Lay out the conformity scores of a batch of forecasts of one series as residual rows.

    Args:
        series_id: the series.
        fold: the fold whose model made the forecasts.
        kind: ``"validation"`` (forecasts from the validation part) or ``"test"``.
        origins: ``(n,)`` series index of each forecast's first step.
        y: ``(n, horizon)`` truth.
        yhat: ``(n, horizon)`` forecasts.
        scales: ``(n,)`` the MASE scale of the history each forecast was made from.
    """
    n, horizon = np.shape(yhat)
    steps = np.tile(np.arange(1, horizon + 1), n)
    start = np.repeat(np.asarray(origins, dtype=np.int64), horizon)
    return pd.DataFrame({
        "series_id": series_id,
        "fold": fold,
        "kind": kind,
        "forecast_origin": start,
        "horizon_step": steps,
        "target_index": start + steps - 1,
        "score": scaled_errors(y, yhat, np.asarray(scales, dtype=np.float64)[:, None]).reshape(-1),
    }, columns=list(RESIDUAL_COLUMNS))


def calibration_set(residuals: pd.DataFrame, fold: int, origins: dict[str, int]) -> pd.DataFrame:
    """Keep the residuals that may calibrate the intervals of fold ``fold``: never its test truth.

    A residual is kept when its model was fitted at this fold's origin or an earlier one (``fold``
    or higher) and its truth lies before this fold's origin of its series.

    Args:
        residuals: rows of :data:`RESIDUAL_COLUMNS`.
        fold: the fold to calibrate.
        origins: series id to its origin at ``fold``.
    """
    origin = residuals["series_id"].map(origins)
    keep = (residuals["fold"] >= fold) & (residuals["target_index"] < origin)
    return residuals[keep.to_numpy()]


def validation_origins(origin: int, train_end: int, lookback: int, horizon: int) -> np.ndarray:
    """List the forecast origins inside a validation part whose whole horizon lies before ``origin``.

    Every step from the latest (``origin - horizon``, the forecast one horizon before the origin)
    back to the first whose target starts at ``train_end`` and whose input fits in the series.

    Returns:
        ``(n,)`` origins, earliest first; empty when the validation part is shorter than a horizon.
    """
    first = max(train_end, lookback)
    last = origin - horizon
    return np.arange(first, last + 1, dtype=np.int64)


def bounds(yhat: np.ndarray, q: np.ndarray, scale: float | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Turn forecasts and half-widths into an interval.

    Args:
        yhat: ``(..., horizon)`` forecasts in the series' units.
        q: ``(horizon,)`` half-widths in units of the series' scale.
        scale: the series' MASE scale (of the history the forecast was made from), broadcastable.

    Returns:
        ``(lower, upper)``, each shaped like ``yhat``; NaN where the series has no scale.
    """
    width = np.asarray(q, dtype=np.float64) * usable_scale(scale)
    return yhat - width, yhat + width


def series_scale(history: np.ndarray, season_length: int) -> float:
    """The MASE scale an interval is measured in: the in-sample seasonal-naive MAE of ``history``."""
    return seasonal_naive_scale(history, season_length)


def coverage(y: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> float:
    """Share of truth values inside their interval (bounds included), over the intervals there are.

    A NaN interval (a series without a scale) is left out, never counted as a miss; NaN when none is left.
    """
    y, lower, upper = (np.asarray(v, dtype=np.float64) for v in (y, lower, upper))
    present = np.isfinite(lower) & np.isfinite(upper)
    if not present.any():
        return math.nan
    return float(np.mean((y[present] >= lower[present]) & (y[present] <= upper[present])))


def msis(y: np.ndarray, lower: np.ndarray, upper: np.ndarray, insample: np.ndarray, season_length: int,
         alpha: float = 0.05) -> float:
    """Compute the M4 competition's mean scaled interval score of one series' interval forecast.

    ``MSIS = mean_t(U - L + 2/a * (L - y) * 1[y < L] + 2/a * (y - U) * 1[y > U]) / scale``, with
    ``scale`` the in-sample seasonal-naive MAE (MASE's denominator) and ``a = 1 - level`` (0.05 for
    M4's 95 % intervals). Lower is better; a width-0 interval that always hits scores 0.

    Args:
        y: ``(horizon,)`` truth.
        lower: ``(horizon,)`` lower bounds; ``upper`` likewise.
        insample: ``(time,)`` the values before the origin.
        season_length: ``m`` of the scale.
        alpha: ``a``.

    Returns:
        The score; NaN when ``insample`` has no scale (it repeats itself exactly).
    """
    scale = seasonal_naive_scale(insample, season_length)
    if not has_scale(scale):
        return math.nan
    y, lo, up = (np.asarray(v, dtype=np.float64) for v in (y, lower, upper))
    penalty = (up - lo) + (2.0 / alpha) * (lo - y) * (y < lo) + (2.0 / alpha) * (y - up) * (y > up)
    return float(np.mean(penalty) / scale)


def interval_scores(forecasts: pd.DataFrame, series: dict[str, tuple[np.ndarray, np.ndarray]], season_length: int,
                    level: float) -> dict[int, dict[str, float]]:
    """Score a model's intervals per fold: coverage, MSIS (mean over series) and mean width in scale units.

    A series without a scale at an origin is left out of all three (its MSIS and width would be NaN
    and its interval is NaN); each is NaN when no series is left.

    Args:
        forecasts: rows with ``series_id, fold, origin, horizon_step, yhat, lower, upper, y``.
        series: id to ``(timestamps, values)``.
        season_length: ``m`` of the scale.
        level: the intervals' nominal coverage (``a = 1 - level`` in MSIS).

    Returns:
        Fold to ``{"coverage", "msis", "interval_width"}``.
    """
    out: dict[int, dict[str, float]] = {}
    for fold, part in forecasts.groupby("fold"):
        per_series, widths, scaled = [], [], []
        for (sid, origin), rows in part.groupby(["series_id", "origin"]):
            rows = rows.sort_values("horizon_step")
            insample = series[str(sid)][1][: int(origin)]
            scale = series_scale(insample, season_length)
            if not has_scale(scale):
                continue
            scaled.append(rows)
            per_series.append(msis(rows["y"], rows["lower"], rows["upper"], insample, season_length, 1 - level))
            widths.append(float(np.mean(rows["upper"] - rows["lower"])) / scale)
        kept = pd.concat(scaled) if scaled else part.iloc[:0]
        out[int(fold)] = {"coverage": coverage(kept["y"], kept["lower"], kept["upper"]),
                          "msis": _mean_present(per_series), "interval_width": _mean_present(widths)}
    return out


def _mean_present(values: list[float]) -> float:
    """The mean of the values that are not NaN (an infinite one counts); NaN when there is none."""
    present = np.asarray(values, dtype=np.float64)
    present = present[~np.isnan(present)]
    return float(np.mean(present)) if present.size else math.nan


def held_out_residuals(forecasts: pd.DataFrame, series: dict[str, tuple[np.ndarray, np.ndarray]],
                   season_length: int) -> pd.DataFrame:
    """Score a model's held-out forecasts of every fold as residual rows (kind ``test``).

    They calibrate only later folds' intervals (:func:`calibration_set` drops the rows whose truth
    is at or after an origin), never their own.

    Args:
        forecasts: rows with ``series_id, fold, origin, horizon_step, yhat, y``.
        series: id to ``(timestamps, values)``.
        season_length: ``m`` of the scale.
    """
    parts = [pd.DataFrame(columns=list(RESIDUAL_COLUMNS))]
    for (sid, fold, origin), rows in forecasts.groupby(["series_id", "fold", "origin"]):
        rows = rows.sort_values("horizon_step")
        scale = series_scale(series[str(sid)][1][: int(origin)], season_length)
        parts.append(residual_rows(str(sid), int(fold), "test", np.array([int(origin)]), rows["y"].to_numpy()[None],
                                   rows["yhat"].to_numpy()[None], np.array([scale])))
    return pd.concat([p for p in parts if len(p)] or parts[:1], ignore_index=True)


def attach_intervals(
    forecasts: pd.DataFrame,
    residuals: pd.DataFrame | ResidualPool,
    series: dict[str, tuple[np.ndarray, np.ndarray]],
    season_length: int,
    level: float,
    horizon: int,
) -> tuple[pd.DataFrame, dict[int, tuple[np.ndarray, np.ndarray]]]:
    """Add ``lower``/``upper`` to one model's forecasts at every fold, each fold calibrated on what came before it.

    Args:
        forecasts: the model's rows (``series_id, fold, origin, horizon_step, yhat, y`` ...).
        residuals: its validation residuals at every fold (:func:`tasks.forecasting.serving.validation_residuals`),
            as rows or a :class:`ResidualPool` (which this adds to); its test residuals are added here and
            calibrate only later folds (the rows :func:`calibration_set` keeps).
        series: id to ``(timestamps, values)``.
        season_length: ``m`` of the scale.
        level: nominal coverage.
        horizon: steps forecast.

    Returns:
        ``forecasts`` with ``lower`` and ``upper``, and per fold ``(half_widths, n_calibration)``.
    """
    if isinstance(residuals, ResidualPool):
        pool = residuals  # the caller's pool takes the test residuals too
    else:
        pool = ResidualPool()
        pool.add(residuals)
    pool.add(held_out_residuals(forecasts, series, season_length))
    out = forecasts.copy()
    out["lower"], out["upper"] = np.nan, np.nan
    found: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    for fold in sorted(int(f) for f in out["fold"].unique()):
        rows = (out["fold"] == fold).to_numpy()
        part = out[rows]
        origins = {str(s): int(o) for s, o in part[["series_id", "origin"]].drop_duplicates().itertuples(index=False)}
        q, n = step_quantiles(pool.calibration_scores(fold, origins), horizon, level)
        scales = {sid: series_scale(series[sid][1][:origin], season_length) for sid, origin in origins.items()}
        scale = part["series_id"].astype(str).map(scales).to_numpy(dtype=np.float64)
        lower, upper = bounds(part["yhat"].to_numpy(dtype=np.float64),
                              q[part["horizon_step"].to_numpy(dtype=np.int64) - 1], scale)
        out.loc[rows, "lower"], out.loc[rows, "upper"] = lower, upper
        found[fold] = (q, n)
    return out, found
