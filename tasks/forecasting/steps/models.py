"""Prefect tasks of the forecasting flow's networks: train every unit of a cell, forecast and score it.

Every flow run opens fresh MLflow runs, but a network is trained once per set of inputs: each is
kept under ``paths.trained_dir(key)``, the key hashing the windows' content, the config, the cell
and the training code, beside its fit's record. A re-run with the same inputs (typically the same
command after a killed run) reuses every network finished there, resumes the one that was cut off
from its per-epoch backup (``tasks.nets.resume``), and says so on the new child run
(``reused_from_run``, ``networks_reused``, ``resumed_from_epoch``, ``epochs_trained``). The
tasks themselves neither cache nor persist Prefect results (``NO_CACHE``): the files are checked
directly, so a deleted network is trained again rather than pointed at. ``train.resume = false``
trains every network afresh, without backups (what a benchmark of training time needs).
"""
from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from prefect import task
from prefect.cache_policies import NO_CACHE

from tasks import caching, locks, paths, storage
from tasks.config import flatten
from tasks.forecasting import config as forecast_config
from tasks.forecasting import ingest, intervals, metrics, panel, preprocessing, serving
from tasks.forecasting.config import ForecastConfig
from tasks.forecasting.records import ModelResult, WindowsRef
from tasks.forecasting.steps import kept
from tasks.forecasting.steps import streamed as streamed_windows
from tasks.forecasting.steps.data import read_panel, series_arrays, typed_forecasts, typed_scores
from tasks.nets.records import TrainedModel
from tasks.progress import epoch_bar, step_progress
from tasks.runtime import release_memory
from tasks.tracking import models as tracked_models
from tasks.tracking import runs
from tasks.tracking.runs import RunContext

if TYPE_CHECKING:
    from tasks.nets.training import FitResult


@dataclasses.dataclass(frozen=True)
class Unit:
    """One network to train: a fold, an ensemble member, and the series it sees (None = all: global)."""

    fold: int
    member: int
    group: int  # index of the series in sorted order (local scope); 0 for a global model
    series_ids: tuple[str, ...] | None

    def file(self, cell: str) -> str:
        if (self.fold, self.member, self.group) == (0, 0, 0):
            return f"{cell}.keras"  # the kept model: the latest origin's first member (first series)
        return f"{cell}-fold{self.fold}-m{self.member}-s{self.group}.keras"


@dataclasses.dataclass(frozen=True)
class UnitFit:
    """A unit trained by :func:`train_unit`: its network saved under its file stem, its fit, or why it diverged."""

    stem: str
    fit: FitResult | None
    epochs: tuple[tuple[str, float, int], ...] = ()  # per-epoch metrics up to a divergence (logged units)
    failure: str | None = None
    reused: bool = False  # finished by another run while it waited for the unit's lock: not trained here


def member_seed(seed: int, member: int) -> int:
    """The seed of ensemble member ``member``: the run's seed for the first, 1000 apart after it, so
    that runs seeded 42, 43, 44 train disjoint networks."""
    return seed + 1000 * member


def _units(table: panel.PanelWindows, cfg: ForecastConfig) -> list[Unit]:
    """Every network a cell needs: folds × ensemble members × (series, when local)."""
    ids = sorted({str(s) for s in table.series_id})
    groups = [(k, (sid,)) for k, sid in enumerate(ids)] if cfg.model.scope == "local" else [(0, None)]
    return [Unit(fold, member, k, group) for fold in range(cfg.total_folds)
            for member in range(cfg.model.ensemble) for k, group in groups]


def _unit_rows(table: panel.PanelWindows, unit: Unit, split: str) -> np.ndarray:
    rows = table.rows(unit.fold, split)
    if unit.series_ids is not None:
        rows = rows[np.isin(table.series_id[rows].astype(str), unit.series_ids)]
    return rows


def _training_key(windows: WindowsRef, cfg: ForecastConfig, cell: str, name: str, streamed: bool = False) -> str:
    """What determines the networks' weights: the windows' content, the config (but how the run is
    tracked and shown), the cell, the forecaster's name, whether the windows are streamed (not the
    bound that decided it), and the code that trains them."""
    from tasks import nets

    settings = cfg.model_dump(mode="json", exclude={"tracking": True,
                                                    "train": {"progress", "resume", "max_window_mb",
                                                               "backup_seconds"}})
    return caching.content_key(
        windows.content_hash, settings, cell, name, streamed,
        caching.code_fingerprint(nets, preprocessing, panel, streamed_windows, sys.modules[__name__]),
    )


