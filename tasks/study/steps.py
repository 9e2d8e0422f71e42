"""Prefect ``@task`` wrappers of the sine study: read inputs, call pure functions, write, log.

The only module of the study that meets Prefect, storage, paths and tracking. The wave and its
windows are cached on their config and code, so a re-run with an unchanged config reuses their
Parquet files. Training is not cached: every flow run opens fresh MLflow runs and trains
(deterministically, given the seed); the tasks after windowing neither cache nor persist their
results (``NO_CACHE``): their inputs hold arrays that would only be hashed and pickled for nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.context import TaskRunContext

from tasks import caching, paths, storage
from tasks.config import flatten
from tasks.nets import windowing
from tasks.nets.records import TrainedModel
from tasks.progress import epoch_bar
from tasks.study import config as study_config
from tasks.study import sine
from tasks.study.config import SineSource, SplitConfig, StudyConfig, WindowConfig
from tasks.study.records import (
    BaselineScore,
    EvaluatedModel,
    ModelResult,
    RankedForecaster,
    WaveRef,
    WindowsRef,
)
from tasks.tracking import models as tracked_models
from tasks.tracking import runs
from tasks.tracking.runs import RunContext


def _wave_key(source: SineSource, seed: int) -> str:
    return caching.content_key(source.model_dump(mode="json"), seed, caching.code_fingerprint(sine, study_config))


def _wave_cache_key(context: TaskRunContext, parameters: dict[str, Any]) -> str:
    key = _wave_key(parameters["source"], parameters["seed"])
    return caching.reuse_or_rebuild(f"wave-{key}", paths.intermediate_path("series", key))


@task(name="synthesize-wave", cache_key_fn=_wave_cache_key, persist_result=True)
def synthesize_wave(source: SineSource, seed: int) -> WaveRef:
    """Sample the wave (its noise seeded) and store it as long-format Parquet."""
    frame = sine.synthesize_sine(source, seed)
    path = storage.write_frame(frame, paths.intermediate_path("series", _wave_key(source, seed)))
    return WaveRef(str(path), storage.content_hash(path), len(frame))


def _windows_key(wave: WaveRef, window: WindowConfig, split: SplitConfig) -> str:
    return caching.content_key(
        wave.content_hash, window.model_dump(mode="json"), split.model_dump(mode="json"),
        caching.code_fingerprint(windowing, sine),
    )


def _windows_cache_key(context: TaskRunContext, parameters: dict[str, Any]) -> str:
    key = _windows_key(parameters["wave"], parameters["window"], parameters["split"])
    return caching.reuse_or_rebuild(f"windows-{key}", paths.intermediate_path("windows", key))


@task(name="window-wave", cache_key_fn=_windows_cache_key, persist_result=True)
def window_wave(wave: WaveRef, window: WindowConfig, split: SplitConfig) -> WindowsRef:
    """Split by time, scale on train, cut windows; store them as Parquet."""
    values = sine.series_matrix(storage.read_frame(Path(wave.path)))
    table = windowing.build_window_table(
        values, window.lookback, window.horizon, window.stride, window.target, split.train, split.validation
    )
    arrays, meta = table.to_arrays()
    path = storage.write_arrays(arrays, paths.intermediate_path("windows", _windows_key(wave, window, split)), meta)
    counts = tuple((name, int(np.sum(table.split == name))) for name in windowing.SPLITS)
    return WindowsRef(str(path), storage.content_hash(path), wave, counts)


def _read_windows(windows: WindowsRef) -> windowing.WindowTable:
    stored = storage.read_arrays(Path(windows.path))
    return windowing.WindowTable.from_arrays(stored.arrays, stored.metadata)


def _read_wave(windows: WindowsRef) -> np.ndarray:
    return sine.series_matrix(storage.read_frame(Path(windows.wave.path)))


@task(name="record-wave-windows", cache_policy=NO_CACHE, persist_result=False)
def record_inputs(windows: WindowsRef, ctx: RunContext) -> None:
    """Log the wave as the run's dataset, where the intermediates are and how many windows each split holds."""
    sample = storage.read_frame(Path(windows.wave.path)).head(5)
    runs.log_dataset(ctx.parent_run_id, "sine", windows.wave.path, windows.wave.content_hash, sample,
                     {"num_rows": windows.wave.n_points, "num_series": 1, "windows": dict(windows.counts)})
    runs.set_tags(ctx.parent_run_id, {**runs.internal({"windows_content_hash": windows.content_hash, "series_path":
                                                       windows.wave.path, "windows_path": windows.path}),
                                      "n_series": "1", "frequency": "synthetic"})
    runs.log_metrics(ctx.parent_run_id, {f"windows.{split}": n for split, n in windows.counts})


