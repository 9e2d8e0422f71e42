"""Prefect tasks of the forecasting flow's verdict: every forecaster compared on the same held-out
horizons, the tables and plots logged, and the best model served and registered.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
from prefect import task
from prefect.cache_policies import NO_CACHE

from tasks import paths, storage
from tasks.forecasting import backtest, holdout, ingest, intervals, serving
from tasks.forecasting.config import ForecastConfig
from tasks.forecasting.records import (
    BaselineScore,
    HoldoutComparison,
    ModelResult,
    ScoredForecasts,
    SeriesRef,
    ServedModel,
    UnscaledSeries,
)
from tasks.forecasting.steps.auto import baselines_to_run, served_auto
from tasks.forecasting.steps.data import run_logger, series_arrays
from tasks.forecasting.steps.models import Unit
from tasks.runtime import release_memory
from tasks.tracking import models as tracked_models
from tasks.tracking import runs
from tasks.tracking.runs import RunContext


@task(name="compare-forecasters", cache_policy=NO_CACHE, persist_result=False)
def compare_holdout(
    results: list[ModelResult],
    baselines: ScoredForecasts,
    series: SeriesRef,
    cfg: ForecastConfig,
    ctx: RunContext,
    served: str | None = None,
) -> HoldoutComparison:
    """Aggregate every forecaster as M4 does, rank by MASE, and log the tables, forecasts and plots.

    On the parent run: each forecaster's metrics at the latest origin (and means over origins), one
    table per forecaster and fold (``tables/<forecaster>/fold-<k>.md``), ``backtest.json``,
    ``ranking.json``, the forecast output (``forecasts/<run id>.parquet``), the per-series scores
    (``scores/<run id>.parquet``) and the per-series plots. A series without a MASE scale is
    reported (:func:`_report_unscaled`), never a reason to fail.
    """
    from tasks.forecasting.ranking import rank_forecasters as rank

    ok = [r for r in results if r.ok]
    frames = [storage.read_frame(Path(baselines.forecasts_path))] + [storage.read_frame(Path(r.forecasts_path)) for r in ok]
    score_frames = [storage.read_frame(Path(baselines.scores_path))] + [storage.read_frame(Path(r.scores_path)) for r in ok]
    # Only the held-out folds are compared: model.recipe = auto's inner folds were its choice's.
    forecasts = pd.concat([f[f["fold"] < cfg.evaluate.folds] for f in frames if len(f)], ignore_index=True)
    scores = pd.concat([f[f["fold"] < cfg.evaluate.folds] for f in score_frames if len(f)], ignore_index=True)
    shown = baselines_to_run(cfg)  # under auto, its statistical candidates too
    kinds = {**{name: "baseline" for name in shown}, **{r.cell: "model" for r in ok}}
    fold_table = holdout.fold_scores(scores, kinds)
    models = tuple(
        dataclasses.replace(r, metrics={**r.metrics, **holdout.headline_metrics(fold_table, r.cell)}) if r.ok else r
        for r in results
    )
    base = tuple(BaselineScore(name, holdout.headline_metrics(fold_table, name)) for name in shown)
    networks = [r for r in ok if r.model_uri is not None or r.model_path is not None]
    ranking = rank(models, base, "auto" if cfg.model.recipe == "auto" else
                   (networks[0].cell if len(cfg.model.cells) == 1 and networks else None))

    parent = ctx.parent_run_id
    out_path = storage.write_frame(holdout.output_frame(forecasts), paths.intermediate_path("forecasts", parent))
    scores_path = storage.write_frame(scores, paths.intermediate_path("scores", parent))
    runs.log_file(parent, out_path, "forecasts")
    runs.log_file(parent, scores_path, "scores")
    runs.set_tags(parent, {**runs.internal({"forecasts_path": str(out_path), "scores_path": str(scores_path)}),
                           "ranked_by": "mase"})
    best_model = next((row.forecaster for row in ranking if row.kind == "model"), None)
    best_baseline = next((row.forecaster for row in ranking if row.kind == "baseline"), None)
    named = {**{r.cell: _parent_metrics(r.metrics) for r in models if r.ok},
             **{b.name: _parent_metrics(b.metrics) for b in base}}
    # The parent's headline is what was chosen before the test (auto, a manual run's only model), else
    # the best-ranked model.
    headline = next((row.forecaster for row in ranking if row.chosen), best_model)
    runs.log_ranked(parent, named.get(headline, {}), named)
    for name in kinds:
        for fold in range(cfg.evaluate.folds):
            _, text = holdout.score_table(scores, name, fold)
            runs.log_text(parent, text, f"tables/{name}/fold-{fold}.md")
    runs.log_dict(parent, {"backtest": [dataclasses.asdict(f) for f in fold_table]}, "backtest.json")
    runs.log_dict(parent, {"ranked_by": "mase", "ranking": [dataclasses.asdict(r) for r in ranking]}, "ranking.json")
    # The same two tables as MLflow renders them (the run's Artifacts tab shows a sortable grid).
    runs.log_table(parent, pd.DataFrame([dataclasses.asdict(r) for r in ranking]), "ranking_table.json")
    runs.log_table(parent, pd.DataFrame([dataclasses.asdict(f) for f in fold_table]), "backtest_table.json")
    season = cfg.evaluate.season_length or series.season_length
    unscaled = holdout.unscaled_series(scores, series_arrays(series), season)
    release_memory()  # every series was read: its heap back before the plots and the served model
    _report_unscaled(parent, unscaled)
    failed = [r for r in results if not r.ok]
    if failed:
        runs.set_tags(parent, {f"failed.{r.cell}": r.failure or "" for r in failed})
    if best_model is not None:
        best = next(r for r in ok if r.cell == best_model)
        runs.set_tags(parent, {"best_model": best_model, **runs.internal({"best_model_run_id": best.run_id})})
        if best.model_id:
            tracked_models.link_model(parent, best.model_id)
    # What is served: auto itself (its choice made on the inner folds); a manual run's best-ranked network.
    served = served if cfg.model.recipe == "auto" else best_model
    if served is not None:
        runs.set_tags(parent, {"chosen_before_test": "auto" if cfg.model.recipe == "auto" else
                               ("yes" if len(cfg.model.cells) == 1 else "no: the best of several cells by test MASE")})
    lead = "auto" if cfg.model.recipe == "auto" and "auto" in kinds else best_model
    _log_series_plots(parent, forecasts, scores, series, lead, best_baseline, cfg)
    return HoldoutComparison(models, base, ranking, fold_table, str(out_path), str(scores_path), unscaled, served)


def _parent_metrics(metrics: dict[str, float]) -> dict[str, float]:
    """The metrics a parent run keeps of one forecaster: the headline, the intervals' and the backtest means."""
    return {k: v for k, v in metrics.items()
            if k in holdout.HEADLINE or k in intervals.METRICS or k.startswith("backtest_")}


