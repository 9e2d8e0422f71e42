"""Typed records the forecasting steps pass to each other and the flow returns: paths and facts, never tensors.

Words used everywhere: a *cell* is a recurrent cell type (``lstm``); a *model* is a network of one
cell trained in one flow run; a *baseline* is a statistical forecaster; a *forecaster* is either.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class SeriesRef:
    """Series stored as long-format Parquet (``series_id, timestamp, value``), from any source."""

    path: str
    content_hash: str
    n_points: int  # rows: steps summed over every series
    n_series: int
    frequency: str  # hourly ... yearly
    season_length: int  # steps per season of the data (the calendar's or M4's)
    skipped_rows: tuple[str, ...]  # rows of the input file not read as data, with the reason
    source_content_hash: str  # SHA-256 of the input file(s) read
    shortest_series: str  # the id of the shortest series, and its length: what the size rules check
    shortest_length: int
    test_steps: int  # steps per series read from a separate test file (M4 --test), else 0
    inputs: tuple[str, ...]  # the files read


@dataclass(frozen=True)
class WindowsRef:
    """Windows of every split stored as Parquet, with the series they were cut from."""

    path: str
    content_hash: str
    series: SeriesRef
    counts: tuple[tuple[str, int], ...]  # (split, n_windows) pairs


@dataclass(frozen=True)
class ModelResult:
    """A trained model's scores and where to find it."""

    cell: str
    run_id: str
    model_uri: str | None  # models:/m-... when logged, for mlflow.pyfunc.load_model
    model_id: str | None
    model_path: str | None
    metrics: dict[str, float] = field(hash=False)
    failure: str | None = None
    forecasts_path: str | None = None  # its forecasts at every origin (Parquet)
    scores_path: str | None = None  # its M4 metrics per series and origin (Parquet)
    # fold 0's conformal half-widths per horizon step (in units of each series' MASE scale) and the
    # residuals each was taken from; what a served model's intervals use
    half_widths: tuple[float, ...] = ()
    n_calibration: tuple[int, ...] = ()

    @property
    def ok(self) -> bool:
        """True when the model trained and was scored."""
        return self.failure is None


@dataclass(frozen=True)
class BaselineScore:
    """A baseline's errors on the same test points as the models."""

    name: str
    metrics: dict[str, float] = field(hash=False)


@dataclass(frozen=True)
class RankedForecaster:
    """One row of the ranking: a model or a baseline, best first."""

    rank: int
    forecaster: str
    kind: str  # "model" | "baseline"
    test_rmse: float
    test_mae: float
    # M4 metrics, means over series at the latest origin (OWA is NaN without the naive2 baseline)
    mase: float
    smape: float
    owa: float
    # Chosen before the test part was seen: model.recipe = auto's combination (chosen on the inner
    # folds), or a manual run's only model. A manual run of several cells chooses none of them: the
    # best of those by these test scores is an optimistic pick.
    chosen: bool = False


@dataclass(frozen=True)
class FoldScore:
    """One forecaster at one backtest origin: the M4 metrics as means over series."""

    forecaster: str
    kind: str  # "model" | "baseline"
    fold: int  # 0 is the latest origin
    n_series: int
    mase: float
    smape: float
    owa: float  # relative to Naive2 on the same series and fold; NaN without naive2
    rmse: float
    mae: float
    mape: float


@dataclass(frozen=True)
class UnscaledSeries:
    """A series with no MASE scale before its origin(s): its MASE and MSIS are NaN, it has no interval."""

    series_id: str
    folds: tuple[int, ...]  # the folds whose origin it has no scale before, latest first
    origins: tuple[int, ...]  # those origins, as series indices
    reason: str  # why: "its values before the origin are constant", "... repeat exactly every 12 steps"

    @property
    def message(self) -> str:
        """One line naming the series, where and why, and what it means for the scores."""
        where = ("origin " if len(self.origins) == 1 else "origins ") + ", ".join(map(str, self.origins))
        return (f"series {self.series_id!r} ({where}): {self.reason} (seasonal-naive MAE 0); its MASE and MSIS "
                "are NaN, left out of the means over series, and it has no interval")


@dataclass(frozen=True)
class HoldoutComparison:
    """Every forecaster scored on the same held-out horizons, ranked, with the files written."""

    models: tuple[ModelResult, ...]
    baselines: tuple[BaselineScore, ...]
    ranking: tuple[RankedForecaster, ...]
    backtest: tuple[FoldScore, ...]
    forecasts_path: str
    scores_path: str
    unscaled: tuple[UnscaledSeries, ...]  # series scored without MASE, MSIS and interval
    served: str | None = None  # what to serve: auto itself (its inner-fold choice), else the best-ranked model


@dataclass(frozen=True)
class ScoredForecasts:
    """Forecasts and per-series scores of one or more forecasters, stored as Parquet."""

    forecasts_path: str  # series_id, model, fold, origin, timestamp, horizon_step, yhat, y
    scores_path: str  # series_id, model, fold, origin, mae, rmse, mape, smape, mase


@dataclass(frozen=True)
class ServedModel:
    """The best model of a run as a servable forecaster, and where the registry keeps it."""

    cell: str
    model_uri: str  # models:/m-... (the logged model)
    model_id: str
    registered_model: str | None = None  # the Model Registry name; None when not registered
    version: str | None = None
    alias: str | None = None
    uri: str | None = None  # models:/NAME@ALIAS: what `seqflow predict --model` and `mlflow models serve -m` take


@dataclass(frozen=True)
class ForecastSummary:
    """What one run of the forecasting flow produced; ``--json``, the table and the bench read this."""

    flow: str
    flow_run_id: str
    tracking_uri: str
    experiment_id: str
    parent_run_id: str
    parent_run_name: str
    data_content_hash: str
    series_path: str
    windows_path: str | None  # the first network's windows (None: auto found the series too short for networks)
    parent_artifacts: str
    models: tuple[ModelResult, ...]
    baselines: tuple[BaselineScore, ...]
    ranking: tuple[RankedForecaster, ...]
    reconciled_runs: tuple[str, ...]  # runs of killed processes closed as KILLED at start
    source_kind: str  # csv | m4
    ranked_by: str  # the metric the ranking orders by: mase
    horizon: int
    n_series: int
    frequency: str
    season_length: int
    folds: int
    skipped_rows: tuple[str, ...]
    unscaled_series: tuple[UnscaledSeries, ...]  # series without a MASE scale: reported, left out of the means
    forecasts_path: str  # Parquet: series_id, timestamp, model, fold, horizon_step, yhat, lower, upper, y
    scores_path: str  # Parquet: per series, forecaster and fold, the M4 metrics
    backtest: tuple[FoldScore, ...]  # one row per forecaster and fold
    served: ServedModel | None  # the best model as a servable forecaster (None: not logged or not servable)
    not_served: str | None  # why no model was served (model.scope = local)
    recipe: str = "manual"  # model.recipe: auto (chosen on inner folds) | manual
    inner_folds: int | None = None  # auto: the inner folds it chose on (evaluate.inner_folds, resolved); None: manual
    served_network: str | None = None  # the forecaster served: auto (its inner-fold choice), else the best-ranked
    # The statistical forecasters' backtest forecasts at every origin (under auto the inner ones too).
    baseline_forecasts_path: str | None = None

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
