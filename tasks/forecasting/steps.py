"""Prefect ``@task`` wrappers of the forecasting flow: read inputs, call pure functions, write, log.

The only module of the forecasting package that meets Prefect, storage, paths and tracking. Ingest,
windowing and the baselines' backtest are cached on the content of their inputs plus their config
and code, so a re-run with an unchanged config reuses their Parquet files. Training is not cached:
every flow run opens fresh MLflow runs and trains (deterministically, given the seed); the tasks
after ingest and windowing neither cache nor persist their results (``NO_CACHE``): their inputs hold
arrays that would only be hashed and pickled for nothing.

Every series' last ``window.horizon`` steps are held out per backtest origin and scored with the M4
metrics beside the multi-step baselines.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.context import TaskRunContext

from tasks import caching, paths, storage
from tasks.config import flatten
from tasks.errors import InputError
from tasks.forecasting import (
    backtest,
    calendar,
    holdout,
    ingest,
    intervals,
    metrics,
    panel,
    preprocessing,
    serving,
    sources,
)
from tasks.forecasting import config as forecast_config
from tasks.forecasting.config import CsvSource, ForecastConfig, M4Source, SplitConfig, WindowConfig
from tasks.forecasting.records import (
    BaselineScore,
    HoldoutComparison,
    ModelResult,
    ScoredForecasts,
    SeriesRef,
    ServedModel,
    TrainedModel,
    WindowsRef,
)
from tasks.nets import windowing
from tasks.progress import epoch_bar
from tasks.tracking import models as tracked_models
from tasks.tracking import runs
from tasks.tracking.runs import RunContext

logger = logging.getLogger("seqflow")


def _inputs_hash(source: CsvSource | M4Source) -> str:
    """SHA-256 over the input files' contents; a missing file hashes as such."""
    files = [source.path]
    if isinstance(source, M4Source) and source.test_path:
        files.append(source.test_path)
    digest = hashlib.sha256()
    for file in files:
        exists = Path(file).is_file()
        digest.update((storage.content_hash(Path(file)) if exists else f"missing:{file}").encode())
    return digest.hexdigest()


def _series_key(source: CsvSource | M4Source) -> str:
    # Everything that shapes the series: the input files' content, the source settings, the sources
    # package and the modules that read them.
    return caching.content_key(
        source.model_dump(mode="json"), _inputs_hash(source),
        caching.code_fingerprint(sources, forecast_config, ingest),
    )


def _series_cache_key(context: TaskRunContext, parameters: dict[str, Any]) -> str:
    key = _series_key(parameters["source"])
    return caching.reuse_or_rebuild(f"series-{key}", paths.intermediate_path("series", key))


@task(name="ingest-series", cache_key_fn=_series_cache_key, persist_result=True)
def ingest_series(source: CsvSource | M4Source) -> SeriesRef:
    """Read the source, validated at the edge, and store it as long-format Parquet.

    Raises:
        InputError: the file breaks a rule (one line naming the file, row, column and rule).
    """
    loaded = ingest.load_source(source)
    path = storage.write_frame(loaded.frame, paths.intermediate_path("series", _series_key(source)))
    lengths = loaded.lengths()
    shortest = str(lengths.idxmin())
    return SeriesRef(
        str(path), storage.content_hash(path), len(loaded.frame), loaded.n_series, loaded.frequency,
        loaded.season_length, loaded.skipped, _inputs_hash(source), shortest, int(lengths[shortest]),
        loaded.test_steps, loaded.inputs,
    )


@task(name="record-inputs", cache_policy=NO_CACHE, persist_result=False)
def record_inputs(windows: WindowsRef, ctx: RunContext) -> None:
    """Log where the intermediates are, how many windows each split holds and the rows skipped on ingest."""
    series = windows.series
    tags = {"windows_content_hash": windows.content_hash, "series_path": series.path, "windows_path": windows.path,
            "n_series": str(series.n_series), "frequency": series.frequency}
    if series.source_content_hash:
        tags["source_content_hash"] = series.source_content_hash
    runs.set_tags(ctx.parent_run_id, tags)
    runs.log_metrics(ctx.parent_run_id, {f"windows.{split}": n for split, n in windows.counts})
    if series.skipped_rows:
        # Trailing junk (empty rows, a text footer) is read past, never silently: said here and kept.
        for line in series.skipped_rows:
            _log().warning("skipped %s", line)
        runs.log_text(ctx.parent_run_id, "\n".join(series.skipped_rows) + "\n", "skipped_rows.txt")


