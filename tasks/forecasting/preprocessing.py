"""Series space ↔ model space for one series: the transforms a recurrent forecaster is trained behind.

Pure NumPy, no TensorFlow: the flow and a served model call the very same functions, so a served
model reproduces the flow's forecast exactly. The pieces, in the order they are applied:

1. **Deseasonalisation** (``deseasonalise = "classical"``): the strict seasonality decision
   (:func:`tasks.forecasting.seasonality.decide_season`: M4's 90 % autocorrelation test at lag ``m``,
   enough full seasons and a strong seasonal pattern), then multiplicative seasonal factors from a
   centred moving average (:func:`multiplicative_seasonal_indices`), as M4's benchmark code computes
   them. A series the decision refuses, or that holds a value <= 0, is left as it is (no factors).
   M4's test alone accepts slow cycles (an 11-year cycle sampled monthly) as a 12-month season; the
   statistical baselines keep it, to reproduce M4's scores (:mod:`tasks.forecasting.statistical`),
   and so do models served from bundles logged before the strict decision (``season_rule = "m4"``).
2. **Log** (``log = True``): ``log(value)``; needs positive values.
3. **Standardisation**: ``(v - mean) / std`` with mean and std of the training part (always on);
   with level normalisation (4) ``std`` is that of the one-step changes ``v[t] - v[t-1]``, the scale
   of what a level-normalised window holds.
4. **Per-window level normalisation** (``level = "last"``): every window (input and target) has its
   last *input* value subtracted, so the network sees and predicts the change from the current
   level. After the log this is dividing the window by its last input value, ES-RNN's level
   normalisation; the level is added back to the forecast, then 3, 2 and 1 are undone.
   ``level = "seasonal"``: the input likewise, but each target step has the input value one season
   before it subtracted (``lookback >= season_length``), so a network that outputs zeros is the
   seasonal naive forecast and it learns the change over the same season last year.

Everything in 1–3 is fitted by :func:`fit` on the values of the training part only (steps
``[0, train_end)`` before an origin; see :func:`train_part_end`) and kept in a frozen
:class:`SeriesTransform`, which is JSON-serialisable (:meth:`SeriesTransform.to_dict`,
:meth:`SeriesTransform.from_dict`). Step 4 needs no fitted state.

Positions: a seasonal factor applies to step ``t`` by ``t % season_length``, where ``t`` counts from
the first value of the series the state was fitted on (the series as stored, at index 0). Pass
histories that start at that same first value.

The API a served model needs::

    state = fit(values[:train_end], log=True, deseasonalise="classical", season_length=12, level="last")
    json.dumps(state.to_dict());  SeriesTransform.from_dict(d) == state
    z = forward(state, values)                 # (time,) series → model units (steps 1-3)
    values == inverse(state, z)                # and back (to float tolerance)
    yhat = forecast_history(history, predict, state, lookback=24, horizon=12)   # (horizon,)

where ``predict`` maps ``(batch, lookback, 1)`` float32 model-unit windows to ``(batch, steps, 1)``
(``steps = horizon`` for a direct model; ``1`` for a recursive one, fed back ``horizon`` times), or
is a sequence of such functions (an ensemble: each member forecasts, the median is taken in series
space). :func:`forecast_windows` is the batched core the flow calls for all series at once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

import numpy as np

from tasks.forecasting.seasonality import decide_season, multiplicative_seasonal_indices, seasonality_test

Predict = Callable[[np.ndarray], np.ndarray]

DESEASONALISE = ("off", "classical")
# Which decision "classical" deseasonalises by: "strict" (decide_season) for everything fitted now;
# "m4" (M4's test alone) only to serve models whose bundles were logged before the strict decision.
SEASON_RULES = ("strict", "m4")
LEVELS = ("off", "last", "seasonal")


def train_part_end(origin: int, horizon: int, validation: float) -> int:
    """Where the training part ends before an origin: the last ``max(horizon, validation * origin)``
    steps before it are the validation part (the flow's rule, :func:`tasks.forecasting.panel.holdout_plan`).

    Args:
        origin: the first step forecast (the length of the history).
        horizon: steps forecast.
        validation: fraction of the steps before the origin kept for early stopping.
    """
    return origin - max(horizon, int(validation * origin))


@dataclass(frozen=True)
class TransformSpec:
    """What to fit: the ``preprocess`` settings and the season length, before any data is seen."""

    log: bool = False  # preprocess.log
    deseasonalise: str = "off"  # preprocess.deseasonalise: off | classical
    season_length: int = 1  # m of the decomposition
    level: str = "off"  # preprocess.level: off | last | seasonal
    season_rule: str = "strict"  # the seasonality decision of "classical": strict | m4 (old bundles only)

    def fit(self, train: np.ndarray) -> SeriesTransform:
        """:func:`fit` with these settings."""
        return fit(train, log=self.log, deseasonalise=self.deseasonalise, season_length=self.season_length,
                   level=self.level, season_rule=self.season_rule)


@dataclass(frozen=True)
class SeriesTransform:
    """The fitted series ↔ model transform of one series at one origin; frozen and JSON-serialisable."""

    log: bool  # log after deseasonalising
    season_length: int  # m: of the factors, and the seasonal level's lag
    factors: tuple[float, ...]  # (season_length,) multiplicative factors; () = not deseasonalised
    mean: float  # of the (deseasonalised, logged) training part
    std: float  # likewise (of its one-step changes with a level); 1 for a flat training part
    level: str  # per-window level normalisation: off | last | seasonal

    def to_dict(self) -> dict:
        """A JSON-ready dict (lists and plain numbers)."""
        out = asdict(self)
        out["factors"] = list(self.factors)
        return out

    @classmethod
    def from_dict(cls, data: dict) -> SeriesTransform:
        """Rebuild a state from :meth:`to_dict`'s output."""
        return cls(
            log=bool(data["log"]), season_length=int(data["season_length"]),
            factors=tuple(float(f) for f in data["factors"]), mean=float(data["mean"]), std=float(data["std"]),
            level=str(data["level"]),
        )

    @property
    def deseasonalised(self) -> bool:
        """True when the series is divided by seasonal factors."""
        return len(self.factors) > 0

    def seasonal(self, start: int, steps: int) -> np.ndarray:
        """``(steps,)`` factors of steps ``start .. start + steps - 1`` (ones when not deseasonalised)."""
        if not self.factors:
            return np.ones(steps)
        return np.asarray(self.factors)[np.arange(start, start + steps) % self.season_length]


def _as_series(values: np.ndarray, name: str = "values") -> np.ndarray:
    x = np.asarray(values, dtype=np.float64)
    if x.ndim != 1:
        raise ValueError(f"{name} has shape {x.shape}; must be one series of shape (time,)")
    if x.size == 0:
        raise ValueError(f"{name} is empty")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{name} holds NaN or infinite values")
    return x


def fit(
    train: np.ndarray, *, log: bool = False, deseasonalise: str = "off", season_length: int = 1, level: str = "off",
    season_rule: str = "strict",
) -> SeriesTransform:
    """Fit the transform of one series on its training part only.

    Args:
        train: ``(time,)`` the training part (steps ``[0, train_end)``, nothing after).
        log: take the log after deseasonalising (``preprocess.log``).
        deseasonalise: ``"off"`` or ``"classical"`` (``preprocess.deseasonalise``): the strict
            decision (:func:`~tasks.forecasting.seasonality.decide_season`) and multiplicative
            factors; a series it refuses, or one with a value <= 0, keeps factor 1.
        season_length: ``m``, steps per season.
        level: per-window level normalisation (``preprocess.level``): off | last | seasonal.
        season_rule: the decision ``"classical"`` deseasonalises by: ``"strict"``, or ``"m4"`` (M4's
            test alone) to refit a model logged before the strict decision as it was trained.

    Raises:
        ValueError: ``log`` on a value <= 0, or an unknown ``deseasonalise`` or ``season_rule``.
    """
    x = _as_series(train, "train")
    if deseasonalise not in DESEASONALISE:
        raise ValueError(f"preprocess.deseasonalise = {deseasonalise!r}: valid: {', '.join(DESEASONALISE)}")
    if season_length < 1:
        raise ValueError(f"season_length={season_length}: must be >= 1")
    if level not in LEVELS:
        raise ValueError(f"preprocess.level = {level!r}: valid: {', '.join(LEVELS)}")
    if season_rule not in SEASON_RULES:
        raise ValueError(f"season_rule = {season_rule!r}: valid: {', '.join(SEASON_RULES)}")
    factors: tuple[float, ...] = ()
    if deseasonalise == "classical" and season_length > 1 and np.all(x > 0) and (
            decide_season(x, season_length).seasonal if season_rule == "strict"
            else seasonality_test(x, season_length)):
        factors = tuple(float(f) for f in multiplicative_seasonal_indices(x, season_length))
    adjusted = x / (np.asarray(factors)[np.arange(x.size) % season_length] if factors else 1.0)
    if log:
        if np.any(adjusted <= 0):
            raise ValueError(
                f"preprocess.log = true needs positive values; the training part holds {float(np.min(x)):g}"
            )
        adjusted = np.log(adjusted)
    # Level-normalised windows hold changes from the window's last value, not levels: they are scaled
    # by the spread of one-step changes (a trending series' level spread would shrink them to ~0).
    std = float(np.diff(adjusted).std()) if level != "off" and adjusted.size > 2 else float(adjusted.std())
    return SeriesTransform(log=log, season_length=season_length, factors=factors,
                           mean=float(adjusted.mean()), std=std if std > 0 else 1.0, level=level)


def forward(state: SeriesTransform, values: np.ndarray, start: int = 0) -> np.ndarray:
    """Map ``(time,)`` series values (step ``start`` first) to model units: deseasonalise, log, standardise.

    Raises:
        ValueError: a value <= 0 under a log transform.
    """
    x = np.asarray(values, dtype=np.float64) / state.seasonal(start, len(values))
    if state.log:
        if np.any(x <= 0):
            raise ValueError(f"preprocess.log = true needs positive values; got {float(np.min(values)):g}")
        x = np.log(x)
    return (x - state.mean) / state.std


def inverse(state: SeriesTransform, z: np.ndarray, start: int = 0) -> np.ndarray:
    """Map model units back to series values: the inverse of :func:`forward`.

    Args:
        state: the fitted transform.
        z: ``(..., steps)`` model units of steps ``start .. start + steps - 1`` (last axis is time).
        start: the series position of the first step.
    """
    x = np.asarray(z, dtype=np.float64) * state.std + state.mean
    if state.log:
        x = np.exp(x)
    return x * state.seasonal(start, np.shape(z)[-1])


def _anchors(window: np.ndarray, steps: int, level: str, season_length: int) -> np.ndarray:
    """``(n_windows, steps)`` values subtracted from the target steps of ``(n_windows, lookback, 1)`` windows."""
    n, lookback = window.shape[0], window.shape[1]
    if level == "off":
        return np.zeros((n, steps), dtype=window.dtype)
    if level == "last":
        return np.repeat(window[:, -1:, 0], steps, axis=1)
    if lookback < season_length:
        raise ValueError(f"preprocess.level = 'seasonal' needs window.lookback >= the season length {season_length}; "
                         f"it is {lookback}")
    return window[:, lookback - season_length + np.arange(steps) % season_length, 0]


def level_normalise(
    x: np.ndarray, y: np.ndarray | None = None, level: str = "last", season_length: int = 1
) -> tuple[np.ndarray, np.ndarray | None]:
    """Subtract each window's level from its input (the last input value) and target (per ``level``).

    Args:
        x: ``(n_windows, lookback, 1)`` inputs in model units.
        y: ``(n_windows, steps, 1)`` targets, or None.
        level: ``"last"``: every target step minus the last input value; ``"seasonal"``: each target
            step minus the input value one season before it; ``"off"``: unchanged.
        season_length: ``m`` of ``"seasonal"``.

    Returns:
        ``(x, y)`` level-normalised.
    """
    if level == "off":
        return x, y
    last = x[:, -1:, :]
    shifted_y = None
    if y is not None:
        shifted_y = y - _anchors(x, y.shape[1], level, season_length)[:, :, None].astype(y.dtype)
    return x - last, shifted_y


def with_calendar(x: np.ndarray, calendar: np.ndarray | None) -> np.ndarray:
    """Join (level-normalised) windows and their calendar into a covariate model's one input tensor.

    The window is extended by the future steps the calendar covers: their value channel is 0 (unknown,
    and the network ignores it: :func:`tasks.nets.models.build_forecaster` reads only their
    calendar), their calendar channels are the future's.

    Args:
        x: ``(n_windows, lookback, 1)`` model-unit windows.
        calendar: ``(n_windows, lookback + steps, n_calendar)`` encodings of every input and future
            step (:func:`tasks.forecasting.calendar.encode`), or None (no covariates: ``x`` unchanged).

    Returns:
        ``(n_windows, lookback + steps, 1 + n_calendar)`` float32, or ``x`` when ``calendar`` is None.
    """
    if calendar is None:
        return x
    n, lookback = x.shape[0], x.shape[1]
    if calendar.shape[0] != n or calendar.shape[1] < lookback:
        raise ValueError(f"calendar has shape {calendar.shape}; windows {x.shape} need (n_windows, >= lookback, channels)")
    values = np.zeros((n, calendar.shape[1], 1), dtype=np.float32)
    values[:, :lookback] = x
    return np.concatenate([values, calendar.astype(np.float32, copy=False)], axis=2)


def forecast_windows(
    predict: Predict, z: np.ndarray, horizon: int, level: str = "off", season_length: int = 1,
    batch_size: int = 4096, calendar: np.ndarray | None = None,
) -> np.ndarray:
    """Forecast ``horizon`` steps after each model-unit window: direct, or recursive for a one-step model.

    A model whose output covers the horizon is called once (direct); a one-step model is fed its own
    forecast ``horizon`` times, the window sliding one step each time and each window
    level-normalised on its own (as the model was trained, :func:`level_normalise`).

    Args:
        predict: ``(batch, lookback, 1)`` float32 → ``(batch, steps, 1)``.
        z: ``(n_windows, lookback)`` or ``(n_windows, lookback, 1)`` windows in model units (steps
            1–3 applied, not level-normalised).
        horizon: steps to forecast.
        level: the level normalisation the model was trained with: off | last | seasonal.
        season_length: ``m`` of ``level = "seasonal"``.
        batch_size: windows per call.
        calendar: ``(n_windows, lookback + horizon, n_calendar)`` the calendar of each window's input
            and forecast steps, for a model trained with covariates (:func:`with_calendar`; direct
            only: its output must cover the horizon), or None.

    Returns:
        ``(n_windows, horizon)`` forecasts in model units.
    """
    windows = np.asarray(z, dtype=np.float32).reshape(len(z), -1, 1)
    out = []
    for i in range(0, len(windows), batch_size):
        window = windows[i : i + batch_size]
        if calendar is not None:
            last = window[:, -1:, :] if level != "off" else np.zeros_like(window[:, -1:, :])
            cal = np.asarray(calendar[i : i + batch_size], dtype=np.float32)[:, : windows.shape[1] + horizon]
            raw = np.asarray(predict(with_calendar(window - last, cal)), dtype=np.float32).reshape(len(window), -1)
            if raw.shape[1] < horizon:
                raise ValueError(f"a model with calendar covariates forecasts {raw.shape[1]} steps at once; the "
                                 f"horizon is {horizon} (covariates need model.strategy = 'direct')")
            out.append((raw + _anchors(window, raw.shape[1], level, season_length))[:, :horizon])
            continue
        steps: list[np.ndarray] = []
        while sum(s.shape[1] for s in steps) < horizon:
            last = window[:, -1:, :] if level != "off" else np.zeros_like(window[:, -1:, :])
            raw = np.asarray(predict(window - last), dtype=np.float32)
            raw = raw.reshape(len(window), -1)
            if not steps and raw.shape[1] < horizon and raw.shape[1] != 1:
                raise ValueError(f"a model with {raw.shape[1]} target steps cannot cover a horizon of {horizon}")
            nxt = raw + _anchors(window, raw.shape[1], level, season_length)
            steps.append(nxt)
            window = np.concatenate([window, nxt[:, :, None]], axis=1)[:, -windows.shape[1]:]
        out.append(np.concatenate(steps, axis=1)[:, :horizon])
    return np.concatenate(out, axis=0).astype(np.float64)


def median_forecast(forecasts: Sequence[np.ndarray]) -> np.ndarray:
    """Combine the members of an ensemble by the median, step by step.

    Args:
        forecasts: one ``(..., horizon)`` array per member, in series units.

    Returns:
        The element-wise median, same shape as one member.
    """
    if len(forecasts) == 0:
        raise ValueError("an ensemble needs at least one member's forecast")
    return np.median(np.stack([np.asarray(f, dtype=np.float64) for f in forecasts]), axis=0)


def forecast_model_units(
    z: np.ndarray, states: SeriesTransform | Sequence[SeriesTransform], origins: np.ndarray,
    predict: Predict | Sequence[Predict], horizon: int, calendar: np.ndarray | None = None,
) -> np.ndarray:
    """Forecast after each model-unit window and map it back to its series' units: the one forecast path.

    The backtest's test rows (:func:`tasks.forecasting.panel.forecast_rows`), the intervals'
    validation forecasts and the served model (:func:`tasks.forecasting.serving.forecast_series`) all
    end here, so a served forecast equals the flow's to the last bit: every member forecasts every
    window (:func:`forecast_windows`), each window is mapped back with its series' transform from
    its origin on (:func:`inverse`), and the members are combined by the median.

    Args:
        z: ``(n_windows, lookback)`` or ``(n_windows, lookback, 1)`` windows in model units (steps 1–3
            applied, not level-normalised).
        states: each window's series transform, or one for every window.
        origins: ``(n_windows,)`` the series position of each window's first forecast step.
        predict: one model's ``(batch, lookback, 1) → (batch, steps, 1)`` in model units, or a
            sequence of them (an ensemble).
        horizon: steps to forecast.
        calendar: ``(n_windows, lookback + horizon, n_calendar)`` for a model trained with covariates.

    Returns:
        ``(n_windows, horizon)`` forecasts in series units.
    """
    starts = np.asarray(origins, dtype=np.int64).reshape(-1)
    per_window = [states] * len(starts) if isinstance(states, SeriesTransform) else list(states)
    members = [predict] if callable(predict) else list(predict)
    level, season_length = per_window[0].level, per_window[0].season_length
    forecasts = []
    for p in members:
        out = forecast_windows(p, z, horizon, level, season_length, calendar=calendar)
        forecasts.append(np.stack([inverse(state, out[i], start=int(o))
                                   for i, (state, o) in enumerate(zip(per_window, starts))]))
    return median_forecast(forecasts)


def forecast_origins(
    values: np.ndarray, predict: Predict | Sequence[Predict], state: SeriesTransform, lookback: int, horizon: int,
    origins: np.ndarray, calendar: np.ndarray | None = None,
) -> np.ndarray:
    """Forecast one series from its raw values at each origin (the ``lookback`` values before it).

    Args:
        values: ``(time,)`` the series' raw values from its first value; only those before each
            origin are read.
        predict: a model, or an ensemble's members (see :func:`forecast_model_units`).
        state: the series' transform, fitted on its training part.
        lookback: input steps the model reads.
        horizon: steps to forecast.
        origins: ``(n,)`` where each forecast starts, each at least ``lookback``.
        calendar: ``(n, lookback + horizon, n_calendar)`` for a model trained with covariates.

    Returns:
        ``(n, horizon)`` forecasts in series units.
    """
    x = np.asarray(values, dtype=np.float64)
    starts = np.asarray(origins, dtype=np.int64).reshape(-1)
    # forward in float64, then float32: the float operations of tasks.forecasting.panel.series_windows.
    z = np.stack([forward(state, x[o - lookback : o], start=int(o) - lookback) for o in starts])
    return forecast_model_units(z[..., None].astype(np.float32), state, starts, predict, horizon, calendar)


def forecast_history(
    history: np.ndarray, predict: Predict | Sequence[Predict], state: SeriesTransform, lookback: int, horizon: int,
    calendar: np.ndarray | None = None,
) -> np.ndarray:
    """Forecast one series right after its raw history: :func:`forecast_origins` at one origin.

    Args:
        history: ``(n,)`` the series' values before the origin, from its first value (positions as
            at fit time).
        predict: one model's ``(batch, lookback, 1) → (batch, steps, 1)`` in model units, or a
            sequence of them (an ensemble: the median of the members' forecasts, in series units).
        state: the series' transform, fitted on its training part.
        lookback: input steps the model reads.
        horizon: steps to forecast.
        calendar: ``(lookback + horizon, n_calendar)`` the calendar of the last ``lookback`` steps and
            the ``horizon`` after them, for a model trained with covariates; None without.

    Returns:
        ``(horizon,)`` forecast of steps ``n .. n + horizon - 1``, in series units.
    """
    x = _as_series(history, "history")
    if x.size < lookback:
        raise ValueError(f"history has {x.size} values; the model reads lookback = {lookback}")
    cal = None if calendar is None else np.asarray(calendar, dtype=np.float32)[None]
    return forecast_origins(x, predict, state, lookback, horizon, np.array([x.size]), cal)[0]
