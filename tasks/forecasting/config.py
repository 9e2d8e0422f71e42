"""The forecasting flow's config: what to forecast, how to window it, which cells, how to train and score.

Everything that can be checked from the config alone (window spans against the series length, the
baselines' lags and seasons against the splits) is checked here, so a bad setting is refused with a
message naming its key before any run opens.
"""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from tasks.config import Frozen, RunConfig, TrackingConfig
from tasks.forecasting.windowing import check_window_plan, split_bounds

# The closed set of cells, by name; tasks.forecasting.cells builds exactly these (checked on import).
CELLS: tuple[str, ...] = ("rnn", "lstm", "gru", "manual_rnn", "peephole_lstm")
ACTIVATIONS: tuple[str, ...] = ("tanh", "relu", "leaky_relu", "elu")


class SineSource(Frozen):
    """``amplitude * sin(frequency * x + phase) + noise`` sampled on ``[x_start, x_end)``."""

    kind: Literal["sine"] = "sine"  # the source type; only "sine" exists so far
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
    """Chronological split of the series; the test part is what is left after train and validation."""

    train: float = Field(0.7, gt=0, lt=1)  # fraction of the series used to fit models and scalers
    validation: float = Field(0.15, gt=0, lt=1)  # fraction used for early stopping

    @model_validator(mode="after")
    def _leaves_a_test_part(self) -> SplitConfig:
        if self.train + self.validation >= 1:
            raise ValueError(
                f"split.train + split.validation = {self.train + self.validation:g} must be < 1 to leave a test part"
            )
        return self


class ModelConfig(Frozen):
    """The recurrent network; the same settings apply to every cell in ``cells``."""

    cells: tuple[str, ...] = CELLS  # cells to train, by name: rnn | lstm | gru | manual_rnn | peephole_lstm
    units: int = Field(32, gt=0, le=4096)  # hidden units per recurrent layer
    layers: int = Field(1, ge=1, le=8)  # stacked recurrent layers
    activation: str = "tanh"  # candidate/state activation: tanh | relu | leaky_relu | elu
    dropout: float = Field(0.0, ge=0, lt=1)  # dropout between recurrent layers and before the head
    layer_norm: bool = False  # LayerNormalization after each recurrent layer

    @field_validator("cells", mode="before")
    @classmethod
    def _split_names(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        return tuple(value) if isinstance(value, list) else value

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


class TrainConfig(Frozen):
    """Keras ``fit`` settings."""

    epochs: int = Field(40, gt=0, le=100_000)  # upper bound; early stopping usually ends sooner
    batch_size: int = Field(64, gt=0)  # windows per gradient step
    learning_rate: float = Field(0.01, gt=0, le=10)  # Adam step size
    patience: int = Field(8, ge=1)  # epochs without validation improvement before stopping
    lr_patience: int = Field(4, ge=0)  # halve the learning rate after this many flat epochs (0 = never)
    clipnorm: float | None = Field(1.0, gt=0)  # clip each gradient to this L2 norm (off = no clipping)
    clipvalue: float | None = Field(None, gt=0)  # clip each gradient element to ±value (off = no clipping)
    progress: bool = True  # show a progress bar per cell on stderr


class EvaluateConfig(Frozen):
    """What is measured on the test part."""

    generate_steps: int | None = Field(None, gt=0)  # steps to generate from a seed; off = one period
    season_length: int | None = Field(None, gt=0)  # for the seasonal-naive baseline; off = one period
    ar_lags: int = Field(8, gt=0)  # lags of the statsmodels AutoReg baseline
    gradient_windows: int = Field(64, gt=0)  # test windows used for the vanishing-gradient diagnostic


class ForecastTracking(TrackingConfig):
    """MLflow settings of the forecasting flow."""

    experiment: str = Field("seqflow-forecast", min_length=1)  # MLflow experiment the flow's runs go to


class ForecastConfig(RunConfig):
    """Everything ``train_forecasters`` needs; this object is the flow's only parameter."""

    source: SineSource = SineSource()  # where the series comes from
    window: WindowConfig = WindowConfig()  # lookback, horizon, stride, target
    split: SplitConfig = SplitConfig()  # train / validation / test fractions, by time
    model: ModelConfig = ModelConfig()  # cells and their size
    train: TrainConfig = TrainConfig()  # Keras fit settings
    evaluate: EvaluateConfig = EvaluateConfig()  # what the test part measures
    tracking: ForecastTracking = ForecastTracking()  # the MLflow experiment and what is logged

    @model_validator(mode="after")
    def _fits_the_series(self) -> ForecastConfig:
        check_series_fits(self, self.source.n_points)
        return self

    @property
    def generate_steps(self) -> int:
        """Steps generated from the seed window: configured, or one period of the source."""
        return self.evaluate.generate_steps or self.source.period_steps

    @property
    def season_length(self) -> int:
        """Season length for the seasonal-naive baseline: configured, or one period of the source."""
        return self.evaluate.season_length or self.source.period_steps


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
