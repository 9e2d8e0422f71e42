"""Cut a series into (lookback → target) windows, split by time, scaled on the training part only."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

SPLITS = ("train", "validation", "test")


@dataclass(frozen=True)
class SplitBounds:
    """Chronological split of ``n`` steps: train ``[0, train_end)``, validation, test ``[validation_end, n)``."""

    train_end: int
    validation_end: int
    n: int

    def ranges(self) -> dict[str, tuple[int, int]]:
        """Half-open ``[start, end)`` step ranges of each split."""
        return {
            "train": (0, self.train_end),
            "validation": (self.train_end, self.validation_end),
            "test": (self.validation_end, self.n),
        }


def split_bounds(n: int, train: float, validation: float) -> SplitBounds:
    """Split ``n`` steps by time into train/validation/test fractions (test takes the rest)."""
    train_end = int(n * train)
    validation_end = train_end + int(n * validation)
    if not 0 < train_end < validation_end < n:
        raise ValueError(
            f"a series of {n} steps is too short to split {train:g}/{validation:g}/rest into three non-empty parts"
        )
    return SplitBounds(train_end, validation_end, n)


@dataclass(frozen=True)
class Scaler:
    """Standardisation fitted on the training part: ``(x - mean) / std`` per feature."""

    mean: np.ndarray  # (n_features,)
    std: np.ndarray  # (n_features,)

    def transform(self, values: np.ndarray) -> np.ndarray:
        """Scale ``(..., n_features)`` values into model units."""
        return (values - self.mean) / self.std

    def inverse(self, values: np.ndarray) -> np.ndarray:
        """Map ``(..., n_features)`` model outputs back to the series' own units."""
        return values * self.std + self.mean


def fit_scaler(train_values: np.ndarray) -> Scaler:
    """Fit a :class:`Scaler` on ``(time, n_features)`` training values; a flat feature gets std 1."""
    mean = train_values.mean(axis=0)
    std = train_values.std(axis=0)
    std = np.where(std > 0, std, 1.0)
    return Scaler(mean=mean, std=std)


@dataclass(frozen=True)
class Windows:
    """Windows cut from one series, oldest first."""

    x: np.ndarray  # (n_windows, lookback, n_features)
    y: np.ndarray  # (n_windows, target_steps, n_features)
    start: np.ndarray  # (n_windows,) series index of each window's first input step
    target_first: np.ndarray  # (n_windows,) series index of the first target step
    target_last: np.ndarray  # (n_windows,) series index of the last target step


def window_span(lookback: int, horizon: int, target: str) -> tuple[int, str]:
    """Steps one window covers, and how to say it: the one place the window-span rule is written.

    Returns:
        ``(span, description)``, e.g. ``(33, "lookback 32 + horizon 1")`` or
        ``(801, "lookback 800 + 1 (shifted target)")``.
    """
    if target == "shifted":
        return lookback + 1, f"lookback {lookback} + 1 (shifted target)"
    return lookback + horizon, f"lookback {lookback} + horizon {horizon}"


def check_window_plan(
    n: int, lookback: int, horizon: int, stride: int, target: str, train: float, validation: float
) -> SplitBounds:
    """Check, from sizes alone, that every split of an ``n``-step series gets at least one window.

    It runs the same arithmetic as :func:`build_window_table` without touching data, so a config can
    be refused before anything starts.

    Raises:
        ValueError: the message names the setting to change (``window.lookback``, ``window.stride``, ...).
    """
    span, described = window_span(lookback, horizon, target)
    bounds = split_bounds(n, train, validation)
    if span > bounds.train_end:
        key = "window.horizon" if target == "horizon" and horizon > lookback else "window.lookback"
        raise ValueError(
            f"{key}: {described} = {span} steps is longer than the training part "
            f"({bounds.train_end} of {n} points); shorten the window or lengthen the series"
        )
    start = np.arange(0, n - span + 1, stride)
    first = start + (1 if target == "shifted" else lookback)
    last = start + span - 1
    target_steps, target_key = (lookback, "window.lookback") if target == "shifted" else (horizon, "window.horizon")
    for name, (lo, hi) in bounds.ranges().items():
        if np.any((first >= lo) & (last < hi)):
            continue
        if target_steps > hi - lo:
            raise ValueError(
                f"{target_key}: the {name} part (steps {lo}..{hi - 1}, {hi - lo} steps) cannot hold a target of "
                f"{target_steps} steps ({described}); shorten it or give the {name} part more of the series"
            )
        raise ValueError(
            f"window.stride = {stride}: the {name} part (steps {lo}..{hi - 1}) holds no whole window "
            f"of {described} with windows starting every {stride} steps; use a smaller stride or window"
        )
    return bounds


