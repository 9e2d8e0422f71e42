"""Prefect ``@task`` wrappers: read inputs, call the pure functions, write outputs, log to MLflow.

Ingest and windowing are cached on the content of their inputs plus their config and code, so a
re-run with an unchanged config reuses their Parquet files. Training is not cached: every flow run
opens fresh MLflow runs and trains (deterministically, given the seed).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
from prefect import task
from prefect.context import TaskRunContext

from tasks import paths, storage, tracking
from tasks.config import ForecastConfig, SineSource, SplitConfig, WindowConfig, flatten
from tasks.forecasting import windowing
from tasks.forecasting.sources import sine as sources
from tasks.forecasting.records import SeriesRef, TrainedModel, WindowsRef
from tasks.progress import epoch_bar


def _code_fingerprint(*modules) -> str:
    digest = hashlib.sha256()
    for module in modules:
        digest.update(Path(module.__file__).read_bytes())
    return digest.hexdigest()


def _reuse_or_rebuild(key: str, output: Path) -> str:
    """Keep ``key`` unless a cached result exists whose output file has since been deleted."""
    record = Path(os.environ.get("PREFECT_LOCAL_STORAGE_PATH", paths.prefect_results())) / key
    if record.exists() and not output.exists():
        # The cached record would point at a missing file: change the key to force a recompute.
        return f"{key}-rebuild-{os.urandom(4).hex()}"
    return key


def _series_key(source: SineSource, seed: int) -> str:
    payload = json.dumps([source.model_dump(mode="json"), seed, _code_fingerprint(sources)], sort_keys=True)
    return f"{source.series_id}-{hashlib.sha256(payload.encode()).hexdigest()[:20]}"


def _series_cache_key(context: TaskRunContext, parameters: dict[str, Any]) -> str:
    key = _series_key(parameters["source"], parameters["seed"])
    return _reuse_or_rebuild(f"series-{key}", paths.intermediate_path("series", key))


@task(name="ingest-series", cache_key_fn=_series_cache_key, persist_result=True)
def ingest_series(source: SineSource, seed: int) -> SeriesRef:
    """Synthesize the source and store it as long-format Parquet."""
    frame = sources.synthesize_sine(source, seed)
    key = _series_key(source, seed)
    path = storage.write_frame(frame, paths.intermediate_path("series", key))
    return SeriesRef(str(path), storage.content_hash(path), source.series_id, len(frame))


def _windows_key(series: SeriesRef, window: WindowConfig, split: SplitConfig) -> str:
    payload = json.dumps(
        [series.content_hash, window.model_dump(mode="json"), split.model_dump(mode="json"),
         _code_fingerprint(windowing, storage)],
        sort_keys=True,
    )
    return f"{series.series_id}-{hashlib.sha256(payload.encode()).hexdigest()[:20]}"


def _windows_cache_key(context: TaskRunContext, parameters: dict[str, Any]) -> str:
    key = _windows_key(parameters["series"], parameters["window"], parameters["split"])
    return _reuse_or_rebuild(f"windows-{key}", paths.intermediate_path("windows", key))


@task(name="window-series", cache_key_fn=_windows_cache_key, persist_result=True)
def window_series(series: SeriesRef, window: WindowConfig, split: SplitConfig) -> WindowsRef:
    """Split by time, scale on train, cut windows; store them as Parquet."""
    values = sources.series_matrix(storage.read_frame(Path(series.path)))
    table = windowing.build_window_table(
        values, window.lookback, window.horizon, window.stride, window.target, split.train, split.validation
    )
    arrays, meta = table.to_arrays()
    path = storage.write_arrays(arrays, paths.intermediate_path("windows", _windows_key(series, window, split)), meta)
    counts = tuple((name, int(np.sum(table.split == name))) for name in windowing.SPLITS)
    return WindowsRef(str(path), storage.content_hash(path), series, counts)


def _load(windows: WindowsRef) -> tuple[np.ndarray, np.ndarray, windowing.WindowTable]:
    frame = storage.read_frame(Path(windows.series.path))
    return frame["t"].to_numpy(), sources.series_matrix(frame), _read_windows(windows)


def _read_windows(windows: WindowsRef) -> windowing.WindowTable:
    stored = storage.read_arrays(Path(windows.path))
    return windowing.WindowTable.from_arrays(stored.arrays, stored.metadata)


@task(name="open-tracking")
def open_experiment(experiment: str) -> str:
    """Create the MLflow store and experiment once, before anything runs in parallel."""
    return tracking.ensure_experiment(experiment)


def run_tags(cfg: ForecastConfig, flow_run_id: str | None) -> dict[str, str]:
    """Tags every run of a flow carries: seed and Prefect flow-run id (data hash is added once known)."""
    return {"seed": str(cfg.seed), "prefect_flow_run_id": str(flow_run_id or "none")}


@task(name="record-inputs")
def record_inputs(windows: WindowsRef, parent_run_id: str) -> None:
    """Tag the parent run with the data's content hash and log where the intermediates are."""
    tracking.set_tags(
        parent_run_id,
        {
            "data_content_hash": windows.series.content_hash,
            "windows_content_hash": windows.content_hash,
            "series_path": windows.series.path,
            "windows_path": windows.path,
        },
    )
    tracking.log_metrics(parent_run_id, {f"windows.{split}": n for split, n in windows.counts})