@task(name="score-one-step-baselines", cache_policy=NO_CACHE, persist_result=False)
def score_baselines(windows: WindowsRef, cfg: StudyConfig, ctx: RunContext) -> tuple[BaselineScore, ...]:
    """Score naive, seasonal-naive and AutoReg on the test points the models are scored on."""
    from tasks.study.baselines import score_baselines as score
    from tasks.study.evaluation import forecast_points

    values = _read_wave(windows)
    table = _read_windows(windows)
    points = forecast_points(table.start[table.split == "test"], table.x.shape[1])
    scores = score(values, points, table.bounds.train_end, cfg.season_length, cfg.evaluate.ar_lags)
    runs.log_ranked(ctx.parent_run_id, {}, scores)
    return tuple(BaselineScore(name, m) for name, m in scores.items())


@task(name="train-cell", cache_policy=NO_CACHE, persist_result=False)
def train_model(windows: WindowsRef, cfg: StudyConfig, cell: str, ctx: RunContext) -> TrainedModel:
    """Train one cell in its own MLflow child run; the run stays open for evaluation.

    A model whose loss turns NaN or infinite is returned with ``failure`` set and its run FAILED;
    any other error fails the run and propagates.
    """
    from tasks.nets.training import DivergedError, train_cell

    run_id = runs.start_run(
        ctx.experiment_id, f"{cell} · sine", {**ctx.tag_dict, "cell": cell}, parent_run_id=ctx.parent_run_id,
    )
    try:
        runs.log_params(run_id, {"cell": cell, **flatten(cfg)})
        table = _read_windows(windows)
        (x_train, y_train), (x_val, y_val) = table.part("train"), table.part("validation")
        with epoch_bar(cell, cfg.train.epochs, cfg.train.progress) as bar:
            epochs: list[tuple[str, float, int]] = []

            def on_epoch_end(epoch: int, logs: dict[str, float]) -> None:
                bar(epoch, logs)
                epochs.extend((k, v, epoch) for k, v in logs.items())

            try:
                model, fit = train_cell(
                    cell, x_train, y_train, x_val, y_val, cfg.model, cfg.train, cfg.seed,
                    cfg.window.target, cfg.window.horizon, on_epoch_end,
                )
            except DivergedError as exc:
                runs.log_entries(run_id, epochs)
                runs.end_run(run_id, failed=True, reason=str(exc))
                return TrainedModel(cell, run_id, None, len(epochs), 0, 0.0, 0.0, {}, failure=str(exc))
        # Per-epoch metrics go to MLflow in one batch after fit: logging inside fit cost 15 ms an epoch.
        runs.log_entries(run_id, epochs)
        model_path = paths.model_dir(run_id) / f"{cell}.keras"
        model_path.parent.mkdir(parents=True, exist_ok=True)
        model.save(model_path)
        runs.log_metrics(
            run_id,
            {"epochs_run": fit.epochs_run, "best_epoch": fit.best_epoch, "fit_seconds": fit.seconds,
             "train_samples_per_second": fit.samples_per_second},
        )
    except BaseException as exc:
        runs.end_run(run_id, failed=True, reason=f"{type(exc).__name__}: {exc}")
        raise
    return TrainedModel(cell, run_id, str(model_path), fit.epochs_run, fit.best_epoch, fit.seconds,
                        fit.samples_per_second, fit.history)


