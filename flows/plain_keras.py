"""The benchmark's yardstick: the same training as the flow, written as a plain Keras script.

Same data, same windows, same models, same ``fit`` settings, in memory: no Prefect, no MLflow, no
Parquet, no evaluation or plots. ``seqflow bench`` runs it in a fresh process beside the flow.

Usage: ``python -m flows.plain_keras CONFIG.json`` (a dumped ForecastConfig); prints JSON.
"""

from __future__ import annotations

import json
import sys
import time

began = time.perf_counter()

import os  # noqa: E402

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from tasks.config import ForecastConfig  # noqa: E402
from tasks.forecasting.models import build_forecaster  # noqa: E402


def main(config_path: str) -> None:
    """Train every configured cell with ``model.fit`` and print timings as JSON."""
    cfg = ForecastConfig.model_validate_json(open(config_path).read())
    s = cfg.source
    x = s.x_start + s.resolution * np.arange(s.n_points)
    values = (s.amplitude * np.sin(s.frequency * x + s.phase)).reshape(-1, 1)
    n = len(values)
    train_end, val_end = int(n * cfg.split.train), int(n * cfg.split.train) + int(n * cfg.split.validation)
    mean, std = values[:train_end].mean(), values[:train_end].std()
    scaled = ((values - mean) / std).astype(np.float32)
    lb = cfg.window.lookback

    shifted = cfg.window.target == "shifted"
    ahead = 1 if shifted else cfg.window.horizon

    def windows(lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
        # A window belongs to [lo, hi) when all its target steps do, as in the flow.
        first = 1 if shifted else lb
        starts = [i for i in range(0, n - lb - ahead + 1) if i + first >= lo and i + lb + ahead - 1 < hi]
        xs = np.stack([scaled[i : i + lb] for i in starts])
        ys = np.stack([scaled[i + 1 : i + lb + 1] if shifted else scaled[i + lb : i + lb + ahead] for i in starts])
        return xs, ys

    x_train, y_train = windows(0, train_end)
    x_val, y_val = windows(train_end, val_end)
    tf.config.experimental.enable_op_determinism()
    cells = {}
    for cell in cfg.model.cells:
        keras.utils.set_random_seed(cfg.seed)
        model = build_forecaster(cell, cfg.model, lb, 1, cfg.window.target, cfg.window.horizon)
        model.compile(optimizer=keras.optimizers.Adam(cfg.train.learning_rate, clipnorm=cfg.train.clipnorm), loss="mse",
                      metrics=["mae"])
        t0 = time.perf_counter()
        hist = model.fit(
            x_train, y_train, validation_data=(x_val, y_val), epochs=cfg.train.epochs, batch_size=cfg.train.batch_size,
            callbacks=[keras.callbacks.EarlyStopping(patience=cfg.train.patience, restore_best_weights=True)],
            verbose=0,
        )
        seconds = time.perf_counter() - t0
        epochs = len(hist.history["loss"])
        cells[cell] = {"fit_seconds": seconds, "epochs": epochs, "train_samples_per_second": len(x_train) * epochs / seconds}
    print(json.dumps({"total_seconds": time.perf_counter() - began, "cells": cells}))


if __name__ == "__main__":
    main(sys.argv[1])
