"""A trained model as a forecaster of any history: a bundle (JSON), the series↔model mapping, the forecast frame.

What a served model must reproduce is the flow's own forecast at an origin: the series scaled on its
train part by the flow's rule, the ``lookback`` steps before the origin fed to the network (once, or
``horizon`` times fed back), the output unscaled, the interval added. Everything a served model needs
besides the Keras file travels in its **bundle**, a JSON-ready dict (:func:`make_bundle`): the window
and split settings, the frequency, the interval's half-widths and the whole flow config.

**Where preprocessing plugs in.** The mapping between a series' own units and the model's units is
written once, in the section "series space ↔ model space" below: :func:`transform_state` (the
series' :class:`~tasks.forecasting.preprocessing.SeriesTransform`, fitted on the history's training
part by the flow's rule, as its JSON ``to_dict()``) and :func:`forecast_series` (one series'
forecasts from its raw history, given that state and the ensemble's predict functions). Both are
thin calls into :mod:`tasks.forecasting.preprocessing` (``fit``, then ``forecast_origins``), whose
:func:`~tasks.forecasting.preprocessing.forecast_model_units` is the one forecast path the flow's
backtest (:func:`tasks.forecasting.panel.forecast_rows`) takes too: deseasonalisation, log,
standardisation, per-window level, the median of the members in series space. :func:`forecast_frame`
(serving) and the flow's interval calibration (:func:`validation_residuals`) call only them.

Pure: NumPy and pandas, no Keras (the predict function is passed in), no MLflow.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from tasks.errors import InputError
from tasks.forecasting import calendar, intervals, preprocessing
from tasks.forecasting.panel import holdout_plan, min_series_length
from tasks.forecasting.preprocessing import SeriesTransform, TransformSpec
from tasks.forecasting.sources import validation as v

BUNDLE_FORMAT = "seqflow-forecaster/2"
HISTORY_COLUMNS = ("series_id", "timestamp", "value")
FORECAST_COLUMNS = ("series_id", "timestamp", "yhat", "lower", "upper")
# The calendar step per frequency, for the future timestamps when pandas infers no offset from the history.
_STEP = {"hourly": pd.DateOffset(hours=1), "daily": pd.DateOffset(days=1), "weekly": pd.DateOffset(weeks=1),
         "monthly": pd.DateOffset(months=1), "quarterly": pd.DateOffset(months=3), "yearly": pd.DateOffset(years=1)}

# One period of each frequency, as a caller counts rows.
_PERIOD = {"hourly": "hour", "daily": "day", "weekly": "week", "monthly": "month", "quarterly": "quarter",
           "yearly": "year"}

Predict = Callable[[np.ndarray], np.ndarray]  # (batch, lookback, 1) float32 -> (batch, target_steps, 1)


class OutOfTime(Exception):
    """A served request would outlast the server's request timeout: the work stopped, the message says what to send."""
Predicts = Predict | Sequence[Predict]  # one network, or an ensemble's members (median in series space)


