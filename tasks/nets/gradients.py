"""How strongly a trained network's loss depends on each input step: the vanishing-gradient measure."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from tasks.nets.models import forecast_step


def input_gradient_norms(model: keras.Model, x: np.ndarray, y: np.ndarray, target: str) -> np.ndarray:
    """How strongly the one-step forecast's loss depends on each input step.

    For a batch of windows, the squared error of the one-step-ahead forecast is differentiated with
    respect to the inputs; the L2 norm over batch and features is taken per input step. A cell
    that forgets early inputs (vanishing gradients) shows norms that fall off steeply to the left.

    Args:
        x: ``(n_windows, lookback, n_features)`` scaled inputs.
        y: ``(n_windows, target_steps, n_features)`` scaled targets.

    Returns:
        ``(lookback,)`` gradient norms, oldest input step first.
    """
    k = forecast_step(target, x.shape[1])
    inputs = tf.convert_to_tensor(x, dtype=tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(inputs)
        out = model(inputs, training=False)
        loss = tf.reduce_mean(tf.square(out[:, k] - y[:, k]))
    grads = tape.gradient(loss, inputs).numpy()  # (n_windows, lookback, n_features)
    return np.sqrt(np.sum(grads**2, axis=(0, 2)))


def gradient_ratio(norms: np.ndarray) -> float:
    """First input step's gradient norm over the last's, from ``(lookback,)`` norms: near 0 means early inputs are forgotten."""
    last = float(norms[-1])
    return float(norms[0]) / last if last > 0 else float("nan")
