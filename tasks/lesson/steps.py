"""Prefect ``@task`` wrappers of the lesson flow: read inputs, call pure functions, write, log.

The only module of the lesson package that meets Prefect, storage, paths and tracking. Synthesising
a task's sequences is cached on the task settings, the length, the seed and the generator's code,
so a re-run reuses their Parquet files; training is never cached (every flow run opens fresh MLflow
runs and trains, deterministically given the seeds).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.context import TaskRunContext

from tasks import caching, paths, storage
from tasks.config import flatten
from tasks.lesson import memory
from tasks.lesson.config import LessonConfig, MemoryTask
from tasks.lesson.records import LessonRow, NoMemoryBaseline, TaskDataRef, TrialResult
from tasks.progress import epoch_bar
from tasks.tracking import runs
from tasks.tracking.runs import RunContext


def _data_key(task_cfg: MemoryTask, length: int, seed: int) -> str:
    return caching.content_key(task_cfg.model_dump(mode="json"), length, seed, caching.code_fingerprint(memory))


def _data_cache_key(context: TaskRunContext, parameters: dict[str, Any]) -> str:
    key = _data_key(parameters["task_cfg"], parameters["length"], parameters["seed"])
    return caching.reuse_or_rebuild(f"memory-{key}", paths.intermediate_path("memory", key))


@task(name="synthesize-task", cache_key_fn=_data_cache_key, persist_result=True)
def synthesize_task(task_cfg: MemoryTask, length: int, seed: int) -> TaskDataRef:
    """Draw the task's sequences of every split at one length; store them as Parquet."""
    data = memory.synthesize(task_cfg.kind, length, task_cfg.counts, seed)
    meta = {"task": task_cfg.kind, "length": str(length), "seed": str(seed)}
    path = storage.write_arrays(data.to_arrays(), paths.intermediate_path("memory", _data_key(task_cfg, length, seed)), meta)
    counts = tuple((s, int(np.sum(data.split == s))) for s in memory.SPLITS)
    return TaskDataRef(task_cfg.kind, length, str(path), storage.content_hash(path), counts)


def _read(data: TaskDataRef) -> memory.MemoryData:
    return memory.MemoryData.from_arrays(storage.read_arrays(Path(data.path)).arrays)


def data_content_hash(datasets: Sequence[TaskDataRef]) -> str:
    """One identity for every length's data together (the parent run's ``data_content_hash``)."""
    return caching.content_key([d.content_hash for d in datasets])


@task(name="score-no-memory", cache_policy=NO_CACHE, persist_result=False)
def score_no_memory(datasets: Sequence[TaskDataRef], ctx: RunContext) -> tuple[NoMemoryBaseline, ...]:
    """Record every length's data as a dataset of the run; score the no-memory baseline on it, beside its closed form."""
    found = []
    for data in datasets:
        runs.log_dataset(ctx.parent_run_id, f"{data.kind}-L{data.length}", data.path, data.content_hash, None,
                         {"length": data.length, **{f"num_{split}": n for split, n in data.counts}})
        stored = _read(data)
        measured = memory.no_memory_mse(stored.part("train")[1], stored.part("test")[1])
        found.append(NoMemoryBaseline(data.length, memory.NO_MEMORY_MSE[data.kind], measured))
    runs.log_entries(ctx.parent_run_id, [("no_memory_mse", b.measured, b.length) for b in found])
    runs.log_metrics(ctx.parent_run_id, {"no_memory_mse_closed_form": found[0].closed_form})
    return tuple(found)


