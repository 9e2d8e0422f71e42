"""The forecasting flow's config: what to forecast, how to window it, which cells, how to train and score.

Everything that can be checked from the config alone (window spans against the series length, the
baselines' lags and seasons against the splits) is checked here, so a bad setting is refused with a
message naming its key before any run opens. A file source's length is only known once it is read:
:func:`check_holdout_fits` is the rule, run right after ingest and before any run opens.

``source`` is a union chosen by ``kind`` (``sine | csv | m4``); a source without a ``kind`` is the
sine, so presets and ``--set source.x_end=40`` written before the union keep their meaning.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal, Union

from pydantic import Discriminator, Field, Tag, field_validator, model_validator

from tasks.config import Frozen, RunConfig, TrackingConfig
from tasks.forecasting.calendar import FEATURES as CALENDAR_FEATURES
from tasks.forecasting.panel import holdout_plan, min_series_length
from tasks.forecasting.windowing import check_window_plan, split_bounds
from tasks.nets.config import CELLS, NetConfig, TrainConfig

SOURCE_KINDS: tuple[str, ...] = ("sine", "csv", "m4")
FREQUENCIES: tuple[str, ...] = ("hourly", "daily", "weekly", "monthly", "quarterly", "yearly")
# The multi-step baselines of tasks.forecasting.statistical.baseline_forecasters, by name.
BASELINES: tuple[str, ...] = ("naive", "seasonal_naive", "naive2", "holt_winters", "holt_winters_damped", "theta")


class SineSource(Frozen):
    """``amplitude * sin(frequency * x + phase) + noise`` sampled on ``[x_start, x_end)``."""

    kind: Literal["sine"] = "sine"  # the source type: sine | csv | m4
    series_id: str = Field("sine", min_length=1, max_length=200)  # the id written to the series_id column (data, never a path)
    amplitude: float = Field(1.0, gt=0)  # peak height of the wave
    frequency: float = Field(1.0, gt=0)  # angular frequency in radians per unit of x
    phase: float = 0.0  # shift in radians
    noise_std: float = Field(0.0, ge=0)  # std of Gaussian noise added to each point (0 = clean)
    x_start: float = 0.0  # first x sampled
    x_end: float = 100.0  # x is sampled up to, not including, this value
    resolution: float = Field(0.1, gt=0)  # step between two samples of x

    @model_validator(mode="after")
    def _range_is_forward(self) -> SineSource:
        if self.x_end <= self.x_start:
            raise ValueError(f"source.x_end = {self.x_end} must be greater than source.x_start = {self.x_start}")
        if self.n_points > 5_000_000:
            raise ValueError(f"source: (x_end - x_start) / resolution = {self.n_points} points; at most 5,000,000")
        return self

    @property
    def n_points(self) -> int:
        """Number of samples the source produces."""
        return int(math.ceil(round((self.x_end - self.x_start) / self.resolution, 9)))

    @property
    def period_steps(self) -> int:
        """One full period of the wave, in samples (rounded to the nearest whole step)."""
        return max(1, round(2 * math.pi / (self.frequency * self.resolution)))


Frequency = Literal["hourly", "daily", "weekly", "monthly", "quarterly", "yearly"]


class CsvSource(Frozen):
    """A CSV file of one series (``date,value``) or many in long format (``series_id,date,value``)."""

    kind: Literal["csv"] = "csv"  # the source type: sine | csv | m4
    path: str = Field(min_length=1)  # the CSV file (required); --path on the command line
    date_column: str | None = None  # the dates' column; off = inferred from the header
    value_column: str | None = None  # the values' column; off = inferred from the header
    id_column: str | None = None  # the series ids' column of a long file; off = inferred (two columns = one series)
    frequency: Frequency | None = None  # hourly | daily | weekly | monthly | quarterly | yearly; off = inferred
    missing: Literal["error", "interpolate", "ffill"] = "error"  # an empty value: error | interpolate | ffill
    date_format: str | None = None  # strftime format of the dates; off = inferred from the first one


class M4Source(Frozen):
    """An M4 competition wide file (``V1`` = id, then left-aligned values), and optionally its test file."""

    kind: Literal["m4"] = "m4"  # the source type: sine | csv | m4
    path: str = Field(min_length=1)  # the train file, e.g. Hourly-train.csv (required); --path
    test_path: str | None = None  # its test file (each row: the horizon after the train row); --test
    frequency: Frequency | None = None  # off = read from the ids' first letter (H1 is hourly)


def _source_kind(value: Any) -> str | None:
    # A source written without a kind is the sine: the default, and every preset before the union.
    if isinstance(value, dict):
        return value.get("kind", "sine")
    return getattr(value, "kind", None)


Source = Annotated[
    Union[Annotated[SineSource, Tag("sine")], Annotated[CsvSource, Tag("csv")], Annotated[M4Source, Tag("m4")]],
    Discriminator(_source_kind),
]


class WindowConfig(Frozen):
    """How a series is cut into training windows."""

    lookback: int = Field(32, gt=0)  # input steps the model sees per window
    horizon: int = Field(1, gt=0)  # future steps predicted when target = "horizon"
    stride: int = Field(1, gt=0)  # steps between the starts of two consecutive windows
    # "horizon": the target is the next `horizon` steps after the input (the default: every unit of
    # loss is spent on the forecast itself, which is what generation feeds back);
    # "shifted": the target is the input moved one step ahead ([1..6] → [2..7], the classic lesson),
    # whose loss is dominated by early steps that have seen almost no context.
    target: Literal["horizon", "shifted"] = "horizon"  # what a window's target is: horizon | shifted


class SplitConfig(Frozen):
    """Chronological split of each series into train, validation and test parts.

    ``fractions`` (the sine's): the test part is what is left after train and validation.
    ``horizon`` (real series): the test part is the last ``window.horizon`` steps of each series (per
    backtest origin); the validation part is the last ``validation`` fraction of what comes before it
    (at least ``window.horizon`` steps); the train part is the rest.
    """

    mode: Literal["auto", "fractions", "horizon"] = "auto"  # test part: fractions | horizon (last window.horizon steps); auto = fractions for sine, horizon for files
    train: float = Field(0.7, gt=0, lt=1)  # fraction of the series used to fit models and scalers (mode fractions)
    validation: float = Field(0.15, gt=0, lt=1)  # fraction used for early stopping (of the part before the test part in mode horizon)

    @model_validator(mode="after")
    def _leaves_a_test_part(self) -> SplitConfig:
        if self.train + self.validation >= 1:
            raise ValueError(
                f"split.train + split.validation = {self.train + self.validation:g} must be < 1 to leave a test part"
            )
        return self


class ModelConfig(NetConfig):
    """The recurrent network (the same settings for every cell in ``cells``) and how it covers the horizon."""

    # How a model covers a horizon held out at the end of each series (split.mode = "horizon"):
    # "direct": one network outputs all `horizon` steps at once (the horizon head; errors do not compound);
    # "recursive": a one-step network is fed its own forecasts `horizon` times (the course recipe).
    strategy: Literal["direct", "recursive"] = "direct"  # horizon forecasts: direct | recursive
    # "global": one network per cell trained on the pooled windows of every series (each series in
    # its own model units), as ES-RNN does; "local": one network per series, on its windows only.
    scope: Literal["local", "global"] = "global"  # one model per series (local) or one for all (global)
    # N networks per cell differing only in their seed (seed, seed + 1000, ...), their forecasts combined
    # by the median in series units; costs N times the training time.
    ensemble: int = Field(1, ge=1, le=50)  # seeds per cell, forecasts combined by the median

class PreprocessConfig(Frozen):
    """Series space → model space of each series (split.mode horizon); every step is undone on the forecast.

    Fitted per series and origin on the training part only (tasks.forecasting.preprocessing). Then
    each series is standardised on its training part, as without any of these.
    """

    # "classical": M4's 90 % autocorrelation test at lag evaluate.season_length, then multiplicative
    # factors from a centred moving average; a non-seasonal series (or one with a value <= 0) is left as is.
    deseasonalise: Literal["off", "classical"] = "off"  # seasonal adjustment: off | classical
    log: bool = False  # take the log after deseasonalising (positive series only)
    # "last": subtract each window's last input value (input and target) so the network predicts the
    # change from the current level; after the log this divides the window by that value (ES-RNN's).
    # "seasonal": the input likewise, each target step minus the input one season before it (a network
    # that outputs zeros is seasonal naive); needs window.lookback >= the season length.
    level: Literal["off", "last", "seasonal"] = "off"  # per-window level normalisation: off | last | seasonal
    # Calendar covariates (tasks.forecasting.calendar): the (sin, cos) of each step's place in a cycle,
    # read by a direct model for its input steps and every step it forecasts. "auto" by frequency:
    # hourly → hour_of_day, day_of_week; daily → day_of_week, month_of_year; weekly → week_of_year;
    # monthly, quarterly → month_of_year; yearly → none. CSV sources only (M4's dates are synthetic).
    calendar: Literal["auto"] | tuple[str, ...] | None = None  # calendar covariates: off | auto | a list of hour_of_day, day_of_week, week_of_year, month_of_year

    @field_validator("calendar", mode="before")
    @classmethod
    def _calendar_names(cls, value: Any) -> Any:
        if isinstance(value, str):
            word = value.strip().lower()
            if word in ("off", "none", "auto"):
                return None if word != "auto" else "auto"
            value = [part.strip() for part in value.split(",") if part.strip()]
        if isinstance(value, (list, tuple)):
            if not value:
                raise ValueError(f"name at least one feature, or off; valid: auto, off, {', '.join(CALENDAR_FEATURES)}")
            for name in value:
                if name not in CALENDAR_FEATURES:
                    raise ValueError(f"unknown calendar feature {name!r}; valid: auto, off, {', '.join(CALENDAR_FEATURES)}")
            if len(set(value)) != len(value):
                raise ValueError(f"calendar {list(value)} names a feature twice")
            return tuple(value)
        return value

    @property
    def active(self) -> bool:
        """True when any step beyond the standardisation is on (calendar covariates included)."""
        return self.deseasonalise != "off" or self.log or self.level != "off" or self.calendar is not None



class EvaluateConfig(Frozen):
    """What is measured on the test part."""

    generate_steps: int | None = Field(None, gt=0)  # steps to generate from a seed (mode fractions); off = one period
    season_length: int | None = Field(None, gt=0)  # seasonal baselines and MASE; off = the data's: sine period, calendar (CSV), M4's
    ar_lags: int = Field(8, gt=0)  # lags of the statsmodels AutoReg baseline (mode fractions)
    gradient_windows: int = Field(64, gt=0)  # test windows used for the vanishing-gradient diagnostic (mode fractions)
    folds: int = Field(1, ge=1, le=100)  # rolling origins of the backtest (mode horizon); everything is refit per origin
    fold_step: int | None = Field(None, gt=0)  # steps between two origins; off = window.horizon
    baselines: tuple[str, ...] = BASELINES  # multi-step baselines (mode horizon): naive | seasonal_naive | naive2 | holt_winters | holt_winters_damped | theta
    plot_series: int = Field(3, ge=0, le=50)  # series plotted (mode horizon): this many first and this many worst by MASE
    interval_level: float = Field(0.95, ge=0.5, lt=1)  # nominal coverage of the models' prediction intervals (mode horizon; split-conformal on residuals before each origin)

    @field_validator("baselines", mode="before")
    @classmethod
    def _split_baselines(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        return tuple(value) if isinstance(value, list) else value

    @field_validator("baselines")
    @classmethod
    def _known_baselines(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for name in value:
            if name not in BASELINES:
                raise ValueError(f"unknown baseline {name!r}; valid baselines: {', '.join(BASELINES)}")
        if len(set(value)) != len(value):
            raise ValueError(f"baselines {list(value)} name a baseline twice")
        return value


class ForecastTracking(TrackingConfig):
    """MLflow settings of the forecasting flow."""

    experiment: str = Field("seqflow-forecast", min_length=1)  # MLflow experiment the flow's runs go to
    registered_model: str | None = Field("seqflow-forecaster", min_length=1, max_length=200)  # Model Registry name the best model is registered under, alias candidate (mode horizon); off = not registered


class ForecastConfig(RunConfig):
    """Everything ``train_forecasters`` needs; this object is the flow's only parameter."""

    source: Source = SineSource()  # where the series comes from: [source] kind = sine | csv | m4
    window: WindowConfig = WindowConfig()  # lookback, horizon, stride, target
    split: SplitConfig = SplitConfig()  # train / validation / test fractions, by time
    model: ModelConfig = ModelConfig()  # cells, their size, strategy, scope and ensemble
    preprocess: PreprocessConfig = PreprocessConfig()  # deseasonalise, log, per-window level, calendar covariates (split.mode horizon)
    train: TrainConfig = TrainConfig()  # Keras fit settings
    evaluate: EvaluateConfig = EvaluateConfig()  # what the test part measures
    tracking: ForecastTracking = ForecastTracking()  # the MLflow experiment and what is logged

    @model_validator(mode="before")
    @classmethod
    def _known_source_kind(cls, data: Any) -> Any:
        # Said here, by key and value: the union's own message would dump the whole section.
        source = data.get("source") if isinstance(data, dict) else None
        if isinstance(source, dict) and "kind" in source and source["kind"] not in SOURCE_KINDS:
            raise ValueError(f"source.kind = {source['kind']!r}: unknown source; valid kinds: {', '.join(SOURCE_KINDS)}")
        return data

    @model_validator(mode="before")
    @classmethod
    def _multi_step_is_model_strategy(cls, data: Any) -> Any:
        # window.multi_step was the strategy's first home: presets and commands that still say it
        # keep their meaning (it is moved to model.strategy); saying both, differently, is refused.
        window = data.get("window") if isinstance(data, dict) else None
        if not isinstance(window, dict) or "multi_step" not in window:
            return data
        window = dict(window)
        legacy = window.pop("multi_step")
        given = data.get("model")
        model = given.model_dump() if isinstance(given, ModelConfig) else dict(given or {})
        if "strategy" in model and model["strategy"] != legacy:
            raise ValueError(
                f"window.multi_step = {legacy!r} (the old name of model.strategy) contradicts "
                f"model.strategy = {model['strategy']!r}; keep model.strategy only"
            )
        model["strategy"] = legacy
        return {**data, "window": window, "model": model}

    @model_validator(mode="after")
    def _fits_the_series(self) -> ForecastConfig:
        if self.source.kind != "sine" and self.split.mode == "fractions":
            raise ValueError(
                f"split.mode = 'fractions' is for the sine source; a {self.source.kind} source holds out the "
                "last window.horizon steps of each series (split.mode = 'horizon')"
            )
        if self.preprocess.calendar is not None:
            self._calendar_fits()
        if self.holdout:
            if self.window.target != "horizon":
                raise ValueError(
                    "window.target = 'shifted' trains on the input moved one step; a held-out horizon needs "
                    "window.target = 'horizon' (use model.strategy = 'recursive' for a one-step model fed back)"
                )
            if isinstance(self.source, SineSource):
                check_holdout_fits(self, self.source.n_points)
        else:
            held_out_only = [key for key, on in (
                ("model.scope = 'local'", self.model.scope == "local"),
                (f"model.ensemble = {self.model.ensemble}", self.model.ensemble > 1),
                ("preprocess.*", self.preprocess.active),
            ) if on]
            if held_out_only:
                raise ValueError(
                    f"{', '.join(held_out_only)}: for split.mode = 'horizon' (series with a held-out horizon); "
                    "the sine's fraction split trains one global model per cell on standardised windows"
                )
            if self.evaluate.folds != 1 or self.evaluate.fold_step is not None:
                raise ValueError(
                    "evaluate.folds and evaluate.fold_step are for split.mode = 'horizon' (rolling origins at "
                    "the end of each series); the sine's fraction split has one test part"
                )
            check_series_fits(self, self.source.n_points)
        return self

    def _calendar_fits(self) -> None:
        # Refused here, not a minute into a run: calendar covariates need dates, and a model that reads
        # the calendar of every step it forecasts at once.
        said = f"preprocess.calendar = {_shown(self.preprocess.calendar)}"
        if self.source.kind == "m4":
            raise ValueError(
                f"{said}: M4 files carry no dates (their timestamps are synthetic, counted from 2000-01-01 for "
                "every series), so a calendar feature would be each step's position from its series' start, not "
                "a month, weekday or hour; use preprocess.calendar = 'off' with an m4 source")
        if self.source.kind == "sine":
            raise ValueError(f"{said}: the sine has no calendar (dated series: source.kind = 'csv'); use 'off'")
        if self.model.strategy != "direct":
            raise ValueError(
                f"{said} needs model.strategy = 'direct' (one network that reads the calendar of every step it "
                f"forecasts); model.strategy = {self.model.strategy!r} feeds a one-step model back; set one of them")

    @property
    def holdout(self) -> bool:
        """True when the test part is the last ``window.horizon`` steps of each series (split mode horizon)."""
        return self.split.mode == "horizon" or (self.split.mode == "auto" and self.source.kind != "sine")

    @property
    def fold_step(self) -> int:
        """Steps between two backtest origins: configured, or the horizon (test parts that tile the end)."""
        return self.evaluate.fold_step or self.window.horizon

    @property
    def generate_steps(self) -> int:
        """Steps generated from the seed window: configured, or one period of the source."""
        return self.evaluate.generate_steps or self.source.period_steps

    @property
    def season_length(self) -> int:
        """Season length for the seasonal-naive baseline: configured, or one period of the source."""
        return self.evaluate.season_length or self.source.period_steps


def _shown(value: Any) -> str:
    return ",".join(value) if isinstance(value, tuple) else repr(value)


def check_series_fits(cfg: ForecastConfig, n: int) -> None:
    """Check every size rule that depends on the series length ``n``; message names the key.

    Raises:
        ValueError: a window, a split, the generated continuation or a baseline does not fit.
    """
    w = cfg.window
    bounds = split_bounds(n, cfg.split.train, cfg.split.validation)
    check_window_plan(n, w.lookback, w.horizon, w.stride, w.target, cfg.split.train, cfg.split.validation)
    test_len = bounds.n - bounds.validation_end
    if cfg.generate_steps > test_len:
        raise ValueError(
            f"evaluate.generate_steps = {cfg.generate_steps} is longer than the test part ({test_len} points)"
        )
    if cfg.generate_steps > 100_000:
        raise ValueError(f"evaluate.generate_steps = {cfg.generate_steps}: at most 100,000")
    first_scored = bounds.validation_end  # the earliest step a test window can forecast
    if cfg.season_length > first_scored:
        raise ValueError(
            f"evaluate.season_length = {cfg.season_length} reaches before the series start for the first test "
            f"step ({first_scored}); it must be at most {first_scored}"
        )
    # AutoReg(p) with a constant fits p + 1 coefficients on train_end - p rows; it needs more rows.
    if cfg.evaluate.ar_lags >= (bounds.train_end - 1) // 2:
        raise ValueError(
            f"evaluate.ar_lags = {cfg.evaluate.ar_lags} needs a training part of more than "
            f"{2 * cfg.evaluate.ar_lags + 1} points; it has {bounds.train_end}"
        )


def holdout_target_steps(cfg: ForecastConfig) -> int:
    """Steps in a training window's target when holding out a horizon: the horizon, or 1 when recursive."""
    return 1 if cfg.model.strategy == "recursive" else cfg.window.horizon


def check_holdout_fits(cfg: ForecastConfig, n: int, what: str = "the series") -> None:
    """Check that a series of ``n`` steps fits a held-out horizon at every backtest origin.

    Args:
        cfg: the config.
        n: the (shortest) series' length.
        what: how the message names the series, e.g. ``series 'monthly-milk'``.

    Raises:
        ValueError: the message names the settings and the length they need.
    """
    w = cfg.window
    try:
        holdout_plan(n, w.lookback, w.horizon, holdout_target_steps(cfg), w.stride, cfg.split.validation,
                     cfg.evaluate.folds, cfg.fold_step)
    except ValueError:
        need = min_series_length(w.lookback, w.horizon, holdout_target_steps(cfg), w.stride, cfg.split.validation,
                                 cfg.evaluate.folds, cfg.fold_step)
        raise ValueError(holdout_rule(cfg, n, need, what)) from None


def holdout_rule(cfg: ForecastConfig, n: int, need: int, what: str = "the series") -> str:
    """The sentence that says why a series of ``n`` steps is too short, naming every setting involved."""
    w = cfg.window
    folds = (f", evaluate.folds = {cfg.evaluate.folds} (fold_step {cfg.fold_step})"
             if cfg.evaluate.folds > 1 else "")
    return (
        f"{what} has {n} steps, too short: window.lookback = {w.lookback}, window.horizon = {w.horizon} "
        f"(held out), window.stride = {w.stride}, split.validation = {cfg.split.validation:g}{folds} need at "
        f"least {need} steps per series; shorten the window or the horizon, or use fewer folds"
    )