def make_windows(series: np.ndarray, lookback: int, horizon: int, stride: int, target: str) -> Windows:
    """Cut a ``(time, n_features)`` series into windows without a Python loop per window.

    Args:
        series: ``(time, n_features)`` values.
        lookback: input steps per window.
        horizon: future steps per window when ``target == "horizon"``.
        stride: steps between consecutive window starts.
        target: ``"shifted"`` — the target is the input moved one step ahead
            (``[1..6] → [2..7]``); ``"horizon"`` — the next ``horizon`` steps after the input.

    Returns:
        :class:`Windows`; ``y`` has ``lookback`` steps for ``"shifted"`` and ``horizon`` for ``"horizon"``.

    Raises:
        ValueError: a size is not positive, or the series is shorter than one window.
    """
    for name, value in (("lookback", lookback), ("horizon", horizon), ("stride", stride)):
        if value <= 0:
            raise ValueError(f"{name}={value}: must be > 0")
    if target not in ("shifted", "horizon"):
        raise ValueError(f"target={target!r}: must be 'shifted' or 'horizon'")
    span, described = window_span(lookback, horizon, target)
    if series.ndim != 2:
        raise ValueError(f"series has shape {series.shape}; expected (time, n_features)")
    if len(series) < span:
        raise ValueError(f"a series of {len(series)} steps is shorter than one window ({described} = {span})")
    # (n_windows, n_features, span) view over the series, no copy until the slicing below.
    view = sliding_window_view(series, span, axis=0)[::stride]
    view = np.moveaxis(view, -1, 1)  # (n_windows, span, n_features)
    start = np.arange(0, len(series) - span + 1, stride)
    x = view[:, :lookback]
    if target == "shifted":
        y = view[:, 1 : lookback + 1]
        first = start + 1
    else:
        y = view[:, lookback:span]
        first = start + lookback
    return Windows(
        x=np.ascontiguousarray(x, dtype=np.float32),
        y=np.ascontiguousarray(y, dtype=np.float32),
        start=start,
        target_first=first,
        target_last=start + span - 1,
    )


def assign_splits(windows: Windows, bounds: SplitBounds) -> np.ndarray:
    """Label each window with the split that holds *all* its target steps, or ``""`` if none does.

    Windows whose targets straddle a boundary are dropped, so no step is a target in two splits.

    Returns:
        ``(n_windows,)`` array of ``"train" | "validation" | "test" | ""``.
    """
    labels = np.full(len(windows.start), "", dtype=object)
    for name, (lo, hi) in bounds.ranges().items():
        inside = (windows.target_first >= lo) & (windows.target_last < hi)
        labels[inside] = name
    return labels


@dataclass(frozen=True)
class WindowTable:
    """Windows of every split as stored in Parquet, in model (scaled) units."""

    split: np.ndarray  # (n_windows,) "train" | "validation" | "test"
    start: np.ndarray  # (n_windows,) series index of each window's first input step
    x: np.ndarray  # (n_windows, lookback, n_features) float32
    y: np.ndarray  # (n_windows, target_steps, n_features) float32
    metadata: dict[str, str]  # lookback, horizon, target, split bounds, scaler

    def part(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """``(x, y)`` of one split."""
        mask = self.split == name
        return self.x[mask], self.y[mask]

    def to_arrays(self) -> tuple[dict[str, np.ndarray], dict[str, str]]:
        """The table as storable columns (one row per window) and string metadata."""
        arrays = {
            "split": self.split.astype(str),
            "start": self.start.astype(np.int64),
            "x": self.x.astype(np.float32, copy=False),
            "y": self.y.astype(np.float32, copy=False),
        }
        return arrays, dict(self.metadata)

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], metadata: dict[str, str]) -> WindowTable:
        """Rebuild a table from what :meth:`to_arrays` produced."""
        return cls(
            split=np.asarray(arrays["split"], dtype=object),
            start=np.asarray(arrays["start"]),
            x=np.asarray(arrays["x"], dtype=np.float32),
            y=np.asarray(arrays["y"], dtype=np.float32),
            metadata=dict(metadata),
        )

    @property
    def scaler(self) -> Scaler:
        """The scaler fitted on the training part."""
        return Scaler(
            mean=np.array([float(v) for v in self.metadata["scaler_mean"].split(",")]),
            std=np.array([float(v) for v in self.metadata["scaler_std"].split(",")]),
        )

    @property
    def bounds(self) -> SplitBounds:
        """Where the splits fall in the series."""
        return SplitBounds(
            int(self.metadata["train_end"]), int(self.metadata["validation_end"]), int(self.metadata["n"])
        )


def build_window_table(
    values: np.ndarray, lookback: int, horizon: int, stride: int, target: str, train: float, validation: float
) -> WindowTable:
    """Split ``(time, n_features)`` values by time, scale on train only, window and label every split.

    Raises:
        ValueError: the series is too short for the split or the window, or a split gets no window.
    """
    bounds = split_bounds(len(values), train, validation)
    scaler = fit_scaler(values[: bounds.train_end])
    windows = make_windows(scaler.transform(values), lookback, horizon, stride, target)
    labels = assign_splits(windows, bounds)
    for name in SPLITS:
        if not np.any(labels == name):
            lo, hi = bounds.ranges()[name]
            raise ValueError(
                f"the {name} part (steps {lo}..{hi - 1}, {hi - lo} steps) holds no whole window of "
                f"lookback {lookback} and target {target!r}; use a shorter lookback/horizon or a longer series"
            )
    keep = labels != ""
    return WindowTable(
        split=labels[keep],
        start=windows.start[keep],
        x=windows.x[keep],
        y=windows.y[keep],
        metadata={
            "lookback": str(lookback),
            "horizon": str(horizon),
            "stride": str(stride),
            "target": target,
            "n": str(bounds.n),
            "train_end": str(bounds.train_end),
            "validation_end": str(bounds.validation_end),
            "scaler_mean": ",".join(repr(float(v)) for v in scaler.mean),
            "scaler_std": ",".join(repr(float(v)) for v in scaler.std),
        },
    )