def _log() -> logging.Logger | logging.LoggerAdapter:
    from prefect.logging import get_run_logger

    try:
        return get_run_logger()
    except Exception:  # outside a task run (a direct call in a test)
        return logger


def _panel_key(series: SeriesRef, window: WindowConfig, split: SplitConfig, folds: int, fold_step: int,
               spec: preprocessing.TransformSpec, target_steps: int, calendar_features: tuple[str, ...] = ()) -> str:
    return caching.content_key(
        series.content_hash, window.model_dump(mode="json"), split.validation, folds, fold_step,
        dataclasses.asdict(spec), target_steps, list(calendar_features),
        caching.code_fingerprint(panel, windowing, backtest, preprocessing, calendar),
    )


def _panel_cache_key(context: TaskRunContext, parameters: dict[str, Any]) -> str:
    key = _panel_key(*(parameters[k] for k in ("series", "window", "split", "folds", "fold_step", "spec",
                                               "target_steps")), parameters.get("calendar_features", ()))
    return caching.reuse_or_rebuild(f"panel-{key}", paths.intermediate_path("panel-windows", key))


def transform_spec(cfg: ForecastConfig, season_length: int) -> preprocessing.TransformSpec:
    """The preprocessing every series is fitted with, from the config and the data's season length."""
    p = cfg.preprocess
    return preprocessing.TransformSpec(log=p.log, deseasonalise=p.deseasonalise, season_length=season_length,
                                       level=p.level)


def _series_arrays(series: SeriesRef) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    return backtest.series_arrays(storage.read_frame(Path(series.path)))


@task(name="window-series", cache_key_fn=_panel_cache_key, persist_result=True)
def window_panel(series: SeriesRef, window: WindowConfig, split: SplitConfig, folds: int, fold_step: int,
                 spec: preprocessing.TransformSpec, target_steps: int,
                 calendar_features: tuple[str, ...] = ()) -> WindowsRef:
    """Cut every series on its own at every origin (its transform fitted on its train part); store the windows.

    With ``calendar_features`` (:func:`tasks.forecasting.calendar.resolve`) every window carries the
    calendar of its input and target steps.

    Raises:
        InputError: a series does not fit the preprocessing (a value <= 0 under preprocess.log).
    """
    both = _series_arrays(series)
    arrays = {sid: values for sid, (_, values) in both.items()}
    stamps = {sid: stamps for sid, (stamps, _) in both.items()}
    try:
        table = panel.build_panel_windows(
            arrays, window.lookback, window.horizon, target_steps, window.stride, split.validation, folds, fold_step,
            spec, stamps, calendar_features,
        )
    except ValueError as exc:
        raise InputError(str(exc)) from None
    columns, meta = table.to_arrays()
    key = _panel_key(series, window, split, folds, fold_step, spec, target_steps, calendar_features)
    path = storage.write_arrays(columns, paths.intermediate_path("panel-windows", key), meta)
    return WindowsRef(str(path), storage.content_hash(path), series, table.counts())


def _read_panel(windows: WindowsRef) -> panel.PanelWindows:
    stored = storage.read_arrays(Path(windows.path))
    return panel.PanelWindows.from_arrays(stored.arrays, stored.metadata)


def _baselines_key(series: SeriesRef, horizon: int, season_length: int, folds: int, fold_step: int,
                   names: tuple[str, ...]) -> str:
    # statsmodels is imported here, at run time, never with this module: the CLI imports the flow's
    # modules in a thread while TensorFlow imports in another, and statsmodels (through formulaic)
    # and Keras (through scikit-learn) both import narwhals, whose import cycle can deadlock two threads.
    from tasks.forecasting import statistical

    return caching.content_key(
        series.content_hash, horizon, season_length, folds, fold_step, list(names),
        caching.code_fingerprint(statistical, backtest, metrics),
    )


def _baselines_cache_key(context: TaskRunContext, parameters: dict[str, Any]) -> str:
    key = _baselines_key(*(parameters[k] for k in ("series", "horizon", "season_length", "folds", "fold_step", "names")))
    return caching.reuse_or_rebuild(f"baselines-{key}", paths.intermediate_path("baseline-scores", key))


