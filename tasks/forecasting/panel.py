"""Many series with a horizon held out at the end of each: plans, windows per series, multi-step forecasts.

Words: a series' **origin** is its first held-out step; the test part is ``[origin, origin + horizon)``,
the validation part the ``validation`` fraction before the origin (at least ``horizon`` steps), the
train part everything before that. A rolling-origin backtest repeats this at ``folds`` origins
``fold_step`` apart (fold 0 is the latest; see :func:`tasks.forecasting.backtest.fold_origins`).

Every series is windowed on its own, so no window spans two series, and scaled on its own train part
(one global model is then trained on the pooled windows of all series). At each origin only the values
before it are read: the scaler, the train and validation windows and the forecast's input window.
The truth after the origin never enters the windows (a test row's target is NaN); scoring reads it
from the series.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from tasks.forecasting import calendar as cal
from tasks.forecasting.backtest import FORECAST_COLUMNS, SCORE_COLUMNS, fold_origins
from tasks.forecasting.metrics import score_forecast
from tasks.forecasting.preprocessing import (
    Predict,
    SeriesTransform,
    TransformSpec,
    forecast_model_units,
    train_part_end,
)
from tasks.forecasting.preprocessing import forward as to_model_units
from tasks.nets.windowing import SplitBounds, assign_splits, make_windows

PANEL_SPLITS = ("train", "validation", "test")


@dataclass(frozen=True)
class FoldPlan:
    """Where one series is cut at one origin."""

    fold: int  # 0 is the latest origin
    origin: int  # the first test step; test = [origin, origin + horizon)
    train_end: int  # train = [0, train_end), validation = [train_end, origin)


def holdout_plan(
    n: int,
    lookback: int,
    horizon: int,
    target_steps: int,
    stride: int,
    validation: float,
    folds: int = 1,
    fold_step: int | None = None,
) -> list[FoldPlan]:
    """Cut a series of ``n`` steps at every backtest origin, checking that each cut holds its windows.

    Windows are anchored at the origin: the last one's target ends right before it, the others start
    every ``stride`` steps earlier. So every series has a validation window, and the latest training
    window starts ``ceil(validation_steps / stride) * stride`` steps before the last one.

    Args:
        n: the series' length, held-out steps included.
        lookback: input steps per window.
        horizon: steps held out (and forecast) at each origin.
        target_steps: steps in a training window's target (``horizon``, or 1 for a recursive model).
        stride: steps between two window starts.
        validation: fraction of the part before the origin used for early stopping.
        folds: backtest origins.
        fold_step: steps between origins; None means ``horizon``.

    Returns:
        One :class:`FoldPlan` per origin, latest first.

    Raises:
        ValueError: the series is too short for some origin (the message says which part is missing).
    """
    if not 0 < validation < 1:
        raise ValueError(f"validation={validation}: must be in (0, 1)")
    origins = fold_origins(n, horizon, folds, fold_step, min_train=1)
    span = lookback + target_steps
    plans = []
    for k, origin in enumerate(origins):
        train_end = train_part_end(origin, horizon, validation)
        validation_steps = origin - train_end
        last_train_start = origin - span - -(-validation_steps // stride) * stride
        if train_end < 2 or last_train_start < 0:
            raise ValueError(
                f"fold {k} (origin {origin} of {n}): {validation_steps} validation steps before it leave no whole "
                f"training window of {span} steps"
            )
        plans.append(FoldPlan(k, origin, train_end))
    return plans


def min_series_length(
    lookback: int,
    horizon: int,
    target_steps: int,
    stride: int,
    validation: float,
    folds: int = 1,
    fold_step: int | None = None,
) -> int:
    """Find the fewest steps a series needs for :func:`holdout_plan` to succeed."""
    step = horizon if fold_step is None else fold_step
    n = horizon + (folds - 1) * step + lookback + target_steps + 1
    while True:
        try:
            holdout_plan(n, lookback, horizon, target_steps, stride, validation, folds, fold_step)
            return n
        except ValueError:
            n += 1


@dataclass(frozen=True)
class PanelWindows:
    """Windows of every series and fold, in each series' model units; one row per window.

    Per series and fold: the train and validation windows (targets before the origin), then one
    ``test`` row whose input is the ``lookback`` steps before the origin and whose target is NaN.
    Model units are :func:`tasks.forecasting.preprocessing.forward`'s (deseasonalised, logged,
    standardised as the series' transform says); per-window level normalisation is not applied
    here but where windows meet a network (:func:`~tasks.forecasting.preprocessing.level_normalise`,
    :func:`~tasks.forecasting.preprocessing.forecast_windows`).
    """

    fold: np.ndarray  # (n_windows,) int
    series_id: np.ndarray  # (n_windows,) str
    split: np.ndarray  # (n_windows,) "train" | "validation" | "test"
    start: np.ndarray  # (n_windows,) series index of the first input step
    origin: np.ndarray  # (n_windows,) the series' origin at this fold
    x: np.ndarray  # (n_windows, lookback, 1) float32
    y: np.ndarray  # (n_windows, target_steps, 1) float32; NaN for test rows
    mean: np.ndarray  # (n_windows,) the series' scaler at this fold, fitted on its train part
    std: np.ndarray  # (n_windows,)
    metadata: dict[str, str]
    # (n_windows, lookback + target_steps, n_calendar) float32: the calendar of each window's input and
    # target steps (preprocess.calendar; tasks.forecasting.calendar.encode); None without covariates.
    calendar: np.ndarray | None = None

    @property
    def calendar_features(self) -> tuple[str, ...]:
        """The calendar features the windows carry (``()`` without covariates)."""
        return tuple(json.loads(self.metadata.get("calendar", "[]")))

    def calendar_of(self, rows: np.ndarray) -> np.ndarray | None:
        """``(len(rows), lookback + target_steps, n_calendar)`` the rows' calendar, or None without covariates."""
        return None if self.calendar is None else self.calendar[rows]

    def part(self, fold: int, split: str) -> tuple[np.ndarray, np.ndarray]:
        """``(x, y)`` of one split at one fold, pooled over series."""
        mask = (self.fold == fold) & (self.split == split)
        return self.x[mask], self.y[mask]

    def rows(self, fold: int, split: str) -> np.ndarray:
        """Row indices of one split at one fold."""
        return np.flatnonzero((self.fold == fold) & (self.split == split))

    def transform(self, row: int) -> SeriesTransform:
        """The transform of the series and fold of one row (fitted on that fold's training part)."""
        key = f"{self.series_id[row]}\x1f{int(self.fold[row])}"
        return SeriesTransform.from_dict(self._transforms()[key])

    def _transforms(self) -> dict[str, dict]:
        cached = self.__dict__.get("_parsed")
        if cached is None:
            cached = {f"{t['series_id']}\x1f{t['fold']}": t["state"] for t in json.loads(self.metadata["transforms"])}
            object.__setattr__(self, "_parsed", cached)
        return cached

    def counts(self) -> tuple[tuple[str, int], ...]:
        """Windows per split (all folds together)."""
        return tuple((name, int(np.sum(self.split == name))) for name in PANEL_SPLITS)

    def to_arrays(self) -> tuple[dict[str, np.ndarray], dict[str, str]]:
        """The table as storable columns and string metadata."""
        arrays = {
            "fold": self.fold.astype(np.int64),
            "series_id": self.series_id.astype(str),
            "split": self.split.astype(str),
            "start": self.start.astype(np.int64),
            "origin": self.origin.astype(np.int64),
            "x": self.x.astype(np.float32, copy=False),
            "y": self.y.astype(np.float32, copy=False),
            "mean": self.mean.astype(np.float64),
            "std": self.std.astype(np.float64),
        }
        if self.calendar is not None:
            arrays["calendar"] = self.calendar.astype(np.float32, copy=False)
        return arrays, dict(self.metadata)

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray], metadata: Mapping[str, str]) -> PanelWindows:
        """Rebuild a table from what :meth:`to_arrays` produced."""
        return cls(
            fold=np.asarray(arrays["fold"]),
            series_id=np.asarray(arrays["series_id"], dtype=object),
            split=np.asarray(arrays["split"], dtype=object),
            start=np.asarray(arrays["start"]),
            origin=np.asarray(arrays["origin"]),
            x=np.asarray(arrays["x"], dtype=np.float32),
            y=np.asarray(arrays["y"], dtype=np.float32),
            mean=np.asarray(arrays["mean"], dtype=np.float64),
            std=np.asarray(arrays["std"], dtype=np.float64),
            metadata=dict(metadata),
            calendar=np.asarray(arrays["calendar"], dtype=np.float32) if "calendar" in arrays else None,
        )


