"""sine_study: wave → windows → cells → evaluate → rank, tracked in MLflow (the course's sine study)."""

from __future__ import annotations

from prefect import flow

from flows.artifacts import published
from flows.tracked import reconcile, tracked_run
from tasks.study import steps
from tasks.study.config import StudyConfig
from tasks.study.records import StudySummary
from tasks.tracking import runs, store


class AllModelsFailed(RuntimeError):
    """Every configured cell diverged or broke: the flow produced nothing to rank."""


@flow(name="sine-study", log_prints=False)
@published
def sine_study(cfg: StudyConfig) -> StudySummary:
    """Train every configured cell on the wave's one-step shift and score it beside the baselines.

    Each cell is scored one step ahead on the test part, then generates a continuation from the
    ``lookback`` steps before it; the gradient of its loss by input step shows how far back it
    remembers. Models that diverge are reported and left out of the ranking; the flow fails only
    when none succeeded.
    """
    reconciled = reconcile()
    wave = steps.synthesize_wave(cfg.source, cfg.seed)
    windows = steps.window_wave(wave, cfg.window, cfg.split)
    with tracked_run(cfg, "study", "sine", {"data_content_hash": wave.content_hash}, "test_rmse") as ctx:
        steps.record_inputs(windows, ctx)
        baselines = steps.score_baselines(windows, cfg, ctx)
        # One cell after another, its plots and model logged before the next trains: any Python
        # work on a second thread of this process (plots, MLflow) slowed the next cell's training
        # two- to fourfold, more than the work itself costs (docs/performance.md).
        results = [
            steps.publish_model(steps.evaluate_model(steps.train_model(windows, cfg, cell, ctx), windows, cfg), cfg)
            for cell in cfg.model.cells
        ]
        ranking = steps.rank_forecasters(results, baselines, ctx)
        if not any(r.ok for r in results):
            raise AllModelsFailed("every model failed: " + "; ".join(f"{r.cell}: {r.failure}" for r in results))
    return StudySummary(
        flow="sine-study",
        flow_run_id=ctx.flow_run_id,
        tracking_uri=store.tracking_uri(),
        experiment_id=ctx.experiment_id,
        parent_run_id=ctx.parent_run_id,
        parent_run_name=ctx.name,
        data_content_hash=wave.content_hash,
        series_path=wave.path,
        windows_path=windows.path,
        parent_artifacts=runs.artifact_uri(ctx.parent_run_id),
        models=tuple(results),
        baselines=baselines,
        ranking=ranking,
        reconciled_runs=reconciled,
    )
