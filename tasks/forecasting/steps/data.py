"""Prefect tasks of the forecasting flow's data: ingest, windows per origin, the baselines' backtest.

Ingest, windowing and the baselines' backtest are cached on the content of their inputs plus their
config and code, so a re-run with an unchanged config reuses their Parquet files.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.context import TaskRunContext

from tasks import caching, paths, storage
from tasks.errors import InputError
from tasks.forecasting import (
    backtest,
    calendar,
    ingest,
    intervals,
    metrics,
    panel,
    preprocessing,
    seasonality,
    sources,
)
from tasks.forecasting import config as forecast_config
from tasks.forecasting.config import CsvSource, ForecastConfig, M4Source, SplitConfig, WindowConfig
from tasks.forecasting.records import (
    ScoredForecasts,
    SeriesRef,
    WindowsRef,
)
from tasks.nets import windowing
from tasks.progress import step_progress
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


def check_log_fits(cfg: ForecastConfig, series: SeriesRef) -> None:
    """Refuse ingested series that ``preprocess.log = true`` cannot take, before anything trains.

    The stored rows are checked; only when one is <= 0 is the source read again, to name its file,
    row and column as the CLI's own check does (:func:`tasks.forecasting.ingest.check_preprocessing`).

    Raises:
        InputError: the first value <= 0, its series, file, row and column.
    """
    if not cfg.preprocess.log:
        return
    try:
        ingest.check_log_values(cfg, storage.read_frame(Path(series.path)), series.inputs)
    except InputError:
        ingest.check_preprocessing(cfg, ingest.load_source(cfg.source))
        raise


@task(name="record-inputs", cache_policy=NO_CACHE, persist_result=False)
def record_inputs(series: SeriesRef, windows: WindowsRef | None, ctx: RunContext, subject: str = "series",
                  horizon: int = 1, season_length: int = 1) -> None:
    """Log the input as the run's dataset, where the intermediates are, the windows per split, the rows
    skipped on ingest, and each series' season decision on its part before the latest held-out horizon
    (``seasonality.json``)."""
    sample = storage.read_head(Path(series.path), 5)
    runs.log_dataset(ctx.parent_run_id, subject, ", ".join(series.inputs) or series.path, series.content_hash, sample,
                     {"num_rows": series.n_points, "num_series": series.n_series, "frequency": series.frequency})
    kept = {"series_path": series.path}
    if windows is not None:
        kept |= {"windows_content_hash": windows.content_hash, "windows_path": windows.path}
        runs.log_metrics(ctx.parent_run_id, {f"windows.{split}": n for split, n in windows.counts})
    if series.source_content_hash:
        kept["source_content_hash"] = series.source_content_hash
    runs.set_tags(ctx.parent_run_id, {**runs.internal(kept), "n_series": str(series.n_series), "frequency": series.frequency})
    if series.skipped_rows:
        # Trailing junk (empty rows, a text footer) is read past, never silently: said here and kept.
        for line in series.skipped_rows:
            run_logger().warning("skipped %s", line)
        runs.log_text(ctx.parent_run_id, "\n".join(series.skipped_rows) + "\n", "skipped_rows.txt")
    if season_length > 1:
        # The decision the networks' deseasonalising makes (tasks.forecasting.seasonality.decide_season),
        # per series, with its statistics: what a reviewer checks when a season looks spurious.
        parts = {sid: values[:-horizon] for sid, (_, values) in series_arrays(series).items()}
        decisions = seasonality.season_decisions(parts, season_length)
        runs.log_metrics(ctx.parent_run_id, {"seasonal_series": int(decisions["seasonal"].sum())})
        runs.log_dict(ctx.parent_run_id, {"season_length": season_length,
                                          "series": json.loads(decisions.to_json(orient="records"))}, "seasonality.json")


def run_logger() -> logging.Logger | logging.LoggerAdapter:
    """The running task's Prefect logger, or seqflow's own outside a task run."""
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
        caching.code_fingerprint(panel, windowing, backtest, preprocessing, seasonality, calendar),
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


def series_arrays(series: SeriesRef) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Every stored series as id → ``(timestamps (time,), values (time,))``."""
    return storage.read_series_arrays(Path(series.path))


