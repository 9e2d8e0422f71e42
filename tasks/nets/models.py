"""Assemble a forecaster: stacked recurrent layers of one cell type and a dense head."""

from __future__ import annotations

import random

import keras
import numpy as np

from tasks.nets.cells import recurrent_layer
from tasks.nets.config import NetConfig
from tasks.nets.windowing import Scaler


def build_forecaster(
    cell: str, cfg: NetConfig, lookback: int, n_features: int, target: str, horizon: int,
    n_targets: int | None = None, future_steps: int = 0, seed: int | None = None,
) -> keras.Model:
    """Build an uncompiled model mapping ``(batch, lookback, n_features)`` to its target.

    With ``future_steps`` (calendar covariates, a horizon target only) the input is
    ``(batch, lookback + future_steps, n_features)``: the window extended by the steps to forecast,
    channel 0 the value (0 in the future rows, never read there), the others their covariates. One
    input tensor keeps the served model, evaluation and the pyfunc as simple as without; the model
    splits it: the recurrent layers read the ``lookback`` input steps (value and calendar), and the
    future rows, flattened, join their last hidden state before the dense head, so each forecast step
    sees the calendar of every step it forecasts.

    Args:
        cell: one of ``rnn | lstm | gru | manual_rnn | peephole_lstm``.
        cfg: units, layers, activation, dropout, layer normalisation.
        lookback: input steps (read from the windows, not from config).
        n_features: features per step (read from the windows).
        target: ``"shifted"`` gives an output per input step ``(batch, lookback, n_features)``;
            ``"horizon"`` gives ``(batch, horizon, n_features)`` from the last hidden state.
        horizon: steps predicted when ``target == "horizon"``.
        n_targets: features per predicted step; ``None`` predicts every input feature. A memory task
            reads two features (value, marker) and predicts one number.
        future_steps: rows after the ``lookback`` input steps that carry the forecast steps'
            covariates (0: none).
        seed: seeds every random initializer and dropout layer from a generator of its own, so the
            initial weights depend on the seed alone. Without it, Keras draws those seeds from Python's
            process-wide ``random``, which any other thread of the process may draw from at the same
            time (a Dask worker's event loop does): then the same seed can give other weights.
            The seeds are drawn in the order Keras draws them, so a seeded build has the weights an
            unseeded one has right after ``keras.utils.set_random_seed(seed)`` with no other thread drawing.
    """
    if future_steps and target != "horizon":
        raise ValueError(f"future_steps = {future_steps} (covariates) needs target = 'horizon'; got {target!r}")
    draws = random.Random(seed) if seed is not None else None
    seeds = (lambda: draws.randint(1, int(1e9))) if draws is not None else None  # Keras' make_default_seed
    inputs = keras.Input(shape=(lookback + future_steps, n_features), name="window")
    n_out = n_features if n_targets is None else n_targets
    x = inputs
    future = None
    if future_steps:
        x = keras.layers.Cropping1D((0, future_steps), name="input_steps")(inputs)
        future = keras.layers.Cropping1D((lookback, 0), name="future_steps")(inputs)
        # The future rows' covariates only: their value channel (0, unknown) is dropped, not learned on.
        future = keras.layers.Flatten(name="future_covariates")(future[:, :, 1:])
    for layer in range(cfg.layers):
        last = layer == cfg.layers - 1
        return_sequences = (not last) or target == "shifted"
        x = recurrent_layer(cell, cfg.units, cfg.activation, return_sequences, name=f"{cell}_{layer + 1}",
                            seeds=seeds)(x)
        if cfg.layer_norm:
            x = keras.layers.LayerNormalization(name=f"layer_norm_{layer + 1}")(x)
        if cfg.dropout > 0:
            x = keras.layers.Dropout(cfg.dropout, name=f"dropout_{layer + 1}", **_seeded(seeds, "seed"))(x)
    if target == "shifted":
        outputs = keras.layers.Dense(n_out, name="head", **_seeded(seeds))(x)  # applied at every step
    else:
        if future is not None:
            x = keras.layers.Concatenate(name="summary_and_future")([x, future])
        outputs = keras.layers.Dense(horizon * n_out, name="head", **_seeded(seeds))(x)
        outputs = keras.layers.Reshape((horizon, n_out), name="horizon")(outputs)
    return keras.Model(inputs, outputs, name=f"seqflow_{cell}")


def _seeded(seeds, key: str = "kernel_initializer") -> dict:
    """A Dropout's ``seed`` or a Dense layer's seeded ``kernel_initializer`` (Glorot uniform, its default)."""
    if seeds is None:
        return {}
    return {key: seeds() if key == "seed" else keras.initializers.GlorotUniform(seed=seeds())}


def forecast_step(target: str, lookback: int) -> int:
    """Index into a window's ``y`` of the one-step-ahead forecast (the first step after the input)."""
    return lookback - 1 if target == "shifted" else 0


def raw_forecast(model: keras.Model, scaler: Scaler, window: np.ndarray) -> np.ndarray:
    """The model's output for raw-unit windows ``(batch, lookback, n_features)``, in raw units.

    The arithmetic is the logged pyfunc model's, step for step in float32 (see
    ``tasks/tracking/keras_pyfunc.py``), so the two agree exactly and this is its output example.
    """
    mean, std = scaler.mean.astype(np.float32), scaler.std.astype(np.float32)
    scaled = (np.asarray(window, dtype=np.float32) - mean) / std
    out = np.asarray(model(scaled, training=False))
    k = out.shape[-1]  # the output's features are the input's first k (the value before any covariates)
    return out * std[:k] + mean[:k]
