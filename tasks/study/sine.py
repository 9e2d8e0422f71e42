"""The synthetic sine source, in the long layout every source lands in: ``series_id, timestamp, value``."""

from __future__ import annotations

import numpy as np
import pandas as pd

from tasks.study.config import SineSource

SERIES_COLUMNS = ("series_id", "timestamp", "value")
# A sine has no calendar: step i is this epoch plus i seconds. The timestamps carry order and spacing
# only; the wave's own axis (x) is :func:`x_axis`.
SYNTHETIC_EPOCH = np.datetime64("2000-01-01T00:00:00", "s")


def x_axis(source: SineSource) -> np.ndarray:
    """The wave's x value of every sample, ``(n_points,)``: what plots put on their horizontal axis."""
    return source.x_start + source.resolution * np.arange(source.n_points)


def synthesize_sine(source: SineSource, seed: int) -> pd.DataFrame:
    """Sample ``amplitude * sin(frequency * x + phase) + noise`` on ``[x_start, x_end)``.

    Args:
        source: the wave's shape and sampling.
        seed: seeds the noise, so the same config always yields the same series.

    Returns:
        A frame with columns ``series_id`` (str), ``timestamp`` (synthetic: one second per sample,
        ``datetime64[s]``) and ``value`` (float), ``source.n_points`` rows in time order.
    """
    x = x_axis(source)
    value = source.amplitude * np.sin(source.frequency * x + source.phase)
    if source.noise_std > 0:
        value = value + np.random.default_rng(seed).normal(0.0, source.noise_std, size=x.shape)
    stamps = SYNTHETIC_EPOCH + np.arange(len(x)).astype("timedelta64[s]")
    return pd.DataFrame(
        {"series_id": source.series_id, "timestamp": stamps, "value": value.astype(np.float64)},
        columns=list(SERIES_COLUMNS),
    )


def series_matrix(frame: pd.DataFrame) -> np.ndarray:
    """Turn one long-format series into a ``(time, n_features)`` float array, ordered by ``timestamp``.

    Raises:
        ValueError: the frame holds more than one series_id, or values are missing or not finite.
    """
    ids = frame["series_id"].unique()
    if len(ids) != 1:
        raise ValueError(f"series_matrix needs exactly one series_id, got {len(ids)}: {list(ids)[:5]}")
    ordered = frame.sort_values("timestamp", kind="stable")
    values = ordered["value"].to_numpy(dtype=np.float64)
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        raise ValueError(f"series {ids[0]!r}: value at row {int(bad[0])} is {values[bad[0]]}; values must be finite")
    return values.reshape(-1, 1)
