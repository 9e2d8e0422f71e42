"""Rolling-origin backtests: every forecaster refit per origin on the data before it, per series.

With ``folds = K`` and ``fold_step = s`` a series of ``n`` steps is cut at the origins
``n - horizon - k * s`` for ``k = 0 .. K-1`` (fold 0 is the latest, its test part the last
``horizon`` steps). At each origin a forecaster gets a fresh read-only copy of the values before
the origin, never a view (a view's ``.base`` would reach the future), and forecasts ``horizon``
steps, so whatever it fits (a scaler, a smoothing state, a network) is refit per origin. Windows
and splits never cross two series.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from tasks.forecasting.metrics import score_forecast

Forecaster = Callable[[np.ndarray, int], np.ndarray]
FORECAST_COLUMNS = ("series_id", "model", "fold", "origin", "timestamp", "horizon_step", "yhat", "y")
SCORE_COLUMNS = ("series_id", "model", "fold", "origin", "mae", "rmse", "mape", "smape", "mase")


@dataclass(frozen=True)
class Fold:
    """One series cut at one origin."""

    series_id: str
    fold: int  # 0 is the latest origin
    origin: int  # index of the first test step: train is the series' steps [0, origin)
    train: np.ndarray  # (origin,) read-only copy
    test: np.ndarray  # (horizon,) the truth after the origin
    test_timestamps: np.ndarray  # (horizon,) datetime64


@dataclass(frozen=True)
class BacktestResult:
    """Forecasts and scores of every model, series and fold."""

    forecasts: pd.DataFrame  # FORECAST_COLUMNS; horizon_step is 1-based
    scores: pd.DataFrame  # SCORE_COLUMNS; one row per series, model and fold


def fold_origins(n_time: int, horizon: int, folds: int = 1, fold_step: int | None = None, min_train: int = 1) -> list[int]:
    """List the origins of a rolling-origin backtest, latest first.

    Args:
        n_time: the series' length.
        horizon: steps forecast from each origin.
        folds: how many origins.
        fold_step: steps between origins; None means ``horizon`` (test parts that tile the end).
        min_train: the fewest training steps the earliest origin may leave.

    Returns:
        ``folds`` origins, ``n_time - horizon - k * fold_step``.

    Raises:
        ValueError: an argument is out of range or the series is too short for the folds.
    """
    step = horizon if fold_step is None else fold_step
    for name, value in (("horizon", horizon), ("folds", folds), ("fold_step", step), ("min_train", min_train)):
        if value < 1:
            raise ValueError(f"{name}={value}: must be >= 1")
    origins = [n_time - horizon - k * step for k in range(folds)]
    if origins[-1] < min_train:
        need = horizon + (folds - 1) * step + min_train
        raise ValueError(
            f"series of {n_time} steps is too short for folds={folds}, fold_step={step}, horizon={horizon} and "
            f"min_train={min_train}: it needs at least {need}"
        )
    return origins


def series_arrays(
    frame: pd.DataFrame | Mapping[str, tuple[np.ndarray, np.ndarray]],
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Split a long frame into per-series arrays, in time order.

    Args:
        frame: ``series_id, timestamp, value`` rows (any order), or series already split so
            (:func:`tasks.storage.read_series_arrays` reads a stored file so without a frame).

    Returns:
        Series id to ``((time,) timestamps, (time,) float64 values)``, ids in sorted order.
    """
    if not isinstance(frame, pd.DataFrame):
        return dict(sorted(frame.items()))
    ordered = frame.sort_values(["series_id", "timestamp"], kind="stable")
    out = {}
    for sid, part in ordered.groupby("series_id", sort=True):
        out[str(sid)] = (part["timestamp"].to_numpy(), part["value"].to_numpy(dtype=np.float64))
    return out