# MLflow keeps a tag value of at most 8,000 characters; the full list goes to unscaled_series.json.
_TAG_CHARS = 4000


def _report_unscaled(parent: str, unscaled: tuple[UnscaledSeries, ...]) -> None:
    """Say which series had no MASE scale: a warning each, and on the parent run a tag, a metric and a file."""
    runs.log_metrics(parent, {"n_unscaled_series": len(unscaled)})
    if not unscaled:
        return
    log = run_logger()
    for record in unscaled:
        log.warning("not scaled: %s", record.message)
    ids = ",".join(record.series_id for record in unscaled)
    if len(ids) > _TAG_CHARS:
        ids = ids[:_TAG_CHARS].rsplit(",", 1)[0] + ",... (see unscaled_series.json)"
    runs.set_tags(parent, {"unscaled_series": ids})
    runs.log_dict(parent, {"unscaled_series": [dataclasses.asdict(r) | {"message": r.message} for r in unscaled]},
                  "unscaled_series.json")


LOCAL_NOT_SERVED = ("no served model: model.scope = local trains one set of networks per series; only global "
                    "models are registered")


@task(name="serve-best-model", cache_policy=NO_CACHE, persist_result=False)
def serve_best_model(compared: HoldoutComparison, series: SeriesRef, cfg: ForecastConfig, season_length: int,
                     ctx: RunContext, served_cfg: ForecastConfig | None = None, plan: dict | None = None,
                     network_cfgs: dict[str, ForecastConfig] | None = None) -> ServedModel | None:
    """Log the served model as a servable forecaster on the parent run; register it as ``candidate``.

    Under ``model.recipe = auto`` that is the forecaster ``auto`` itself: its ``plan``
    (:func:`tasks.forecasting.choice.served_plan`), the networks of the recipes it reads (their
    configs in ``network_cfgs``) and the statistical members refitted on each history
    (:mod:`tasks.forecasting.served_choice`). Otherwise the best-ranked network: the forecaster maps a history table to the forecast table with intervals
    (:func:`tasks.forecasting.serving.forecast_frame`): it carries every ensemble member of the latest
    origin (``keras_model_0`` .. ``keras_model_{n-1}``) and forecasts with their median, through the
    same preprocessing as the flow; its settings travel as ``bundle.json``. A ``model.scope = local``
    model is not served (one set of networks per series; said in the log and the parent run's tag
    ``served_model_skipped``). Nothing is logged when models are not logged (``tracking.log_models =
    false``) or when no model was ranked; nothing is registered when ``tracking.registered_model`` is off.
    """
    from tasks.nets import cells
    from tasks.tracking import registry

    best = compared.served
    if not cfg.tracking.log_models or best is None:
        return None
    if cfg.model.scope == "local":
        # One network set per series: not served (a served model maps any history through one set).
        # Said in the log and on the parent run; the per-series networks stay in the model's run.
        reason = LOCAL_NOT_SERVED
        run_logger().warning(reason)
        runs.set_tags(ctx.parent_run_id, {"served_model": "none", "served_model_skipped": reason})
        return None
    result = next(r for r in compared.models if r.cell == best)
    provenance = {"parent_run_id": ctx.parent_run_id, "model_run_id": result.run_id,
                  "data_content_hash": series.content_hash}
    if plan is not None:
        from tasks.forecasting import served_choice

        members, bundle = served_auto(result, compared.models, plan, network_cfgs or {}, cfg, series, season_length,
                                      **provenance)
        module, extra = served_choice.__name__, ("statsmodels", "scipy")
    else:
        model_dir = Path(result.model_path).parent
        members = [model_dir / Unit(0, member, 0, None).file(best) for member in range(cfg.model.ensemble)]
        bundle = serving.make_bundle(
            (served_cfg or cfg).model_dump(mode="json"), best, series.frequency, season_length,
            np.asarray(result.half_widths), np.asarray(result.n_calibration), **provenance)
        module, extra = serving.__name__, ()
    first_id = storage.read_head(Path(series.path), 1)["series_id"].iloc[0]  # the example: the first series' tail
    first = storage.read_frame(Path(series.path), filters=[("series_id", "==", first_id)])
    example = first.tail(bundle["min_history"]).reset_index(drop=True)
    model_uri, model_id = tracked_models.log_forecaster_model(
        ctx.parent_run_id, f"forecaster-{ingest.subject(cfg.source)}", members, bundle,
        module, [cells.__name__], example, serving.HISTORY_COLUMNS, serving.FORECAST_COLUMNS, extra)
    runs.set_tags(ctx.parent_run_id, {"served_model": best, **runs.internal({"served_model_uri": model_uri})})
    name = cfg.registered_name
    if name is None:
        return ServedModel(best, model_uri, model_id)
    alias = "candidate"
    version = registry.register(model_uri, name, alias, _version_tags(cfg, series, result, ctx),
                                _version_description(cfg, series, result, best))
    runs.set_tags(ctx.parent_run_id, {"registered_model": name, "registered_version": version})
    return ServedModel(best, model_uri, model_id, name, version, alias, registry.model_version_uri(name, alias))


