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

from tasks import storage
from tasks.forecasting import steps
from tasks.forecasting.steps import streamed
from tasks.forecasting.config import ForecastConfig
from tasks.forecasting.records import SeriesRef

ROOT = Path(__file__).resolve().parents[2]
STEPS = 210  # per series: lookback 32 + horizon 7 leave ~130 windows at the latest origin


def config(max_window_mb: float) -> ForecastConfig:
    """A tiny global GRU, one epoch, big batches: the windows' size is what the test is about."""
    return ForecastConfig.model_validate({
        "window": {"lookback": 32, "horizon": 7},
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
                                 steps.transform_spec(cfg, 7), 7)


CHILD = """
import json, pickle, resource, sys
from tasks.forecasting import steps
from tasks.forecasting.steps import streamed
from tasks.forecasting.config import ForecastConfig
from tasks.tracking import runs, store
from tasks.tracking.runs import RunContext

small, large = (pickle.loads(open(p, "rb").read()) for p in sys.argv[1:3])
cfg = ForecastConfig.model_validate(json.loads(sys.argv[3]))
experiment = store.ensure_experiment("streamed")
ctx = RunContext(experiment, runs.start_run(experiment, "parent", {}), "none", ())
steps.train_panel_model.fn(small, cfg, "gru", ctx)  # the same code on a small panel: libraries loaded, graph traced
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
trained = steps.train_panel_model.fn(large, cfg, "gru", ctx)
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
params = store.client().get_run(trained.run_id).data.params
print(json.dumps({"grown_mb": (after - before) / 1024, "streamed": params["train.streamed"],
                  "loss": trained.history["loss"], "failure": trained.failure}))
"""


def test_windows_over_the_bound_train_without_holding_them_in_memory(tmp_path):
    cfg = config(max_window_mb=8)
    small, large = _panel(tmp_path, 60, cfg), _panel(tmp_path, 4000, cfg)
    window_mb = streamed.window_megabytes(large)
    assert streamed.window_megabytes(small) < 8 < window_mb  # the small one trains in memory, the large streamed
    refs = []
    for name, ref in (("small", small), ("large", large)):
        refs.append(tmp_path / f"{name}.pickle")
        refs[-1].write_bytes(pickle.dumps(ref))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SEQFLOW_ARTIFACTS": str(tmp_path / "artifacts")}
    out = subprocess.run([sys.executable, "-c", CHILD, *map(str, refs), cfg.model_dump_json()], capture_output=True,
                         text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    figures = json.loads(out.stdout.strip().splitlines()[-1])
    assert figures["failure"] is None and figures["streamed"] == "True", figures
    # ~80 MB of windows: read whole, they were held several times over (the table, each split's rows,
    # the shuffled copy, TensorFlow's): the in-memory path grew by ~400 MB here. Streamed, memory holds
    # a few row groups (200 series each) and a batch.
    assert figures["grown_mb"] < 0.5 * window_mb, (figures, window_mb)


def test_the_forecasting_steps_import_without_tensorflow():
    """The streamed path's modules load TensorFlow only when a network trains: the CLI starts fast."""
    code = "import sys, tasks.forecasting.steps; print('tensorflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         env={**os.environ, "PYTHONPATH": str(ROOT)}, check=True)
    assert out.stdout.strip() == "False"
