"""The window-series step writes the panel a few series at a time; read back, it is the panel built at once."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tasks import storage
from tasks.forecasting import panel, steps
from tasks.forecasting.steps import data
from tasks.forecasting.config import ForecastConfig
from tasks.forecasting.preprocessing import TransformSpec


def test_the_stored_windows_are_the_panel_of_every_series_whatever_the_parts(tmp_path, monkeypatch):
    lines = ["series_id,date,value"]
    for k in range(5):
        lines += [f"s{k},{d.date()},{100 + k + np.sin(i):.4f}"
                  for i, d in enumerate(np.arange(np.datetime64("2021-01-01"), np.datetime64("2021-03-01")).astype("M8[ms]").tolist())]
    path = tmp_path / "five.csv"
    path.write_text("\n".join(lines) + "\n")
    cfg = ForecastConfig.model_validate({"source": {"kind": "csv", "path": str(path), "id_column": "series_id"},
                                         "window": {"lookback": 6, "horizon": 3}})
    series = steps.ingest_series.fn(cfg.source)
    spec = TransformSpec(season_length=7)
    monkeypatch.setattr(data, "SERIES_PER_PART", 2)
    ref = steps.window_panel.fn(series, cfg.window, cfg.split, 2, 3, spec, 3)
    assert storage.arrays_layout(Path(ref.path)).part_rows[2:] != ()  # three parts: 2, 2 and 1 series
    stored = data.read_panel(ref)
    test_rows = data.read_panel(ref, "test")  # what evaluation reads
    for name in ("fold", "series_id", "split", "x", "origin"):
        np.testing.assert_array_equal(getattr(test_rows, name), getattr(stored, name)[stored.split == "test"])

    arrays = {sid: values for sid, (_, values) in data.series_arrays(series).items()}
    whole = panel.build_panel_windows(arrays, 6, 3, 3, 1, cfg.split.validation, 2, 3, spec)
    for name in ("fold", "series_id", "split", "start", "origin", "x", "y", "mean", "std"):
        np.testing.assert_array_equal(getattr(stored, name), getattr(whole, name))
    assert stored.metadata == whole.metadata
    assert ref.counts == whole.counts()
