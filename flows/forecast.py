"""train_forecasters: series → windows → cells → backtest → compare → serve, tracked in MLflow."""

from __future__ import annotations

from prefect import flow

from flows.tracked import reconcile, tracked_run
from tasks.forecasting import calendar, ingest, steps
from tasks.forecasting import config as forecast_config
from tasks.forecasting.config import ForecastConfig
from tasks.forecasting.ranking import RANKED_BY
from tasks.forecasting.records import ForecastSummary
from tasks.tracking import runs, store


class AllModelsFailed(RuntimeError):
    """Every configured model diverged or broke: the flow produced nothing to rank."""


@flow(name="train-forecasters", log_prints=False)
def train_forecasters(cfg: ForecastConfig) -> ForecastSummary:
    """Train every configured cell on the source's series and score it beside the baselines.

    The last ``window.horizon`` steps of every series are held out at every backtest origin; each
    forecaster is refit per origin on what comes before and scored with the M4 metrics, ranked by
    MASE. Models that diverge are reported and left out of the ranking; the flow fails only when
    none succeeded.
    """
    reconciled = reconcile()
    series = steps.ingest_series(cfg.source)
    # The size rules need the data: checked here, before any run opens (the CLI checked them already).
    ingest.check_sizes(cfg, series.shortest_series, series.shortest_length, series.test_steps, series.inputs)
    season = cfg.evaluate.season_length or series.season_length
    folds, step = cfg.evaluate.folds, cfg.fold_step
    windows = steps.window_panel(series, cfg.window, cfg.split, folds, step, steps.transform_spec(cfg, season),
                                 forecast_config.holdout_target_steps(cfg),
                                 calendar.resolve(cfg.preprocess.calendar, series.frequency))
    subject = ingest.subject(cfg.source)
    with tracked_run(cfg, "forecast", subject, {"data_content_hash": series.content_hash}, RANKED_BY) as ctx:
        steps.record_inputs(windows, ctx, subject)
        baselines = steps.backtest_baselines(series, cfg.window.horizon, season, folds, step, cfg.evaluate.baselines)
        # One cell after another, each evaluated in the flow's thread: any Python work on a second
        # thread of this process slowed the next cell's training two- to fourfold (docs/performance.md).
        results = [
            steps.evaluate_panel_model(steps.train_panel_model(windows, cfg, cell, ctx), windows, cfg, season)
            for cell in cfg.model.cells
        ]
        compared = steps.compare_holdout(results, baselines, series, cfg, ctx)
        if not any(r.ok for r in results):
            raise AllModelsFailed("every model failed: " + "; ".join(f"{r.cell}: {r.failure}" for r in results))
        served = steps.serve_best_model(compared, series, cfg, season, ctx)
    return ForecastSummary(
        flow="train-forecasters",
        flow_run_id=ctx.flow_run_id,
        tracking_uri=store.tracking_uri(),
        experiment_id=ctx.experiment_id,
        parent_run_id=ctx.parent_run_id,
        parent_run_name=ctx.name,
        data_content_hash=series.content_hash,
        series_path=series.path,
        windows_path=windows.path,
        parent_artifacts=runs.artifact_uri(ctx.parent_run_id),
        models=compared.models,
        baselines=compared.baselines,
        ranking=compared.ranking,
        reconciled_runs=reconciled,
        source_kind=cfg.source.kind,
        ranked_by=RANKED_BY,
        horizon=cfg.window.horizon,
        n_series=series.n_series,
        frequency=series.frequency,
        season_length=season,
        folds=folds,
        skipped_rows=series.skipped_rows,
        unscaled_series=compared.unscaled,
        forecasts_path=compared.forecasts_path,
        scores_path=compared.scores_path,
        backtest=compared.backtest,
        served=served,
        not_served=steps.LOCAL_NOT_SERVED if served is None and cfg.model.scope == "local" else None,
    )
