"""Assemble a forecaster: stacked recurrent layers of one cell type and a dense head."""

from __future__ import annotations

import keras

from tasks.forecasting.config import ModelConfig
from tasks.forecasting.cells import recurrent_layer


def build_forecaster(
    cell: str, cfg: ModelConfig, lookback: int, n_features: int, target: str, horizon: int,
    n_targets: int | None = None,
) -> keras.Model:
    """Build an uncompiled model mapping ``(batch, lookback, n_features)`` to its target.

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
    """
    inputs = keras.Input(shape=(lookback, n_features), name="window")
    n_out = n_features if n_targets is None else n_targets
    x = inputs
    for layer in range(cfg.layers):
        last = layer == cfg.layers - 1
        return_sequences = (not last) or target == "shifted"
        x = recurrent_layer(cell, cfg.units, cfg.activation, return_sequences, name=f"{cell}_{layer + 1}")(x)
        if cfg.layer_norm:
            x = keras.layers.LayerNormalization(name=f"layer_norm_{layer + 1}")(x)
        if cfg.dropout > 0:
            x = keras.layers.Dropout(cfg.dropout, name=f"dropout_{layer + 1}")(x)
    if target == "shifted":
        outputs = keras.layers.Dense(n_out, name="head")(x)  # applied at every step
    else:
        outputs = keras.layers.Dense(horizon * n_out, name="head")(x)
        outputs = keras.layers.Reshape((horizon, n_out), name="horizon")(outputs)
    return keras.Model(inputs, outputs, name=f"seqflow_{cell}")
