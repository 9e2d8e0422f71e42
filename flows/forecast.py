"""train_forecasters: series → windows → cells → evaluate → rank, tracked in MLflow."""

from __future__ import annotations

from prefect import flow

from flows.tracked import reconcile, run_name, tracked_run
from tasks.forecasting import steps
from tasks.forecasting.config import ForecastConfig
from tasks.forecasting.records import ForecastSummary
from tasks.tracking import runs, store


class AllModelsFailed(RuntimeError):
    """Every configured model diverged or broke: the flow produced nothing to rank."""


@flow(name="train-forecasters", log_prints=False)
def train_forecasters(cfg: ForecastConfig) -> ForecastSummary:
    """Train every configured cell on one series and score it beside the baselines.

    Models that diverge are reported and left out of the ranking; the flow fails only when none
    succeeded.
    """
    reconciled = reconcile()
    series = steps.ingest_series(cfg.source, cfg.seed)
    windows = steps.window_series(series, cfg.window, cfg.split)
    with tracked_run(cfg, "forecast", cfg.source.kind, {"data_content_hash": series.content_hash}) as ctx:
        steps.record_inputs(windows, ctx)
        baselines = steps.score_baselines(windows, cfg, ctx)
        published = []
        for cell in cfg.model.cells:
            evaluated = steps.evaluate_model(steps.train_model(windows, cfg, cell, ctx), windows, cfg)
            # Plots and model logging run in a worker thread while the next cell trains.
            published.append(steps.publish_model.submit(evaluated, cfg))
        results = [future.result() for future in published]
        ranking = steps.rank_forecasters(results, baselines, ctx)
        if not any(r.ok for r in results):
            raise AllModelsFailed("every model failed: " + "; ".join(f"{r.cell}: {r.failure}" for r in results))
    return ForecastSummary(
        flow="train-forecasters",
        flow_run_id=ctx.flow_run_id,
        tracking_uri=store.tracking_uri(),
        experiment_id=ctx.experiment_id,
        parent_run_id=ctx.parent_run_id,
        parent_run_name=run_name(cfg, "forecast", cfg.source.kind),
        data_content_hash=series.content_hash,
        series_path=series.path,
        windows_path=windows.path,
        parent_artifacts=runs.artifact_uri(ctx.parent_run_id),
        models=tuple(results),
        baselines=baselines,
        ranking=ranking,
        reconciled_runs=reconciled,
    )