def make_bundle(
    config: Mapping[str, Any],
    cell: str,
    frequency: str,
    season_length: int,
    half_widths: np.ndarray,
    n_calibration: np.ndarray,
    **provenance: str,
) -> dict[str, Any]:
    """Gather what a served model needs besides its network, as a JSON-ready dict.

    Args:
        config: the flow's config as JSON (``ForecastConfig.model_dump(mode="json")``).
        cell: the model's cell.
        frequency: the series' calendar frequency (``monthly``, ...).
        season_length: ``m`` of the MASE scale the intervals are measured in.
        half_widths: ``(horizon,)`` the conformal half-widths, in units of that scale.
        n_calibration: ``(horizon,)`` residuals each was taken from.
        provenance: strings saying where the model comes from (run ids, the data's hash).
    """
    spec = window_spec(config, season_length,
                       calendar.resolve((config.get("preprocess") or {}).get("calendar"), frequency))
    need = min_series_length(spec["lookback"], spec["horizon"], spec["target_steps"], spec["stride"],
                             spec["validation"])
    return {
        "format": BUNDLE_FORMAT,
        "cell": cell,
        **spec,
        "strategy": _strategy(config),
        # Networks the served model carries (keras_model_0 .. keras_model_{n-1}); it forecasts with their median.
        "ensemble": int((config.get("model") or {}).get("ensemble", 1)),
        "frequency": frequency,
        # The flow's own rule: a series needs this much before an origin to be windowed there.
        "min_history": int(need - spec["horizon"]),
        "preprocessing": "tasks.forecasting.preprocessing.fit(**preprocess, season_length) on the history's train "
                         "part: all but its last max(horizon, floor(validation * n)) steps (train_part_end); "
                         "forecast_windows per member (with the calendar of the history's last lookback steps "
                         "and of the horizon after it, when the bundle names calendar features), inverse, "
                         "median of the members",
        "interval": {"level": float(config["evaluate"]["interval_level"]),
                     "half_widths": [float(q) for q in half_widths],
                     "n_calibration": [int(n) for n in n_calibration],
                     "scale": "in-sample seasonal-naive MAE of the history (MASE's denominator), lag season_length"},
        "config": dict(config),
        "provenance": dict(provenance),
    }


def _strategy(config: Mapping[str, Any]) -> str:
    """``model.strategy`` (direct | recursive); ``window.multi_step`` is its old name."""
    model = config.get("model") or {}
    return str(model.get("strategy") or config["window"].get("multi_step", "direct"))


def window_spec(config: Mapping[str, Any], season_length: int,
                calendar_features: Sequence[str] = ()) -> dict[str, Any]:
    """The window, split and preprocess settings a forecast from a history needs, from the flow's config as JSON.

    ``season_length`` is the flow's (``evaluate.season_length`` or the data's): the decomposition's
    and the seasonal level's ``m``, and the intervals' scale lag. ``calendar_features`` are the
    covariates the model reads (``preprocess.calendar`` resolved for the series' frequency,
    :func:`tasks.forecasting.calendar.resolve`); a bundle without the key has none. ``season_rule`` is
    the seasonality decision ``deseasonalise = "classical"`` is fitted by (``"strict"``); a bundle
    without it was logged before the strict decision and is served with M4's test (``"m4"``).
    """
    window = config["window"]
    target_steps = 1 if _strategy(config) == "recursive" else window["horizon"]
    pre = config.get("preprocess") or {}
    return {"lookback": int(window["lookback"]), "horizon": int(window["horizon"]), "target_steps": int(target_steps),
            "stride": int(window["stride"]), "validation": float(config["split"]["validation"]),
            "season_length": int(season_length), "calendar": list(calendar_features),
            "preprocess": {"deseasonalise": str(pre.get("deseasonalise", "off")), "log": bool(pre.get("log", False)),
                           "level": str(pre.get("level", "off"))},
            "season_rule": "strict"}


def validation_residuals(
    series_id: str, values: np.ndarray, origin: int, fold: int, predict: Predicts, spec: Mapping[str, Any],
    season_length: int, stamps: np.ndarray | None = None,
) -> pd.DataFrame:
    """Forecast from every step of one series' validation part at one fold and score the errors.

    The state is fitted as at the fold's origin (on the train part before it), so these are the
    forecasts the fold's model (every ensemble member, their median) would have made inside its
    validation part; their truth lies before the origin. Rows of
    :data:`tasks.forecasting.intervals.RESIDUAL_COLUMNS`, kind ``validation``.

    Args:
        spec: :func:`window_spec` (or a bundle).
        season_length: the intervals' scale lag.
        stamps: ``(time,)`` the series' timestamps, for a model with calendar covariates.
    """
    values = np.asarray(values, dtype=np.float64)
    plan = holdout_plan(origin + spec["horizon"], spec["lookback"], spec["horizon"], spec["target_steps"],
                        spec["stride"], spec["validation"])[0]
    origins = intervals.validation_origins(origin, plan.train_end, spec["lookback"], spec["horizon"])
    if origins.size == 0:
        return pd.DataFrame(columns=list(intervals.RESIDUAL_COLUMNS))
    state = transform_state(values[:origin], spec)
    yhat = forecast_series(values[:origin], state, predict, spec, origins, stamps)
    y = np.stack([values[o : o + spec["horizon"]] for o in origins])
    scales = np.array([intervals.series_scale(values[:o], season_length) for o in origins])
    return intervals.residual_rows(series_id, fold, "validation", origins, y, yhat, scales)


