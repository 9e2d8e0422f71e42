"""sweep_forecasters: every point of a sweep as a forecast run nested under one sweep run, ranked."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from prefect import flow

from flows.forecast import AllModelsFailed, train_forecasters
from flows.tracked import reconcile
from tasks.forecasting.config import ForecastConfig
from tasks.sweeps.grid import SweepConfig, describe_point, point_score, rank
from tasks.tracking import runs, store

# What every point must share so that all are scored on the same split and logged to one place.
FIXED_KEYS = ("source", "window.horizon", "evaluate.folds", "evaluate.fold_step", "tracking.experiment")
# The columns of a forecast's ranking a sweep can be ranked by (lower is better for each).
METRICS = ("mase", "smape", "owa", "test_rmse", "test_mae")


@dataclass(frozen=True)
class SweepPlan:
    """A checked sweep: its settings, each point's grid values, preset data and frozen config."""

    sweep: SweepConfig
    points: tuple[dict[str, Any], ...]  # dotted key -> value, as the grid gives them
    presets: tuple[dict[str, Any], ...]  # base preset with the point set in it: what best.toml holds
    configs: tuple[ForecastConfig, ...]  # what each point runs (not registered in the Model Registry)


@dataclass(frozen=True)
class SweepSummary:
    """What a sweep found: every point's run and score, ranked, and the best point's preset."""

    flow: str
    tracking_uri: str
    experiment_id: str
    sweep_run_id: str
    metric: str
    points: list[dict[str, Any]] = field(default_factory=list)  # number, values, run_id, score, rank, failure
    ranked: list[int] = field(default_factory=list)  # point numbers, best first
    best_preset: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """The summary as plain data (what ``--json`` prints)."""
        return asdict(self)


@flow(name="sweep-forecasters", log_prints=False)
def sweep_forecasters(plan: SweepPlan) -> SweepSummary:
    """Run every point of ``plan`` one after another, each a forecast run nested under the sweep's run.

    Every point holds out the same steps (the grid cannot change the source, horizon or folds); a point
    whose models all failed is recorded, never ranked.
    """
    reconcile()
    metric = plan.sweep.metric
    experiment_id = store.ensure_experiment(plan.configs[0].tracking.experiment)
    params = {"sweep.base": plan.sweep.base, "sweep.metric": metric, "sweep.points": len(plan.points),
              "sweep.sample": plan.sweep.sample, "sweep.seed": plan.sweep.seed,
              **{f"grid.{k}": str(v) for k, v in plan.sweep.grid.items()}}
    name = f"sweep · {len(plan.points)} points · {metric}"
    with runs.parent_run(experiment_id, name, params, {"seqflow.flow": "sweep"}) as sweep_run:
        rows = [_run_point(number, point, cfg, sweep_run, metric)
                for number, (point, cfg) in enumerate(zip(plan.points, plan.configs), start=1)]
        order = rank([row["score"] for row in rows])
        for position, index in enumerate(order, start=1):
            rows[index]["rank"] = position
        runs.log_dict(sweep_run, {"metric": metric, "points": rows}, "sweep.json")
        if order:
            runs.log_metrics(sweep_run, {f"best.{metric}": rows[order[0]]["score"]})
    return SweepSummary("sweep-forecasters", store.tracking_uri(), experiment_id, sweep_run, metric, rows,
                        [rows[i]["number"] for i in order], plan.presets[order[0]] if order else None)


def _run_point(number: int, point: dict[str, Any], cfg: ForecastConfig, sweep_run: str, metric: str) -> dict[str, Any]:
    """One point as a forecast subflow; its run nested under the sweep's; its score or why it has none."""
    row: dict[str, Any] = {"number": number, "values": point, "label": describe_point(point), "run_id": None,
                           "score": None, "rank": None, "failure": None}
    try:
        summary = train_forecasters(cfg)
    except AllModelsFailed as exc:
        row["failure"] = str(exc)
        return row
    row["run_id"] = summary.parent_run_id
    row["score"] = point_score(summary.to_dict()["ranking"], metric)
    runs.set_tags(summary.parent_run_id, {runs.MLFLOW_PARENT_RUN_ID: sweep_run, "seqflow.sweep.point": str(number)})
    runs.log_metrics(sweep_run, {f"point.{metric}": row["score"]} if row["score"] is not None else {}, step=number)
    return row
