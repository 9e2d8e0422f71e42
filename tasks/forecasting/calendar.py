"""Calendar covariates: cyclic encodings of a step's timestamp, known for every future step.

Each feature is an angle on a circle, given to a network as its ``(sin, cos)``, so the last and
the first position of a cycle sit side by side (December next to January, Sunday next to Monday,
23:00 next to 00:00) and no position is "larger" than another:

- ``hour_of_day``: ``2π (hour + minute / 60) / 24``
- ``day_of_week``: ``2π weekday / 7`` (Monday 0)
- ``week_of_year``: ``2π (day of year - 1) / days in the year``, the position in the year, a cycle
  of about 52.18 weeks that has no ISO week 53 jump
- ``month_of_year``: ``2π (month - 1) / 12``

``preprocess.calendar = "auto"`` picks them by the series' frequency (:data:`AUTO`); a list names
them. They are computed from the timestamps alone, so a forecast's future steps get theirs from
the calendar continued past the history (:func:`tasks.forecasting.serving.future_timestamps`).

Pure NumPy and pandas.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

FEATURES: tuple[str, ...] = ("hour_of_day", "day_of_week", "week_of_year", "month_of_year")
# What "auto" uses per frequency: the cycles a step of that frequency can sit at different places
# in. A weekly step has no weekday or hour of its own; a yearly one has no place in any cycle.
AUTO: dict[str, tuple[str, ...]] = {
    "hourly": ("hour_of_day", "day_of_week"),
    "daily": ("day_of_week", "month_of_year"),
    "weekly": ("week_of_year",),
    "monthly": ("month_of_year",),
    "quarterly": ("month_of_year",),
    "yearly": (),
}


def resolve(setting: str | Sequence[str] | None, frequency: str) -> tuple[str, ...]:
    """Name the features a ``preprocess.calendar`` setting means for series of ``frequency``.

    Args:
        setting: None (off), ``"auto"``, or feature names.
        frequency: the series' frequency (``monthly``, ...).

    Returns:
        Feature names in :data:`FEATURES` order; ``()`` when off (or ``auto`` on yearly series).

    Raises:
        ValueError: an unknown feature, or ``auto`` for a frequency with no calendar.
    """
    if setting is None:
        return ()
    if isinstance(setting, str) and setting == "auto":
        if frequency not in AUTO:
            raise ValueError(f"preprocess.calendar = 'auto': {frequency} series have no calendar; use 'off'")
        return AUTO[frequency]
    names = (setting,) if isinstance(setting, str) else tuple(setting)
    unknown = [n for n in names if n not in FEATURES]
    if unknown:
        raise ValueError(f"preprocess.calendar: unknown feature {unknown[0]!r}; valid: auto, off, {', '.join(FEATURES)}")
    return tuple(f for f in FEATURES if f in names)


def angles(stamps: Sequence | np.ndarray | pd.DatetimeIndex, feature: str) -> np.ndarray:
    """The angle in ``[0, 2π)`` of each timestamp on one feature's cycle.

    Args:
        stamps: ``(time,)`` timestamps.
        feature: one of :data:`FEATURES`.

    Returns:
        ``(time,)`` float64 radians.
    """
    index = pd.DatetimeIndex(stamps)
    if feature == "hour_of_day":
        fraction = (index.hour.to_numpy() + index.minute.to_numpy() / 60.0) / 24.0
    elif feature == "day_of_week":
        fraction = index.dayofweek.to_numpy() / 7.0
    elif feature == "week_of_year":
        days = np.where(index.is_leap_year, 366.0, 365.0)
        fraction = (index.dayofyear.to_numpy() - 1.0) / days
    elif feature == "month_of_year":
        fraction = (index.month.to_numpy() - 1.0) / 12.0
    else:
        raise ValueError(f"unknown calendar feature {feature!r}; valid: {', '.join(FEATURES)}")
    return 2.0 * np.pi * np.asarray(fraction, dtype=np.float64)


def encode(stamps: Sequence | np.ndarray | pd.DatetimeIndex, features: Sequence[str]) -> np.ndarray:
    """Encode timestamps as the ``(sin, cos)`` of each feature's angle.

    Args:
        stamps: ``(time,)`` timestamps.
        features: names from :data:`FEATURES` (see :func:`resolve`).

    Returns:
        ``(time, 2 * len(features))`` float32: ``sin, cos`` of the first feature, then the next.
    """
    n = len(stamps)
    if not features:
        return np.zeros((n, 0), dtype=np.float32)
    columns = []
    for feature in features:
        a = angles(stamps, feature)
        columns += [np.sin(a), np.cos(a)]
    return np.stack(columns, axis=1).astype(np.float32)


def channels(features: Sequence[str]) -> int:
    """Input channels the features add to each step: two per feature."""
    return 2 * len(features)
