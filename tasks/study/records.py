"""Typed records the sine study's steps pass to each other and the flow returns: paths and facts, never tensors.

Words used everywhere: a *cell* is a recurrent cell type (``lstm``); a *model* is a network of one
cell trained in one flow run; a *baseline* is a statistical one-step forecaster; a *forecaster* is either.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from tasks.nets.records import TrainedModel


@dataclass(frozen=True)
class WaveRef:
    """The synthesized wave stored as long-format Parquet (``series_id, timestamp, value``)."""

    path: str
    content_hash: str
    n_points: int


@dataclass(frozen=True)
class WindowsRef:
    """Windows of every split stored as Parquet, with the wave they were cut from."""

    path: str
    content_hash: str
    wave: WaveRef
    counts: tuple[tuple[str, int], ...]  # (split, n_windows) pairs


@dataclass(frozen=True)
class EvaluatedModel:
    """A trained model after scoring, before its plots and pyfunc model are logged (NumPy arrays only)."""

    trained: TrainedModel
    evaluation: Any = field(hash=False, compare=False)  # tasks.study.evaluation.CellEvaluation
    t: Any = field(hash=False, compare=False)  # (time,) the wave's x axis, for plots
    example_input: Any = field(hash=False, compare=False)  # (1, lookback, n_features) raw-unit window
    example_output: Any = field(hash=False, compare=False)  # the model's raw-unit output for it
    scaler_mean: tuple[float, ...] = ()  # (n_features,) the training scaler
    scaler_std: tuple[float, ...] = ()


@dataclass(frozen=True)
class ModelResult:
    """A trained model's scores and where to find it."""

    cell: str
    run_id: str
    model_uri: str | None  # models:/m-... when logged, for mlflow.pyfunc.load_model
    model_id: str | None
    model_path: str | None
    metrics: dict[str, float] = field(hash=False)
    gradient_norms: tuple[float, ...] = ()  # (lookback,) ‖∂loss/∂x_t‖, oldest step first
    failure: str | None = None

    @property
    def ok(self) -> bool:
        """True when the model trained and was scored."""
        return self.failure is None


@dataclass(frozen=True)
class BaselineScore:
    """A baseline's errors on the same one-step test points as the models."""

    name: str
    metrics: dict[str, float] = field(hash=False)


@dataclass(frozen=True)
class RankedForecaster:
    """One row of the ranking: a model or a baseline, best first by test RMSE."""

    rank: int
    forecaster: str
    kind: str  # "model" | "baseline"
    test_rmse: float
    test_mae: float


@dataclass(frozen=True)
class StudySummary:
    """What one run of the sine study produced; ``--json`` and the printed table read this."""

    flow: str
    flow_run_id: str
    tracking_uri: str
    experiment_id: str
    parent_run_id: str
    parent_run_name: str
    data_content_hash: str
    series_path: str
    windows_path: str
    parent_artifacts: str
    models: tuple[ModelResult, ...]
    baselines: tuple[BaselineScore, ...]
    ranking: tuple[RankedForecaster, ...]
    reconciled_runs: tuple[str, ...]  # runs of killed processes closed as KILLED at start

    def model(self, cell: str) -> ModelResult:
        """The result of one cell."""
        for result in self.models:
            if result.cell == cell:
                return result
        raise KeyError(f"no model of cell {cell!r} in this run; cells: {[m.cell for m in self.models]}")

    @property
    def failed(self) -> tuple[ModelResult, ...]:
        """Models that diverged or broke, with their reasons."""
        return tuple(m for m in self.models if not m.ok)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (what ``--json`` prints)."""
        return dataclasses.asdict(self)
