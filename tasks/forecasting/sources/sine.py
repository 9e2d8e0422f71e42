"""Where series come from. Every source returns the long format ``series_id, t, value``."""

from __future__ import annotations

import numpy as np
import pandas as pd

from tasks.forecasting.config import SineSource

SERIES_COLUMNS = ("series_id", "t", "value")


def synthesize_sine(source: SineSource, seed: int) -> pd.DataFrame:
    """Sample ``amplitude * sin(frequency * x + phase) + noise`` on ``[x_start, x_end)``.

    Args:
        source: the wave's shape and sampling.
        seed: seeds the noise, so the same config always yields the same series.

    Returns:
        A frame with columns ``series_id`` (str), ``t`` (the x value, float) and ``value`` (float),
        ``source.n_points`` rows in time order.
    """
    x = source.x_start + source.resolution * np.arange(source.n_points)
    value = source.amplitude * np.sin(source.frequency * x + source.phase)
    if source.noise_std > 0:
        value = value + np.random.default_rng(seed).normal(0.0, source.noise_std, size=x.shape)
    return pd.DataFrame({"series_id": source.series_id, "t": x, "value": value.astype(np.float64)})


def series_matrix(frame: pd.DataFrame) -> np.ndarray:
    """Turn one long-format series into a ``(time, n_features)`` float array, ordered by ``t``.

    Raises:
        ValueError: the frame holds more than one series_id, or values are missing or not finite.
    """
    ids = frame["series_id"].unique()
    if len(ids) != 1:
        raise ValueError(f"series_matrix needs exactly one series_id, got {len(ids)}: {list(ids)[:5]}")
    ordered = frame.sort_values("t", kind="stable")
    values = ordered["value"].to_numpy(dtype=np.float64)
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        raise ValueError(f"series {ids[0]!r}: value at row {int(bad[0])} is {values[bad[0]]}; values must be finite")
    return values.reshape(-1, 1)
