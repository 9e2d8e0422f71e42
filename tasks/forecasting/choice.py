"""``model.recipe = auto``: every choice made by backtests inside the training part, never by the test part.

Every candidate (a small family of recurrent recipes and the statistical forecasters) is backtested
at ``evaluate.folds`` held-out origins and, before the earliest of them, at ``evaluate.inner_folds``
more (``ForecastConfig.total_folds``). For held-out fold ``k`` of a series, the *inner folds* are the
``inner_folds`` latest folds whose test parts end at or before fold ``k``'s origin: everything the
choice for fold ``k`` reads lies in fold ``k``'s training part, so rewriting the values held out at
fold ``k`` cannot change what is chosen, its weights, or its forecast (a test checks it bit for bit).

For each series and held-out fold, the candidates are ranked by their mean MASE over the inner folds
(sMAPE where a series has no MASE scale), and three rules are scored on those folds: the best
candidate alone, the median of the top three, and their inverse-error weighted mean. The rule with the
lowest inner MASE pooled over every series is used, with each series' own top candidates: the M4
competition's lesson is that combinations of recurrent and statistical forecasts win; the inner folds
say whether they win here.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from tasks.forecasting.metrics import score_forecast

# The statistical forecasters auto considers (tasks.forecasting.statistical.baseline_forecasters).
STATISTICAL: tuple[str, ...] = ("seasonal_naive", "naive2", "holt_winters", "holt_winters_damped", "theta")
RULES: tuple[str, ...] = ("best", "median_top3", "weighted_top3")
TOP_K = 3
AUTO = "auto"
CHOICE_COLUMNS = ("series_id", "fold", "origin", "rule", "candidate", "rank", "inner_score", "inner_metric", "weight")


@dataclass(frozen=True)
class Recipe:
    """One recurrent candidate: a cell, its size and the series ↔ model transform it is trained on."""

    label: str  # the forecaster's name in tables and runs, e.g. gru-deseason-log
    cell: str
    units: int
    deseasonalise: str  # off | classical
    log: bool
    level: str  # off | last | seasonal


@dataclass(frozen=True)
class Choice:
    """What the inner backtests chose, per held-out fold."""

    forecasts: pd.DataFrame  # backtest forecast rows of the forecaster "auto" (held-out folds only)
    table: pd.DataFrame  # CHOICE_COLUMNS: per series and held-out fold, every candidate's inner score and weight
    rules: dict[int, str]  # held-out fold -> the rule chosen for it
    rule_scores: dict[int, dict[str, float]]  # held-out fold -> rule -> pooled inner MASE
    network: str | None  # the recurrent recipe with the best pooled inner score at fold 0 (the one served)


def recipes(cells: tuple[str, ...], units: int, season_length: int, lookback: int, positive: bool) -> tuple[Recipe, ...]:
    """The recurrent family auto considers, per cell: small and larger networks, with and without the transforms.

    Args:
        cells: the cells (``model.cells``).
        units: ``model.units``: the larger networks' size; the small ones have a quarter of it (at least 4).
        season_length: ``m``; deseasonalising and the seasonal level need ``m > 1`` (and ``lookback >= m``).
        lookback: ``window.lookback``.
        positive: every value of every series is > 0 (log and multiplicative factors need it).

    Returns:
        Per cell: ``<cell>-level`` (each window minus its last value, no other transform; ``units``),
        and where the data allow, ``<cell>-deseason-log-small`` and ``<cell>-deseason-log``
        (deseasonalised where the season is real, logged, the seasonal level), else ``<cell>-log-small``.
    """
    small = max(4, units // 4)
    seasonal = season_length > 1 and lookback >= season_length
    out = []
    for cell in cells:
        out.append(Recipe(f"{cell}-level", cell, units, "off", False, "last"))
        if positive:
            transform = ("classical", True, "seasonal" if seasonal else "last")
            name = "deseason-log" if season_length > 1 else "log"
            out.append(Recipe(f"{cell}-{name}-small", cell, small, *transform))
            out.append(Recipe(f"{cell}-{name}", cell, units, *transform))
        else:
            out.append(Recipe(f"{cell}-level-small", cell, small, "off", False, "last"))
    return tuple(out)


def batch_size(n_windows: int) -> int:
    """The batch size auto trains with: about 32 gradient steps per epoch, a power of two in [16, 1024].

    One setting cannot fit a single monthly series (~250 windows, where 64 leaves 4 steps an epoch)
    and a panel of hourly series (~35,000 windows, where 64 makes an epoch of 550 steps) alike, so
    under auto the size follows the data (``train.batch_size`` is the manual recipe's).
    """
    target = max(1, n_windows // 32)
    return int(min(max(16, 2 ** round(math.log2(target))), 1024))


def inner_folds(origins: Mapping[int, int], fold: int, horizon: int, k: int) -> list[int]:
    """The ``k`` latest folds whose test parts end at or before ``fold``'s origin.

    Args:
        origins: fold -> origin (the index of its first test step) of one series.
        fold: the held-out fold.
        horizon: steps per test part.
        k: how many.

    Raises:
        ValueError: fewer than ``k`` such folds exist.
    """
    limit = origins[fold]
    before = sorted((f for f, o in origins.items() if o + horizon <= limit), key=lambda f: -origins[f])
    if len(before) < k:
        raise ValueError(f"fold {fold} has {len(before)} folds before it, fewer than the {k} inner folds needed")
    return before[:k]


def _score(y: np.ndarray, yhat: np.ndarray, insample: np.ndarray, m: int) -> tuple[float, float]:
    found = score_forecast(y, yhat, insample, m)
    return float(found["mase"]), float(found["smape"])


def _combine(rule: str, yhats: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Combine ``(n_members, horizon)`` forecasts ranked best first; returns the forecast and the weights."""
    n = min(TOP_K, len(yhats))
    if rule == "best" or n == 1:
        weights = np.zeros(len(yhats))
        weights[0] = 1.0
        return yhats[0], weights
    top = yhats[:n]
    weights = np.zeros(len(yhats))
    if rule == "median_top3":
        weights[:n] = 1.0 / n  # reported as equal shares; the forecast is the median
        return np.median(top, axis=0), weights
    inverse = 1.0 / np.maximum(scores[:n], 1e-12)
    weights[:n] = inverse / inverse.sum()
    return weights[:n] @ top, weights


def choose(
    forecasts: pd.DataFrame,
    series: Mapping[str, tuple[np.ndarray, np.ndarray]],
    candidates: tuple[str, ...],
    networks: tuple[str, ...],
    held_out: int,
    n_inner: int,
    horizon: int,
    season_length: int,
) -> Choice:
    """Choose and combine the candidates per series and held-out fold on the inner folds only.

    Args:
        forecasts: backtest forecast rows (``series_id, model, fold, origin, timestamp, horizon_step,
            yhat, y``) of every candidate at every fold (held-out and inner).
        series: id -> ``(timestamps, values)``: the in-sample scale of MASE at each inner origin.
        candidates: the forecasters to choose among (a network that failed is simply left out).
        networks: which candidates are recurrent recipes (the served one is chosen among them).
        held_out: ``evaluate.folds``: folds ``0 .. held_out - 1`` are only scored.
        n_inner: ``evaluate.inner_folds``.
        horizon: steps per test part.
        season_length: ``m`` of MASE.

    Returns:
        The auto forecasts at the held-out folds and the per-series table of what was chosen.
    """
    rows = forecasts[forecasts["model"].isin(candidates)].sort_values(["series_id", "model", "fold", "horizon_step"])
    # (series, model, fold) -> (horizon,) forecast, and (series, fold) -> (origin, timestamps, truth)
    yhat = {key: part["yhat"].to_numpy(dtype=np.float64)
            for key, part in rows.groupby(["series_id", "model", "fold"], sort=True)}
    truth = {}
    for (sid, fold), part in rows.groupby(["series_id", "fold"], sort=True):
        first = part[part["model"] == part["model"].iloc[0]]
        truth[(sid, int(fold))] = (int(first["origin"].iloc[0]), first["timestamp"].to_numpy(),
                                   first["y"].to_numpy(dtype=np.float64))
    present = sorted({str(m) for m in rows["model"].unique()})
    table_rows: list[dict] = []
    out_parts: list[pd.DataFrame] = []
    rules: dict[int, str] = {}
    rule_scores: dict[int, dict[str, float]] = {}
    network_scores: dict[str, list[float]] = {}
    for fold in range(held_out):
        plans = {}
        pooled = {rule: [] for rule in RULES}
        for sid in sorted({s for s, _ in truth}):
            origins = {f: truth[(s, f)][0] for s, f in truth if s == sid}
            inner = inner_folds(origins, fold, horizon, n_inner)
            values = series[sid][1]
            per = {}
            for name in present:
                got = [_score(truth[(sid, f)][2], yhat[(sid, name, f)], values[: origins[f]], season_length)
                       for f in inner if (sid, name, f) in yhat]
                if len(got) == len(inner) and (sid, name, fold) in yhat:
                    per[name] = got
            if not per:
                raise ValueError(f"series {sid!r}: no candidate forecast every inner fold of held-out fold {fold}")
            # MASE when every candidate has a scale on every inner fold, else sMAPE (a flat history).
            metric = "mase" if all(math.isfinite(s[0]) for got in per.values() for s in got) else "smape"
            index = 0 if metric == "mase" else 1
            ranked = sorted(per, key=lambda name: (float(np.mean([s[index] for s in per[name]])), name))
            scores = np.array([float(np.mean([s[index] for s in per[name]])) for name in ranked])
            if fold == 0:
                for name, score in zip(ranked, scores):
                    if name in networks:
                        network_scores.setdefault(name, []).append(float(score))
            for rule in RULES:
                inner_scores = []
                for f in inner:
                    stack = np.stack([yhat[(sid, name, f)] for name in ranked])
                    combined, _ = _combine(rule, stack, scores)
                    mase, smape = _score(truth[(sid, f)][2], combined, values[: origins[f]], season_length)
                    inner_scores.append(mase if metric == "mase" else smape / 100.0)
                pooled[rule].append(float(np.mean(inner_scores)))
            plans[sid] = (ranked, scores, metric)
        rule_scores[fold] = {rule: float(np.mean(v)) for rule, v in pooled.items()}
        rule = min(RULES, key=lambda r: (rule_scores[fold][r], RULES.index(r)))
        rules[fold] = rule
        for sid, (ranked, scores, metric) in plans.items():
            origin, stamps, y = truth[(sid, fold)]
            combined, weights = _combine(rule, np.stack([yhat[(sid, name, fold)] for name in ranked]), scores)
            out_parts.append(pd.DataFrame({
                "series_id": sid, "model": AUTO, "fold": fold, "origin": origin, "timestamp": stamps,
                "horizon_step": np.arange(1, horizon + 1), "yhat": combined, "y": y}))
            table_rows += [{"series_id": sid, "fold": fold, "origin": origin, "rule": rule, "candidate": name,
                            "rank": r + 1, "inner_score": float(score), "inner_metric": metric, "weight": float(w)}
                           for r, (name, score, w) in enumerate(zip(ranked, scores, weights))]
    network = min(network_scores, key=lambda n: (float(np.mean(network_scores[n])), n)) if network_scores else None
    return Choice(pd.concat(out_parts, ignore_index=True), pd.DataFrame(table_rows, columns=list(CHOICE_COLUMNS)),
                  rules, rule_scores, network)