@task(name="score-served-models", cache_policy=NO_CACHE, persist_result=False)
def score_served_models(series: SeriesRef, model_uris: dict[str, str], horizon: int, season_length: int,
                        level: float) -> dict[str, dict[str, float]]:
    """Score registered forecasters on the same fresh holdout: every series' newest ``horizon`` steps.

    Each model reads every series less those steps (as ``seqflow predict`` would) and is scored on
    them with the M4 metrics and its intervals; a model that cannot forecast that history (its
    lookback or frequency does not fit) scores NaN, which a gate never prefers.

    Args:
        series: the fresh data.
        model_uris: label (e.g. ``challenger``) to ``models:/NAME/VERSION``.
        horizon: steps held out.
        season_length: ``m`` of MASE and MSIS.
        level: the intervals' nominal coverage.
    """
    from tasks.errors import InputError

    history, truth = holdout.fresh_holdout(storage.read_frame(Path(series.path)), horizon)
    out = {}
    for label, uri in model_uris.items():
        try:
            model, _ = tracked_models.load_forecaster(uri)
            forecast = tracked_models.predict_table(model, history)
        except InputError as exc:
            run_logger().warning("%s (%s) cannot forecast the fresh history: %s", label, uri, exc)
            out[label] = holdout.score_served_forecast(history.iloc[:0].assign(
                yhat=[], lower=[], upper=[]), truth, season_length, level)
            continue
        out[label] = holdout.score_served_forecast(forecast, truth, season_length, level)
    return out


