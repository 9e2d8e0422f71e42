"""Windows larger than ``train.max_window_mb`` train streamed: the training's peak memory stays below the windows' size.

The panel is cut here (the flow's ``window-series`` step); the training (the flow's ``train-model``
step) runs in a child process, first on a small panel of the same shape (TensorFlow, Keras and
MLflow loaded, the training graph traced), then on the large one. Its peak resident memory
(``ru_maxrss``) before and after the large training is what training those windows cost: a bound
on memory, not a timing, so the machine's load does not move it.
"""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tasks import storage
from tasks.forecasting import steps
from tasks.forecasting.steps import data as steps_data
from tasks.forecasting.steps import streamed
from tasks.forecasting.config import ForecastConfig
from tasks.forecasting.records import SeriesRef

ROOT = Path(__file__).resolve().parents[2]
# Windows of 8 input and 120 target steps: large (128 numbers) but cheap to train on (a recurrence of 8 steps).
STEPS, LOOKBACK, HORIZON = 600, 8, 120  # ~350 windows a series


def config(max_window_mb: float) -> ForecastConfig:
    """A tiny global GRU, one epoch, big batches: the windows' size is what the test is about."""
    return ForecastConfig.model_validate({
        "window": {"lookback": LOOKBACK, "horizon": HORIZON},
        "model": {"recipe": "manual", "cells": ["gru"], "units": 2},
        "train": {"epochs": 1, "batch_size": 8192, "resume": False, "progress": False, "max_window_mb": max_window_mb},
        "evaluate": {"baselines": ["naive"]},
    })


def _panel(folder: Path, n_series: int, cfg: ForecastConfig):
    rng = np.random.default_rng(n_series)
    stamps = np.datetime64("2000-01-01") + np.arange(STEPS)
    frame = pd.DataFrame({
        "series_id": np.repeat([f"s{k:05d}" for k in range(n_series)], STEPS),
        "timestamp": np.tile(stamps, n_series).astype("datetime64[ns]"),
        "value": (100 + np.cumsum(rng.normal(size=(n_series, STEPS)), axis=1)).ravel(),
    })
    path = storage.write_frame(frame, folder / f"series-{n_series}.parquet")
    series = SeriesRef(str(path), storage.content_hash(path), len(frame), n_series, "daily", 7, (), "", "s00000", STEPS,
                       0, ())
    return steps.window_panel.fn(series, cfg.window, cfg.split, cfg.total_folds, cfg.fold_step,
                                 steps.transform_spec(cfg, 7), HORIZON)


CHILD = """
import json, pickle, sys
from tasks.forecasting import steps
from tasks.forecasting.steps import data as steps_data
from tasks.forecasting.steps import streamed
from tasks.forecasting.config import ForecastConfig
from tasks.tracking import runs, store
from tasks.tracking.runs import RunContext

small, large = (pickle.loads(open(p, "rb").read()) for p in sys.argv[1:3])
cfg = ForecastConfig.model_validate(json.loads(sys.argv[3]))
experiment = store.ensure_experiment("streamed")
ctx = RunContext(experiment, runs.start_run(experiment, "parent", {}), "none", ())
steps.train_panel_model.fn(small, cfg, "gru", ctx)  # the same code on a small panel: libraries loaded, graph traced
before = int(next(l for l in open('/proc/self/status') if l.startswith('VmHWM')).split()[1])
trained = steps.train_panel_model.fn(large, cfg, "gru", ctx)
after = int(next(l for l in open('/proc/self/status') if l.startswith('VmHWM')).split()[1])
params = store.client().get_run(trained.run_id).data.params
print(json.dumps({"grown_mb": (after - before) / 1024, "streamed": params["train.streamed"],
                  "loss": trained.history["loss"], "failure": trained.failure}))
"""


