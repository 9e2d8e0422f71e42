"""``model.recipe = auto``: every choice made by backtests inside the training part, never by the test part.

Every candidate (a small family of recurrent recipes and the statistical forecasters) is backtested
at ``evaluate.folds`` held-out origins and, before the earliest of them, at ``evaluate.inner_folds``
more (``ForecastConfig.total_folds``). For held-out fold ``k`` of a series, the *inner folds* are the
``inner_folds`` latest folds whose test parts end at or before fold ``k``'s origin: everything the
choice for fold ``k`` reads lies in fold ``k``'s training part, so rewriting the values held out at
fold ``k`` cannot change what is chosen, its weights, or its forecast (a test checks it bit for bit).

For each series and held-out fold, the candidates are ranked by their mean MASE over the inner folds
(sMAPE where a series has no MASE scale). Six rules turn a ranking into a forecast: the best
candidate, the median of the top three and their inverse-error weighted mean, each on the series'
own ranking and on one ranking shared by every series (by mean relative score: a panel's series
lend each other evidence against a noisy pick). Each rule is
scored *cross-fitted* on the inner folds (members chosen on all inner folds but one, scored on that
one), so a rule that picks each series' best is not judged on the folds it picked on; the rule with
the lowest pooled score is used, with members chosen on every inner fold. The M4 competition's lesson
is that combinations of recurrent and statistical forecasts win; the inner folds say whether they win
here.

Its prediction interval is split-conformal on the chosen rule's cross-fitted inner-fold errors (each
scaled by the series' MASE scale at that inner origin), like a network's on its validation errors.
What is served is the choice at the latest held-out fold (:func:`served_plan`): the rule, each series'
members and weights, and for a series the run never saw, the shared ranking combined the same way.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from tasks.forecasting import intervals
from tasks.forecasting.metrics import score_forecast

# The statistical forecasters auto considers (tasks.forecasting.statistical.baseline_forecasters).
STATISTICAL: tuple[str, ...] = ("seasonal_naive", "naive2", "holt_winters", "holt_winters_damped", "theta")
# Per series (each series' own ranking) and shared (one ranking for every series of the run).
RULES: tuple[str, ...] = ("best", "median_top3", "weighted_top3", "shared_best", "shared_median_top3",
                           "shared_weighted_top3")
TOP_K = 3
# The loss auto's networks train with when train.loss is not set: MAE, the loss of the median, is
# what MASE (the choice's score) counts. On the generalisation benchmark's 113 series MSE gave a
# mean MASE of 1.606 and 54 wins against damped Holt-Winters, MAE 1.531 and 63 wins
# (docs/results/2026-12-05-generalise-mae.md).
LOSS = "mae"
AUTO = "auto"
CHOICE_COLUMNS = ("series_id", "fold", "origin", "rule", "candidate", "rank", "inner_score", "inner_metric", "weight")
# Scores are compared to this many significant digits: two recipes whose forecasts differ only in the
# last bits (a CPU kernel's summation order, which can differ between machines and even between two
# processes) tie, and a tie is broken by name, so the ranking is the same everywhere.
SIGNIFICANT = 9


def _key(score: float, name: str = "") -> tuple[float, str]:
    """The sort key of a scored candidate or rule: its score to :data:`SIGNIFICANT` digits, then its name."""
    return (float(f"{score:.{SIGNIFICANT}g}"), name)


def log_allowed(values: Mapping[str, np.ndarray], horizon: int) -> bool:
    """Whether the log recipes are candidates: every value > 0 where the networks train.

    That is each series before its latest origin (``horizon`` steps before its end); a value <= 0 in
    the part held out at the latest origin never reaches a network, and deciding on it would let the
    test part shape the family the choice is made from.
    """
    return all(bool(np.all(np.asarray(v)[: max(0, np.asarray(v).size - horizon)] > 0)) for v in values.values())


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
    network: str | None  # the recurrent recipe with the best pooled inner score at fold 0
    # held-out fold -> (horizon,) conformal half-widths of the chosen rule (in units of each series'
    # MASE scale) and the cross-fitted inner-fold errors each was taken from
    half_widths: dict[int, np.ndarray]
    n_calibration: dict[int, np.ndarray]
    # fold 0: per series the members of the chosen rule in the order combined, with their weights
    members: dict[str, tuple[tuple[str, ...], tuple[float, ...]]]
    shared: tuple[tuple[str, ...], tuple[float, ...]]  # fold 0: the shared ranking and its pooled relative scores


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


def weights_of(rule: str, scores: np.ndarray) -> np.ndarray:
    """The weight of each of ``len(scores)`` members ranked best first, under a rule without its ``shared_`` prefix."""
    weights = np.zeros(len(scores))
    n = min(TOP_K, len(scores))
    if rule == "best" or n == 1:
        weights[0] = 1.0
    elif rule == "median_top3":
        weights[:n] = 1.0 / n  # reported as equal shares; the forecast is the median
    else:
        inverse = 1.0 / np.maximum(scores[:n], 1e-12)
        weights[:n] = inverse / inverse.sum()
    return weights


def combine(rule: str, yhats: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Combine ``(n_members, horizon)`` forecasts ranked best first by a rule without its ``shared_`` prefix.

    The flow's auto forecast and the served model's both come from here, with the same members in
    the same order and the same weights, so they agree bit for bit.
    """
    n = min(TOP_K, len(yhats))
    if rule == "best" or n == 1:
        return yhats[0]
    if rule == "median_top3":
        return np.median(yhats[:n], axis=0)
    return np.asarray(weights, dtype=np.float64)[:n] @ yhats[:n]


