"""Learning and determinism on a small clean sine, with a fixed seed."""

import numpy as np
import pytest

from tasks.config import load_config
from tasks.nets.training import train_cell
from tasks.nets.windowing import build_window_table
from tasks.study.baselines import naive
from tasks.study.config import StudyConfig
from tasks.study.evaluation import evaluate_cell
from tasks.study.sine import series_matrix, synthesize_sine

pytestmark = pytest.mark.slow

SMALL = [
    "source.x_end=60", "window.lookback=16", "model.units=16", "train.epochs=25", "train.learning_rate=0.01",
    "evaluate.generate_steps=30",
]


def _train_and_score(cell: str):
    cfg = load_config(StudyConfig, None, SMALL)
    values = series_matrix(synthesize_sine(cfg.source, cfg.seed))
    w = cfg.window
    table = build_window_table(values, w.lookback, w.horizon, w.stride, w.target, cfg.split.train, cfg.split.validation)
    (xt, yt), (xv, yv) = table.part("train"), table.part("validation")
    model, fit = train_cell(cell, xt, yt, xv, yv, cfg.model, cfg.train, cfg.seed, w.target, w.horizon)
    ev = evaluate_cell(model, values, table, cfg.generate_steps, 32)
    return ev, fit, values


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_gated_cells_learn_the_sine(cell):
    ev, fit, values = _train_and_score(cell)
    naive_rmse = float(np.sqrt(np.mean((values[ev.points] - naive(values, ev.points)) ** 2)))
    assert fit.history["loss"][-1] < fit.history["loss"][0] / 10
    assert ev.metrics["test_rmse"] < 0.05
    assert ev.metrics["test_rmse"] < naive_rmse / 2
    assert ev.metrics["generated_rmse"] < 0.3


def test_same_seed_same_metrics():
    first, fit_a, _ = _train_and_score("manual_rnn")
    second, fit_b, _ = _train_and_score("manual_rnn")
    assert fit_a.history == fit_b.history
    assert first.metrics == second.metrics


@pytest.mark.parametrize("cell", ["lstm", "manual_rnn"])
def test_the_epoch_datasets_train_exactly_as_keras_own_array_fit(cell):
    """fit_forecaster feeds repeated in-memory batches; Keras' ``fit(x, y, shuffle=True)`` must give the same bits.

    The window count is not a multiple of the batch size (a partial last batch), and two cells
    with different kernels are checked: losses of every epoch and every final weight are equal.
    The batches are made in the training thread (no prefetch thread), Keras' with its prefetch.
    """
    import keras

    from tasks.nets import training
    from tasks.nets.models import build_forecaster
    from tasks.nets.training import fit_forecaster, optimizer_for, seed_everything

    cfg = load_config(StudyConfig, None, [*SMALL, "train.epochs=6", "train.batch_size=16", "train.lr_patience=1"])
    values = series_matrix(synthesize_sine(cfg.source, cfg.seed))
    w = cfg.window
    table = build_window_table(values, w.lookback, w.horizon, w.stride, w.target, cfg.split.train, cfg.split.validation)
    (xt, yt), (xv, yv) = table.part("train"), table.part("validation")
    assert len(xt) % cfg.train.batch_size != 0 and len(xv) % cfg.train.batch_size != 0

    def built():
        seed_everything(cfg.seed)
        return build_forecaster(cell, cfg.model, w.lookback, xt.shape[2], w.target, w.horizon, None)

    ours = built()
    fit = fit_forecaster(ours, xt, yt, xv, yv, cfg.train)
    theirs = built()
    theirs.compile(optimizer=optimizer_for(cfg.train), loss="mse", metrics=["mae"])
    history = theirs.fit(
        xt, yt, validation_data=(xv, yv), epochs=cfg.train.epochs, batch_size=cfg.train.batch_size, shuffle=True,
        callbacks=[keras.callbacks.EarlyStopping(monitor="val_loss", patience=cfg.train.patience,
                                                 restore_best_weights=True),
                   keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=1, min_lr=1e-5)],
        verbose=0,
    ).history
    assert fit.epochs_run == cfg.train.epochs
    assert fit.history == {k: [float(v) for v in vals] for k, vals in history.items()}
    for a, b in zip(ours.get_weights(), theirs.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    options = training.epoch_datasets(xt, yt, xv, yv, cfg.train.batch_size)[0].options()
    assert options.experimental_optimization.inject_prefetch is False and options.autotune.enabled is False


_THREADS_SCRIPT = """
import hashlib, json, sys
import numpy as np
import tensorflow as tf
from tasks.config import load_config
from tasks.study.config import StudyConfig
from tasks.study.sine import series_matrix, synthesize_sine
from tasks.nets.training import train_cell
from tasks.nets.windowing import build_window_table
cfg = load_config(StudyConfig, None, ["source.x_end=60", "window.lookback=16", "train.epochs=3", "train.progress=false",
                                         "model.units=8", f"train.threads={sys.argv[1]}"])
w = cfg.window
table = build_window_table(series_matrix(synthesize_sine(cfg.source, cfg.seed)), w.lookback, w.horizon, w.stride,
                           w.target, cfg.split.train, cfg.split.validation)
(xt, yt), (xv, yv) = table.part("train"), table.part("validation")
model, fit = train_cell("gru", xt, yt, xv, yv, cfg.model, cfg.train, cfg.seed, w.target, w.horizon)
digest = hashlib.sha256(b"".join(np.ascontiguousarray(v.numpy()).tobytes() for v in model.weights)).hexdigest()
print(json.dumps({"weights": digest, "loss": fit.history["loss"],
                  "intra": tf.config.threading.get_intra_op_parallelism_threads(),
                  "inter": tf.config.threading.get_inter_op_parallelism_threads()}))
"""


@pytest.mark.slow
def test_train_threads_sets_tensorflows_pools_and_changes_no_bit():
    """One thread or TensorFlow's default: the same weights and losses (each in a fresh process)."""
    import json
    import subprocess
    import sys

    from tasks import paths

    runs = {}
    for threads in ("0", "1"):
        proc = subprocess.run([sys.executable, "-c", _THREADS_SCRIPT, threads], capture_output=True, text=True,
                              cwd=paths.PROJECT_ROOT, timeout=300)
        assert proc.returncode == 0, proc.stderr[-2000:]
        runs[threads] = json.loads(proc.stdout.strip().splitlines()[-1])
    assert runs["1"]["intra"] == runs["1"]["inter"] == 1
    assert runs["0"]["intra"] == runs["0"]["inter"] == 0  # TensorFlow's default: one per core
    assert runs["0"]["weights"] == runs["1"]["weights"] and runs["0"]["loss"] == runs["1"]["loss"]