def _grown(tmp_path: Path, max_window_mb: float, monkeypatch) -> tuple[dict, float]:
    """Train a small panel, then a large one (~180 MB of windows) in a child; its memory growth over the large one."""
    cfg = config(max_window_mb)
    # Row groups of 25 series (the flow's are 200): 40 of them, so that four (what the stream holds) are a tenth.
    monkeypatch.setattr(steps_data, "SERIES_PER_PART", 25)
    small, large = _panel(tmp_path, 50, cfg), _panel(tmp_path, 1000, cfg)
    refs = []
    for name, ref in (("small", small), ("large", large)):
        refs.append(tmp_path / f"{name}.pickle")
        refs[-1].write_bytes(pickle.dumps(ref))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SEQFLOW_ARTIFACTS": str(tmp_path / "artifacts")}
    out = subprocess.run([sys.executable, "-c", CHILD, *map(str, refs), cfg.model_dump_json()], capture_output=True,
                         text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    figures = json.loads(out.stdout.strip().splitlines()[-1])
    assert figures["failure"] is None, figures
    print(f"max_window_mb {max_window_mb}: {figures['grown_mb']:.0f} MB grown on "
          f"{streamed.window_megabytes(large):.0f} MB of windows")
    # The small panel takes the same path as the large one: its run loaded and traced what that path needs.
    assert streamed.window_megabytes(small) > BOUND_MB or max_window_mb > BOUND_MB
    return figures, streamed.window_megabytes(large)


BOUND_MB = 1.0  # train.max_window_mb: both panels are larger


def test_windows_over_the_bound_train_without_holding_them_in_memory(tmp_path, monkeypatch):
    figures, window_mb = _grown(tmp_path, BOUND_MB, monkeypatch)
    assert figures["streamed"] == "True", figures
    # Streamed, memory holds four row groups and a batch: it grew by 67 and 78 MB (two runs) on 120 MB of
    # windows when this was written, most of it the new network's traced functions. Read whole (the control
    # below), the windows were held several times over (the table, each split's rows, the shuffled copy,
    # TensorFlow's): 761 MB.
    assert figures["grown_mb"] < window_mb, (figures, window_mb)


@pytest.mark.slow
def test_the_bound_catches_windows_read_whole(tmp_path, monkeypatch):
    """The control: the same training in memory (the path every run took before streaming) breaks the bound above."""
    figures, window_mb = _grown(tmp_path, 10_000, monkeypatch)
    assert figures["streamed"] == "False", figures
    assert figures["grown_mb"] > window_mb, (figures, window_mb)


def test_the_forecasting_steps_import_without_tensorflow():
    """The streamed path's modules load TensorFlow only when a network trains: the CLI starts fast."""
    code = "import sys, tasks.forecasting.steps; print('tensorflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         env={**os.environ, "PYTHONPATH": str(ROOT)}, check=True)
    assert out.stdout.strip() == "False"


def test_the_parts_hold_the_windows_the_in_memory_path_trains_on(tmp_path, monkeypatch):
    """Level-normalised and joined to their calendar part by part: the whole array's windows, in file order."""
    from tasks.forecasting import calendar, preprocessing

    cfg = config(1.0)
    monkeypatch.setattr(steps_data, "SERIES_PER_PART", 3)
    features = calendar.resolve("auto", "daily")
    frame_ref = _panel(tmp_path, 8, cfg)  # its series, windowed again below with the calendar
    ref = steps.window_panel.fn(frame_ref.series, cfg.window, cfg.split, 2, 30, steps.transform_spec(cfg, 7), HORIZON,
                                features)
    table = steps_data.read_panel(ref)
    parts = streamed.PanelParts(ref)
    assert parts.has_calendar and parts.count(0, "test") == parts.count(1, "test") == 8  # a test row per series
    for fold in (0, 1):
        for split in ("train", "validation"):
            rows = table.rows(fold, split)
            m = table.transform(int(table.rows(fold, "test")[0])).season_length
            x, y = preprocessing.level_normalise(table.x[rows], table.y[rows], "seasonal", m)
            x = preprocessing.with_calendar(x, table.calendar_of(rows))
            stream = parts.windows(fold, split, "seasonal", m)
            assert stream.sizes[-1] > 0 and len(stream.sizes) == 3
            assert stream.n_windows == len(rows) == parts.count(fold, split)
            read = [stream.read(k) for k in range(len(stream.sizes))]
            np.testing.assert_array_equal(np.concatenate([r[0] for r in read]), x)
            np.testing.assert_array_equal(np.concatenate([r[1] for r in read]), y)
            assert stream.x_shape == x.shape[1:] and stream.y_shape == y.shape[1:]