def _combine(rule: str, yhats: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Combine ``(n_members, horizon)`` forecasts ranked best first; returns the forecast and the weights."""
    weights = weights_of(rule, scores)
    return combine(rule, yhats, weights), weights


def kept(rule: str, names: list[str], weights: list[float]) -> tuple[tuple[str, ...], tuple[float, ...]]:
    """The members a rule reads: the first alone under ``best`` (or when it is the only one), else all of them."""
    n = 1 if rule.removeprefix("shared_") == "best" or len(names) == 1 else len(names)
    return tuple(names[:n]), tuple(float(w) for w in weights[:n])


def choose(
    forecasts: pd.DataFrame,
    series: Mapping[str, tuple[np.ndarray, np.ndarray]],
    candidates: tuple[str, ...],
    networks: tuple[str, ...],
    held_out: int,
    n_inner: int,
    horizon: int,
    season_length: int,
    level: float = 0.95,
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
        level: the interval's nominal coverage (``evaluate.interval_level``).

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
    ids = sorted({s for s, _ in truth})
    table_rows: list[dict] = []
    out_parts: list[pd.DataFrame] = []
    rules: dict[int, str] = {}
    rule_scores: dict[int, dict[str, float]] = {}
    network_scores: dict[str, list[float]] = {}
    half_widths, n_calibration, members = {}, {}, {}
    shared: tuple[tuple[str, ...], tuple[float, ...]] = ((), ())
    for fold in range(held_out):
        inner, scored = {}, {}
        for sid in ids:
            origins = {f: truth[(s, f)][0] for s, f in truth if s == sid}
            inner[sid] = inner_folds(origins, fold, horizon, n_inner)
            scored[sid] = _inner_scores(sid, inner[sid], present, fold, yhat, truth, series[sid][1], season_length)
            if not scored[sid][0]:
                raise ValueError(f"series {sid!r}: no candidate forecast every inner fold of held-out fold {fold}")
        # Each rule scored cross-fitted: its members chosen on all inner folds but one, scored on that
        # one (a rule that picks each series' best is not scored on the folds it picked on).
        rule_scores[fold] = {}
        errors: dict[str, list[np.ndarray]] = {}  # rule -> cross-fitted |error| / scale, (horizon,) each
        for rule in RULES:
            got = []
            for k in range(n_inner):
                keep = [j for j in range(n_inner) if j != k] or [k]  # one inner fold: scored in-sample
                plans = _plans(scored, keep)
                for sid in ids:
                    f = inner[sid][k]
                    combined, _ = _apply(rule, plans, sid, lambda name, f=f, sid=sid: yhat[(sid, name, f)])
                    before = series[sid][1][: truth[(sid, f)][0]]
                    mase, smape = _score(truth[(sid, f)][2], combined, before, season_length)
                    got.append(mase if scored[sid][2] == "mase" else smape / 100.0)
                    errors.setdefault(rule, []).append(intervals.scaled_errors(
                        truth[(sid, f)][2], combined, intervals.series_scale(before, season_length)))
            rule_scores[fold][rule] = float(np.mean(got))
        rule = min(RULES, key=lambda r: (_key(rule_scores[fold][r])[0], RULES.index(r)))
        rules[fold] = rule
        scores_by_step = np.stack(errors[rule])  # (n_series * n_inner, horizon)
        half_widths[fold] = np.array([intervals.conformal_quantile(scores_by_step[:, h], level)
                                      for h in range(horizon)])
        n_calibration[fold] = np.isfinite(scores_by_step).sum(axis=0)
        plans = _plans(scored, list(range(n_inner)))
        if fold == 0:
            ranked, scores = plans["shared"]
            shared = (tuple(ranked), tuple(float(s) for s in scores))
        for sid in ids:
            origin, stamps, y = truth[(sid, fold)]
            combined, weights = _apply(rule, plans, sid, lambda name, sid=sid: yhat[(sid, name, fold)])
            if fold == 0:
                members[sid] = kept(rule, list(weights), list(weights.values()))
            lower, upper = intervals.bounds(combined, half_widths[fold],
                                            intervals.series_scale(series[sid][1][:origin], season_length))
            ranked, scores = plans["series"][sid]
            out_parts.append(pd.DataFrame({
                "series_id": sid, "model": AUTO, "fold": fold, "origin": origin, "timestamp": stamps,
                "horizon_step": np.arange(1, horizon + 1), "yhat": combined, "y": y, "lower": lower,
                "upper": upper}))
            table_rows += [{"series_id": sid, "fold": fold, "origin": origin, "rule": rule, "candidate": name,
                            "rank": r + 1, "inner_score": float(score), "inner_metric": scored[sid][2],
                            "weight": float(weights.get(name, 0.0))}
                           for r, (name, score) in enumerate(zip(ranked, scores))]
            if fold == 0:
                for name, score in zip(ranked, scores):
                    if name in networks:
                        network_scores.setdefault(name, []).append(float(score))
    network = min(network_scores, key=lambda n: _key(float(np.mean(network_scores[n])), n)) if network_scores else None
    return Choice(pd.concat(out_parts, ignore_index=True), pd.DataFrame(table_rows, columns=list(CHOICE_COLUMNS)),
                  rules, rule_scores, network, half_widths, n_calibration, members, shared)


def served_plan(chosen: Choice) -> dict:
    """What a served auto forecaster applies, JSON-ready: the latest held-out fold's rule and members.

    ``series``: each series of the run, its members in the order combined and their weights.
    ``new_series``: a series the run never saw has no ranking of its own; it is forecast with the
    shared ranking (every series' mean relative inner score), combined the same way (``best``: its
    first; ``median_top3``: the median of its top three; ``weighted_top3``: weights from the inverse
    of its pooled relative scores). None when no candidate forecast every series.
    """
    rule = chosen.rules[0]
    how = rule.removeprefix("shared_")
    ranked, scores = chosen.shared
    new = None
    if ranked:
        top = list(ranked[:TOP_K])
        names, weights = kept(rule, top, list(weights_of(how, np.asarray(scores[:TOP_K]))))
        new = {"ranking": "shared", "members": list(names), "weights": list(weights)}
    return {
        "rule": rule,
        "combine": how,
        "series": {sid: {"members": list(names), "weights": list(weights)}
                   for sid, (names, weights) in sorted(chosen.members.items())},
        "new_series": new,
    }


def _inner_scores(sid, inner, present, fold, yhat, truth, values, m) -> tuple[dict[str, list[float]], list[int], str]:
    """Every candidate's score on each inner fold of one series: MASE, or sMAPE / 100 without a MASE scale."""
    raw = {}
    for name in present:
        got = [_score(truth[(sid, f)][2], yhat[(sid, name, f)], values[: truth[(sid, f)][0]], m)
               for f in inner if (sid, name, f) in yhat]
        if len(got) == len(inner) and (sid, name, fold) in yhat:
            raw[name] = got
    metric = "mase" if all(math.isfinite(s[0]) for got in raw.values() for s in got) else "smape"
    index = 0 if metric == "mase" else 1
    scale = 1.0 if metric == "mase" else 100.0
    return {name: [s[index] / scale for s in got] for name, got in raw.items()}, inner, metric


def _plans(scored: Mapping[str, tuple], keep: list[int]) -> dict:
    """Rankings on the inner folds at positions ``keep``: each series' own, and one shared by every series.

    The shared ranking orders the candidates every series has by their mean relative score (each
    series' scores divided by its median candidate's), so a series with large errors does not
    outweigh the others.
    """
    per_series, relative = {}, {}
    for sid, (scores, _, _) in scored.items():
        means = {name: float(np.mean([got[j] for j in keep])) for name, got in scores.items()}
        ranked = sorted(means, key=lambda name: _key(means[name], name))
        per_series[sid] = (ranked, np.array([means[n] for n in ranked]))
        middle = float(np.median(list(means.values())))
        for name, value in means.items():
            relative.setdefault(name, []).append(value / middle if middle > 0 else 1.0)
    shared = [name for name, got in relative.items() if len(got) == len(scored)]
    pooled = {name: float(np.mean(relative[name])) for name in shared}
    ranked = sorted(pooled, key=lambda name: _key(pooled[name], name))
    return {"series": per_series, "shared": (ranked, np.array([pooled[n] for n in ranked]))}


def _apply(rule: str, plans: dict, sid: str, forecast_of) -> tuple[np.ndarray, dict[str, float]]:
    """One rule's forecast for one series and the weight of each member."""
    shared = rule.startswith("shared_")
    ranked, scores = plans["shared"] if shared else plans["series"][sid]
    if not ranked:  # no candidate every series has: each series' own
        ranked, scores = plans["series"][sid]
    top = ranked[:TOP_K]
    combined, weights = _combine(rule.removeprefix("shared_"), np.stack([forecast_of(n) for n in top]), scores[:TOP_K])
    return combined, {name: float(w) for name, w in zip(top, weights)}