# ---- series space ↔ model space: the one place a model's preprocessing lives -----------------------


def transform_spec(bundle: Mapping[str, Any]) -> TransformSpec:
    """The preprocessing a bundle (or :func:`window_spec`) says to fit, as the flow's ``steps.transform_spec``."""
    pre = bundle.get("preprocess") or {}
    # A bundle without the key was logged when "classical" meant M4's test alone: its model was
    # trained behind those factors, so it is served with them (preprocessing.SEASON_RULES).
    return TransformSpec(log=bool(pre.get("log", False)), deseasonalise=str(pre.get("deseasonalise", "off")),
                         season_length=int(bundle["season_length"]), level=str(pre.get("level", "off")),
                         season_rule=str(bundle.get("season_rule", "m4")))


def transform_state(history: np.ndarray, bundle: Mapping[str, Any]) -> dict[str, Any]:
    """Fit the per-series state that maps a history into the model's units, as the flow does at an origin.

    :func:`tasks.forecasting.preprocessing.fit` with the bundle's preprocess settings, on the
    history's train part cut by the flow's rule for an origin right after the history
    (:func:`tasks.forecasting.preprocessing.train_part_end`, checked by
    :func:`tasks.forecasting.panel.holdout_plan`).

    Args:
        history: ``(time,)`` the series' values up to the origin.
        bundle: see :func:`make_bundle`.

    Returns:
        :meth:`SeriesTransform.to_dict`, JSON-serialisable.

    Raises:
        ValueError: the history is too short for the flow's rule, or does not fit the preprocessing
            (a value <= 0 under ``preprocess.log``).
    """
    values = np.asarray(history, dtype=np.float64)
    plan = holdout_plan(values.size + bundle["horizon"], bundle["lookback"], bundle["horizon"], bundle["target_steps"],
                        bundle["stride"], bundle["validation"])[0]
    return transform_spec(bundle).fit(values[: plan.train_end]).to_dict()


def forecast_series(
    values: np.ndarray, state: Mapping[str, Any] | SeriesTransform, predict: Predicts, bundle: Mapping[str, Any],
    origins: np.ndarray | None = None, stamps: np.ndarray | pd.DatetimeIndex | None = None,
) -> np.ndarray:
    """Forecast one series' next ``horizon`` steps from its raw values, in its own units.

    The bundle's settings and calendar around :func:`tasks.forecasting.preprocessing.forecast_origins`,
    which ends in the flow's own forecast path (:func:`~tasks.forecasting.preprocessing.forecast_model_units`).

    Args:
        values: ``(time,)`` the series' raw values from its first value; only those before each origin are read.
        state: from :func:`transform_state` (or the :class:`SeriesTransform` itself).
        predict: the network, ``(batch, lookback, 1)`` float32 to ``(batch, target_steps, 1)``, or
            the ensemble's members.
        bundle: see :func:`make_bundle`.
        origins: ``(n,)`` where each forecast starts; None means right after the last value.
        stamps: ``(time',)`` timestamps of the values and on, through the last origin's horizon
            (history and :func:`future_timestamps`): a model with calendar covariates
            (``bundle["calendar"]``) reads the calendar of each window's input and forecast steps.

    Returns:
        ``(n, horizon)`` forecasts.
    """
    values = np.asarray(values, dtype=np.float64)
    st = state if isinstance(state, SeriesTransform) else SeriesTransform.from_dict(dict(state))
    lookback, horizon = bundle["lookback"], bundle["horizon"]
    starts = np.array([values.size] if origins is None else origins, dtype=np.int64)
    cal = None
    features = tuple(bundle.get("calendar") or ())
    if features:
        if stamps is None or len(stamps) < int(starts.max()) + horizon:
            raise ValueError(f"a model with calendar covariates ({', '.join(features)}) needs the timestamps of "
                             "the history and the horizon after it")
        encoded = calendar.encode(stamps, features)
        cal = np.stack([encoded[o - lookback : o + horizon] for o in starts])
    return preprocessing.forecast_origins(values, predict, st, lookback, horizon, starts, cal)