@task(name="score-baselines", cache_key_fn=_baselines_cache_key, persist_result=True)
def backtest_baselines(
    series: SeriesRef, horizon: int, season_length: int, folds: int, fold_step: int, names: tuple[str, ...]
) -> ScoredForecasts:
    """Refit every baseline per series and origin on the values before it; forecast and score the horizon."""
    from tasks.forecasting import statistical  # at run time: see _baselines_key

    every = statistical.baseline_forecasters(season_length)
    frame = storage.read_frame(Path(series.path))
    result = backtest.run_backtest(frame, {n: every[n] for n in names}, horizon, season_length, folds, fold_step)
    key = _baselines_key(series, horizon, season_length, folds, fold_step, names)
    forecasts = storage.write_frame(_typed_forecasts(result.forecasts), paths.intermediate_path("baseline-forecasts", key))
    scores = storage.write_frame(_typed_scores(result.scores), paths.intermediate_path("baseline-scores", key))
    return ScoredForecasts(str(forecasts), str(scores))


def _typed_forecasts(frame: pd.DataFrame) -> pd.DataFrame:
    # Fixed column types, so that an empty frame (no baselines) stores and concatenates like a full one.
    types = {"series_id": str, "model": str, "fold": np.int64, "origin": np.int64, "horizon_step": np.int64,
             "yhat": np.float64, "y": np.float64}
    out = frame[list(backtest.FORECAST_COLUMNS)].astype(types)
    # A model's prediction interval (tasks.forecasting.intervals); NaN where there is none (baselines).
    bands = {c: frame[c].to_numpy(dtype=np.float64) if c in frame.columns else np.full(len(frame), np.nan)
             for c in intervals.INTERVAL_COLUMNS}
    return out.assign(timestamp=pd.to_datetime(out["timestamp"]).astype("datetime64[s]"), **bands)


def _typed_scores(frame: pd.DataFrame) -> pd.DataFrame:
    types = {"series_id": str, "model": str, "fold": np.int64, "origin": np.int64,
             **{m: np.float64 for m in metrics.METRICS}}
    return frame[list(backtest.SCORE_COLUMNS)].astype(types)


@dataclasses.dataclass(frozen=True)
class _Unit:
    """One network to train: a fold, an ensemble member, and the series it sees (None = all: global)."""

    fold: int
    member: int
    group: int  # index of the series in sorted order (local scope); 0 for a global model
    series_ids: tuple[str, ...] | None

    def file(self, cell: str) -> str:
        if (self.fold, self.member, self.group) == (0, 0, 0):
            return f"{cell}.keras"  # the kept model: the latest origin's first member (first series)
        return f"{cell}-fold{self.fold}-m{self.member}-s{self.group}.keras"


def member_seed(seed: int, member: int) -> int:
    """The seed of ensemble member ``member``: the run's seed for the first, 1000 apart after it, so
    that runs seeded 42, 43, 44 train disjoint networks."""
    return seed + 1000 * member


def _units(table: panel.PanelWindows, cfg: ForecastConfig) -> list[_Unit]:
    """Every network a cell needs: folds × ensemble members × (series, when local)."""
    ids = sorted({str(s) for s in table.series_id})
    groups = [(k, (sid,)) for k, sid in enumerate(ids)] if cfg.model.scope == "local" else [(0, None)]
    return [_Unit(fold, member, k, group) for fold in range(cfg.evaluate.folds)
            for member in range(cfg.model.ensemble) for k, group in groups]


def _unit_rows(table: panel.PanelWindows, unit: _Unit, split: str) -> np.ndarray:
    rows = table.rows(unit.fold, split)
    if unit.series_ids is not None:
        rows = rows[np.isin(table.series_id[rows].astype(str), unit.series_ids)]
    return rows