@task(name="score-baselines")
def score_baselines(windows: WindowsRef, cfg: ForecastConfig, parent_run_id: str) -> dict[str, dict[str, float]]:
    """Score naive, seasonal-naive and AutoReg on the test points the models are scored on."""
    from tasks.forecasting.baselines import score_baselines as score
    from tasks.forecasting.evaluation import forecast_points

    _, values, table = _load(windows)
    points = forecast_points(table.start[table.split == "test"], table.x.shape[1])
    scores = score(values, points, table.bounds.train_end, cfg.season_length, cfg.evaluate.ar_lags)
    tracking.log_metrics(parent_run_id, {f"{name}.{k}": v for name, m in scores.items() for k, v in m.items()})
    return scores


@task(name="train-forecaster")
def train_forecaster(
    windows: WindowsRef, cfg: ForecastConfig, cell: str, experiment_id: str, parent_run_id: str, flow_run_id: str | None
) -> TrainedModel:
    """Train one cell in its own MLflow child run; the run stays open for evaluation."""
    from tasks.forecasting.training import train_cell

    run_id = tracking.start_run(
        experiment_id,
        cell,
        {**run_tags(cfg, flow_run_id), "cell": cell, "data_content_hash": windows.series.content_hash},
        parent_run_id=parent_run_id,
    )
    try:
        tracking.log_params(run_id, {"cell": cell, **flatten(cfg)})
        table = _read_windows(windows)  # training needs the windows, not the series
        (x_train, y_train), (x_val, y_val) = table.part("train"), table.part("validation")

        with epoch_bar(cell, cfg.train.epochs, cfg.train.progress) as bar:

            def on_epoch_end(epoch: int, logs: dict[str, float]) -> None:
                bar(epoch, logs)
                tracking.log_metrics(run_id, logs, step=epoch)

            model, fit = train_cell(
                cell, x_train, y_train, x_val, y_val, cfg.model, cfg.train, cfg.seed,
                cfg.window.target, cfg.window.horizon, on_epoch_end,
            )
        model_path = paths.model_dir(run_id) / f"{cell}.keras"
        model_path.parent.mkdir(parents=True, exist_ok=True)
        model.save(model_path)
        tracking.log_metrics(
            run_id,
            {"epochs_run": fit.epochs_run, "best_epoch": fit.best_epoch, "fit_seconds": fit.seconds,
             "train_samples_per_second": fit.samples_per_second},
        )
    except BaseException:
        tracking.end_run(run_id, failed=True)
        raise
    return TrainedModel(cell, run_id, str(model_path), fit.epochs_run, fit.best_epoch, fit.seconds,
                        fit.samples_per_second, fit.history)