def series_windows(
    values: np.ndarray, plan: FoldPlan, lookback: int, target_steps: int, stride: int,
    spec: TransformSpec = TransformSpec(),
) -> tuple[dict[str, np.ndarray], SeriesTransform]:
    """Fit one series' transform on its train part and cut its windows at one origin, in model units.

    Only ``values[:plan.origin]`` is read.

    Args:
        values: ``(time,)`` the series.
        plan: where it is cut.
        lookback: input steps per window.
        target_steps: target steps per window.
        stride: steps between two window starts (anchored at the origin).
        spec: the preprocessing to fit (standardisation only by default).

    Returns:
        Columns ``split, start, x, y`` for the train and validation windows and the test row, and
        the fitted transform.
    """
    before = np.array(values[: plan.origin], dtype=np.float64)  # a copy: nothing after the origin
    state = spec.fit(before[: plan.train_end])
    scaled = to_model_units(state, before)[:, None]  # (origin, 1)
    span = lookback + target_steps
    offset = (plan.origin - span) % stride
    cut = make_windows(scaled[offset:], lookback, target_steps, stride, "horizon")
    start = cut.start + offset
    shifted = type(cut)(cut.x, cut.y, start, cut.target_first + offset, cut.target_last + offset)
    labels = assign_splits(shifted, SplitBounds(plan.train_end, plan.origin, plan.origin))
    keep = labels != ""
    test_x = scaled[plan.origin - lookback : plan.origin][None].astype(np.float32)
    test_y = np.full((1, target_steps, 1), np.nan, dtype=np.float32)
    columns = {
        "split": np.concatenate([labels[keep], np.array(["test"], dtype=object)]),
        "start": np.concatenate([start[keep], [plan.origin - lookback]]),
        "x": np.concatenate([cut.x[keep], test_x]),
        "y": np.concatenate([cut.y[keep], test_y]),
    }
    return columns, state