@task(name="train-model", cache_policy=NO_CACHE, persist_result=False)
def train_panel_model(windows: WindowsRef, cfg: ForecastConfig, cell: str, ctx: RunContext) -> TrainedModel:
    """Train one cell afresh at every origin, in its own child run: one network on the pooled windows
    of every series (model.scope global) or one per series (local), model.ensemble times with seeds
    seed, seed + 1000, ...; windows are level-normalised here when preprocess.level is on.

    The latest origin's first network is the one kept and logged; the others are saved beside it
    for scoring. The run stays open for evaluation. A model whose loss turns NaN or infinite is
    returned with ``failure`` set and its run FAILED.
    """
    import time

    from tasks.nets.training import DivergedError, train_cell

    run_id = runs.start_run(
        ctx.experiment_id, f"{cell} · {ingest.subject(cfg.source)}", {**ctx.tag_dict, "cell": cell},
        parent_run_id=ctx.parent_run_id,
    )
    target_steps = forecast_config.holdout_target_steps(cfg)
    began = time.perf_counter()
    try:
        runs.log_params(run_id, {"cell": cell, **flatten(cfg)})
        table = _read_panel(windows)
        model_dir = paths.model_dir(run_id)
        model_dir.mkdir(parents=True, exist_ok=True)
        first = None
        units = _units(table, cfg)
        # Calendar covariates: each window is extended by its target steps' calendar (value 0 there).
        future_steps = target_steps if table.calendar is not None else 0
        if table.calendar_features:
            runs.set_tags(run_id, {"calendar_features": ",".join(table.calendar_features)})
        for unit in units:
            # Per-epoch metrics of each fold's first network only: an ensemble of local models would
            # otherwise log thousands of curves that say the same.
            logged = unit.member == 0 and unit.group == 0
            prefix = "" if unit.fold == 0 else f"fold{unit.fold}."
            train_rows, val_rows = _unit_rows(table, unit, "train"), _unit_rows(table, unit, "validation")
            x_train, y_train = table.x[train_rows], table.y[train_rows]
            x_val, y_val = table.x[val_rows], table.y[val_rows]
            m = table.transform(int(_unit_rows(table, unit, "test")[0])).season_length
            x_train, y_train = preprocessing.level_normalise(x_train, y_train, cfg.preprocess.level, m)
            x_val, y_val = preprocessing.level_normalise(x_val, y_val, cfg.preprocess.level, m)
            x_train = preprocessing.with_calendar(x_train, table.calendar_of(train_rows))
            x_val = preprocessing.with_calendar(x_val, table.calendar_of(val_rows))
            label = cell if len(units) == 1 else f"{cell} · {unit.file(cell).removesuffix('.keras')}"
            epochs: list[tuple[str, float, int]] = []
            with epoch_bar(label, cfg.train.epochs, cfg.train.progress and logged) as bar:

                def on_epoch_end(epoch: int, logs: dict[str, float]) -> None:
                    bar(epoch, logs)
                    if logged:
                        epochs.extend((f"{prefix}{k}", v, epoch) for k, v in logs.items())

                try:
                    model, fit = train_cell(
                        cell, x_train, y_train, x_val, y_val, cfg.model, cfg.train, member_seed(cfg.seed, unit.member),
                        "horizon", target_steps, on_epoch_end, n_targets=1, future_steps=future_steps,
                    )
                except DivergedError as exc:
                    runs.log_entries(run_id, epochs)
                    reason = f"{unit.file(cell).removesuffix('.keras')}: {exc}" if len(units) > 1 else str(exc)
                    runs.end_run(run_id, failed=True, reason=reason)
                    return TrainedModel(cell, run_id, None, len(epochs), 0, 0.0, 0.0, {}, failure=reason)
            runs.log_entries(run_id, epochs)
            model.save(model_dir / unit.file(cell))
            if logged:
                runs.log_metrics(
                    run_id,
                    {f"{prefix}epochs_run": fit.epochs_run, f"{prefix}best_epoch": fit.best_epoch,
                     f"{prefix}fit_seconds": fit.seconds, f"{prefix}train_samples_per_second": fit.samples_per_second,
                     f"{prefix}train_windows": len(x_train), f"{prefix}validation_windows": len(x_val)},
                )
            if first is None:
                first = fit
        runs.log_metrics(run_id, {"networks": len(units), "train_seconds_all_networks": time.perf_counter() - began})
    except BaseException as exc:
        runs.end_run(run_id, failed=True, reason=f"{type(exc).__name__}: {exc}")
        raise
    return TrainedModel(cell, run_id, str(model_dir / f"{cell}.keras"), first.epochs_run, first.best_epoch,
                        first.seconds, first.samples_per_second, first.history)


