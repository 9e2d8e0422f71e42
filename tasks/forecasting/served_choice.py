"""A served ``model.recipe = auto`` forecaster: the rule and members chosen on the inner folds, for any history.

What the flow's forecaster ``auto`` forecasts at the latest origin (:func:`tasks.forecasting.choice.choose`)
is a combination of candidates: for each series, the members of the chosen rule (a network recipe or
a statistical forecaster) and their weights. A served auto model does the same from a history:

- a **statistical member** is refitted on the whole history given, as the flow's backtest refits it
  on every value before an origin (:func:`tasks.forecasting.backtest.run_backtest`);
- a **network member** is the recipe's networks of the latest origin, each with its own
  preprocessing (its bundle in ``networks``, as :func:`tasks.forecasting.serving.make_bundle` makes
  it), forecast by :func:`tasks.forecasting.serving.forecast_latest`;
- the members are combined by :func:`tasks.forecasting.choice.combine`, the flow's own function,
  with the same weights in the same order;
- the interval is the auto forecaster's: split-conformal half-widths from the chosen rule's
  cross-fitted inner-fold errors, in units of the history's MASE scale.

A series the run never saw has no ranking of its own: it is forecast with the shared ranking
(``choice.new_series``, see :func:`tasks.forecasting.choice.served_plan`), and a warning names it.

Pure: NumPy, pandas and statsmodels (through :mod:`.statistical`), no Keras (the networks' predict
functions are passed in), no MLflow.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from tasks.errors import InputError
from tasks.forecasting import choice, intervals, serving, statistical
from tasks.forecasting.preprocessing import SeriesTransform
from tasks.forecasting.serving import OutOfTime

__all__ = ["BUNDLE_FORMAT", "OutOfTime", "forecast_frame", "make_bundle"]

BUNDLE_FORMAT = "seqflow-auto-forecaster/1"
log = logging.getLogger(__name__)


def make_bundle(
    config: Mapping[str, Any],
    plan: Mapping[str, Any],
    networks: Mapping[str, Mapping[str, Any]],
    frequency: str,
    season_length: int,
    half_widths: np.ndarray,
    n_calibration: np.ndarray,
    **provenance: str,
) -> dict[str, Any]:
    """Gather what a served auto forecaster needs besides its networks, as a JSON-ready dict.

    Args:
        config: the flow's config as JSON.
        plan: :func:`tasks.forecasting.choice.served_plan`.
        networks: recipe label -> its bundle (:func:`tasks.forecasting.serving.make_bundle`) with
            ``members``: the indices of its networks among the model's ``keras_model_<k>``; only the
            recipes the plan reads.
        frequency: the series' calendar frequency.
        season_length: ``m`` of the statistical forecasters, of MASE and of the interval's scale.
        half_widths: ``(horizon,)`` the auto forecaster's conformal half-widths, in units of that scale.
        n_calibration: ``(horizon,)`` errors each was taken from.
        provenance: strings saying where the model comes from (run ids, the data's hash).
    """
    horizon = int(config["window"]["horizon"])
    nets = {name: {k: v for k, v in spec.items() if k not in ("config", "provenance")}
            for name, spec in networks.items()}
    first = next(iter(nets.values()), None)
    # A statistical member needs a history with a MASE scale (more than one season); a network, its own.
    need = max([int(season_length) + 1] + [int(spec["min_history"]) for spec in nets.values()])
    return {
        "format": BUNDLE_FORMAT,
        "cell": choice.AUTO,
        "horizon": horizon,
        "lookback": int(first["lookback"] if first else config["window"]["lookback"]),
        "validation": float(first["validation"] if first else config["split"]["validation"]),
        "frequency": frequency,
        "season_length": int(season_length),
        "min_history": need,
        "choice": dict(plan),
        "networks": nets,
        "statistical": sorted({m for p in _plans(plan) for m in p["members"] if m not in nets}),
        "interval": {"level": float(config["evaluate"]["interval_level"]),
                     "half_widths": [float(q) for q in half_widths],
                     "n_calibration": [int(n) for n in n_calibration],
                     "scale": "in-sample seasonal-naive MAE of the history (MASE's denominator), lag season_length",
                     "calibrated_on": "the chosen rule's cross-fitted errors on the inner folds"},
        "config": dict(config),
        "provenance": dict(provenance),
    }


def _plans(plan: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return list(plan["series"].values()) + ([plan["new_series"]] if plan.get("new_series") else [])


def networks_used(plan: Mapping[str, Any], candidates: Sequence[str]) -> list[str]:
    """The recipes among ``candidates`` that some series' members (or the new series') read, in that order."""
    used = {m for p in _plans(plan) for m in p["members"]}
    return [name for name in candidates if name in used]


def forecast_frame(history: pd.DataFrame, bundle: Mapping[str, Any], predict: Sequence[serving.Predict],
                   source: str = "input", deadline: float | None = None,
                   limit_seconds: float | None = None) -> pd.DataFrame:
    """Forecast the next ``horizon`` steps of every series of a history with the choice, with its interval.

    Args:
        history: ``series_id, timestamp, value`` rows, as :func:`tasks.forecasting.serving.forecast_frame` takes.
        bundle: see :func:`make_bundle`.
        predict: every network of the model, ``keras_model_0`` .. ``keras_model_{n-1}`` in that order.
        source: how error messages name the history.
        deadline: a served request's ``time.monotonic()`` past which the work stops; None for no limit.
        limit_seconds: the server's request timeout, for the message.

    Returns:
        ``series_id, timestamp, yhat, lower, upper``: ``horizon`` rows per series, by series then time.

    Raises:
        InputError: the history breaks a rule, or a series does not fit a network member's preprocessing.
        OutOfTime: past ``deadline``, checked before each member.
    """
    started = time.monotonic()
    frame = serving.check_history(history, bundle, source)
    plan, horizon, m = bundle["choice"], int(bundle["horizon"]), int(bundle["season_length"])
    parts = {str(sid): part for sid, part in frame.groupby("series_id", sort=True)}
    fresh = [sid for sid in parts if sid not in plan["series"]]
    if fresh and plan.get("new_series") is None:
        raise InputError(f"series {fresh[0]!r} was not in the run this model was chosen on, and it has no ranking "
                         "shared by every series to forecast a new one with; send the series it was trained on",
                         file=source, column="series_id")
    if fresh:
        log.warning("%d series not seen in training (%s%s): forecast with the shared ranking's %s of %s",
                    len(fresh), ", ".join(fresh[:5]), ", ..." if len(fresh) > 5 else "", plan["combine"],
                    ", ".join(plan["new_series"]["members"]))
    members = {sid: plan["series"].get(sid) or plan["new_series"] for sid in parts}
    values = {sid: part["value"].to_numpy(dtype=np.float64) for sid, part in parts.items()}
    futures = {sid: serving.future_timestamps(part["timestamp"], horizon, bundle["frequency"])
               for sid, part in parts.items()}

    def in_time(what: str) -> None:
        if deadline is not None and time.monotonic() > deadline:
            raise OutOfTime(
                f"{source}: the request's {len(parts):,} series cannot be forecast within this server's "
                f"{limit_seconds or 0:.0f} s request timeout ({what} not reached after "
                f"{time.monotonic() - started:.0f} s); send fewer series per request, or serve with a longer "
                "MLFLOW_SCORING_SERVER_REQUEST_TIMEOUT")

    found: dict[tuple[str, str], np.ndarray] = {}
    for name, spec in bundle["networks"].items():
        ids = [sid for sid in parts if name in members[sid]["members"]]
        if not ids:
            continue
        in_time(name)
        states = []
        for sid in ids:
            try:
                states.append(SeriesTransform.from_dict(serving.transform_state(values[sid], spec)))
            except ValueError as exc:
                raise InputError(f"series {sid!r} ({name}): {exc}", file=source, column="value") from None
        stamps = [pd.DatetimeIndex(parts[sid]["timestamp"]).append(pd.DatetimeIndex(futures[sid])) for sid in ids]
        try:
            yhats = serving.forecast_latest([values[sid] for sid in ids], states,
                                            [predict[k] for k in spec["members"]], spec, stamps, ids)
        except ValueError as exc:
            raise InputError(f"{name}: {exc}", file=source, column="value") from None
        found.update({(sid, name): yhat for sid, yhat in zip(ids, yhats)})
    fitters = statistical.baseline_forecasters(m)
    out = []
    for sid in parts:
        in_time(f"series {sid!r}")
        chosen = members[sid]
        for name in chosen["members"]:
            if (sid, name) not in found:
                # As the backtest calls it: the values before the origin, float64, one row.
                found[(sid, name)] = np.asarray(fitters[name](values[sid], horizon), dtype=np.float64).reshape(-1)
        yhat = choice.combine(plan["combine"], np.stack([found[(sid, n)] for n in chosen["members"]]),
                              np.asarray(chosen["weights"], dtype=np.float64))
        lower, upper = intervals.bounds(yhat, np.asarray(bundle["interval"]["half_widths"], dtype=np.float64),
                                        intervals.series_scale(values[sid], m))
        out.append(pd.DataFrame({"series_id": sid, "timestamp": futures[sid], "yhat": yhat, "lower": lower,
                                 "upper": upper}))
    return pd.concat(out, ignore_index=True)[list(serving.FORECAST_COLUMNS)]