def build_panel_windows(
    series: Mapping[str, np.ndarray],
    lookback: int,
    horizon: int,
    target_steps: int,
    stride: int,
    validation: float,
    folds: int = 1,
    fold_step: int | None = None,
    spec: TransformSpec = TransformSpec(),
    stamps: Mapping[str, np.ndarray] | None = None,
    calendar_features: Sequence[str] = (),
) -> PanelWindows:
    """Window every series at every backtest origin, each series on its own.

    Args:
        series: id to ``(time,)`` values, in time order.
        lookback: input steps per window.
        horizon: steps held out at each origin.
        target_steps: steps per training target (``horizon``; 1 for a recursive model).
        stride: steps between two window starts.
        validation: fraction of the part before the origin used for early stopping.
        folds: backtest origins.
        fold_step: steps between origins; None means ``horizon``.
        spec: the preprocessing fitted per series and origin on its training part.
        stamps: id to ``(time,)`` timestamps; needed with ``calendar_features``.
        calendar_features: calendar covariates (:func:`tasks.forecasting.calendar.resolve`): each row
            then carries the encoding of its ``lookback + target_steps`` steps; the test row's future
            steps are read from the timestamps only (known ahead), never their values.

    Raises:
        ValueError: a series is too short (named in the message).
    """
    features = tuple(calendar_features)
    if features and stamps is None:
        raise ValueError("calendar_features need the series' timestamps (stamps)")
    span = np.arange(lookback + target_steps)
    calendars: list[np.ndarray] = []
    transforms = []
    parts: dict[str, list[np.ndarray]] = {k: [] for k in ("fold", "series_id", "split", "start", "origin", "x", "y",
                                                          "mean", "std")}
    for sid, values in series.items():
        try:
            plans = holdout_plan(len(values), lookback, horizon, target_steps, stride, validation, folds, fold_step)
        except ValueError as exc:
            raise ValueError(f"series {sid!r}: {exc}") from None
        encoded = cal.encode(stamps[sid], features) if features else None  # (time, n_calendar)
        for plan in plans:
            try:
                cols, state = series_windows(values, plan, lookback, target_steps, stride, spec)
            except ValueError as exc:
                raise ValueError(f"series {sid!r}: {exc}") from None
            transforms.append({"series_id": str(sid), "fold": plan.fold, "state": state.to_dict()})
            mean, std = state.mean, state.std
            rows = len(cols["split"])
            parts["fold"].append(np.full(rows, plan.fold, dtype=np.int64))
            parts["series_id"].append(np.full(rows, sid, dtype=object))
            parts["origin"].append(np.full(rows, plan.origin, dtype=np.int64))
            parts["mean"].append(np.full(rows, mean))
            parts["std"].append(np.full(rows, std))
            for name in ("split", "start", "x", "y"):
                parts[name].append(cols[name])
            if features:
                if len(encoded) < plan.origin + target_steps:
                    raise ValueError(f"series {sid!r}: {len(encoded)} timestamps; the calendar needs "
                                     f"{plan.origin + target_steps}")
                calendars.append(encoded[np.asarray(cols["start"], dtype=np.int64)[:, None] + span])
    joined = {name: np.concatenate(chunks) for name, chunks in parts.items()}
    return PanelWindows(
        fold=joined["fold"],
        series_id=joined["series_id"],
        split=joined["split"],
        start=joined["start"],
        origin=joined["origin"],
        x=joined["x"].astype(np.float32),
        y=joined["y"].astype(np.float32),
        mean=joined["mean"],
        std=joined["std"],
        metadata={
            "lookback": str(lookback),
            "horizon": str(horizon),
            "target_steps": str(target_steps),
            "stride": str(stride),
            "validation": repr(float(validation)),
            "folds": str(folds),
            "fold_step": str(horizon if fold_step is None else fold_step),
            "transforms": json.dumps(transforms),
            "calendar": json.dumps(list(features)),
        },
        calendar=np.concatenate(calendars).astype(np.float32) if features else None,
    )