# ---- the served forecast ---------------------------------------------------------------------------


def forecast_frame(history: pd.DataFrame, bundle: Mapping[str, Any], predict: Predicts,
                   source: str = "input", deadline: float | None = None,
                   limit_seconds: float | None = None) -> pd.DataFrame:
    """Forecast the next ``horizon`` steps of every series of a history, with prediction intervals.

    Args:
        history: ``series_id, timestamp, value`` rows (any order; ``series_id`` may be left out for
            one series); timestamps as datetimes or text, values as numbers or text.
        bundle: see :func:`make_bundle`.
        predict: the network, or the ensemble's members (see :func:`forecast_series`).
        source: how error messages name the history (a file name, or ``input``).
        deadline: a served request's: the ``time.monotonic()`` past which the work stops; None (a
            forecast in this process, ``seqflow predict``) for no limit.
        limit_seconds: the server's request timeout the deadline comes from, for the message.

    Returns:
        ``series_id, timestamp, yhat, lower, upper``: ``horizon`` rows per series, by series then
        time; the timestamps continue each series' calendar.

    Raises:
        InputError: the history breaks a rule (see :func:`check_history`), or a series does not
            fit the model's preprocessing (a value <= 0 under ``preprocess.log``).
        OutOfTime: past ``deadline``, checked before each series.
    """
    started = time.monotonic()
    frame = check_history(history, bundle, source)
    total = int(frame["series_id"].nunique())

    def in_time(done: int) -> None:
        if deadline is None or time.monotonic() <= deadline:
            return
        fit = f"about {max(1, done * 4 // 5):,}" if done else "fewer"
        raise OutOfTime(
            f"{source}: the request's {total:,} series cannot be forecast within this server's "
            f"{limit_seconds or 0:.0f} s request timeout: {done:,} were ready after {time.monotonic() - started:.0f} s; "
            f"send fewer series per request ({fit}), or serve with a longer MLFLOW_SCORING_SERVER_REQUEST_TIMEOUT")

    q = np.asarray(bundle["interval"]["half_widths"], dtype=np.float64)
    ids, histories, states, futures, stamps = [], [], [], [], []
    for sid, part in frame.groupby("series_id", sort=True):
        in_time(len(ids))
        values = part["value"].to_numpy(dtype=np.float64)
        future = future_timestamps(part["timestamp"], bundle["horizon"], bundle["frequency"])
        try:
            states.append(SeriesTransform.from_dict(transform_state(values, bundle)))
        except ValueError as exc:
            raise InputError(f"series {str(sid)!r}: {exc}", file=source, column="value") from None
        ids.append(str(sid))
        histories.append(values)
        futures.append(future)
        stamps.append(pd.DatetimeIndex(part["timestamp"]).append(pd.DatetimeIndex(future)))
    try:
        yhats = forecast_latest(histories, states, predict, bundle, stamps, ids)
    except ValueError as exc:
        raise InputError(str(exc), file=source, column="value") from None
    parts = []
    for sid, values, future, yhat in zip(ids, histories, futures, yhats):
        lower, upper = intervals.bounds(yhat, q, intervals.series_scale(values, bundle["season_length"]))
        parts.append(pd.DataFrame({"series_id": sid, "timestamp": future, "yhat": yhat, "lower": lower,
                                   "upper": upper}))
    return pd.concat(parts, ignore_index=True)[list(FORECAST_COLUMNS)]