# Series per row group of a panel: what streamed training reads at a time (tasks.forecasting.steps.streamed).
SERIES_PER_PART = 200


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
    both = series_arrays(series)
    arrays = {sid: values for sid, (_, values) in both.items()}
    stamps = {sid: stamps for sid, (stamps, _) in both.items()}
    del both
    key = _panel_key(series, window, split, folds, fold_step, spec, target_steps, calendar_features)
    transforms: list[dict] = []
    counts = dict.fromkeys(panel.PANEL_SPLITS, 0)
    # Windows are written a part of the series at a time (a row group each): memory holds one part's
    # windows, not every series' at every origin.
    with storage.arrays_writer(paths.intermediate_path("panel-windows", key)) as writer:
        try:
            for part in panel.iter_panel_windows(arrays, window.lookback, window.horizon, target_steps, window.stride,
                                                 split.validation, folds, fold_step, spec, stamps, calendar_features,
                                                 series_per_part=SERIES_PER_PART):
                columns, meta = part.to_arrays()
                writer.write(columns)
                transforms.extend(json.loads(meta["transforms"]))
                for name, n in part.counts():
                    counts[name] += n
        except ValueError as exc:
            raise InputError(str(exc)) from None
        writer.metadata = {**meta, "transforms": json.dumps(transforms)}
    path = paths.intermediate_path("panel-windows", key)
    return WindowsRef(str(path), storage.content_hash(path), series, tuple(counts.items()))


def read_panel(windows: WindowsRef, split: str | None = None) -> panel.PanelWindows:
    """The stored panel windows, as the table they were written from; with ``split``, only its rows
    (read a row group at a time: ``"test"`` is one row per series and fold, whatever the windows' size)."""
    stored = storage.read_arrays(Path(windows.path), None if split is None else ("split", split))
    return panel.PanelWindows.from_arrays(stored.arrays, stored.metadata)


def _baselines_key(series: SeriesRef, horizon: int, season_length: int, folds: int, fold_step: int,
                   names: tuple[str, ...]) -> str:
    # statsmodels is imported here, at run time, never with this module: the CLI imports the flow's
    # modules in a thread while TensorFlow imports in another, and statsmodels (through formulaic)
    # and Keras (through scikit-learn) both import narwhals, whose import cycle can deadlock two threads.
    from tasks.forecasting import statistical

    return caching.content_key(
        series.content_hash, horizon, season_length, folds, fold_step, list(names),
        caching.code_fingerprint(statistical, seasonality, backtest, metrics),
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
    arrays = series_arrays(series)
    total = series.n_series * folds
    with step_progress("score-baselines", total, "series × origins") as advance:
        result = backtest.run_backtest(arrays, {n: every[n] for n in names}, horizon, season_length, folds, fold_step,
                                       on_progress=lambda done, _: advance(done))
    key = _baselines_key(series, horizon, season_length, folds, fold_step, names)
    forecasts = storage.write_frame(typed_forecasts(result.forecasts), paths.intermediate_path("baseline-forecasts", key))
    scores = storage.write_frame(typed_scores(result.scores), paths.intermediate_path("baseline-scores", key))
    return ScoredForecasts(str(forecasts), str(scores))


def typed_forecasts(frame: pd.DataFrame) -> pd.DataFrame:
    """Backtest forecast rows with fixed column types and the interval columns (NaN where none)."""
    # Fixed column types, so that an empty frame (no baselines) stores and concatenates like a full one.
    types = {"series_id": str, "model": str, "fold": np.int64, "origin": np.int64, "horizon_step": np.int64,
             "yhat": np.float64, "y": np.float64}
    out = frame[list(backtest.FORECAST_COLUMNS)].astype(types)
    # A model's prediction interval (tasks.forecasting.intervals); NaN where there is none (baselines).
    bands = {c: frame[c].to_numpy(dtype=np.float64) if c in frame.columns else np.full(len(frame), np.nan)
             for c in intervals.INTERVAL_COLUMNS}
    return out.assign(timestamp=pd.to_datetime(out["timestamp"]).astype("datetime64[s]"), **bands)


def typed_scores(frame: pd.DataFrame) -> pd.DataFrame:
    """Per-series score rows with fixed column types."""
    types = {"series_id": str, "model": str, "fold": np.int64, "origin": np.int64,
             **{m: np.float64 for m in metrics.METRICS}}
    return frame[list(backtest.SCORE_COLUMNS)].astype(types)