def iter_panel_windows(
    series: Mapping[str, np.ndarray],
    lookback: int,
    horizon: int,
    target_steps: int,
    stride: int,
    validation: float,
    folds: int = 1,
    fold_step: int | None = None,
    spec: TransformSpec = TransformSpec(),
    stamps: Mapping[str, np.ndarray] | None = None,
    calendar_features: Sequence[str] = (),
    series_per_part: int = 200,
) -> Iterator[PanelWindows]:
    """:func:`build_panel_windows` over ``series_per_part`` series at a time, in order, for a writer to stream.

    The parts' rows, one after another, are the rows of :func:`build_panel_windows` on every series;
    each part's metadata holds its own series' transforms. Memory holds one part's windows.

    Raises:
        ValueError: a series is too short (named in the message).
    """
    ids = list(series)
    for first in range(0, len(ids), series_per_part):
        group = ids[first : first + series_per_part]
        yield build_panel_windows(
            {sid: series[sid] for sid in group}, lookback, horizon, target_steps, stride, validation, folds,
            fold_step, spec, None if stamps is None else {sid: stamps[sid] for sid in group}, calendar_features,
        )


def forecast_rows(
    windows: PanelWindows, rows: np.ndarray, predicts: Sequence[Predict], horizon: int
) -> np.ndarray:
    """Forecast the test rows of a panel in series units: every member, then their median.

    The rows' windows were cut in model units when the panel was built; the forecast itself is
    :func:`tasks.forecasting.preprocessing.forecast_model_units`, the one path every forecast takes.

    Args:
        windows: the panel.
        rows: ``(n_rows,)`` indices of test rows.
        predicts: one forward pass per ensemble member, ``(batch, lookback, 1) → (batch, steps, 1)``.
        horizon: steps to forecast.

    Returns:
        ``(n_rows, horizon)`` forecasts in series units.
    """
    if len(rows) == 0:
        return np.zeros((0, horizon))
    states = [windows.transform(int(r)) for r in rows]
    return forecast_model_units(windows.x[rows], states, windows.origin[rows], predicts, horizon,
                                windows.calendar_of(rows))