@task(name="train-trial", cache_policy=NO_CACHE, persist_result=False)
def train_trial(data: TaskDataRef, cfg: LessonConfig, cell: str, seed: int, ctx: RunContext) -> TrialResult:
    """Train one cell at one length from one seed in its own MLflow child run, measure it, close the run.

    A model whose loss turns NaN or infinite is returned with ``failure`` set and its run FAILED;
    any other error fails the run and propagates.
    """
    from tasks.nets.training import DivergedError
    from tasks.lesson import plots
    from tasks.lesson.trials import run_trial

    name = f"{cell} · {data.kind} L{data.length} · seed {seed}"
    tags = {**ctx.tag_dict, "cell": cell, "length": str(data.length), "training_seed": str(seed),
            "data_content_hash": data.content_hash}
    run_id = runs.start_run(ctx.experiment_id, name, tags, parent_run_id=ctx.parent_run_id)
    try:
        runs.log_params(run_id, {"cell": cell, "length": data.length, "training_seed": seed, **flatten(cfg)})
        stored = _read(data)
        epochs: list[tuple[str, float, int]] = []
        with epoch_bar(f"{cell} L{data.length} s{seed}", cfg.train.epochs, cfg.train.progress) as bar:

            def on_epoch_end(epoch: int, logs: dict[str, float]) -> None:
                bar(epoch, logs)
                epochs.extend((k, v, epoch) for k, v in logs.items())

            try:
                model, fit, measured = run_trial(
                    cell, stored, cfg.model, cfg.train, seed, cfg.gradients.batch, cfg.gradients.per_epoch,
                    on_epoch_end)
            except DivergedError as exc:
                runs.log_entries(run_id, epochs)
                runs.end_run(run_id, failed=True, reason=str(exc))
                return TrialResult(cell, data.length, seed, run_id, {}, failure=str(exc))
        baseline = memory.no_memory_mse(stored.part("train")[1], stored.part("test")[1])
        metrics = {
            "test_mse": measured.test_mse, "no_memory_mse": baseline, "test_mse_over_no_memory": measured.test_mse / baseline,
            "solved": float(measured.test_mse < cfg.sweep.solved_mse),
            "gradient_ratio_init": measured.ratio_init, "gradient_ratio_trained": measured.ratio_trained,
            "epochs_run": fit.epochs_run, "best_epoch": fit.best_epoch, "fit_seconds": fit.seconds,
            "train_samples_per_second": fit.samples_per_second,
        }
        # Per-epoch values go to MLflow in one batch after fit: logging inside fit costs time per epoch.
        runs.log_entries(run_id, [
            *epochs,
            *(("gradient_first_to_last_by_epoch", r, k) for k, r in enumerate(measured.ratio_by_epoch)),
            *(("gradient_norm_init", v, t) for t, v in enumerate(measured.init_norms)),
            *(("gradient_norm_trained", v, t) for t, v in enumerate(measured.trained_norms)),
        ])
        bad = runs.log_metrics(run_id, metrics)
        if bad:
            raise ValueError(f"{cell} at length {data.length}: metrics {bad} are not finite")
        result = TrialResult(
            cell, data.length, seed, run_id, metrics, tuple(map(float, measured.init_norms)),
            tuple(map(float, measured.trained_norms)), tuple(map(float, measured.ratio_by_epoch)))
        fig = plots.trial_gradient_figure(result)
        runs.log_figure(run_id, fig, "plots/gradient_norms.png")
        plots.close(fig)
        if cfg.tracking.log_models:
            model_path = paths.model_dir(run_id) / f"{cell}.keras"
            model_path.parent.mkdir(parents=True, exist_ok=True)
            model.save(model_path)
            runs.log_file(run_id, model_path, "model")
    except BaseException as exc:
        runs.end_run(run_id, failed=True, reason=f"{type(exc).__name__}: {exc}")
        raise
    runs.end_run(run_id)
    return result


@task(name="summarise-lesson", cache_policy=NO_CACHE, persist_result=False)
def summarise_lesson(
    trials: Sequence[TrialResult], baselines: Sequence[NoMemoryBaseline], cfg: LessonConfig, ctx: RunContext
) -> tuple[tuple[LessonRow, ...], tuple[str, ...]]:
    """Gather the trials into rows; log them, the per-length metrics and the figures on the parent run."""
    from tasks.lesson import plots
    from tasks.lesson.summary import summarise

    rows = summarise(trials, baselines, cfg.model.cells, cfg.sweep.seeds, cfg.sweep.solved_mse)
    runs.log_dict(ctx.parent_run_id, {"rows": [r.__dict__ for r in rows]}, "lesson.json")
    # Step = sequence length: MLflow's chart of each key is the lesson's curve.
    runs.log_entries(ctx.parent_run_id, [
        (f"{r.cell}.{key}", value, r.length) for r in rows
        for key, value in (("test_mse_mean", r.mean_test_mse), ("solved_seeds", float(r.solved)),
                           ("gradient_ratio_init", r.ratio_init), ("gradient_ratio_trained", r.ratio_trained))
    ])
    failed = [t for t in trials if not t.ok]
    if failed:
        runs.set_tags(ctx.parent_run_id, {f"failed.{t.cell}.L{t.length}.s{t.seed}": t.failure or "" for t in failed})
    lengths, first_seed = list(cfg.sweep.lengths), cfg.sweep.seeds[0]
    figures = {
        "plots/test_mse_by_length.png": plots.mse_by_length_figure(rows, baselines, cfg.sweep.solved_mse, cfg.task.kind),
        "plots/gradient_norms_by_cell.png": plots.gradient_overlay_figure(trials, lengths, first_seed),
        "plots/gradient_ratio_by_epoch.png": plots.ratio_by_epoch_figure(trials, lengths, first_seed),
    }
    for name, fig in figures.items():
        runs.log_figure(ctx.parent_run_id, fig, name)
        plots.close(fig)
    return rows, tuple(figures)