@task(name="evaluate-model", cache_policy=NO_CACHE, persist_result=False)
def evaluate_panel_model(trained: TrainedModel, windows: WindowsRef, cfg: ForecastConfig, season_length: int) -> ModelResult:
    """Forecast every series' held-out horizon at every origin, score it with the M4 metrics, close the run.

    Each series' forecast is :func:`tasks.forecasting.preprocessing.forecast_history`'s, batched
    (:func:`tasks.forecasting.panel.forecast_rows`): every ensemble member forecasts in model units,
    each is mapped back to series units, the median is taken. Logs the per-fold means on the child
    run, its loss plot and (fold 0's first) model as a pyfunc model.
    """
    if trained.failure is not None:
        return ModelResult(trained.cell, trained.run_id, None, None, None, {}, trained.failure)
    import keras

    from tasks.forecasting import plots
    from tasks.nets import cells
    from tasks.nets.models import raw_forecast
    from tasks.nets.windowing import Scaler

    run_id = trained.run_id
    horizon = cfg.window.horizon
    try:
        table = _read_panel(windows)
        series = _series_arrays(windows.series)
        model_dir = Path(trained.model_path).parent
        parts, residuals = [], []
        spec = serving.window_spec(cfg.model_dump(mode="json"), season_length, table.calendar_features)
        units = _units(table, cfg)
        kept = None
        for fold in range(cfg.evaluate.folds):
            for group in sorted({u.group for u in units if u.fold == fold}):
                members = [u for u in units if u.fold == fold and u.group == group]
                models = [keras.saving.load_model(model_dir / u.file(trained.cell), compile=False) for u in members]
                # A few calls per model (one, or one per step when recursive): eager beats tracing a graph.
                predicts = [lambda x, m=m: np.asarray(m(x, training=False)) for m in models]
                rows = _unit_rows(table, members[0], "test")
                yhat = panel.forecast_rows(table, rows, predicts, horizon)
                parts.append(panel.model_forecasts(table, fold, yhat, series, trained.cell, rows))
                # What calibrates the intervals: the same ensemble's forecasts from inside each
                # series' validation part (serving's path, the served model's own). One call per
                # series and member: a traced predict function (predict_on_batch), since an eager
                # recurrent call runs its time loop op by op (0.5 s per M4 Hourly series for a GRU
                # over 168 steps, against ~10 ms traced; the same numbers).
                traced = [lambda x, m=m: np.asarray(m.predict_on_batch(x)) for m in models]
                for r in rows:
                    sid = str(table.series_id[r])
                    residuals.append(serving.validation_residuals(
                        sid, series[sid][1], int(table.origin[r]), fold, traced, spec, season_length,
                        stamps=series[sid][0]))
                if fold == 0 and group == 0:
                    kept, first_rows = models[0], rows
        banded, widths = intervals.attach_intervals(
            pd.concat(parts, ignore_index=True), pd.concat(residuals, ignore_index=True), series, season_length,
            cfg.evaluate.interval_level, horizon)
        forecasts = _typed_forecasts(banded)
        scores = _typed_scores(panel.score_forecasts(forecasts, series, season_length))
        forecasts_path = storage.write_frame(forecasts, paths.intermediate_path("model-forecasts", run_id))
        scores_path = storage.write_frame(scores, paths.intermediate_path("model-scores", run_id))
        means = scores.groupby("fold")[list(metrics.METRICS)].mean()
        found = {("" if fold == 0 else f"fold{fold}.") + k: float(v)
                 for fold, row in means.iterrows() for k, v in row.items()}
        found["test_rmse"], found["test_mae"] = found["rmse"], found["mae"]
        banded_scores = intervals.interval_scores(forecasts, series, season_length, cfg.evaluate.interval_level)
        found.update({("" if fold == 0 else f"fold{fold}.") + k: v
                      for fold, row in banded_scores.items() for k, v in row.items()})
        if cfg.evaluate.folds > 1:
            found.update({f"backtest_{k}": float(np.mean([row[k] for row in banded_scores.values()]))
                          for k in intervals.METRICS})
        runs.log_metrics(run_id, found)
        runs.log_dict(run_id, {"level": cfg.evaluate.interval_level, "scale": "in-sample seasonal-naive MAE",
                               "folds": {str(f): {"half_widths": q.tolist(), "n_calibration": n.tolist()}
                                         for f, (q, n) in widths.items()}}, "intervals.json")
        fig = plots.loss_figure(trained.history, f"{trained.cell}: loss per epoch (latest origin)")
        runs.log_figure(run_id, fig, "plots/loss.png")
        plots.close(fig)
        model_uri = model_id = None
        if cfg.tracking.log_models:
            model_uri, model_id = _log_panel_model(trained, table, first_rows, series, kept, cfg, raw_forecast, Scaler,
                                                   [cells.__name__])
    except BaseException as exc:
        runs.end_run(run_id, failed=True, reason=f"{type(exc).__name__}: {exc}")
        raise
    runs.end_run(run_id)
    result = {**found, "epochs_run": trained.epochs_run, "best_epoch": trained.best_epoch,
              "fit_seconds": trained.fit_seconds, "train_samples_per_second": trained.samples_per_second}
    q0, n0 = widths[0]
    return ModelResult(trained.cell, run_id, model_uri, model_id, trained.model_path, result, None,
                       str(forecasts_path), str(scores_path), tuple(float(q) for q in q0), tuple(int(n) for n in n0))


