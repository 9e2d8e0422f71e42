"""sweep_forecasters: every point of a sweep as a forecast run nested under one sweep run, ranked.

The points run one after another in this process, or fan out through prefect-dask to a Dask cluster
(``Runner``). A point's run is tagged with the sweep's hash when it finishes, so the same sweep run
again (after a kill) reuses the points that finished and trains only the rest.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from flows.forecast import AllModelsFailed, train_forecasters
from flows.runners import Runner, dask_task_runner, worker_threads
from flows.tracked import reconcile
from tasks.caching import content_key
from tasks.forecasting.config import ForecastConfig
from tasks.sweeps.grid import SweepConfig, describe_point, point_score, rank
from tasks.tracking import runs, store

# What every point must share so that all are scored on the same split and logged to one place.
FIXED_KEYS = ("source", "window.horizon", "evaluate.folds", "evaluate.fold_step", "tracking.experiment")
# The columns of a forecast's ranking a sweep can be ranked by (lower is better for each).
METRICS = ("mase", "smape", "owa", "test_rmse", "test_mae")
# Tags on a point's run: the sweep it belongs to (a hash of every point's config and the metric, so
# the same sweep run again finds it), its number and its own config's hash.
SWEEP_HASH = "seqflow.sweep.hash"
POINT_NUMBER = "seqflow.sweep.point"
POINT_KEY = "seqflow.sweep.point_key"


@dataclass(frozen=True)
class SweepPlan:
    """A checked sweep: its settings, each point's grid values, preset data and frozen config."""

    sweep: SweepConfig
    points: tuple[dict[str, Any], ...]  # dotted key -> value, as the grid gives them
    presets: tuple[dict[str, Any], ...]  # base preset with the point set in it: what best.toml holds
    configs: tuple[ForecastConfig, ...]  # what each point runs (not registered in the Model Registry)
    runner: Runner = Runner()


@dataclass(frozen=True)
class SweepSummary:
    """What a sweep found: every point's run and score, ranked, and the best point's preset."""

    flow: str
    tracking_uri: str
    experiment_id: str
    sweep_run_id: str
    metric: str
    points: list[dict[str, Any]] = field(default_factory=list)  # number, values, run_id, score, rank, failure, reused
    ranked: list[int] = field(default_factory=list)  # point numbers, best first
    best_preset: dict[str, Any] | None = None
    runner: str = "serial"

    def to_dict(self) -> dict[str, Any]:
        """The summary as plain data (what ``--json`` prints)."""
        return asdict(self)


def point_key(cfg: ForecastConfig) -> str:
    """The hash of one point's whole config."""
    return content_key(cfg.model_dump(mode="json"))


def point_work(cfg: ForecastConfig) -> float:
    """A point's training work, relative to the other points': only their order is used.

    Networks trained (cells x ensemble members x backtest origins, each over ``train.epochs``) times
    the steps each window runs through (``window.lookback`` x ``model.layers``), then the width. On
    the small networks a sweep tries the lookback rules: on the bench sweep (milk, 300 epochs, one
    network each) a GRU of 4 units fitted in 7.6 s at lookback 12 and in 10.1 s at lookback 24, one
    of 8 units in 7.3 and 10.2 s.
    """
    networks = len(cfg.model.cells) * cfg.model.ensemble * cfg.evaluate.folds * cfg.train.epochs
    return networks * cfg.window.lookback * cfg.model.layers * (1.0 + cfg.model.units / 1024)


def sweep_hash(plan: SweepPlan) -> str:
    """The hash of a sweep: its metric and every point's config, in order (not where the points run)."""
    return content_key(plan.sweep.metric, [point_key(cfg) for cfg in plan.configs])


def run_sweep(plan: SweepPlan) -> SweepSummary:
    """Run the sweep on its runner: serially in this process, or with the points on a Dask cluster."""
    if plan.runner.kind == "dask":
        return sweep_forecasters.with_options(task_runner=dask_task_runner(plan.runner))(plan)
    return sweep_forecasters(plan)