def uses_streamed_windows(windows: WindowsRef, cfg: ForecastConfig) -> bool:
    """Whether a cell trains on windows read part by part (``train.streamed``): a global network
    whose panel's windows are larger than ``train.max_window_mb``. Local networks (one per series)
    take their few rows from the panel in memory."""
    return cfg.model.scope == "global" and streamed_windows.window_megabytes(windows) > cfg.train.max_window_mb


def _count(table: panel.PanelWindows, parts: streamed_windows.PanelParts | None, unit: Unit, split: str) -> int:
    """Windows of ``split`` the unit trains on, whichever path it takes."""
    return parts.count(unit.fold, split) if parts is not None else int(len(_unit_rows(table, unit, split)))


def _fit_unit(table: panel.PanelWindows, parts: streamed_windows.PanelParts | None, unit: Unit, cfg: ForecastConfig,
              cell: str, name: str, key: str, n_units: int, epochs: list[tuple[str, float, int]], progress: bool):
    """Train one unit's network: ``(model, FitResult)``; raises ``DivergedError``.

    With ``parts`` its windows are read part by part (streamed), else from ``table``. The per-epoch
    metrics of a logged unit (each fold's first network) are appended to ``epochs``.
    """
    from tasks.nets.training import train_cell, train_streamed_cell

    target_steps = forecast_config.holdout_target_steps(cfg)
    # Calendar covariates: each window is extended by its target steps' calendar (value 0 there).
    future_steps = target_steps if table.calendar is not None else 0
    logged = unit.member == 0 and unit.group == 0
    prefix = "" if unit.fold == 0 else f"fold{unit.fold}."
    stem = unit.file(name).removesuffix(".keras")
    m = table.transform(int(_unit_rows(table, unit, "test")[0])).season_length
    if parts is not None:
        train_parts = parts.windows(unit.fold, "train", cfg.preprocess.level, m)
        val_parts = parts.windows(unit.fold, "validation", cfg.preprocess.level, m)
    else:
        train_rows, val_rows = _unit_rows(table, unit, "train"), _unit_rows(table, unit, "validation")
        x_train, y_train = table.x[train_rows], table.y[train_rows]
        x_val, y_val = table.x[val_rows], table.y[val_rows]
        x_train, y_train = preprocessing.level_normalise(x_train, y_train, cfg.preprocess.level, m)
        x_val, y_val = preprocessing.level_normalise(x_val, y_val, cfg.preprocess.level, m)
        x_train = preprocessing.with_calendar(x_train, table.calendar_of(train_rows))
        x_val = preprocessing.with_calendar(x_val, table.calendar_of(val_rows))
    shown = name if n_units == 1 else f"{name} · {stem}"
    backup_dir = paths.training_backup_dir(f"{key}-{stem}") if cfg.train.resume else None
    with epoch_bar(shown, cfg.train.epochs, progress and logged) as bar:

        def on_epoch_end(epoch: int, logs: dict[str, float]) -> None:
            bar(epoch, logs)
            if logged:
                epochs.extend((f"{prefix}{k}", v, epoch) for k, v in logs.items())

        if parts is not None:
            return train_streamed_cell(
                cell, train_parts, val_parts, cfg.model, cfg.train, member_seed(cfg.seed, unit.member), "horizon",
                target_steps, on_epoch_end, n_targets=1, future_steps=future_steps, backup_dir=backup_dir,
                backup_seconds=cfg.train.backup_seconds,
            )
        return train_cell(
            cell, x_train, y_train, x_val, y_val, cfg.model, cfg.train,
            member_seed(cfg.seed, unit.member), "horizon", target_steps, on_epoch_end,
            n_targets=1, future_steps=future_steps, backup_dir=backup_dir, backup_seconds=cfg.train.backup_seconds,
        )