def rolling_folds(
    frame: pd.DataFrame, horizon: int, folds: int = 1, fold_step: int | None = None, min_train: int = 1
) -> Iterator[Fold]:
    """Yield the (train part, test part) of every series at every origin.

    Args:
        frame: ``series_id, timestamp, value`` rows.
        horizon: steps in each test part.
        folds: origins per series.
        fold_step: steps between origins; None means ``horizon``.
        min_train: the fewest training steps the earliest origin may leave.

    Yields:
        One :class:`Fold` per series and origin: series in sorted order, latest origin first.

    Raises:
        ValueError: a series is too short for the folds (named in the message).
    """
    for sid, (stamps, values) in series_arrays(frame).items():
        try:
            origins = fold_origins(values.size, horizon, folds, fold_step, min_train)
        except ValueError as exc:
            raise ValueError(f"series {sid!r}: {exc}") from None
        for k, origin in enumerate(origins):
            train = values[:origin].copy()
            train.setflags(write=False)
            yield Fold(
                series_id=sid,
                fold=k,
                origin=origin,
                train=train,
                test=values[origin : origin + horizon].copy(),
                test_timestamps=stamps[origin : origin + horizon],
            )


def run_backtest(
    frame: pd.DataFrame | Mapping[str, tuple[np.ndarray, np.ndarray]],
    forecasters: Mapping[str, Forecaster],
    horizon: int,
    season_length: int,
    folds: int = 1,
    fold_step: int | None = None,
    min_train: int = 1,
    on_progress: Callable[[int, int], None] | None = None,
) -> BacktestResult:
    """Refit every forecaster at every origin of every series, and score it with the M4 metrics.

    Args:
        frame: ``series_id, timestamp, value`` rows.
        forecasters: name to ``fit_predict(train, horizon) -> (horizon,)``, where ``train`` is the
            ``(origin,)`` values before the origin; it is called once per series and origin.
        horizon: steps forecast from each origin.
        season_length: ``m`` for MASE's in-sample seasonal naive scale.
        folds: origins per series.
        fold_step: steps between origins; None means ``horizon``.
        min_train: the fewest training steps the earliest origin may leave.
        on_progress: called with ``(done, total)`` after each series and origin, every forecaster
            fit there (``total`` = series × origins): a progress bar's hook; None = nothing.

    Returns:
        The forecasts (one row per series, model, fold and step) and the scores (one row per
        series, model and fold); aggregate with :func:`tasks.forecasting.metrics.summarize`,
        e.g. ``by=("model", "fold")``.

    Raises:
        ValueError: a forecaster returns the wrong shape or a non-finite value, or a series is too
            short for the folds.
    """
    forecast_parts: list[pd.DataFrame] = []
    score_rows: list[dict] = []
    steps = np.arange(1, horizon + 1)
    total = (int(frame["series_id"].nunique()) if isinstance(frame, pd.DataFrame) else len(frame)) * folds
    for done, fold in enumerate(rolling_folds(frame, horizon, folds, fold_step, min_train), start=1):
        for name, fit_predict in forecasters.items():
            yhat = np.asarray(fit_predict(fold.train, horizon), dtype=np.float64).reshape(-1)
            if yhat.shape != (horizon,):
                raise ValueError(
                    f"forecaster {name!r} returned {yhat.shape} for series {fold.series_id!r}; must be ({horizon},)"
                )
            if not np.all(np.isfinite(yhat)):
                raise ValueError(f"forecaster {name!r} returned a non-finite value for series {fold.series_id!r}")
            forecast_parts.append(
                pd.DataFrame(
                    {
                        "series_id": fold.series_id,
                        "model": name,
                        "fold": fold.fold,
                        "origin": fold.origin,
                        "timestamp": fold.test_timestamps,
                        "horizon_step": steps,
                        "yhat": yhat,
                        "y": fold.test,
                    }
                )
            )
            score_rows.append(
                {
                    "series_id": fold.series_id,
                    "model": name,
                    "fold": fold.fold,
                    "origin": fold.origin,
                    **score_forecast(fold.test, yhat, fold.train, season_length),
                }
            )
        if on_progress is not None:
            on_progress(done, total)
    forecasts = (
        pd.concat(forecast_parts, ignore_index=True)
        if forecast_parts
        else pd.DataFrame(columns=list(FORECAST_COLUMNS))
    )
    return BacktestResult(forecasts=forecasts, scores=pd.DataFrame(score_rows, columns=list(SCORE_COLUMNS)))
