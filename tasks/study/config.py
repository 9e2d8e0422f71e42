"""The sine study's config: the wave, its windows and fraction split, the cells, how they are trained and scored.

The course's study of recurrent cells on a sine wave: every cell learns the one-step shift on a
chronological train / validation / test split, then generates a continuation from a seed window, and
the gradient of its loss by input step shows how far back it remembers. Everything that can be
checked from the config alone (window spans against the wave's length, the baselines' lags and
season against the split) is checked here, so a bad setting is refused naming its key.
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import Field, model_validator

from tasks.config import COUNT_MAX, Frozen, RunConfig, TrackingConfig
from tasks.nets.config import NetConfig, TrainConfig
from tasks.nets.windowing import check_window_plan, split_bounds


class SineSource(Frozen):
    """``amplitude * sin(frequency * x + phase) + noise`` sampled on ``[x_start, x_end)``."""

    kind: Literal["sine"] = "sine"  # the source type: the study has one, the sine wave
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

    lookback: int = Field(32, gt=0, le=COUNT_MAX)  # input steps the model sees per window
    horizon: int = Field(1, gt=0, le=COUNT_MAX)  # future steps predicted when target = "horizon"
    stride: int = Field(1, gt=0, le=COUNT_MAX)  # steps between the starts of two consecutive windows
    # "horizon": the target is the next `horizon` steps after the input (the default: every unit of
    # loss is spent on the forecast itself, which is what generation feeds back);
    # "shifted": the target is the input moved one step ahead ([1..6] → [2..7], the classic lesson),
    # whose loss is dominated by early steps that have seen almost no context.
    target: Literal["horizon", "shifted"] = "horizon"  # what a window's target is: horizon | shifted


class SplitConfig(Frozen):
    """Chronological split of the wave into train, validation and test fractions (test takes the rest)."""

    train: float = Field(0.7, gt=0, lt=1)  # fraction of the series used to fit models and scalers
    validation: float = Field(0.15, gt=0, lt=1)  # fraction used for early stopping

    @model_validator(mode="after")
    def _leaves_a_test_part(self) -> SplitConfig:
        if self.train + self.validation >= 1:
            raise ValueError(
                f"split.train + split.validation = {self.train + self.validation:g} must be < 1 to leave a test part"
            )
        return self


class EvaluateConfig(Frozen):
    """What is measured on the test part."""

    generate_steps: int | None = Field(None, gt=0, le=COUNT_MAX)  # steps to generate from a seed window; off = one period
    season_length: int | None = Field(None, gt=0, le=COUNT_MAX)  # the seasonal-naive baseline's season; off = one period of the wave
    ar_lags: int = Field(8, gt=0, le=COUNT_MAX)  # lags of the statsmodels AutoReg baseline
    gradient_windows: int = Field(64, gt=0, le=COUNT_MAX)  # test windows used for the vanishing-gradient diagnostic


class StudyTracking(TrackingConfig):
    """MLflow settings of the sine study."""

    experiment: str = Field("seqflow-study", min_length=1)  # MLflow experiment the flow's runs go to


class StudyConfig(RunConfig):
    """Everything ``sine_study`` needs; this object is the flow's only parameter."""

    source: SineSource = SineSource()  # the wave: amplitude, frequency, phase, noise, sampling
    window: WindowConfig = WindowConfig()  # lookback, horizon, stride, target
    split: SplitConfig = SplitConfig()  # train / validation / test fractions, by time
    model: NetConfig = NetConfig()  # cells and their size (the same for every cell)
    train: TrainConfig = TrainConfig()  # Keras fit settings
    evaluate: EvaluateConfig = EvaluateConfig()  # what the test part measures
    tracking: StudyTracking = StudyTracking()  # the MLflow experiment and what is logged

    @model_validator(mode="after")
    def _fits_the_wave(self) -> StudyConfig:
        check_series_fits(self, self.source.n_points)
        return self

    @property
    def generate_steps(self) -> int:
        """Steps generated from the seed window: configured, or one period of the wave."""
        return self.evaluate.generate_steps or self.source.period_steps

    @property
    def season_length(self) -> int:
        """Season length for the seasonal-naive baseline: configured, or one period of the wave."""
        return self.evaluate.season_length or self.source.period_steps


def check_series_fits(cfg: StudyConfig, n: int) -> None:
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
