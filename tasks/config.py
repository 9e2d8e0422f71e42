"""Typed configuration: pydantic defaults → TOML preset → ``--set a.b=c`` overrides → a frozen object.

Every model is frozen and forbids unknown keys, so a typo in a preset or an override is an error
that names the key instead of a silently ignored setting.
"""

from __future__ import annotations

import math
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from tasks.forecasting.windowing import split_bounds

CELLS: tuple[str, ...] = ("rnn", "lstm", "gru", "manual_rnn", "peephole_lstm")
ACTIVATIONS: tuple[str, ...] = ("tanh", "relu", "leaky_relu", "elu")


class ConfigError(ValueError):
    """A configuration that breaks a rule; the message names the key, the value and the rule."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SineSource(_Frozen):
    """``amplitude * sin(frequency * x + phase) + noise`` sampled on ``[x_start, x_end)``."""

    kind: Literal["sine"] = "sine"  # the source type; only "sine" exists so far
    series_id: str = Field("sine", min_length=1)  # the id written to the series_id column
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
            raise ValueError(f"x_end={self.x_end} must be greater than x_start={self.x_start}")
        return self

    @property
    def n_points(self) -> int:
        """Number of samples the source produces."""
        return int(math.ceil(round((self.x_end - self.x_start) / self.resolution, 9)))

    @property
    def period_steps(self) -> int:
        """One full period of the wave, in samples (rounded to the nearest whole step)."""
        return max(1, round(2 * math.pi / (self.frequency * self.resolution)))


class WindowConfig(_Frozen):
    """How a series is cut into training windows."""

    lookback: int = Field(32, gt=0)  # input steps the model sees per window
    horizon: int = Field(1, gt=0)  # future steps predicted when target = "horizon"
    stride: int = Field(1, gt=0)  # steps between the starts of two consecutive windows
    # "horizon": the target is the next `horizon` steps after the input (the default: every unit of
    # loss is spent on the forecast itself, which is what generation feeds back);
    # "shifted": the target is the input moved one step ahead ([1..6] → [2..7], the classic lesson),
    # whose loss is dominated by early steps that have seen almost no context.
    target: Literal["horizon", "shifted"] = "horizon"


class SplitConfig(_Frozen):
    """Chronological split of the series; the test part is what is left after train and validation."""

    train: float = Field(0.7, gt=0, lt=1)  # fraction of the series used to fit models and scalers
    validation: float = Field(0.15, gt=0, lt=1)  # fraction used for early stopping

    @model_validator(mode="after")
    def _leaves_a_test_part(self) -> SplitConfig:
        if self.train + self.validation >= 1:
            raise ValueError(
                f"train + validation = {self.train + self.validation:g} must be < 1 to leave a test part"
            )
        return self


class ModelConfig(_Frozen):
    """The recurrent network; the same settings apply to every cell in ``cells``."""

    cells: tuple[str, ...] = CELLS  # cells to train, by name: rnn | lstm | gru | manual_rnn | peephole_lstm
    units: int = Field(32, gt=0)  # hidden units per recurrent layer
    layers: int = Field(1, ge=1, le=8)  # stacked recurrent layers
    activation: str = "tanh"  # candidate/state activation: tanh | relu | leaky_relu | elu
    dropout: float = Field(0.0, ge=0, lt=1)  # dropout between recurrent layers and before the head
    layer_norm: bool = False  # LayerNormalization after each recurrent layer

    @field_validator("cells", mode="before")
    @classmethod
    def _split_names(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("cells")
    @classmethod
    def _known_cells(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError(f"at least one cell is needed; valid cells: {', '.join(CELLS)}")
        for name in value:
            if name not in CELLS:
                raise ValueError(f"unknown cell {name!r}; valid cells: {', '.join(CELLS)}")
        if len(set(value)) != len(value):
            raise ValueError(f"cells {list(value)} name a cell twice")
        return value

    @field_validator("activation")
    @classmethod
    def _known_activation(cls, value: str) -> str:
        if value not in ACTIVATIONS:
            raise ValueError(f"unknown activation {value!r}; valid activations: {', '.join(ACTIVATIONS)}")
        return value


class TrainConfig(_Frozen):
    """Keras ``fit`` settings."""

    epochs: int = Field(40, gt=0)  # upper bound; early stopping usually ends sooner
    batch_size: int = Field(64, gt=0)  # windows per gradient step
    learning_rate: float = Field(0.01, gt=0)  # Adam step size
    patience: int = Field(8, ge=1)  # epochs without validation improvement before stopping
    lr_patience: int = Field(4, ge=0)  # halve the learning rate after this many flat epochs (0 = never)
    clipnorm: float | None = Field(1.0, gt=0)  # clip each gradient to this L2 norm (None = off)
    clipvalue: float | None = Field(None, gt=0)  # clip each gradient element to ±value (None = off)
    progress: bool = True  # show a progress bar per cell on stderr


class EvaluateConfig(_Frozen):
    """What is measured on the test part."""

    generate_steps: int | None = Field(None, gt=0)  # steps to generate from a seed; None = one period
    season_length: int | None = Field(None, gt=0)  # for the seasonal-naive baseline; None = one period
    ar_lags: int = Field(8, gt=0)  # lags of the statsmodels AutoReg baseline
    gradient_windows: int = Field(64, gt=0)  # test windows used for the vanishing-gradient diagnostic


class TrackingConfig(_Frozen):
    """MLflow settings (the tracking URI itself comes from MLFLOW_TRACKING_URI or the default store)."""

    experiment: str = Field("seqflow-forecast", min_length=1)  # one experiment per flow
    log_models: bool = True  # log each trained model as an MLflow pyfunc model


class ForecastConfig(_Frozen):
    """Everything ``train_forecasters`` needs; this object is the flow's only parameter."""

    seed: int = Field(42, ge=0)  # drives numpy, TensorFlow and Keras initialisation and shuffling
    source: SineSource = SineSource()  # where the series comes from
    window: WindowConfig = WindowConfig()
    split: SplitConfig = SplitConfig()
    model: ModelConfig = ModelConfig()
    train: TrainConfig = TrainConfig()
    evaluate: EvaluateConfig = EvaluateConfig()
    tracking: TrackingConfig = TrackingConfig()

    @model_validator(mode="after")
    def _fits_the_series(self) -> ForecastConfig:
        n = self.source.n_points
        bounds = split_bounds(n, self.split.train, self.split.validation)
        test_len = bounds.n - bounds.validation_end
        need = self.window.lookback + (self.window.horizon if self.window.target == "horizon" else 1)
        if need > bounds.train_end:
            raise ValueError(
                f"window.lookback + horizon = {need} is longer than the training part "
                f"({bounds.train_end} of {n} points); shorten the window or lengthen the series"
            )
        if self.generate_steps > test_len:
            raise ValueError(
                f"evaluate.generate_steps = {self.generate_steps} is longer than the test part "
                f"({test_len} points)"
            )
        return self

    @property
    def generate_steps(self) -> int:
        """Steps generated from the seed window: configured, or one period of the source."""
        return self.evaluate.generate_steps or self.source.period_steps

    @property
    def season_length(self) -> int:
        """Season length for the seasonal-naive baseline: configured, or one period of the source."""
        return self.evaluate.season_length or self.source.period_steps


