"""A panel's training windows read one Parquet row group at a time, for windows that do not fit in memory.

``window-series`` writes a panel a part of its series at a time, one row group each
(:func:`tasks.storage.arrays_writer`). When the panel's windows are larger than
``train.max_window_mb``, ``train-model`` does not read them whole: each network's training and
validation windows are :class:`tasks.nets.streaming.WindowParts` over those row groups, each part
cut to its fold and split and level-normalised (and joined to its calendar) as the in-memory path
does with the whole array. What is held whole is the panel's test rows (one per series and fold).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from tasks import storage
from tasks.forecasting import preprocessing
from tasks.forecasting.records import WindowsRef
from tasks.nets.streaming import WindowParts

WINDOW_COLUMNS = ("x", "y", "calendar")  # the float32 columns whose size decides the path


def window_megabytes(windows: WindowsRef) -> float:
    """MB of the panel's windows as float32 (inputs, targets and calendars of every row), from the file's footer."""
    return storage.arrays_layout(Path(windows.path)).values(WINDOW_COLUMNS) * 4 / 1e6


class PanelParts:
    """Where each fold's train and validation windows are in the panel's row groups (two columns read)."""

    def __init__(self, windows: WindowsRef):
        self.path = Path(windows.path)
        layout = storage.arrays_layout(self.path)
        self.has_calendar = "calendar" in layout.shapes
        self._counts: dict[tuple[int, str], list[int]] = {}
        self._parts = len(layout.part_rows)
        for part in range(self._parts):
            cols = storage.read_arrays_part(self.path, part, ["fold", "split"])
            folds, splits = cols["fold"], cols["split"].astype(str)
            for fold in np.unique(folds):
                for split in np.unique(splits[folds == fold]):
                    sizes = self._counts.setdefault((int(fold), str(split)), [0] * self._parts)
                    sizes[part] = int(np.sum((folds == fold) & (splits == split)))
        self._x_shape, self._y_shape = layout.shapes["x"], layout.shapes["y"]
        self._calendar_shape = layout.shapes.get("calendar")

    def count(self, fold: int, split: str) -> int:
        """Windows of ``split`` at ``fold``, over every series."""
        return int(sum(self._counts.get((fold, split), ())))

    def windows(self, fold: int, split: str, level: str, season_length: int) -> WindowParts:
        """The ``split`` windows at ``fold`` as a network trains on them: level-normalised, with their calendar.

        Each part is what the in-memory path feeds for the same rows (``preprocessing.level_normalise``,
        then ``preprocessing.with_calendar``), so the two paths see the same windows in another order.
        """
        columns = ["fold", "split", "x", "y"] + (["calendar"] if self.has_calendar else [])
        path = self.path

        def read(part: int) -> tuple[np.ndarray, np.ndarray]:
            cols = storage.read_arrays_part(path, part, columns)
            rows = np.flatnonzero((cols["fold"] == fold) & (cols["split"] == split))
            x, y = preprocessing.level_normalise(cols["x"][rows], cols["y"][rows], level, season_length)
            x = preprocessing.with_calendar(x, cols["calendar"][rows] if self.has_calendar else None)
            return x, y

        lookback, features = self._x_shape
        if self._calendar_shape is not None:  # the window extended by its target steps, a channel per feature
            x_shape = (self._calendar_shape[0], 1 + self._calendar_shape[1])
        else:
            x_shape = (lookback, features)
        sizes = tuple(self._counts.get((fold, split), [0] * self._parts))
        return WindowParts(read, sizes, x_shape, tuple(self._y_shape))