@flow(name="sweep-forecasters", log_prints=False)
def sweep_forecasters(plan: SweepPlan) -> SweepSummary:
    """Run every point of ``plan`` not finished before, each a forecast run nested under the sweep's run.

    Every point holds out the same steps (the grid cannot change the source, horizon or folds); a point
    whose models all failed is recorded, never ranked. The store and the experiment are created here,
    before any point fans out.
    """
    reconcile()
    metric = plan.sweep.metric
    experiment_id = store.ensure_experiment(plan.configs[0].tracking.experiment)
    key = sweep_hash(plan)
    finished = _finished_points(experiment_id, key, metric)
    params = {"sweep.base": plan.sweep.base, "sweep.metric": metric, "sweep.points": len(plan.points),
              "sweep.sample": plan.sweep.sample, "sweep.seed": plan.sweep.seed, "sweep.runner": plan.runner.kind,
              **{f"grid.{k}": str(v) for k, v in plan.sweep.grid.items()}}
    name = f"sweep · {len(plan.points)} points · {metric}"
    with runs.parent_run(experiment_id, name, params, {"seqflow.flow": "sweep", SWEEP_HASH: key}) as sweep_run:
        rows: dict[int, dict[str, Any]] = {}
        todo = []
        for number, (point, cfg) in enumerate(zip(plan.points, plan.configs), start=1):
            done = finished.get((number, point_key(cfg)))
            if done is None:
                todo.append((number, point, cfg))
                continue
            rows[number] = _row(number, point, *done, reused=True)
            _nest(done[0], sweep_run, number, key, cfg)
            _record(sweep_run, rows[number], metric)
        if plan.runner.kind == "dask":
            # Longest first: the workers take the points in this order, so the last to start are short.
            todo.sort(key=lambda item: point_work(item[2]), reverse=True)
            futures = [sweep_point.submit(number, point, cfg, sweep_run, metric, key) for number, point, cfg in todo]
            done_rows = (future.result() for future in futures)
        else:
            done_rows = (_run_point(number, point, cfg, sweep_run, metric, key) for number, point, cfg in todo)
        for row in done_rows:
            rows[row["number"]] = row
            _record(sweep_run, row, metric)
        ordered = [rows[number] for number in sorted(rows)]
        order = rank([row["score"] for row in ordered])
        for position, index in enumerate(order, start=1):
            ordered[index]["rank"] = position
        runs.log_dict(sweep_run, {"metric": metric, "points": ordered}, "sweep.json")
        if order:
            runs.log_metrics(sweep_run, {f"best.{metric}": ordered[order[0]]["score"]})
    return SweepSummary("sweep-forecasters", store.tracking_uri(), experiment_id, sweep_run, metric, ordered,
                        [ordered[i]["number"] for i in order], plan.presets[order[0]] if order else None,
                        plan.runner.kind)


def _finished_points(experiment_id: str, key: str, metric: str) -> dict[tuple[int, str], tuple[str, float]]:
    """The points of sweep ``key`` whose runs FINISHED with a score: (number, point key) -> (run id, score)."""
    found: dict[tuple[int, str], tuple[str, float]] = {}
    for run_id, tags, metrics in runs.finished_runs(experiment_id, {SWEEP_HASH: key, "seqflow.flow": "forecast"}):
        score = metrics.get(f"sweep.{metric}")
        if score is not None and POINT_NUMBER in tags and POINT_KEY in tags:
            found.setdefault((int(tags[POINT_NUMBER]), tags[POINT_KEY]), (run_id, score))  # newest first
    return found


def _row(number: int, point: dict[str, Any], run_id: str | None, score: float | None, failure: str | None = None,
         reused: bool = False) -> dict[str, Any]:
    return {"number": number, "values": point, "label": describe_point(point), "run_id": run_id, "score": score,
            "rank": None, "failure": failure, "reused": reused}


def _nest(run_id: str, sweep_run: str, number: int, key: str, cfg: ForecastConfig, name: str | None = None) -> None:
    """Put a point's run under the sweep's run and tag it as the sweep's point ``number``; rename it to ``name``."""
    tags = {runs.MLFLOW_PARENT_RUN_ID: sweep_run, POINT_NUMBER: str(number), SWEEP_HASH: key, POINT_KEY: point_key(cfg)}
    runs.set_tags(run_id, tags if name is None else {**tags, runs.MLFLOW_RUN_NAME: name})


def point_run_name(number: int, point: dict[str, Any], run_name: str) -> str:
    """A point's run name: the point's number and values first, then its forecast run's own name.

    In the runs table (where long names are cut) and the compare view, the points of one sweep
    otherwise read alike: the same flow, subject and cell, seconds apart.
    """
    return f"point {number} · {describe_point(point)} · {run_name}"


def _record(sweep_run: str, row: dict[str, Any], metric: str) -> None:
    if row["score"] is not None:
        runs.log_metrics(sweep_run, {f"point.{metric}": row["score"]}, step=row["number"])


@task(name="sweep-point", cache_policy=NO_CACHE, persist_result=False)
def sweep_point(number: int, point: dict[str, Any], cfg: ForecastConfig, sweep_run: str, metric: str,
                key: str) -> dict[str, Any]:
    """One point on a Dask worker: TensorFlow on the point's ``train.threads`` (one when it leaves the
    choice to TensorFlow, so points sharing a machine do not fight over its cores), then the forecast."""
    worker_threads(cfg.train.threads)
    return _run_point(number, point, cfg, sweep_run, metric, key)


def _run_point(number: int, point: dict[str, Any], cfg: ForecastConfig, sweep_run: str, metric: str,
               key: str) -> dict[str, Any]:
    """One point as a forecast subflow; its run nested under the sweep's; its score or why it has none."""
    try:
        summary = train_forecasters(cfg)
    except AllModelsFailed as exc:
        return _row(number, point, None, None, failure=str(exc))
    score = point_score(summary.to_dict()["ranking"], metric)
    if score is not None:
        # Logged before the run is tagged as the sweep's: a run found by the tag always has its score.
        runs.log_metrics(summary.parent_run_id, {f"sweep.{metric}": score})
    _nest(summary.parent_run_id, sweep_run, number, key, cfg, point_run_name(number, point, summary.parent_run_name))
    return _row(number, point, summary.parent_run_id, score)
