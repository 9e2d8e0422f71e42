"""The forecasting flow's config: what to forecast, how to window it, which cells, how to train and score.

Everything that can be checked from the config alone (window spans against the series length, the
baselines' lags and seasons against the splits) is checked here, so a bad setting is refused with a
message naming its key before any run opens. A file source's length is only known once it is read:
:func:`check_holdout_fits` is the rule, run right after ingest and before any run opens.

``source`` is a union chosen by ``kind`` (``csv | m4``); a source without a ``kind`` is a CSV file.
The default source is the US alcohol sales series shipped in ``data/`` (a path relative to the
working directory, so it is found from a checkout).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal, Union

from pydantic import Discriminator, Field, Tag, field_validator, model_validator

from tasks.config import COUNT_MAX, Frozen, RunConfig, TrackingConfig, check_registry_name, registry_slug
from tasks.forecasting.calendar import FEATURES as CALENDAR_FEATURES
from tasks.forecasting.panel import holdout_plan, min_series_length
from tasks.nets.config import NetConfig, TrainConfig

SOURCE_KINDS: tuple[str, ...] = ("csv", "m4")
FREQUENCIES: tuple[str, ...] = ("hourly", "daily", "weekly", "monthly", "quarterly", "yearly")
# evaluate.inner_folds = "auto": the least and the most inner folds it takes (resolve_inner_folds).
AUTO_INNER_FOLDS: tuple[int, int] = (2, 4)
# The multi-step baselines of tasks.forecasting.statistical.baseline_forecasters, by name.
BASELINES: tuple[str, ...] = ("naive", "seasonal_naive", "naive2", "holt_winters", "holt_winters_damped", "theta")


Frequency = Literal["hourly", "daily", "weekly", "monthly", "quarterly", "yearly"]


class CsvSource(Frozen):
    """A CSV file of one series (``date,value``) or many in long format (``series_id,date,value``)."""

    kind: Literal["csv"] = "csv"  # the source type: csv | m4
    path: str = Field(min_length=1)  # the CSV file (required); --path on the command line
    date_column: str | None = None  # the dates' column; off = inferred from the header
    value_column: str | None = None  # the values' column; off = inferred from the header
    id_column: str | None = None  # the series ids' column of a long file; off = inferred (two columns = one series)
    frequency: Frequency | None = None  # hourly | daily | weekly | monthly | quarterly | yearly; off = inferred
    missing: Literal["error", "interpolate", "ffill"] = "error"  # an empty value: error | interpolate | ffill
    date_format: str | None = None  # strftime format of the dates; off = inferred from the first one
    day_first: bool | None = None  # dates like 03/04/2020: true = 3 April, false = March 4; off = detected
    separator: str | None = Field(None, min_length=1, max_length=1)  # the cell separator, e.g. ";" or "\t"; off = detected (, ; tab |)
    decimal: Literal[".", ","] | None = None  # the decimal mark: . | , ; off = detected ("," beside a separator other than ",")
    encoding: str | None = None  # a Python codec, e.g. utf-8, utf-16, cp1252; off = detected (UTF-8 with or without BOM, UTF-16, Latin-1)
    ignore_columns: tuple[str, ...] = ()  # columns to leave out, e.g. "price,notes"; the rest are named or inferred

    @field_validator("ignore_columns", mode="before")
    @classmethod
    def _column_list(cls, value: Any) -> Any:
        if isinstance(value, str):
            return () if value.strip().lower() in ("", "off", "none") else tuple(p.strip() for p in value.split(","))
        return value

    @field_validator("encoding")
    @classmethod
    def _known_codec(cls, value: str | None) -> str | None:
        import codecs

        if value is not None:
            try:
                codecs.lookup(value)
            except LookupError:
                raise ValueError("unknown encoding; use a Python codec name such as utf-8, utf-16, latin-1 or cp1252") from None
        return value

    @field_validator("separator")
    @classmethod
    def _one_separator(cls, value: str | None) -> str | None:
        if value is not None and (value.isalnum() or value in "\"'.\r\n"):
            raise ValueError("a separator is one character other than a letter, digit, quote, '.' or line break")
        return value


class M4Source(Frozen):
    """An M4 competition wide file (``V1`` = id, then left-aligned values), and optionally its test file."""

    kind: Literal["m4"] = "m4"  # the source type: csv | m4
    path: str = Field(min_length=1)  # the train file, e.g. Hourly-train.csv (required); --path
    test_path: str | None = None  # its test file (each row: the horizon after the train row); --test
    frequency: Frequency | None = None  # off = read from the ids' first letter (H1 is hourly)


def _source_kind(value: Any) -> str | None:
    # A source written without a kind is a CSV file: the default.
    if isinstance(value, dict):
        return value.get("kind", "csv")
    return getattr(value, "kind", None)


Source = Annotated[
    Union[Annotated[CsvSource, Tag("csv")], Annotated[M4Source, Tag("m4")]],
    Discriminator(_source_kind),
]


class WindowConfig(Frozen):
    """How each series is cut into training windows; the last ``horizon`` steps are held out."""

    lookback: int = Field(32, gt=0, le=COUNT_MAX)  # input steps the model sees per window
    horizon: int = Field(1, gt=0, le=COUNT_MAX)  # steps held out at the end of each series and forecast at once
    stride: int = Field(1, gt=0, le=COUNT_MAX)  # steps between the starts of two consecutive windows


class SplitConfig(Frozen):
    """How the part of each series before its held-out horizon is split for training.

    The test part is the last ``window.horizon`` steps of each series (per backtest origin); the
    validation part is the last ``validation`` fraction of what comes before it (at least
    ``window.horizon`` steps); the train part is the rest.
    """

    validation: float = Field(0.15, gt=0, lt=1)  # fraction before the test part used for early stopping


RECIPES: tuple[str, ...] = ("auto", "manual")


class ModelConfig(NetConfig):
    """The recurrent network (the same settings for every cell in ``cells``) and how it covers the horizon."""

    # "auto": every choice (the preprocessing, the network's size, the statistical forecasters, how they
    # are combined) is made by rolling-origin backtests inside the training part (evaluate.inner_folds
    # origins before each held-out horizon) and the forecaster named "auto" is the combination chosen
    # there (tasks.forecasting.choice); the test part is only scored. "manual": the cells are trained
    # with exactly the preprocess settings given, as a tuned preset does.
    recipe: Literal["auto", "manual"] = "auto"  # how the forecaster is chosen: auto (inner backtests) | manual (the settings as given)
    # One cell by default: GRU was the best cell of every tuned preset (milk, sales, M4 Weekly and
    # Hourly), and auto trains three recipes of each cell named here at every origin.
    cells: tuple[str, ...] = ("gru",)  # cells to train, by name: rnn | lstm | gru | manual_rnn | peephole_lstm

    # How a model covers the horizon held out at the end of each series:
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
    """Series space → model space of each series; every step is undone on the forecast.

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

    season_length: int | None = Field(None, gt=0, le=COUNT_MAX)  # seasonal baselines and MASE; off = the data's: the calendar's (CSV), M4's
    folds: int = Field(1, ge=1, le=100)  # rolling origins of the backtest; everything is refit per origin
    # model.recipe = auto: how many origins inside the training part (before each held-out horizon)
    # score the candidates the choice is made on; each costs one more training of every network.
    # "auto": the most, from 2 up to 4, at which the networks keep the lookback they have at 2
    # (resolve_inner_folds, once the series are read; the run records the number).
    inner_folds: Annotated[int, Field(ge=1, le=20)] | Literal["auto"] = "auto"  # origins before each held-out horizon that model.recipe = auto chooses on: a number, or auto (2 to 4, as many as keep the networks' lookback)
    fold_step: int | None = Field(None, gt=0, le=COUNT_MAX)  # steps between two origins; off = window.horizon
    baselines: tuple[str, ...] = BASELINES  # multi-step baselines: naive | seasonal_naive | naive2 | holt_winters | holt_winters_damped | theta
    plot_series: int = Field(3, ge=0, le=50)  # series plotted: this many first and this many worst by MASE
    interval_level: float = Field(0.95, ge=0.5, lt=1)  # nominal coverage of the models' prediction intervals (split-conformal on residuals before each origin)

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