@task(name="train-model", cache_policy=NO_CACHE, persist_result=False)
def train_panel_model(windows: WindowsRef, cfg: ForecastConfig, cell: str, ctx: RunContext,
                      label: str | None = None, fitted: dict[str, UnitFit] | None = None) -> TrainedModel:
    """Train one cell afresh at every origin, in its own child run: one network on the pooled windows
    of every series (model.scope global) or one per series (local), model.ensemble times with seeds
    seed, seed + 1000, ...; windows are level-normalised here when preprocess.level is on.

    ``label`` names the forecaster (its run, files and rows) when it is not the cell's own name: a
    recipe of ``model.recipe = auto`` such as ``gru-deseason-log``. ``fitted`` holds the networks
    :func:`train_units` trained on the flow's task runner (file stem -> outcome): they are recorded
    and logged here as if trained here, in the same order.

    The latest origin's first network is the one kept and logged; the others are saved beside it
    for scoring. The run stays open for evaluation. A model whose loss turns NaN or infinite is
    returned with ``failure`` set and its run FAILED. Networks already finished with the same inputs
    are reused and an interrupted one resumes from its last completed epoch (see the module's note).
    """
    import time

    from tasks.nets.training import DivergedError

    name = label or cell
    run_id = runs.start_run(
        ctx.experiment_id, f"{name} · {ingest.subject(cfg.source)}", {**ctx.tag_dict, "cell": cell},
        parent_run_id=ctx.parent_run_id,
    )
    began = time.perf_counter()
    try:
        streamed = uses_streamed_windows(windows, cfg)
        runs.log_params(run_id, {"cell": cell, "forecaster": name, **flatten(cfg), "train.streamed": str(streamed)})
        # Streamed: only the test rows in memory (the units, each fold's transform), the rest read per part.
        table = read_panel(windows, "test") if streamed else read_panel(windows)
        parts = streamed_windows.PanelParts(windows) if streamed else None
        key = _training_key(windows, cfg, cell, name, streamed)
        model_dir = paths.trained_dir(key)
        model_dir.mkdir(parents=True, exist_ok=True)
        first = None
        histories = []  # every member's history at the latest origin (first series): the loss plot
        units = _units(table, cfg)
        reused_from: list[str] = []  # per network reused, the run that trained it
        epochs_trained = 0
        fitted = fitted or {}
        if table.calendar_features:
            runs.set_tags(run_id, {"calendar_features": ",".join(table.calendar_features)})
        # One training of these inputs at a time: a second run of the same command waits, then reuses.
        with locks.exclusive(model_dir.parent / f"{key}.lock"):
            for unit in units:
                # Per-epoch metrics of each fold's first network only: an ensemble of local models would
                # otherwise log thousands of curves that say the same.
                logged = unit.member == 0 and unit.group == 0
                prefix = "" if unit.fold == 0 else f"fold{unit.fold}."
                stem = unit.file(name).removesuffix(".keras")
                finished = kept.finished(model_dir, stem) if cfg.train.resume else None
                if finished is not None:
                    fit, trained_by = finished
                    reused_from.append(trained_by)
                elif stem in fitted and not fitted[stem].reused:
                    # Trained by train_unit on the flow's task runner (a Dask worker), saved unrecorded.
                    done = fitted[stem]
                    if done.failure is not None:
                        runs.log_entries(run_id, list(done.epochs))
                        reason = f"{stem}: {done.failure}" if len(units) > 1 else done.failure
                        runs.end_run(run_id, failed=True, reason=reason)
                        return TrainedModel(name, run_id, None, len(done.epochs), 0, 0.0, 0.0, {}, failure=reason)
                    fit = done.fit
                    kept.record_fit(model_dir, stem, fit, run_id)
                    epochs_trained += fit.epochs_run - fit.resumed_from_epoch
                else:
                    epochs: list[tuple[str, float, int]] = []
                    try:
                        with locks.exclusive(kept.unit_lock(model_dir, stem)):  # not while a worker trains it
                            model, fit = _fit_unit(table, parts, unit, cfg, cell, name, key, len(units), epochs,
                                                   cfg.train.progress)
                    except DivergedError as exc:
                        runs.log_entries(run_id, epochs)
                        reason = f"{stem}: {exc}" if len(units) > 1 else str(exc)
                        runs.end_run(run_id, failed=True, reason=reason)
                        return TrainedModel(name, run_id, None, len(epochs), 0, 0.0, 0.0, {}, failure=reason)
                    kept.keep(model_dir, stem, model, fit, run_id)
                    epochs_trained += fit.epochs_run - fit.resumed_from_epoch
                if logged:
                    # Every epoch's metrics, those restored from a backup or a finished network too.
                    runs.log_entries(run_id, [(f"{prefix}{k}", v, epoch) for k, values in fit.history.items()
                                              for epoch, v in enumerate(values)])
                if unit.fold == 0 and unit.group == 0:
                    histories.append(fit.history)
                if logged:
                    runs.log_metrics(
                        run_id,
                        {f"{prefix}epochs_run": fit.epochs_run, f"{prefix}best_epoch": fit.best_epoch,
                         f"{prefix}fit_seconds": fit.seconds,
                         f"{prefix}train_samples_per_second": fit.samples_per_second,
                         f"{prefix}resumed_from_epoch": fit.resumed_from_epoch if finished is None else 0,
                         f"{prefix}train_windows": _count(table, parts, unit, "train"),
                         f"{prefix}validation_windows": _count(table, parts, unit, "validation")},
                    )
                if first is None:
                    first = fit
        if reused_from:
            runs.set_tags(run_id, {"reused_from_run": ",".join(sorted(set(reused_from)))})
        runs.log_metrics(run_id, {"networks": len(units), "networks_reused": len(reused_from),
                                  "epochs_trained": epochs_trained,
                                  "train_seconds_all_networks": time.perf_counter() - began})
    except BaseException as exc:
        runs.end_run(run_id, failed=True, reason=f"{type(exc).__name__}: {exc}")
        raise
    return TrainedModel(name, run_id, str(model_dir / f"{name}.keras"), first.epochs_run, first.best_epoch,
                        first.seconds, first.samples_per_second, first.history, member_histories=tuple(histories))