def _log_panel_model(trained, table, rows, series, model, cfg, raw_forecast, scaler_type, modules) -> tuple[str, str]:
    """Log fold 0's model as a pyfunc model that takes raw windows of the series it was trained on.

    With one series the series' own scaler travels inside the model, so it reads and returns raw
    units. A global model of many series scales each on its own: it is logged on scaled units
    (mean 0, std 1) with every series' scaler beside it in ``scalers.json``.
    """
    first = rows[0]
    if table.calendar is not None:
        # Covariates: the network's own input, the window extended by the forecast steps' calendar
        # (preprocessing.with_calendar), logged on model units; the scaler is the identity per channel.
        example = preprocessing.with_calendar(table.x[first][None], table.calendar_of(np.array([first])))
        example = example.astype(np.float64)
        mean, std = [0.0] * example.shape[-1], [1.0] * example.shape[-1]
    elif len(rows) == 1 and not cfg.preprocess.active:
        mean, std = [float(table.mean[first])], [float(table.std[first])]
        sid, origin = str(table.series_id[first]), int(table.origin[first])
        example = series[sid][1][origin - cfg.window.lookback : origin].reshape(1, -1, 1)
    else:
        mean, std = [0.0], [1.0]
        example = table.x[first][None].astype(np.float64)
    if len(rows) > 1 or cfg.preprocess.active:
        scalers = {str(table.series_id[r]): {"mean": float(table.mean[r]), "std": float(table.std[r])} for r in rows}
        runs.log_dict(trained.run_id, {"inputs": "scaled per series: (raw - mean) / std; outputs likewise",
                                       "scalers": scalers}, "scalers.json")
        # The whole series ↔ model transform of each series (deseasonalise, log, standardise, level):
        # tasks.forecasting.preprocessing.forecast_history(history, predict, SeriesTransform.from_dict(state), ...).
        # Every series' transform at the latest origin, also under model.scope = local, where the
        # logged network is the first series' (the others are saved beside it in the model folder).
        latest = table.rows(0, "test")
        runs.log_dict(trained.run_id, {
            "lookback": cfg.window.lookback, "horizon": cfg.window.horizon, "strategy": cfg.model.strategy,
            "scope": cfg.model.scope, "ensemble": cfg.model.ensemble, "logged_member": 0,
            "calendar_features": list(table.calendar_features),
            "transforms": {str(table.series_id[r]): table.transform(int(r)).to_dict() for r in latest},
        }, "transforms.json")
    output = raw_forecast(model, scaler_type(np.asarray(mean), np.asarray(std)), example)
    return tracked_models.log_keras_window_model(
        trained.run_id, f"{trained.cell}-{ingest.subject(cfg.source)}", Path(trained.model_path), mean, std, modules,
        example, output,
    )