@task(name="evaluate-cell", cache_policy=NO_CACHE, persist_result=False)
def evaluate_model(trained: TrainedModel, windows: WindowsRef, cfg: StudyConfig) -> EvaluatedModel:
    """Score a trained model on the test part (one step, generation, gradients) and log its metrics."""
    if trained.failure is not None:
        return EvaluatedModel(trained, None, None, None, None)
    import keras

    from tasks.nets.models import raw_forecast
    from tasks.study.evaluation import evaluate_cell

    try:
        t, values = sine.x_axis(cfg.source), _read_wave(windows)
        table = _read_windows(windows)
        model = keras.saving.load_model(trained.model_path, compile=False)
        ev = evaluate_cell(model, values, table, cfg.generate_steps, cfg.evaluate.gradient_windows)
        bad = runs.log_metrics(trained.run_id, ev.metrics)
        runs.log_series(trained.run_id, "gradient_norm_by_step", ev.gradient_norms)
        if bad:
            raise ValueError(f"{trained.cell}: metrics {bad} are not finite")
        example = values[ev.seed_points][None]  # (1, lookback, n_features), raw units
        output = raw_forecast(model, table.scaler, example)
    except BaseException as exc:
        runs.end_run(trained.run_id, failed=True, reason=f"{type(exc).__name__}: {exc}")
        raise
    return EvaluatedModel(trained, ev, t, example, output, tuple(table.scaler.mean.tolist()),
                          tuple(table.scaler.std.tolist()))


@task(name="publish-cell", cache_policy=NO_CACHE, persist_result=False)
def publish_model(evaluated: EvaluatedModel, cfg: StudyConfig) -> ModelResult:
    """Log a scored model's plots and pyfunc model, then close its run (no TensorFlow here)."""
    from tasks.nets import cells
    from tasks.study import plots

    trained, ev = evaluated.trained, evaluated.evaluation
    if trained.failure is not None:
        return ModelResult(trained.cell, trained.run_id, None, None, None, {}, (), trained.failure)
    run_id = trained.run_id
    try:
        for name, fig in plots.model_figures(trained.cell, evaluated.t, ev, trained.history).items():
            runs.log_figure(run_id, fig, name)
            plots.close(fig)
        model_uri = model_id = None
        if cfg.tracking.log_models:
            model_uri, model_id = tracked_models.log_keras_window_model(
                run_id, f"{trained.cell}-sine", Path(trained.model_path),
                list(evaluated.scaler_mean), list(evaluated.scaler_std), [cells.__name__],
                evaluated.example_input, evaluated.example_output,
            )
    except BaseException as exc:
        runs.end_run(run_id, failed=True, reason=f"{type(exc).__name__}: {exc}")
        raise
    runs.end_run(run_id)
    metrics = {**ev.metrics, "epochs_run": trained.epochs_run, "best_epoch": trained.best_epoch,
               "fit_seconds": trained.fit_seconds, "train_samples_per_second": trained.samples_per_second}
    return ModelResult(trained.cell, run_id, model_uri, model_id, trained.model_path, metrics,
                       tuple(float(v) for v in ev.gradient_norms))


@task(name="rank-cells", cache_policy=NO_CACHE, persist_result=False)
def rank_forecasters(
    results: list[ModelResult], baselines: tuple[BaselineScore, ...], ctx: RunContext
) -> tuple[RankedForecaster, ...]:
    """Rank models and baselines by test RMSE; log the table, the best model and the gradient plot."""
    from tasks.study import plots
    from tasks.study.ranking import rank_forecasters as rank

    ranking = rank(results, baselines)
    runs.log_dict(ctx.parent_run_id, {"ranking": [r.__dict__ for r in ranking]}, "ranking.json")
    runs.log_table(ctx.parent_run_id, pd.DataFrame([r.__dict__ for r in ranking]), "ranking_table.json")
    ok = [r for r in results if r.ok]
    kept = {r.cell: {k: r.metrics[k] for k in ("test_rmse", "test_mae", "generated_rmse", "gradient_first_to_last")}
            for r in ok}
    failed = [r for r in results if not r.ok]
    if failed:
        runs.set_tags(ctx.parent_run_id, {f"failed.{r.cell}": r.failure or "" for r in failed})
    best = next((row for row in ranking if row.kind == "model"), None)
    runs.log_ranked(ctx.parent_run_id, kept[best.forecaster] if best is not None else {}, kept)
    if best is not None:
        best_result = next(r for r in ok if r.cell == best.forecaster)
        runs.set_tags(ctx.parent_run_id, {"best_model": best.forecaster,
                                          **runs.internal({"best_model_run_id": best_result.run_id})})
        if best_result.model_id:
            tracked_models.link_model(ctx.parent_run_id, best_result.model_id)
    if ok:
        fig = plots.gradient_figure(
            {r.cell: np.asarray(r.gradient_norms) for r in ok},
            "Vanishing gradients: forecast-loss gradient by input step",
        )
        runs.log_figure(ctx.parent_run_id, fig, "plots/gradient_norms_by_cell.png")
        plots.close(fig)
    return ranking