def forecast_latest(histories: Sequence[np.ndarray], states: Sequence[SeriesTransform], predict: Predicts,
                    bundle: Mapping[str, Any], stamps: Sequence[pd.DatetimeIndex] | None = None,
                    ids: Sequence[str] | None = None) -> np.ndarray:
    """Forecast every series right after its history, all in one batch: each member is called once per
    4096 series (:func:`~tasks.forecasting.preprocessing.forecast_windows`), not once per series.

    Each row is what :func:`forecast_series` gives that series alone: the same float operations per
    window, and the network maps each window of a batch on its own.

    Args:
        histories: each series' raw values from its first value.
        states: each series' transform (:func:`transform_state`).
        predict: the network, or the ensemble's members.
        bundle: see :func:`make_bundle`.
        stamps: each series' timestamps and the horizon's after them, for a model with calendar covariates.
        ids: each series' id, for error messages.

    Returns:
        ``(n_series, horizon)`` forecasts in each series' units.

    Raises:
        ValueError: a series' last window does not fit its transform (a value <= 0 under ``preprocess.log``),
            naming the series.
    """
    lookback, horizon = bundle["lookback"], bundle["horizon"]
    origins = np.array([h.size for h in histories], dtype=np.int64)
    windows = []
    for k, (h, st, o) in enumerate(zip(histories, states, origins)):
        try:
            windows.append(preprocessing.forward(st, np.asarray(h, dtype=np.float64)[o - lookback : o],
                                                 start=int(o) - lookback))
        except ValueError as exc:
            raise ValueError(f"series {ids[k] if ids else k!r}: {exc}") from None
    z = np.stack(windows)
    cal = None
    features = tuple(bundle.get("calendar") or ())
    if features:
        if stamps is None:
            raise ValueError(f"a model with calendar covariates ({', '.join(features)}) needs the timestamps of "
                             "the history and the horizon after it")
        cal = np.stack([calendar.encode(s, features)[o - lookback : o + horizon] for s, o in zip(stamps, origins)])
    return preprocessing.forecast_model_units(z[..., None].astype(np.float32), list(states), origins, predict,
                                              horizon, cal)


def future_timestamps(stamps: pd.Series, horizon: int, frequency: str) -> pd.DatetimeIndex:
    """Continue a series' calendar ``horizon`` steps after its last timestamp.

    pandas' inferred offset keeps the series' own convention (month starts or month ends); when it
    infers none (too few rows, a day-of-month it has no alias for) the calendar step of
    ``frequency`` is added to the last timestamp.
    """
    index = pd.DatetimeIndex(stamps)
    inferred = pd.infer_freq(index[-12:]) if len(index) >= 3 else None
    if inferred is not None:
        return pd.date_range(index[-1], periods=horizon + 1, freq=inferred)[1:].astype("datetime64[s]")
    step = _STEP[frequency]
    return pd.DatetimeIndex([index[-1] + step * k for k in range(1, horizon + 1)]).astype("datetime64[s]")