@task(name="compare-forecasters", cache_policy=NO_CACHE, persist_result=False)
def compare_holdout(
    results: list[ModelResult],
    baselines: ScoredForecasts,
    series: SeriesRef,
    cfg: ForecastConfig,
    ctx: RunContext,
) -> HoldoutComparison:
    """Aggregate every forecaster as M4 does, rank by MASE, and log the tables, forecasts and plots.

    On the parent run: each forecaster's metrics at the latest origin (and means over origins), one
    table per forecaster and fold (``tables/<forecaster>/fold-<k>.md``), ``backtest.json``,
    ``ranking.json``, the forecast output (``forecasts/<run id>.parquet``), the per-series scores
    (``scores/<run id>.parquet``) and the per-series plots.
    """
    from tasks.forecasting.ranking import rank_forecasters as rank

    ok = [r for r in results if r.ok]
    frames = [storage.read_frame(Path(baselines.forecasts_path))] + [storage.read_frame(Path(r.forecasts_path)) for r in ok]
    score_frames = [storage.read_frame(Path(baselines.scores_path))] + [storage.read_frame(Path(r.scores_path)) for r in ok]
    forecasts = pd.concat([f for f in frames if len(f)], ignore_index=True)
    scores = pd.concat([f for f in score_frames if len(f)], ignore_index=True)
    kinds = {**{name: "baseline" for name in cfg.evaluate.baselines}, **{r.cell: "model" for r in ok}}
    fold_table = holdout.fold_scores(scores, kinds)
    models = tuple(
        dataclasses.replace(r, metrics={**r.metrics, **holdout.headline_metrics(fold_table, r.cell)}) if r.ok else r
        for r in results
    )
    base = tuple(BaselineScore(name, holdout.headline_metrics(fold_table, name)) for name in cfg.evaluate.baselines)
    ranking = rank(models, base)

    parent = ctx.parent_run_id
    out_path = storage.write_frame(holdout.output_frame(forecasts), paths.intermediate_path("forecasts", parent))
    scores_path = storage.write_frame(scores, paths.intermediate_path("scores", parent))
    runs.log_file(parent, out_path, "forecasts")
    runs.log_file(parent, scores_path, "scores")
    runs.set_tags(parent, {"forecasts_path": str(out_path), "scores_path": str(scores_path), "ranked_by": "mase"})
    named = [(r.cell, r.metrics) for r in models if r.ok] + [(b.name, b.metrics) for b in base]
    runs.log_metrics(parent, {f"{name}.{k}": v for name, m in named for k, v in m.items()
                              if k in holdout.HEADLINE or k in intervals.METRICS or k.startswith("backtest_")})
    for name in kinds:
        for fold in range(cfg.evaluate.folds):
            _, text = holdout.score_table(scores, name, fold)
            runs.log_text(parent, text, f"tables/{name}/fold-{fold}.md")
    runs.log_dict(parent, {"backtest": [dataclasses.asdict(f) for f in fold_table]}, "backtest.json")
    runs.log_dict(parent, {"ranked_by": "mase", "ranking": [dataclasses.asdict(r) for r in ranking]}, "ranking.json")
    failed = [r for r in results if not r.ok]
    if failed:
        runs.set_tags(parent, {f"failed.{r.cell}": r.failure or "" for r in failed})
    best_model = next((row.forecaster for row in ranking if row.kind == "model"), None)
    best_baseline = next((row.forecaster for row in ranking if row.kind == "baseline"), None)
    if best_model is not None:
        best = next(r for r in ok if r.cell == best_model)
        runs.set_tags(parent, {"best_model": best_model, "best_model_run_id": best.run_id})
        if best.model_id:
            tracked_models.link_model(parent, best.model_id)
    _log_series_plots(parent, forecasts, scores, series, best_model, best_baseline, cfg)
    return HoldoutComparison(models, base, ranking, fold_table, str(out_path), str(scores_path))


LOCAL_NOT_SERVED = ("no served model: model.scope = local trains one set of networks per series; only global "
                    "models are registered")


