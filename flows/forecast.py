"""train_forecasters: series → windows → cells → evaluate → rank, tracked in MLflow."""

from __future__ import annotations

from prefect import flow

from flows.tracked import reconcile, run_name, tracked_run
from tasks.forecasting import config as forecast_config
from tasks.forecasting import calendar, ingest, steps
from tasks.forecasting.config import ForecastConfig
from tasks.forecasting.records import ForecastSummary, SeriesRef
from tasks.tracking import runs, store
from tasks.tracking.runs import RunContext


class AllModelsFailed(RuntimeError):
    """Every configured model diverged or broke: the flow produced nothing to rank."""


@flow(name="train-forecasters", log_prints=False)
def train_forecasters(cfg: ForecastConfig) -> ForecastSummary:
    """Train every configured cell on the source's series and score it beside the baselines.

    The sine keeps its fraction split (one-step test errors); real series (``split.mode = horizon``)
    hold out the last ``window.horizon`` steps of each series at every backtest origin and are
    scored with the M4 metrics. Models that diverge are reported and left out of the ranking; the
    flow fails only when none succeeded.
    """
    reconciled = reconcile()
    series = steps.ingest_series(cfg.source, cfg.seed)
    if cfg.holdout:
        return held_out_horizons(cfg, series, reconciled)
    windows = steps.window_series(series, cfg.window, cfg.split)
    with tracked_run(cfg, "forecast", cfg.source.kind, {"data_content_hash": series.content_hash}) as ctx:
        steps.record_inputs(windows, ctx)
        baselines = steps.score_baselines(windows, cfg, ctx)
        # One cell after another, its plots and model logged before the next trains: any Python
        # work on a second thread of this process (plots, MLflow) slowed the next cell's training
        # two- to fourfold, more than the work itself costs (README, "Speed").
        results = [
            steps.publish_model(steps.evaluate_model(steps.train_model(windows, cfg, cell, ctx), windows, cfg), cfg)
            for cell in cfg.model.cells
        ]
        ranking = steps.rank_forecasters(results, baselines, ctx)
        _all_failed(results)
    return _summary(
        cfg, ctx, cfg.source.kind, series, windows.path, reconciled,
        models=tuple(results),
        baselines=baselines,
        ranking=ranking,
    )


def held_out_horizons(cfg: ForecastConfig, series: SeriesRef, reconciled: tuple[str, ...]) -> ForecastSummary:
    """The last ``window.horizon`` steps of every series held out per origin; M4 metrics, ranked by MASE."""
    # The size rules need the data: checked here, before any run opens (the CLI checked them already).
    ingest.check_sizes(cfg, series.shortest_series, series.shortest_length, series.test_steps, series.inputs)
    season = cfg.evaluate.season_length or series.season_length
    folds, step = cfg.evaluate.folds, cfg.fold_step
    windows = steps.window_panel(series, cfg.window, cfg.split, folds, step, steps.transform_spec(cfg, season),
                                 forecast_config.holdout_target_steps(cfg),
                                 calendar.resolve(cfg.preprocess.calendar, series.frequency))
    subject = ingest.subject(cfg.source)
    with tracked_run(cfg, "forecast", subject, {"data_content_hash": series.content_hash}) as ctx:
        steps.record_inputs(windows, ctx)
        baselines = steps.backtest_baselines(series, cfg.window.horizon, season, folds, step, cfg.evaluate.baselines)
        results = [
            steps.evaluate_panel_model(steps.train_panel_model(windows, cfg, cell, ctx), windows, cfg, season)
            for cell in cfg.model.cells
        ]
        compared = steps.compare_holdout(results, baselines, series, cfg, ctx)
        _all_failed(results)
        served = steps.serve_best_model(compared, series, cfg, season, ctx)
    return _summary(
        cfg, ctx, subject, series, windows.path, reconciled,
        models=compared.models,
        baselines=compared.baselines,
        ranking=compared.ranking,
        source_kind=cfg.source.kind,
        split_mode="horizon",
        ranked_by="mase",
        horizon=cfg.window.horizon,
        n_series=series.n_series,
        frequency=series.frequency,
        season_length=season,
        folds=folds,
        skipped_rows=series.skipped_rows,
        forecasts_path=compared.forecasts_path,
        scores_path=compared.scores_path,
        backtest=compared.backtest,
        served=served,
        not_served=steps.LOCAL_NOT_SERVED if served is None and cfg.model.scope == "local" else None,
    )


def _summary(
    cfg: ForecastConfig, ctx: RunContext, subject: str, series: SeriesRef, windows_path: str, reconciled: tuple[str, ...],
    **results,
) -> ForecastSummary:
    """The summary fields every forecasting run shares (ids, paths, hashes), plus its ``results``."""
    return ForecastSummary(
        flow="train-forecasters",
        flow_run_id=ctx.flow_run_id,
        tracking_uri=store.tracking_uri(),
        experiment_id=ctx.experiment_id,
        parent_run_id=ctx.parent_run_id,
        parent_run_name=run_name(cfg, "forecast", subject),
        data_content_hash=series.content_hash,
        series_path=series.path,
        windows_path=windows_path,
        parent_artifacts=runs.artifact_uri(ctx.parent_run_id),
        reconciled_runs=reconciled,
        **results,
    )


def _all_failed(results) -> None:
    if not any(r.ok for r in results):
        raise AllModelsFailed("every model failed: " + "; ".join(f"{r.cell}: {r.failure}" for r in results))
