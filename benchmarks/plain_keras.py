"""The benchmark's yardstick: the flow's training with none of the pipeline around it.

It calls the same pure functions the flow's tasks call — the same series, windows, models and
``fit`` — but in memory, in one process: no Prefect, no MLflow, no Parquet, no evaluation or
plots. ``seqflow bench`` runs it in a fresh process beside the flow, so the difference between the
two is what the pipeline costs.

Two yardsticks, chosen by the second argument:

- ``seqflow`` (the default): seqflow's own training function, :func:`train_cell`, which feeds
  ``fit`` its repeated in-memory batches (:func:`tasks.nets.training.epoch_datasets`);
- ``keras``: the same model, optimizer and callbacks, fitted the way Keras' guides write it,
  ``model.fit(x, y, validation_data=(x_val, y_val), batch_size=..., shuffle=True)`` — the bare
  Keras ``fit`` a user would compare with, on TensorFlow's default threads;
- ``keras-threads``: that same bare ``fit`` with the config's ``train.threads`` applied first, so a
  reader can tell what the thread setting alone buys.

All three give the same weights to the last bit; only the time differs.

Usage: ``python -m benchmarks.plain_keras CONFIG.json [seqflow|keras|keras-threads]`` (a dumped StudyConfig); prints JSON.
"""

from __future__ import annotations

import json
import sys
import time

began = time.perf_counter()

import os  # noqa: E402

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from tasks.study.config import StudyConfig  # noqa: E402
from tasks.study.sine import series_matrix, synthesize_sine  # noqa: E402
from tasks.nets.training import (  # noqa: E402
    FitResult,
    fit_callbacks,
    optimizer_for,
    seeded_forecaster,
    train_cell,
)
from tasks.nets.windowing import build_window_table  # noqa: E402


def keras_array_fit(cell, x_train, y_train, x_val, y_val, cfg: StudyConfig) -> FitResult:
    """Build the cell as seqflow does and fit it from NumPy arrays with Keras' own input pipeline."""
    model = seeded_forecaster(cell, x_train, cfg.model, cfg.seed, cfg.window.target, cfg.window.horizon)
    model.compile(optimizer=optimizer_for(cfg.train), loss=cfg.train.loss, metrics=["mae"])
    fit_began = time.perf_counter()
    history = model.fit(x_train, y_train, validation_data=(x_val, y_val), epochs=cfg.train.epochs,
                        batch_size=cfg.train.batch_size, shuffle=True, callbacks=fit_callbacks(cfg.train), verbose=0)
    return FitResult.from_history(history.history, len(x_train), time.perf_counter() - fit_began)


def main(config_path: str, how: str = "seqflow") -> None:
    """Train every configured cell and print timings as JSON."""
    cfg = StudyConfig.model_validate_json(open(config_path).read())
    w = cfg.window
    values = series_matrix(synthesize_sine(cfg.source, cfg.seed))
    table = build_window_table(values, w.lookback, w.horizon, w.stride, w.target, cfg.split.train, cfg.split.validation)
    (x_train, y_train), (x_val, y_val) = table.part("train"), table.part("validation")
    if how not in ("seqflow", "keras", "keras-threads"):
        raise SystemExit(f"plain_keras: {how!r} is not one of seqflow, keras, keras-threads")
    if how == "keras-threads":
        from tasks.runtime import configure_tf_threads

        configure_tf_threads(cfg.train.threads)
    cells = {}
    for cell in cfg.model.cells:
        if how.startswith("keras"):
            fit = keras_array_fit(cell, x_train, y_train, x_val, y_val, cfg)
        else:
            _, fit = train_cell(
                cell, x_train, y_train, x_val, y_val, cfg.model, cfg.train, cfg.seed, w.target, w.horizon
            )
        cells[cell] = {
            "fit_seconds": fit.seconds,
            "epochs": fit.epochs_run,
            "train_samples_per_second": fit.samples_per_second,
        }
    print(json.dumps({"total_seconds": time.perf_counter() - began, "cells": cells}))


if __name__ == "__main__":
    main(*sys.argv[1:3])