@task(name="serve-best-model", cache_policy=NO_CACHE, persist_result=False)
def serve_best_model(compared: HoldoutComparison, series: SeriesRef, cfg: ForecastConfig, season_length: int,
                     ctx: RunContext) -> ServedModel | None:
    """Log the best model (by the ranking) as a servable forecaster on the parent run; register it as ``candidate``.

    The forecaster maps a history table to the forecast table with intervals
    (:func:`tasks.forecasting.serving.forecast_frame`): it carries every ensemble member of the latest
    origin (``keras_model_0`` .. ``keras_model_{n-1}``) and forecasts with their median, through the
    same preprocessing as the flow; its settings travel as ``bundle.json``. A ``model.scope = local``
    model is not served (one set of networks per series; said in the log and the parent run's tag
    ``served_model_skipped``). Nothing is logged when models are not logged (``tracking.log_models = false``), when no model
    was ranked, or when the series have no calendar (the sine's synthetic seconds); nothing is
    registered when ``tracking.registered_model`` is off.
    """
    from tasks.nets import cells
    from tasks.tracking import registry

    best = next((row.forecaster for row in compared.ranking if row.kind == "model"), None)
    if not cfg.tracking.log_models or best is None:
        return None
    if series.frequency not in serving.STEP_FREQUENCIES:
        _log().info("no served model: %s series have no calendar to continue", series.frequency)
        return None
    if cfg.model.scope == "local":
        # One network set per series: not served (a served model maps any history through one set).
        # Said in the log and on the parent run; the per-series networks stay in the model's run.
        reason = LOCAL_NOT_SERVED
        _log().warning(reason)
        runs.set_tags(ctx.parent_run_id, {"served_model": "none", "served_model_skipped": reason})
        return None
    result = next(r for r in compared.models if r.cell == best)
    model_dir = Path(result.model_path).parent
    members = [model_dir / _Unit(0, member, 0, None).file(best) for member in range(cfg.model.ensemble)]
    bundle = serving.make_bundle(
        cfg.model_dump(mode="json"), best, series.frequency, season_length, np.asarray(result.half_widths),
        np.asarray(result.n_calibration), parent_run_id=ctx.parent_run_id, model_run_id=result.run_id,
        data_content_hash=series.content_hash)
    frame = storage.read_frame(Path(series.path))
    first = frame[frame["series_id"] == frame["series_id"].iloc[0]]
    example = first.tail(bundle["min_history"]).reset_index(drop=True)
    model_uri, model_id = tracked_models.log_forecaster_model(
        ctx.parent_run_id, f"forecaster-{ingest.subject(cfg.source)}", members, bundle,
        serving.__name__, [cells.__name__], example)
    runs.set_tags(ctx.parent_run_id, {"served_model": best, "served_model_uri": model_uri})
    name = cfg.tracking.registered_model
    if name is None:
        return ServedModel(best, model_uri, model_id)
    alias = "candidate"
    version = registry.register(model_uri, name, alias)
    runs.set_tags(ctx.parent_run_id, {"registered_model": name, "registered_version": version})
    return ServedModel(best, model_uri, model_id, name, version, alias, registry.model_version_uri(name, alias))


def _log_series_plots(parent: str, forecasts: pd.DataFrame, scores: pd.DataFrame, series: SeriesRef,
                      best_model: str | None, best_baseline: str | None, cfg: ForecastConfig) -> None:
    """One plot per picked series at the latest origin: history, truth, best model, best baseline."""
    from tasks.forecasting import plots

    lead = best_model or best_baseline
    if lead is None or cfg.evaluate.plot_series == 0:
        return
    arrays = _series_arrays(series)
    picked = holdout.series_to_plot(scores, lead, cfg.evaluate.plot_series)
    latest = forecasts[forecasts["fold"] == 0]
    season = cfg.evaluate.season_length or series.season_length
    for label, sid in picked:
        stamps, values = arrays[sid]
        part = latest[latest["series_id"] == sid]
        origin = int(part["origin"].iloc[0])
        shown = holdout.history_window(origin, season, cfg.window.horizon)
        lines = {}
        for name, kind in ((best_model, "best model"), (best_baseline, "best baseline")):
            rows = part[part["model"] == name].sort_values("horizon_step")
            if name is not None and len(rows):
                lines[f"{name} ({kind})"] = rows["yhat"].to_numpy()
        latest_scores = scores[(scores["fold"] == 0) & (scores["series_id"] == sid)].set_index("model")["mase"]
        said = "; ".join(f"{name} MASE {float(latest_scores[name]):.3f}"
                         for name in (best_model, best_baseline) if name in latest_scores.index)
        title = f"{sid}: last {cfg.window.horizon} steps held out; {said}"
        fig = plots.series_forecast_figure(
            stamps[origin - shown : origin], values[origin - shown : origin],
            stamps[origin : origin + cfg.window.horizon], values[origin : origin + cfg.window.horizon], lines, title,
        )
        runs.log_figure(parent, fig, f"plots/series/{label}.png")
        plots.close(fig)
    runs.log_dict(parent, {label: sid for label, sid in picked}, "plots/series/index.json")
