"""Compare forecasters on held-out horizons: M4 aggregates per fold, tables, and which series to plot.

Everything here works on the long frames :mod:`.backtest` and :mod:`.panel` produce: forecasts
(``series_id, model, fold, origin, timestamp, horizon_step, yhat, y``) and per-series scores
(``series_id, model, fold, origin, mae, rmse, mape, smape, mase``), for models and baselines alike.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd

from tasks.forecasting.metrics import METRICS, has_scale, seasonal_naive_scale, summarize
from tasks.forecasting.records import FoldScore, UnscaledSeries

# lower/upper: a model's prediction interval (tasks.forecasting.intervals); NaN for the baselines.
OUTPUT_COLUMNS = ("series_id", "timestamp", "model", "fold", "horizon_step", "yhat", "lower", "upper", "y")
HEADLINE = ("mase", "smape", "owa", "rmse", "mae", "mape")


def fold_scores(scores: pd.DataFrame, kinds: Mapping[str, str]) -> tuple[FoldScore, ...]:
    """Aggregate per-series scores as M4 does, per forecaster and fold (OWA relative to ``naive2``).

    Args:
        scores: per-series rows of every forecaster and fold.
        kinds: forecaster name to ``"model"`` or ``"baseline"``.

    Returns:
        One :class:`FoldScore` per forecaster and fold, by fold, then MASE (best first).
    """
    summary = summarize(scores, by=("model", "fold"))
    summary = summary.sort_values(["fold", "mase"], kind="stable")
    return tuple(
        FoldScore(
            forecaster=str(row["model"]), kind=kinds.get(str(row["model"]), "baseline"), fold=int(row["fold"]),
            n_series=int(row["n_series"]), mase=float(row["mase"]), smape=float(row["smape"]),
            owa=float(row["owa"]), rmse=float(row["rmse"]), mae=float(row["mae"]), mape=float(row["mape"]),
        )
        for _, row in summary.iterrows()
    )


def headline_metrics(backtest: tuple[FoldScore, ...], forecaster: str) -> dict[str, float]:
    """A forecaster's metrics at the latest origin (fold 0), with ``test_rmse``/``test_mae`` aliases.

    With several folds, ``backtest_<metric>`` adds the mean over folds.
    """
    rows = [f for f in backtest if f.forecaster == forecaster]
    latest = next(f for f in rows if f.fold == 0)
    out = {k: float(getattr(latest, k)) for k in HEADLINE}
    out["test_rmse"], out["test_mae"] = out["rmse"], out["mae"]
    if len(rows) > 1:
        for k in HEADLINE:
            out[f"backtest_{k}"] = float(np.mean([getattr(f, k) for f in rows]))
    return out


def unscaled_series(scores: pd.DataFrame, series: Mapping[str, tuple[np.ndarray, np.ndarray]],
                    season_length: int) -> tuple[UnscaledSeries, ...]:
    """Find the series that have no MASE scale before an origin they were scored at, and say why.

    Such a series (constant, or repeating itself exactly every season) has NaN MASE and MSIS and
    no interval; the run reports it rather than failing or hiding it.

    Args:
        scores: per-series rows (``series_id, fold, origin`` at least) of any forecasters.
        series: id to ``(timestamps (time,), values (time,))``.
        season_length: ``m`` of the scale.

    Returns:
        One record per such series, by id; its folds latest first.
    """
    found: dict[str, list[tuple[int, int, str]]] = {}
    keys = scores[["series_id", "fold", "origin"]].drop_duplicates()
    for sid, fold, origin in sorted(keys.itertuples(index=False), key=lambda k: (str(k[0]), int(k[1]))):
        insample = np.asarray(series[str(sid)][1][: int(origin)], dtype=np.float64)
        if has_scale(seasonal_naive_scale(insample, season_length)):
            continue
        lag = season_length if insample.size > season_length else 1
        reason = ("its values before the origin are constant" if np.ptp(insample) == 0
                  else f"its values before the origin repeat exactly every {lag} steps")
        found.setdefault(str(sid), []).append((int(fold), int(origin), reason))
    return tuple(UnscaledSeries(sid, tuple(f for f, _, _ in rows), tuple(o for _, o, _ in rows), rows[0][2])
                 for sid, rows in found.items())


def score_table(scores: pd.DataFrame, forecaster: str, fold: int) -> tuple[dict, str]:
    """One forecaster's per-series scores at one fold, as a JSON-ready dict and a Markdown table.

    The last row is the mean over series (M4's aggregate).
    """
    part = scores[(scores["model"] == forecaster) & (scores["fold"] == fold)].sort_values("series_id")
    rows = [{"series_id": str(r["series_id"]), "origin": int(r["origin"]), **{m: float(r[m]) for m in METRICS}}
            for _, r in part.iterrows()]
    mean = {m: float(part[m].mean()) for m in METRICS}
    data = {"forecaster": forecaster, "fold": fold, "n_series": len(rows), "mean": mean, "series": rows}
    lines = [f"# {forecaster}, fold {fold} ({len(rows)} series)", "",
             "| series | origin | " + " | ".join(METRICS) + " |", "|---|---:|" + "---:|" * len(METRICS)]
    for r in rows:
        lines.append(f"| {r['series_id']} | {r['origin']} | " + " | ".join(_fmt(r[m]) for m in METRICS) + " |")
    lines.append("| **mean** | | " + " | ".join(_fmt(mean[m]) for m in METRICS) + " |")
    return data, "\n".join(lines) + "\n"


def _fmt(value: float) -> str:
    return "nan" if not math.isfinite(value) else f"{value:.4g}"


def series_to_plot(scores: pd.DataFrame, forecaster: str, n: int) -> list[tuple[str, str]]:
    """Pick the series to plot: the first ``n`` by id and the worst ``n`` by the forecaster's MASE (fold 0).

    Returns:
        ``(label, series_id)`` pairs, e.g. ``("first-1", "H1")``, ``("worst-1", "H77")``; a series
        is plotted once even when it is both.
    """
    part = scores[(scores["model"] == forecaster) & (scores["fold"] == 0)]
    ids = sorted(part["series_id"].astype(str).unique())
    picked: list[tuple[str, str]] = [(f"first-{i + 1}", sid) for i, sid in enumerate(ids[:n])]
    seen = {sid for _, sid in picked}
    mase = part.assign(_m=part["mase"].fillna(np.inf)).sort_values("_m", ascending=False, kind="stable")
    worst = [str(s) for s in mase["series_id"] if str(s) not in seen][:n]
    picked += [(f"worst-{i + 1}", sid) for i, sid in enumerate(worst)]
    return picked


def output_frame(forecasts: pd.DataFrame) -> pd.DataFrame:
    """The forecast output layout: ``series_id, timestamp, model, fold, horizon_step, yhat, lower, upper, y``."""
    return forecasts.reindex(columns=list(OUTPUT_COLUMNS)).sort_values(
        ["series_id", "model", "fold", "horizon_step"], kind="stable", ignore_index=True)


def history_window(n_before: int, season_length: int, horizon: int) -> int:
    """How many steps before the origin a series plot shows: four seasons or three horizons, at most 500."""
    return int(min(n_before, max(4 * season_length, 3 * horizon, 24), 500))


def fresh_holdout(frame: pd.DataFrame, horizon: int) -> tuple[pd.DataFrame, dict[str, tuple[np.ndarray, np.ndarray]]]:
    """Cut every series' newest ``horizon`` steps off: the history a served model reads, and the truth.

    Args:
        frame: ``series_id, timestamp, value`` rows, by series then time.
        horizon: steps held out at the end of each series.

    Returns:
        The history rows (every series less its last ``horizon`` steps) and, per series, its
        ``(history values (n - horizon,), truth (horizon,))``.
    """
    parts, truth = [], {}
    for sid, part in frame.groupby("series_id", sort=True):
        values = part["value"].to_numpy(dtype=np.float64)
        parts.append(part.iloc[: len(part) - horizon])
        truth[str(sid)] = (values[: len(values) - horizon], values[len(values) - horizon:])
    return pd.concat(parts, ignore_index=True), truth


def score_served_forecast(forecast: pd.DataFrame, truth: Mapping[str, tuple[np.ndarray, np.ndarray]],
                          season_length: int, level: float) -> dict[str, float]:
    """Score a served model's forecast table on held-out truth: M4 metrics and interval scores, means over series.

    Args:
        forecast: ``series_id, timestamp, yhat, lower, upper`` rows (what ``seqflow predict`` returns).
        truth: per series, ``(history values, truth (horizon,))`` from :func:`fresh_holdout`; a
            forecast longer than the truth is cut to it.
        season_length: ``m`` of MASE and MSIS.
        level: the intervals' nominal coverage (MSIS's ``a = 1 - level``).

    Returns:
        ``mase, smape, rmse, mae, mape, coverage, msis`` (means over series) and ``n_series``.
    """
    from tasks.forecasting.intervals import coverage, msis
    from tasks.forecasting.metrics import score_forecast

    rows, hits = [], []
    for sid, part in forecast.groupby("series_id", sort=True):
        if str(sid) not in truth:
            continue
        history, y = truth[str(sid)]
        part = part.sort_values("timestamp").iloc[: len(y)]
        y = y[: len(part)]
        scores = score_forecast(y, part["yhat"].to_numpy(), history, season_length)
        scores["msis"] = msis(y, part["lower"].to_numpy(), part["upper"].to_numpy(), history, season_length, 1 - level)
        rows.append(scores)
        hits.append(coverage(y, part["lower"].to_numpy(), part["upper"].to_numpy()))
    if not rows:
        return {k: math.nan for k in (*METRICS, "coverage", "msis")} | {"n_series": 0.0}
    table = pd.DataFrame(rows)
    out = {k: float(table[k].mean()) for k in (*METRICS, "msis")}
    return {**out, "coverage": float(np.mean(hits)), "n_series": float(len(rows))}