@task(name="train-unit", cache_policy=NO_CACHE, persist_result=False)
def train_unit(windows: WindowsRef, cfg: ForecastConfig, cell: str, name: str, unit: Unit) -> UnitFit:
    """Train one unit on a task runner's worker (TensorFlow on ``train.threads``, else one thread) and save
    its network unrecorded under the folder :func:`train_panel_model` keeps it in; that task records it."""
    from tasks.nets.training import DivergedError
    from tasks.runtime import configure_tf_threads

    configure_tf_threads(cfg.train.threads or 1)
    streamed = uses_streamed_windows(windows, cfg)
    table = read_panel(windows, "test") if streamed else read_panel(windows)
    parts = streamed_windows.PanelParts(windows) if streamed else None
    key = _training_key(windows, cfg, cell, name, streamed)
    stem = unit.file(name).removesuffix(".keras")
    folder = paths.trained_dir(key)
    epochs: list[tuple[str, float, int]] = []
    # One training of a unit at a time, across processes (another run's worker, or a serial run of the same
    # network): they would share its backup folder and its file. Finished meanwhile: the recording task reuses it.
    with locks.exclusive(kept.unit_lock(folder, stem)):
        if cfg.train.resume and kept.finished(folder, stem) is not None:
            return UnitFit(stem, None, reused=True)
        try:
            model, fit = _fit_unit(table, parts, unit, cfg, cell, name, key, len(_units(table, cfg)), epochs, False)
        except DivergedError as exc:
            return UnitFit(stem, None, tuple(epochs), str(exc))
        folder.mkdir(parents=True, exist_ok=True)
        kept.save_network(folder, stem, model)
    return UnitFit(stem, fit)


def train_units(forecasters: dict[str, tuple[WindowsRef, ForecastConfig, str]]) -> dict[str, dict[str, UnitFit]]:
    """Submit every unit of every forecaster (name -> windows, config, cell) not finished before as a
    :func:`train_unit` task on the flow's task runner, at once; gather them: name -> file stem -> outcome.

    Called in the flow, before :func:`train_panel_model` of each forecaster is given its units.
    """
    futures = {}
    for name, (windows, cfg, cell) in forecasters.items():
        streamed = uses_streamed_windows(windows, cfg)
        table = read_panel(windows, "test") if streamed else read_panel(windows)  # the units need the test rows only
        folder = paths.trained_dir(_training_key(windows, cfg, cell, name, streamed))
        for unit in _units(table, cfg):
            stem = unit.file(name).removesuffix(".keras")
            if cfg.train.resume and kept.finished(folder, stem) is not None:
                continue  # train_panel_model reuses it, as in a serial run
            futures[name, stem] = train_unit.submit(windows, cfg, cell, name, unit)
    fitted: dict[str, dict[str, UnitFit]] = {name: {} for name in forecasters}
    for (name, stem), future in futures.items():
        fitted[name][stem] = future.result()
    return fitted