class ForecastTrain(TrainConfig):
    """Keras ``fit`` settings, and whether a run takes up what an earlier one with the same inputs trained."""

    loss: Literal["mse", "mae", "huber"] = "mse"  # training loss in model units: mse | mae | huber (model.recipe = auto: mae unless set)
    resume: bool = True  # reuse networks finished earlier with the same inputs, resume an interrupted one from its last backup (off = train every network afresh, no backup)
    backup_seconds: float = Field(5.0, ge=0, le=86400)  # back up a training after an epoch only once this many seconds passed since its last backup (0 = after every epoch); a kill loses at most this long plus one epoch
    # Above this, a global network's windows (the inputs and targets of every window of the panel, float32)
    # are read part by part from their Parquet file while it trains, not all at once: the in-memory path
    # holds them several times over (gathered, shuffled, and TensorFlow's copy).
    max_window_mb: float = Field(512.0, gt=0)  # windows above this many MB train streamed from disk (train.streamed); below, in memory


class ForecastTracking(TrackingConfig):
    """MLflow settings of the forecasting flow."""

    experiment: str = Field("seqflow-forecast", min_length=1)  # MLflow experiment the flow's runs go to
    # "auto": one lineage per problem, named after the data: forecast-<file stem> for a CSV,
    # forecast-m4-<set> for M4 (forecast-alcohol-sales, forecast-m4-hourly), so two data sets never
    # share a registered model and an alias can never serve a model of other data.
    registered_model: str | None = Field("auto", min_length=1, max_length=200)  # Model Registry name the best model is registered under (alias candidate); auto = forecast-<data>; off = not registered

    @field_validator("registered_model")
    @classmethod
    def _registry_name(cls, value: str | None) -> str | None:
        # Refused at load, not by MLflow after the training: the registry takes these characters only.
        return check_registry_name(value)