def check_history(history: pd.DataFrame, bundle: Mapping[str, Any], source: str = "input") -> pd.DataFrame:
    """Validate a history as ingestion validates a file, and lay it out for :func:`forecast_frame`.

    Rows are numbered from 1 in the order given. Every rule of :mod:`.sources.validation` applies:
    the columns, dates, finite numbers, no duplicate timestamps, no calendar gaps, no missing
    values; and the served model's own: the history's frequency is the one the model was trained
    on, and every series has at least ``bundle["min_history"]`` values.

    Returns:
        ``series_id`` (str), ``timestamp`` (datetime64[s]), ``value`` (float64), by series then time.

    Raises:
        InputError: one line naming the source, row, column and rule.
    """
    if not isinstance(history, pd.DataFrame):
        raise InputError(f"expected a table with columns {', '.join(HISTORY_COLUMNS)}; got {type(history).__name__}",
                         file=source)
    names = [str(c) for c in history.columns]
    missing = [c for c in HISTORY_COLUMNS[1:] if c not in names]
    if missing:
        raise InputError(
            f"missing column{'s' if len(missing) > 1 else ''} {', '.join(map(repr, missing))}; the history has "
            f"{', '.join(map(repr, names)) or 'no columns'}; expected series_id (optional for one series), timestamp, "
            "value", file=source)
    if len(history) == 0:
        raise InputError("no rows: the history is empty", file=source)
    rows = np.arange(1, len(history) + 1)
    ids = (history["series_id"].astype(str).str.strip().to_numpy(dtype=object) if "series_id" in names
           else np.full(len(history), "series", dtype=object))
    empty = np.flatnonzero(ids == "")
    if empty.size:
        raise InputError("missing series id", file=source, row=int(rows[empty[0]]), column="series_id")
    stamps = history["timestamp"]
    if pd.api.types.is_datetime64_any_dtype(stamps):
        date_text = stamps.astype(str).to_numpy()
        # As parse_dates does: a time zone is converted to UTC and dropped.
        timestamps = (stamps.dt.tz_convert(None) if stamps.dt.tz is not None else stamps).astype("datetime64[s]")
        if timestamps.isna().any():
            raise InputError("missing date; every row needs one", file=source,
                             row=int(rows[int(np.flatnonzero(timestamps.isna().to_numpy())[0])]), column="timestamp")
    else:
        date_text = stamps.map(lambda s: "" if s is None or (isinstance(s, float) and np.isnan(s)) else str(s))
        date_text = date_text.str.strip().to_numpy()
        timestamps = v.parse_dates(source, date_text, rows, "timestamp")
    raw = history["value"]
    if pd.api.types.is_numeric_dtype(raw) and not pd.api.types.is_bool_dtype(raw):
        values = raw.to_numpy(dtype=np.float64)
        bad = np.flatnonzero(np.isinf(values))
        if bad.size:
            raise InputError("not a finite number; values must be finite", file=source, row=int(rows[bad[0]]),
                             column="value", value=float(values[bad[0]]))
    else:
        values = v.parse_values(source, ["" if c is None else str(c) for c in raw.to_list()], rows, "value")
    work = pd.DataFrame({"series_id": pd.array(ids, dtype="str"), "timestamp": np.asarray(timestamps),
                         "value": values, "row": rows, "date_text": date_text})
    work = work.sort_values(["series_id", "timestamp", "row"], kind="stable", ignore_index=True)
    v.check_duplicates(source, work, "timestamp")
    # Length first: a caller of the served model can only send more rows (its frequency is the model's),
    # and a single row per series is too short before it is a frequency no one can infer.
    check_length(work, bundle, source)
    try:
        found = v.infer_frequency(source, work, "timestamp")
    except InputError as exc:
        # The file rules' advice (``pass frequency=``) is an argument no HTTP caller can pass.
        raise InputError(str(exc).removesuffix("; pass frequency=")
                         + f"; this model forecasts {bundle['frequency']} series: send one row per "
                         f"{_PERIOD[bundle['frequency']]}") from None
    if found != bundle["frequency"]:
        raise InputError(f"the history is {found}; this model was trained on {bundle['frequency']} series",
                         file=source, column="timestamp")
    v.check_calendar(source, work, found, "timestamp")
    work = v.fill_missing(source, work, "error", "value")
    return work[list(HISTORY_COLUMNS)].reset_index(drop=True)


def check_length(work: pd.DataFrame, bundle: Mapping[str, Any], source: str = "input") -> None:
    """Refuse a series shorter than the model's ``min_history``, saying what rows the caller must send.

    Rows are named as :func:`check_history` numbers them; the message speaks in the request's terms
    (rows and columns per series), since an HTTP caller has no setting to change.

    Raises:
        InputError: naming the first short series, its rows and what the model needs.
    """
    need = int(bundle["min_history"])
    counts = work.groupby("series_id", sort=False)["row"].agg(["size", "min", "max"])
    short = counts[counts["size"] < need]
    if short.empty:
        return
    size, first, last = (int(x) for x in short.iloc[0])
    raise InputError(
        f"series {str(short.index[0])!r} has {size} value{'' if size == 1 else 's'} (rows {first}-{last}); this model "
        f"needs at least {need} (lookback {bundle['lookback']}, horizon {bundle['horizon']}, validation "
        f"{bundle['validation']:g}: the history the flow itself needs before an origin): send at least {need} "
        f"consecutive {bundle['frequency']} rows per series, as columns series_id, timestamp, value",
        file=source, row=first, column="value")