@task(name="evaluate-model", cache_policy=NO_CACHE, persist_result=False)
def evaluate_panel_model(trained: TrainedModel, windows: WindowsRef, cfg: ForecastConfig, season_length: int) -> ModelResult:
    """Forecast every series' held-out horizon at every origin, score it with the M4 metrics, close the run.

    Every test row is forecast by :func:`tasks.forecasting.panel.forecast_rows`, which ends in the one
    forecast path (:func:`tasks.forecasting.preprocessing.forecast_model_units`): every ensemble
    member forecasts in model units, each is mapped back to series units, the median is taken. Logs the per-fold means on the child
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
        table = read_panel(windows, "test")  # the test rows are all that is forecast from the windows
        series = series_arrays(windows.series)
        model_dir = Path(trained.model_path).parent
        parts, residuals = [], intervals.ResidualPool()  # compact: a row per validation step and horizon step
        spec = serving.window_spec(cfg.model_dump(mode="json"), season_length, table.calendar_features)
        units = _units(table, cfg)
        kept, done = None, 0
        total = sum(len(_unit_rows(table, u, "test")) for u in units if u.member == 0)
        with step_progress(f"{trained.cell} · evaluate", total, "series × origins", cfg.train.progress) as advance:
            for fold in range(cfg.total_folds):
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
                        residuals.add(serving.validation_residuals(
                            sid, series[sid][1], int(table.origin[r]), fold, traced, spec, season_length,
                            stamps=series[sid][0]))
                        done += 1
                        advance(done)
                    if fold == 0 and group == 0:
                        kept, first_rows = models[0], rows
        banded, widths = intervals.attach_intervals(
            pd.concat(parts, ignore_index=True), residuals, series, season_length,
            cfg.evaluate.interval_level, horizon)
        del residuals, parts
        release_memory()  # the per-series frames' heap, before scoring stands on it
        forecasts = typed_forecasts(banded)
        scores = typed_scores(panel.score_forecasts(forecasts, series, season_length))
        forecasts_path = storage.write_frame(forecasts, paths.intermediate_path("model-forecasts", run_id))
        scores_path = storage.write_frame(scores, paths.intermediate_path("model-scores", run_id))
        # The held-out folds' scores; the inner folds of model.recipe = auto are the choice's (tasks.forecasting.choice).
        held_out = forecasts["fold"] < cfg.evaluate.folds
        means = scores[scores["fold"] < cfg.evaluate.folds].groupby("fold")[list(metrics.METRICS)].mean()
        found = {("" if fold == 0 else f"fold{fold}.") + k: float(v)
                 for fold, row in means.iterrows() for k, v in row.items()}
        found["test_rmse"], found["test_mae"] = found["rmse"], found["mae"]
        banded_scores = intervals.interval_scores(forecasts[held_out], series, season_length,
                                                  cfg.evaluate.interval_level)
        found.update({("" if fold == 0 else f"fold{fold}.") + k: v
                      for fold, row in banded_scores.items() for k, v in row.items()})
        if cfg.evaluate.folds > 1:
            found.update({f"backtest_{k}": float(np.mean([row[k] for row in banded_scores.values()]))
                          for k in intervals.METRICS})
        runs.log_metrics(run_id, found)
        runs.log_dict(run_id, {"level": cfg.evaluate.interval_level, "scale": "in-sample seasonal-naive MAE",
                               "folds": {str(f): {"half_widths": q.tolist(), "n_calibration": n.tolist()}
                                         for f, (q, n) in widths.items()}}, "intervals.json")
        fig = plots.members_loss_figure(list(trained.member_histories) or [trained.history],
                                        f"{trained.cell}: loss per epoch of every ensemble member (latest origin)")
        runs.log_figure(run_id, fig, "loss.png")  # at the root: MLflow's compare view shows root files side by side
        plots.close(fig)
        model_uri = model_id = None
        if cfg.tracking.log_models:
            model_uri, model_id = _log_panel_model(trained, table, first_rows, series, kept, cfg, raw_forecast, Scaler,
                                                   [cells.__name__])
    except BaseException as exc:
        runs.end_run(run_id, failed=True, reason=f"{type(exc).__name__}: {exc}")
        raise
    runs.end_run(run_id)
    release_memory()
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