class ForecastConfig(RunConfig):
    """Everything ``train_forecasters`` needs; this object is the flow's only parameter."""

    source: Source = CsvSource(path="data/alcohol-sales.csv")  # where the series comes from: [source] kind = csv | m4
    window: WindowConfig = WindowConfig()  # lookback, horizon (held out), stride
    split: SplitConfig = SplitConfig()  # the validation fraction before the held-out horizon
    model: ModelConfig = ModelConfig()  # cells, their size, strategy, scope and ensemble
    preprocess: PreprocessConfig = PreprocessConfig()  # deseasonalise, log, per-window level, calendar covariates
    train: ForecastTrain = ForecastTrain()  # Keras fit settings
    evaluate: EvaluateConfig = EvaluateConfig()  # what the test part measures
    tracking: ForecastTracking = ForecastTracking()  # the MLflow experiment and what is logged

    @model_validator(mode="before")
    @classmethod
    def _known_source_kind(cls, data: Any) -> Any:
        # Said here, by key and value: the union's own message would dump the whole section.
        source = data.get("source") if isinstance(data, dict) else None
        if isinstance(source, dict) and source.get("kind") == "sine":
            raise ValueError("source.kind = 'sine': the sine wave is the sine study's source (seqflow run study); "
                             f"the forecasting flow reads files: {', '.join(SOURCE_KINDS)}")
        if isinstance(source, dict) and "kind" in source and source["kind"] not in SOURCE_KINDS:
            raise ValueError(f"source.kind = {source['kind']!r}: unknown source; valid kinds: {', '.join(SOURCE_KINDS)}")
        split = data.get("split") if isinstance(data, dict) else None
        fraction_keys = [k for k in ("mode", "train") if isinstance(split, dict) and k in split]
        if fraction_keys:
            raise ValueError(
                f"split.{fraction_keys[0]}: the forecasting flow always holds out the last window.horizon steps of "
                "each series (split.validation is its only split setting); the fraction split is the sine study's "
                "(seqflow run study)")
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
        if self.preprocess.calendar is not None:
            self._calendar_fits()
        if self.model.recipe == "auto":
            self._auto_chooses()
        return self

    def _auto_chooses(self) -> None:
        # What model.recipe = auto chooses itself is refused when set, never silently overridden.
        p = self.preprocess
        fixed = [(key, value) for key, value, off in (("preprocess.deseasonalise", p.deseasonalise, "off"),
                                                      ("preprocess.log", p.log, False),
                                                      ("preprocess.level", p.level, "off")) if value != off]
        if fixed:
            key, value = fixed[0]
            raise ValueError(
                f"{key} = {value!r} fixes what model.recipe = 'auto' chooses: it tries the series with and without "
                "deseasonalising, log and level normalisation and keeps what the backtests inside the training "
                "part choose; set model.recipe = 'manual' to train with exactly these settings")
        if self.model.strategy != "direct":
            raise ValueError(f"model.strategy = {self.model.strategy!r}: model.recipe = 'auto' trains direct "
                             "networks only; set model.recipe = 'manual' for the recursive strategy")

    def _calendar_fits(self) -> None:
        # Refused here, not a minute into a run: calendar covariates need dates, and a model that reads
        # the calendar of every step it forecasts at once.
        said = f"preprocess.calendar = {_shown(self.preprocess.calendar)}"
        if self.source.kind == "m4":
            raise ValueError(
                f"{said}: M4 files carry no dates (their timestamps are synthetic, counted from 2000-01-01 for "
                "every series), so a calendar feature would be each step's position from its series' start, not "
                "a month, weekday or hour; use preprocess.calendar = 'off' with an m4 source")
        if self.model.strategy != "direct":
            raise ValueError(
                f"{said} needs model.strategy = 'direct' (one network that reads the calendar of every step it "
                f"forecasts); model.strategy = {self.model.strategy!r} feeds a one-step model back; set one of them")

    @property
    def registered_name(self) -> str | None:
        """The Model Registry name this problem's models are registered under (None: not registered)."""
        name = self.tracking.registered_model
        if name != "auto":
            return name
        stem = Path(self.source.path).stem.lower()
        if self.source.kind == "m4":
            stem = "m4-" + stem.removesuffix("-train")
        return f"forecast-{registry_slug(stem, self.source.kind)}"[:200]

    @property
    def total_folds(self) -> int:
        """Origins every forecaster is backtested at: the held-out ones, and under ``recipe = auto`` the
        ``inner_folds`` before the earliest of them whose test parts end before it (the choice's)."""
        if self.model.recipe != "auto":
            return self.evaluate.folds
        h, s = self.window.horizon, self.fold_step
        inner = self.evaluate.inner_folds
        return self.evaluate.folds - 1 + -(-h // s) + (AUTO_INNER_FOLDS[0] if inner == "auto" else inner)

    @property
    def fold_step(self) -> int:
        """Steps between two backtest origins: configured, or the horizon (test parts that tile the end)."""
        return self.evaluate.fold_step or self.window.horizon


def _shown(value: Any) -> str:
    return ",".join(value) if isinstance(value, tuple) else repr(value)


def holdout_target_steps(cfg: ForecastConfig) -> int:
    """Steps in a training window's target when holding out a horizon: the horizon, or 1 when recursive."""
    return 1 if cfg.model.strategy == "recursive" else cfg.window.horizon


def check_holdout_fits(cfg: ForecastConfig, n: int, what: str = "the series") -> None:
    """Check that a series of ``n`` steps fits a held-out horizon at every backtest origin.

    Under ``model.recipe = auto`` the statistical forecasters must fit (every origin, the inner ones
    too, leaving at least one horizon of history before the earliest); the networks fit a shorter
    lookback themselves, or are left out (:func:`auto_lookback`).

    Args:
        cfg: the config.
        n: the (shortest) series' length.
        what: how the message names the series, e.g. ``series 'monthly-milk'``.

    Raises:
        ValueError: the message names the settings and the length they need.
    """
    w = cfg.window
    if cfg.model.recipe == "auto":
        need = w.horizon + (cfg.total_folds - 1) * cfg.fold_step + w.horizon
        if n < need:
            raise ValueError(holdout_rule(cfg, n, need, what))
        return
    try:
        holdout_plan(n, w.lookback, w.horizon, holdout_target_steps(cfg), w.stride, cfg.split.validation,
                     cfg.total_folds, cfg.fold_step)
    except ValueError:
        need = min_series_length(w.lookback, w.horizon, holdout_target_steps(cfg), w.stride, cfg.split.validation,
                                 cfg.total_folds, cfg.fold_step)
        raise ValueError(holdout_rule(cfg, n, need, what)) from None


def auto_lookback(cfg: ForecastConfig, n: int, least: int = 4) -> int | None:
    """The lookback auto's networks use on series whose shortest has ``n`` steps: ``window.lookback``,
    halved until every origin (inner ones too) fits, never below ``least``; None when none fits
    (auto then chooses among the statistical forecasters alone, and says so)."""
    w = cfg.window
    lookback = w.lookback
    while lookback >= least:
        need = min_series_length(lookback, w.horizon, holdout_target_steps(cfg), w.stride, cfg.split.validation,
                                 cfg.total_folds, cfg.fold_step)
        if need <= n:
            return lookback
        lookback //= 2
    return None


def resolve_inner_folds(cfg: ForecastConfig, n: int) -> ForecastConfig:
    """``evaluate.inner_folds = "auto"`` made a number, for series whose shortest has ``n`` steps.

    The most inner folds from ``AUTO_INNER_FOLDS[0]`` up to ``AUTO_INNER_FOLDS[1]`` at which
    :func:`auto_lookback` still gives the networks the lookback they have at the least: more origins
    make the choice less noisy, a shorter lookback would change the networks chosen among. When no
    lookback fits at the least, the least (the statistical forecasters' choice). A number, or
    ``model.recipe = manual``, is returned as it is.
    """
    if cfg.model.recipe != "auto" or cfg.evaluate.inner_folds != "auto":
        return cfg
    least, most = AUTO_INNER_FOLDS
    kept, k = auto_lookback(with_inner_folds(cfg, least), n), least
    while kept is not None and k < most and auto_lookback(with_inner_folds(cfg, k + 1), n) == kept:
        k += 1
    return with_inner_folds(cfg, k)


def with_inner_folds(cfg: ForecastConfig, k: int) -> ForecastConfig:
    """The config with ``evaluate.inner_folds = k``."""
    return cfg.model_copy(update={"evaluate": cfg.evaluate.model_copy(update={"inner_folds": k})})


def holdout_rule(cfg: ForecastConfig, n: int, need: int, what: str = "the series") -> str:
    """The sentence that says why a series of ``n`` steps is too short, naming every setting involved."""
    w = cfg.window
    folds = (f", evaluate.folds = {cfg.evaluate.folds} (fold_step {cfg.fold_step})"
             if cfg.evaluate.folds > 1 else "")
    if cfg.model.recipe == "auto":
        inner = cfg.evaluate.inner_folds
        least = f": at least {AUTO_INNER_FOLDS[0]}" if inner == "auto" else ""
        folds += f", evaluate.inner_folds = {inner} (model.recipe = auto{least})"
    return (
        f"{what} has {n} steps, too short: window.lookback = {w.lookback}, window.horizon = {w.horizon} "
        f"(held out), window.stride = {w.stride}, split.validation = {cfg.split.validation:g}{folds} need at "
        f"least {need} steps per series; shorten the window or the horizon, or use fewer folds"
    )