@task(name="evaluate-forecaster")
def evaluate_forecaster(trained: TrainedModel, windows: WindowsRef, cfg: ForecastConfig) -> dict[str, Any]:
    """Score a trained cell, log its metrics, plots and pyfunc model, then close its run."""
    import keras

    from tasks.forecasting import plots
    from tasks.forecasting.evaluation import evaluate_cell

    run_id = trained.run_id
    try:
        t, values, table = _load(windows)
        model = keras.saving.load_model(trained.model_path, compile=False)
        ev = evaluate_cell(model, values, table, cfg.generate_steps, cfg.evaluate.gradient_windows)
        tracking.log_metrics(run_id, ev.metrics)
        tracking.log_series(run_id, "gradient_norm_by_step", ev.gradient_norms)
        figures = {
            "plots/test_forecast.png": plots.forecast_figure(
                t[ev.points], ev.truth[:, 0], ev.forecast[:, 0], f"{trained.cell}: one-step forecast on test"),
            "plots/generated.png": plots.generation_figure(
                t[ev.seed_points], ev.seed[:, 0], t[ev.generated_points], ev.generated_truth[:, 0],
                ev.generated[:, 0], f"{trained.cell}: {len(ev.generated)} generated steps"),
            "plots/loss.png": plots.loss_figure(trained.history, f"{trained.cell}: loss per epoch"),
            "plots/gradient_norms.png": plots.gradient_figure(
                {trained.cell: ev.gradient_norms}, f"{trained.cell}: gradient of the forecast loss by input step"),
        }
        for name, fig in figures.items():
            tracking.log_figure(run_id, fig, name)
            plots.close(fig)
        model_uri = None
        if cfg.tracking.log_models:
            scaler = table.scaler
            example = values[ev.seed_points][None].astype(np.float32)  # (1, lookback, n_features)
            output = scaler.inverse(np.asarray(model(scaler.transform(example).astype(np.float32), training=False)))
            model_uri = tracking.log_forecaster(
                run_id, Path(trained.model_path), scaler.mean.tolist(), scaler.std.tolist(), example, output
            )
    except BaseException:
        tracking.end_run(run_id, failed=True)
        raise
    tracking.end_run(run_id)
    return {
        "cell": trained.cell,
        "run_id": run_id,
        "model_uri": model_uri,
        "model_path": trained.model_path,
        "metrics": {**ev.metrics, "epochs_run": trained.epochs_run, "best_epoch": trained.best_epoch,
                    "fit_seconds": trained.fit_seconds, "train_samples_per_second": trained.samples_per_second},
        "gradient_norms": [float(v) for v in ev.gradient_norms],
    }


@task(name="compare-forecasters")
def compare_forecasters(
    results: list[dict[str, Any]], baselines: dict[str, dict[str, float]], parent_run_id: str
) -> list[dict[str, Any]]:
    """Rank cells and baselines by test RMSE; log the table and the cells' gradient plot on the parent."""
    from tasks.forecasting import plots

    rows = [{"name": r["cell"], "kind": "model", **r["metrics"]} for r in results]
    rows += [{"name": name, "kind": "baseline", **m} for name, m in baselines.items()]
    rows.sort(key=lambda row: row["test_rmse"])
    for rank, row in enumerate(rows, start=1):
        row["rank"] = rank
    tracking.log_dict(parent_run_id, {"ranking": rows}, "ranking.json")
    tracking.log_metrics(
        parent_run_id,
        {f"{r['cell']}.{k}": r["metrics"][k] for r in results
         for k in ("test_rmse", "test_mae", "generated_rmse", "gradient_first_to_last")},
    )
    fig = plots.gradient_figure(
        {r["cell"]: np.asarray(r["gradient_norms"]) for r in results},
        "Vanishing gradients: forecast-loss gradient by input step",
    )
    tracking.log_figure(parent_run_id, fig, "plots/gradient_norms_by_cell.png")
    plots.close(fig)
    return rows