def model_forecasts(
    windows: PanelWindows,
    fold: int,
    yhat: np.ndarray,
    series: Mapping[str, tuple[np.ndarray, np.ndarray]],
    model: str,
    rows: np.ndarray | None = None,
) -> pd.DataFrame:
    """Lay a model's test forecasts at one fold out as backtest forecast rows.

    Args:
        windows: the panel the model was trained on.
        fold: which origin.
        yhat: ``(n_test_rows, horizon)`` forecasts in series units (:func:`forecast_rows`) for
            ``windows.rows(fold, "test")``, in order.
        series: id to ``(timestamps, values)``, the truth.
        model: the forecaster's name.
        rows: the test rows ``yhat`` is for; None means every test row of the fold.

    Returns:
        Rows of :data:`tasks.forecasting.backtest.FORECAST_COLUMNS`.
    """
    rows = windows.rows(fold, "test") if rows is None else rows
    horizon = yhat.shape[1]
    steps = np.arange(1, horizon + 1)
    parts = []
    for i, row in enumerate(rows):
        sid = str(windows.series_id[row])
        origin = int(windows.origin[row])
        stamps, values = series[sid]
        parts.append(pd.DataFrame({
            "series_id": sid,
            "model": model,
            "fold": fold,
            "origin": origin,
            "timestamp": stamps[origin : origin + horizon],
            "horizon_step": steps,
            "yhat": yhat[i],
            "y": values[origin : origin + horizon],
        }))
    return pd.concat(parts, ignore_index=True)[list(FORECAST_COLUMNS)]


def score_forecasts(
    forecasts: pd.DataFrame, series: Mapping[str, tuple[np.ndarray, np.ndarray]], season_length: int
) -> pd.DataFrame:
    """Score forecast rows per series, model and fold with the M4 metrics (MASE scaled on the values before the origin).

    Args:
        forecasts: rows of :data:`tasks.forecasting.backtest.FORECAST_COLUMNS`.
        series: id to ``(timestamps, values)``.
        season_length: ``m`` of MASE's seasonal naive scale.

    Returns:
        Rows of :data:`tasks.forecasting.backtest.SCORE_COLUMNS`.
    """
    rows = []
    for (sid, model, fold, origin), part in forecasts.groupby(["series_id", "model", "fold", "origin"], sort=False):
        part = part.sort_values("horizon_step")
        insample = series[sid][1][: int(origin)]
        rows.append({"series_id": sid, "model": model, "fold": int(fold), "origin": int(origin),
                     **score_forecast(part["y"].to_numpy(), part["yhat"].to_numpy(), insample, season_length)})
    return pd.DataFrame(rows, columns=list(SCORE_COLUMNS))