def _version_tags(cfg: ForecastConfig, series: SeriesRef, result: ModelResult, ctx: RunContext) -> dict[str, str]:
    """What a registered version is: its data, config, code and its scores on the held-out horizon."""
    from tasks.caching import content_key

    scores = {f"holdout_{k}": f"{result.metrics[k]:.6g}" for k in ("mase", "smape", "owa", "coverage", "msis")
              if k in result.metrics}
    tags = {"subject": ingest.subject(cfg.source), "data_content_hash": series.content_hash,
            "config_hash": content_key(cfg.model_dump(mode="json")), "horizon": str(cfg.window.horizon),
            "frequency": series.frequency, "n_series": str(series.n_series), "cell": result.cell,
            "parent_run_id": ctx.parent_run_id, **scores}
    return {**tags, **{k: v for k, v in ctx.tag_dict.items() if k == "git_commit"}}


def _version_description(cfg: ForecastConfig, series: SeriesRef, result: ModelResult, best: str) -> str:
    what = "1 series" if series.n_series == 1 else f"{series.n_series} series"
    mase = result.metrics.get("mase")
    said = f"; MASE {mase:.3f} on the last {cfg.window.horizon} steps held out" if mase is not None else ""
    return (f"{best} forecaster of {ingest.subject(cfg.source)} ({what}, {series.frequency}), "
            f"{cfg.window.horizon} steps ahead with intervals{said}.")


def _log_series_plots(parent: str, forecasts: pd.DataFrame, scores: pd.DataFrame, series: SeriesRef,
                      best_model: str | None, best_baseline: str | None, cfg: ForecastConfig) -> None:
    """One plot per picked series at the latest origin: history, truth, best model, best baseline."""
    from tasks.forecasting import plots

    lead = best_model or best_baseline
    if lead is None or cfg.evaluate.plot_series == 0:
        return
    picked = holdout.series_to_plot(scores, lead, cfg.evaluate.plot_series)
    if not picked:
        return
    # Only the plotted series are read (a filter on the stored file), not every series.
    arrays = backtest.series_arrays(storage.read_frame(Path(series.path), ["series_id", "timestamp", "value"],
                                                       filters=[("series_id", "in", sorted({sid for _, sid in picked}))]))
    latest = forecasts[forecasts["fold"] == 0]
    season = cfg.evaluate.season_length or series.season_length
    for label, sid in picked:
        stamps, values = arrays[sid]
        part = latest[latest["series_id"] == sid]
        origin = int(part["origin"].iloc[0])
        shown = holdout.history_window(origin, season, cfg.window.horizon)
        lines, band, band_label = {}, None, ""
        for name, kind in ((best_model, "best model"), (best_baseline, "best baseline")):
            rows = part[part["model"] == name].sort_values("horizon_step")
            if name is not None and len(rows):
                lines[f"{name} ({kind})"] = rows["yhat"].to_numpy()
                if band is None and {"lower", "upper"} <= set(rows) and rows[["lower", "upper"]].notna().all(axis=None):
                    band = (rows["lower"].to_numpy(), rows["upper"].to_numpy())
                    band_label = f"{name} {cfg.evaluate.interval_level:.0%} interval"
        latest_scores = scores[(scores["fold"] == 0) & (scores["series_id"] == sid)].set_index("model")["mase"]
        said = "; ".join(f"{name} MASE {float(latest_scores[name]):.3f}"
                         for name in (best_model, best_baseline) if name in latest_scores.index)
        title = f"{sid}: last {cfg.window.horizon} steps held out; {said}"
        fig = plots.series_forecast_figure(
            stamps[origin - shown : origin], values[origin - shown : origin],
            stamps[origin : origin + cfg.window.horizon], values[origin : origin + cfg.window.horizon], lines, title,
            band, band_label,
        )
        runs.log_figure(parent, fig, f"plots/series/{label}.png")
        if label == picked[0][0]:  # at the artifact root too: MLflow's compare view shows root files side by side
            runs.log_figure(parent, fig, "forecast.png")
        plots.close(fig)
    runs.log_dict(parent, {label: sid for label, sid in picked}, "plots/series/index.json")