def flatten(config: BaseModel, prefix: str = "") -> dict[str, str]:
    """Flatten a config into ``{"a.b": "value"}`` pairs, the form MLflow params take."""
    flat: dict[str, str] = {}
    for key, value in config.model_dump().items():
        _flatten_into(flat, f"{prefix}{key}", value)
    return flat


def _flatten_into(flat: dict[str, str], key: str, value: Any) -> None:
    if isinstance(value, dict):
        for sub, sub_value in value.items():
            _flatten_into(flat, f"{key}.{sub}", sub_value)
    elif isinstance(value, (list, tuple)):
        flat[key] = ",".join(str(v) for v in value)
    else:
        flat[key] = str(value)


def parse_override(text: str) -> tuple[list[str], Any]:
    """Parse one ``a.b=c`` override into its key path and value (TOML syntax, bare words as strings)."""
    if "=" not in text:
        raise ConfigError(f"--set {text!r}: expected KEY=VALUE, e.g. --set window.lookback=24")
    key, raw = (part.strip() for part in text.split("=", 1))
    if not key or any(not part for part in key.split(".")):
        raise ConfigError(f"--set {text!r}: the key must be dotted names, e.g. model.units")
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw  # a bare word such as lstm or a list such as lstm,gru: validated by the model
    return key.split("."), value


def load_config(preset: Path | None = None, overrides: list[str] | tuple[str, ...] = ()) -> ForecastConfig:
    """Build the frozen config from defaults, an optional TOML preset, then ``--set`` overrides.

    Raises:
        ConfigError: the preset is missing or not TOML, or a key or value breaks a rule; the message
            names the key, the value given and the rule.
    """
    data: dict[str, Any] = {}
    if preset is not None:
        preset = Path(preset)
        if not preset.is_file():
            raise ConfigError(f"--config {preset}: no such file")
        try:
            data = tomllib.loads(preset.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"--config {preset}: not valid TOML ({exc})") from exc
    for text in overrides:
        path, value = parse_override(text)
        node = data
        for part in path[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ConfigError(f"--set {text!r}: {part!r} is a value, not a section")
            node = child
        node[path[-1]] = value
    try:
        return ForecastConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(exc, data)) from None


def describe_validation_error(exc: ValidationError, data: dict[str, Any]) -> str:
    """Turn pydantic's report into one line per problem: ``key = value: rule``."""
    lines = []
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"])
        message = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            lines.append(f"{key}: unknown key (not a setting of this config)")
        elif key:
            lines.append(f"{key} = {_lookup(data, err['loc'])!r}: {message}")
        else:
            lines.append(message)
    return "; ".join(lines)


def _lookup(data: Any, loc: tuple[Any, ...]) -> Any:
    for part in loc:
        if isinstance(data, dict) and part in data:
            data = data[part]
        elif isinstance(data, (list, tuple)) and isinstance(part, int) and part < len(data):
            data = data[part]
        else:
            return "<default>"
    return data
