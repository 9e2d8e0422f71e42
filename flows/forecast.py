"""train_forecasters: series → windows → cells → backtest → compare → serve, tracked in MLflow."""

from __future__ import annotations

from prefect import flow

from flows.artifacts import published
from flows.runners import Runner, dask_task_runner
from flows.tracked import reconcile, tracked_run
from tasks.forecasting import calendar, ingest, steps
from tasks.forecasting import config as forecast_config
from tasks.forecasting.config import ForecastConfig
from tasks.forecasting.ranking import RANKED_BY
from tasks.forecasting.records import ForecastSummary
from tasks.tracking import runs, store


class AllModelsFailed(RuntimeError):
    """Every configured model diverged or broke: the flow produced nothing to rank."""


def run_forecast(cfg: ForecastConfig, runner: Runner | None = None) -> ForecastSummary:
    """Run the forecast flow serially, or with its training units fanned out on Dask (``runner``)."""
    if runner is not None and runner.kind == "dask":
        return train_forecasters.with_options(task_runner=dask_task_runner(runner))(cfg, fan_out=True)
    return train_forecasters(cfg)


@flow(name="train-forecasters", log_prints=False)
@published
def train_forecasters(cfg: ForecastConfig, fan_out: bool = False) -> ForecastSummary:
    """Train every configured cell on the source's series and score it beside the baselines.

    The last ``window.horizon`` steps of every series are held out at every backtest origin; each
    forecaster is refit per origin on what comes before and scored with the M4 metrics, ranked by
    MASE. Models that diverge are reported and left out of the ranking; the flow fails only when
    none succeeded. With ``fan_out`` (:func:`run_forecast` on Dask) every network's training units
    (fold x ensemble member x series group) are first trained at once on the flow's task runner.
    """
    reconciled = reconcile()
    series = steps.ingest_series(cfg.source)
    ingest.drop_kept()  # the CLI's reading of the source, if the cached ingest did not take it
    # The rules that need the data: checked here, before any run opens (the CLI checked them already; a
    # deployment's run did not pass through it).
    ingest.check_sizes(cfg, series.shortest_series, series.shortest_length, series.test_steps, series.inputs)
    steps.check_log_fits(cfg, series)
    # evaluate.inner_folds = auto: as many as the shortest series allows (2 to 4); the run records the number.
    cfg = steps.resolve_inner_folds(cfg, series)
    season = cfg.evaluate.season_length or series.season_length
    folds, step = cfg.total_folds, cfg.fold_step
    # The networks to train: model.cells as given, or model.recipe = auto's family of recipes.
    plans = steps.recipe_configs(cfg, series, season)
    features = calendar.resolve(cfg.preprocess.calendar, series.frequency)
    windows = {name: steps.window_panel(series, c.window, c.split, folds, step, steps.transform_spec(c, season),
                                        forecast_config.holdout_target_steps(c), features)
               for name, (_, c) in plans.items()}
    subject = ingest.subject(cfg.source)
    with tracked_run(cfg, "forecast", subject, {"data_content_hash": series.content_hash}, RANKED_BY) as ctx:
        steps.record_inputs(series, next(iter(windows.values()), None), ctx, subject, cfg.window.horizon, season)
        baselines = steps.backtest_baselines(series, cfg.window.horizon, season, folds, step,
                                             steps.baselines_to_run(cfg))
        # Fanned out, every unit trains on the task runner's workers first; then, as serially, one network
        # after another is recorded and evaluated in the flow's thread: any Python work on a second thread of
        # this process slowed the next cell's training two- to fourfold (docs/performance.md).
        fitted = steps.train_units({n: (windows[n], c, cell) for n, (cell, c) in plans.items()}) if fan_out else {}
        results = [
            steps.evaluate_panel_model(steps.train_panel_model(windows[name], c, cell, ctx, name, fitted.get(name)),
                                       windows[name], c, season)
            for name, (cell, c) in plans.items()
        ]
        if not any(r.ok for r in results) and cfg.model.recipe != "auto":
            raise AllModelsFailed("every model failed: " + "; ".join(f"{r.cell}: {r.failure}" for r in results))
        plan = None
        if cfg.model.recipe == "auto":
            # Chosen on the inner folds only (tasks.forecasting.choice); the held-out folds are only scored,
            # and what is served is that choice.
            auto, plan = steps.choose_auto(results, baselines, series, cfg, season, ctx)
            results.append(auto)
        compared = steps.compare_holdout(results, baselines, series, cfg, ctx, "auto" if plan else None)
        served_cfg = plans[compared.served][1] if compared.served in plans else None
        served = steps.serve_best_model(compared, series, cfg, season, ctx, served_cfg, plan,
                                        {name: c for name, (_, c) in plans.items()})
    return ForecastSummary(
        flow="train-forecasters",
        flow_run_id=ctx.flow_run_id,
        tracking_uri=store.tracking_uri(),
        experiment_id=ctx.experiment_id,
        parent_run_id=ctx.parent_run_id,
        parent_run_name=ctx.name,
        data_content_hash=series.content_hash,
        series_path=series.path,
        windows_path=next((w.path for w in windows.values()), None),
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
        folds=cfg.evaluate.folds,
        recipe=cfg.model.recipe,
        inner_folds=cfg.evaluate.inner_folds if cfg.model.recipe == "auto" else None,
        served_network=compared.served,
        skipped_rows=series.skipped_rows,
        unscaled_series=compared.unscaled,
        forecasts_path=compared.forecasts_path,
        scores_path=compared.scores_path,
        baseline_forecasts_path=baselines.forecasts_path,
        backtest=compared.backtest,
        served=served,
        not_served=steps.LOCAL_NOT_SERVED if served is None and cfg.model.scope == "local" else None,
    )
