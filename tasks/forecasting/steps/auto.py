"""Prefect tasks of ``model.recipe = auto``: the candidates to train, and the choice made on the inner folds.

The choice itself is pure (:mod:`tasks.forecasting.choice`); here it reads every candidate's
backtest forecasts, writes the forecaster ``auto``'s forecasts and scores beside the others, and
records what was chosen in a child run of its own (``auto · <subject>``): the rule per held-out fold,
each series' ranked candidates with their inner scores and weights (``choice.parquet``, ``choice.json``).
:func:`served_auto` lays out what the served model needs: the plan, the networks it reads, the bundle.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from prefect import task
from prefect.cache_policies import NO_CACHE

from tasks import paths, storage
from tasks.config import flatten
from tasks.forecasting import choice, ingest, intervals, metrics, panel
from tasks.forecasting import config as forecast_config
from tasks.forecasting.config import ForecastConfig
from tasks.forecasting.records import ModelResult, ScoredForecasts, SeriesRef
from tasks.forecasting.steps.data import run_logger, series_arrays, typed_forecasts, typed_scores
from tasks.tracking import runs
from tasks.tracking.runs import RunContext


def recipe_configs(cfg: ForecastConfig, series: SeriesRef, season_length: int) -> dict[str, tuple[str, ForecastConfig]]:
    """Every network a run trains, by its forecaster name: ``(cell, its config)``.

    ``model.recipe = manual``: each cell of ``model.cells`` with the settings as given. ``auto``: the
    family of :func:`tasks.forecasting.choice.recipes`, each a copy of the config with its own size
    and preprocessing (log only when every value the networks train on is > 0: :func:`choice.log_allowed`),
    trained with :data:`choice.LOSS` unless ``train.loss`` is set.
    """
    if cfg.model.recipe != "auto":
        return {cell: (cell, cfg) for cell in cfg.model.cells}
    arrays = series_arrays(series)
    lookback = forecast_config.auto_lookback(cfg, min(values.size for _, values in arrays.values()))
    if lookback is None:
        run_logger().warning(
            "model.recipe = auto: series %r has %d steps, too short for a network's windows at every origin "
            "(window.lookback down to 4); choosing among the statistical forecasters only",
            series.shortest_series, series.shortest_length)
        return {}
    if lookback != cfg.window.lookback:
        run_logger().info("model.recipe = auto: window.lookback %d does not fit series %r (%d steps) at every "
                          "origin; the networks look back %d steps", cfg.window.lookback, series.shortest_series,
                          series.shortest_length, lookback)
    positive = choice.log_allowed({sid: values for sid, (_, values) in arrays.items()}, cfg.window.horizon)
    family = choice.recipes(cfg.model.cells, cfg.model.units, season_length, lookback, positive)
    w = cfg.window.model_copy(update={"lookback": lookback})
    n_windows = sum(max(0, values.size - w.lookback - w.horizon) // w.stride for _, values in arrays.values())
    # train.loss as the user set it; unset, the loss auto chooses by (choice.LOSS).
    loss = cfg.train.loss if "loss" in cfg.train.model_fields_set else choice.LOSS
    train = cfg.train.model_copy(update={"batch_size": choice.batch_size(n_windows), "loss": loss})
    return {r.label: (r.cell, cfg.model_copy(update={
        "window": w,
        "train": train,
        "model": cfg.model.model_copy(update={"cells": (r.cell,), "units": r.units}),
        "preprocess": cfg.preprocess.model_copy(update={"deseasonalise": r.deseasonalise, "log": r.log,
                                                         "level": r.level}),
    })) for r in family}


def resolve_inner_folds(cfg: ForecastConfig, series: SeriesRef) -> ForecastConfig:
    """``evaluate.inner_folds = auto`` made a number on the ingested series (:func:`config.resolve_inner_folds`), and said."""
    resolved = forecast_config.resolve_inner_folds(cfg, series.shortest_length)
    if resolved is not cfg:
        run_logger().info("model.recipe = auto: evaluate.inner_folds = auto chooses on %d inner folds before each "
                          "held-out horizon (series %r, the shortest, has %d steps)", resolved.evaluate.inner_folds,
                          series.shortest_series, series.shortest_length)
    return resolved


def baselines_to_run(cfg: ForecastConfig) -> tuple[str, ...]:
    """The statistical forecasters backtested: the configured baselines, and under auto its candidates too."""
    if cfg.model.recipe != "auto":
        return cfg.evaluate.baselines
    return cfg.evaluate.baselines + tuple(n for n in choice.STATISTICAL if n not in cfg.evaluate.baselines)


@task(name="choose-on-inner-folds", cache_policy=NO_CACHE, persist_result=False)
def choose_auto(results: list[ModelResult], baselines: ScoredForecasts, series: SeriesRef, cfg: ForecastConfig,
                season_length: int, ctx: RunContext) -> tuple[ModelResult, dict]:
    """Choose and combine the candidates on the inner folds; forecast and score the held-out folds.

    Returns:
        The forecaster ``auto`` as a scored model (no network of its own: ``model_uri`` None; its
        interval's half-widths at the latest fold), and what is served
        (:func:`tasks.forecasting.choice.served_plan`).
    """
    if not isinstance(cfg.evaluate.inner_folds, int):
        raise ValueError("evaluate.inner_folds = 'auto' must be resolved on the series first (resolve_inner_folds)")
    ok = [r for r in results if r.ok]
    forecasts = pd.concat([storage.read_frame(Path(baselines.forecasts_path))]
                          + [storage.read_frame(Path(r.forecasts_path)) for r in ok], ignore_index=True)
    arrays = series_arrays(series)
    networks = tuple(r.cell for r in ok)
    candidates = networks + tuple(n for n in choice.STATISTICAL if n in set(forecasts["model"]))
    run_id = runs.start_run(ctx.experiment_id, f"{choice.AUTO} · {ingest.subject(cfg.source)}",
                            {**ctx.tag_dict, "cell": choice.AUTO}, parent_run_id=ctx.parent_run_id)
    try:
        runs.log_params(run_id, {"forecaster": choice.AUTO, "candidates": ",".join(candidates), **flatten(cfg)})
        chosen = choice.choose(forecasts, arrays, candidates, networks, cfg.evaluate.folds, cfg.evaluate.inner_folds,
                               cfg.window.horizon, season_length, cfg.evaluate.interval_level)
        plan = choice.served_plan(chosen)
        out = typed_forecasts(chosen.forecasts)
        scores = typed_scores(panel.score_forecasts(out, arrays, season_length))
        forecasts_path = storage.write_frame(out, paths.intermediate_path("model-forecasts", run_id))
        scores_path = storage.write_frame(scores, paths.intermediate_path("model-scores", run_id))
        table_path = storage.write_frame(chosen.table, paths.intermediate_path("auto-choice", run_id))
        means = scores.groupby("fold")[list(metrics.METRICS)].mean()
        found = {("" if fold == 0 else f"fold{fold}.") + k: float(v)
                 for fold, row in means.iterrows() for k, v in row.items()}
        found["test_rmse"], found["test_mae"] = found["rmse"], found["mae"]
        banded = intervals.interval_scores(out, arrays, season_length, cfg.evaluate.interval_level)
        found.update({("" if fold == 0 else f"fold{fold}.") + k: v for fold, row in banded.items() for k, v in row.items()})
        if cfg.evaluate.folds > 1:
            found.update({f"backtest_{k}": float(means[k].mean()) for k in metrics.METRICS})
            found.update({f"backtest_{k}": float(np.mean([row[k] for row in banded.values()])) for k in intervals.METRICS})
        found.update({f"inner.{rule}.mase": v for rule, v in chosen.rule_scores[0].items()})
        runs.log_metrics(run_id, found)
        runs.log_file(run_id, table_path, "choice")
        runs.log_dict(run_id, {**_summary(chosen, cfg), "served": plan}, "choice.json")
        runs.log_dict(run_id, {"level": cfg.evaluate.interval_level, "scale": "in-sample seasonal-naive MAE",
                               "calibrated_on": "the chosen rule's cross-fitted errors on the inner folds",
                               "folds": {str(f): {"half_widths": q.tolist(), "n_calibration": chosen.n_calibration[f].tolist()}
                                         for f, q in chosen.half_widths.items()}}, "intervals.json")
        runs.set_tags(run_id, {"rule": chosen.rules[0], "best_network": chosen.network or "none",
                               "chosen_on": f"{cfg.evaluate.inner_folds} inner folds before each held-out horizon"})
    except BaseException as exc:
        runs.end_run(run_id, failed=True, reason=f"{type(exc).__name__}: {exc}")
        raise
    runs.end_run(run_id)
    return (ModelResult(choice.AUTO, run_id, None, None, None, found, None, str(forecasts_path), str(scores_path),
                        tuple(float(q) for q in chosen.half_widths[0]),
                        tuple(int(n) for n in chosen.n_calibration[0])), plan)


def _summary(chosen: choice.Choice, cfg: ForecastConfig) -> dict:
    """What was chosen, per held-out fold: the rule, its pooled inner score beside the others', and per series the members."""
    members = chosen.table[chosen.table["weight"] > 0]
    return {
        "inner_folds": cfg.evaluate.inner_folds,
        "rules": {str(f): {"chosen": r, "inner_mase": chosen.rule_scores[f]} for f, r in chosen.rules.items()},
        "best_network": chosen.network,
        "members": {f"{sid}/fold-{fold}": {str(row.candidate): round(float(row.weight), 6) for row in part.itertuples()}
                    for (sid, fold), part in members.groupby(["series_id", "fold"], sort=True)},
    }


def served_auto(result: ModelResult, models: tuple[ModelResult, ...], plan: dict, network_cfgs: dict[str, ForecastConfig],
                cfg: ForecastConfig, series: SeriesRef, season_length: int, **provenance: str) -> tuple[list[Path], dict]:
    """The networks a served auto model carries (the latest origin's, of the recipes its plan reads) and its bundle.

    Args:
        result: the forecaster ``auto`` (its interval's half-widths).
        models: every trained network's result (its model files and interval).
        plan: :func:`tasks.forecasting.choice.served_plan`.
        network_cfgs: recipe label -> its config.
        provenance: where the model comes from, for the bundle.

    Returns:
        ``(keras files, bundle)``: the files in the order of their ``keras_model_<k>`` artifacts.
    """
    from tasks.forecasting import serving, served_choice
    from tasks.forecasting.steps.models import Unit

    by_name = {r.cell: r for r in models if r.ok and r.model_path is not None}
    files: list[Path] = []
    networks = {}
    for name in served_choice.networks_used(plan, tuple(by_name)):
        net, net_cfg = by_name[name], network_cfgs[name]
        folder = Path(net.model_path).parent
        start = len(files)
        files += [folder / Unit(0, member, 0, None).file(name) for member in range(net_cfg.model.ensemble)]
        spec = serving.make_bundle(net_cfg.model_dump(mode="json"), net_cfg.model.cells[0], series.frequency,
                                   season_length, np.asarray(net.half_widths), np.asarray(net.n_calibration))
        networks[name] = {**spec, "members": list(range(start, len(files)))}
    bundle = served_choice.make_bundle(cfg.model_dump(mode="json"), plan, networks, series.frequency, season_length,
                                       np.asarray(result.half_widths), np.asarray(result.n_calibration), **provenance)
    return files, bundle
