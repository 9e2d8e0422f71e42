"""memory_lesson: memory task → every cell at every length and seed → who remembers, and why, tracked in MLflow."""

from __future__ import annotations

from prefect import flow

from flows.tracked import reconcile, tracked_run
from tasks.lesson import steps
from tasks.lesson.config import LessonConfig
from tasks.lesson.records import LessonSummary
from tasks.tracking import runs, store


class AllTrialsFailed(RuntimeError):
    """Every trial of the sweep diverged: the flow measured nothing."""


@flow(name="memory-lesson", log_prints=False)
def memory_lesson(cfg: LessonConfig) -> LessonSummary:
    """Train every cell on a long-memory task at every length with the same budget; measure the gradients.

    A trial that diverges is reported and counted as unsolved; the flow fails only when all did.
    """
    reconciled = reconcile()
    datasets = [steps.synthesize_task(cfg.task, length, cfg.seed) for length in cfg.sweep.lengths]
    data_hash = steps.data_content_hash(datasets)
    with tracked_run(cfg, "lesson", cfg.task.kind, {"data_content_hash": data_hash}) as ctx:
        baselines = steps.score_no_memory(datasets, ctx)
        trials = [
            steps.train_trial(data, cfg, cell, seed, ctx)
            for data in datasets for cell in cfg.model.cells for seed in cfg.sweep.seeds
        ]
        rows, figures = steps.summarise_lesson(trials, baselines, cfg, ctx)
        seconds = ctx.elapsed()
        if not any(t.ok for t in trials):
            raise AllTrialsFailed("every trial failed: " + "; ".join(
                f"{t.cell} L{t.length} seed {t.seed}: {t.failure}" for t in trials))
    return LessonSummary(
        flow="memory-lesson",
        flow_run_id=ctx.flow_run_id,
        tracking_uri=store.tracking_uri(),
        experiment_id=ctx.experiment_id,
        parent_run_id=ctx.parent_run_id,
        parent_run_name=ctx.name,
        task=cfg.task.kind,
        solved_mse=cfg.sweep.solved_mse,
        data=tuple(datasets),
        baselines=baselines,
        trials=tuple(trials),
        rows=rows,
        figures=figures,
        parent_artifacts=runs.artifact_uri(ctx.parent_run_id),
        seconds=seconds,
        reconciled_runs=reconciled,
    )
