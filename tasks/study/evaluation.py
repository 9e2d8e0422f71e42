"""Score forecasters: one-step-ahead errors, generated continuations, gradient flow through time."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

from tasks.nets.gradients import gradient_ratio, input_gradient_norms
from tasks.nets.models import forecast_step
from tasks.nets.windowing import Scaler, WindowTable


def rmse(truth: np.ndarray, prediction: np.ndarray) -> float:
    """Root mean squared error over all elements of two same-shaped arrays, e.g. ``(n_points, n_features)``."""
    return float(np.sqrt(np.mean((np.asarray(truth) - np.asarray(prediction)) ** 2)))


def mae(truth: np.ndarray, prediction: np.ndarray) -> float:
    """Mean absolute error over all elements of two same-shaped arrays, e.g. ``(n_points, n_features)``."""
    return float(np.mean(np.abs(np.asarray(truth) - np.asarray(prediction))))


def compiled(model: keras.Model) -> Callable[[np.ndarray], np.ndarray]:
    """The model's forward pass as one traced TensorFlow graph, in inference mode.

    Calling a Keras RNN eagerly runs its time loop op by op (about 0.1 s a call here); generation
    calls it once per generated step, so it is traced once and replayed instead.
    """
    # One exact-shape trace per input shape (a batch of test windows, one generation window):
    # a relaxed-shape trace would pick other kernels and move the last digits of the metrics.
    forward = tf.function(lambda x: model(x, training=False), reduce_retracing=False)
    return lambda x: forward(tf.convert_to_tensor(x, dtype=tf.float32)).numpy()


def predict_batches(
    forward: Callable[[np.ndarray], np.ndarray], x: np.ndarray, batch_size: int = 256
) -> np.ndarray:
    """Run a :func:`compiled` forward pass on ``(n_windows, lookback, n_features)`` inputs in batches."""
    return np.concatenate([forward(x[i : i + batch_size]) for i in range(0, len(x), batch_size)], axis=0)


def one_step_forecasts(forward: Callable[[np.ndarray], np.ndarray], x: np.ndarray, target: str) -> np.ndarray:
    """The one-step-ahead forecast of each window, ``(n_windows, n_features)``, in model units."""
    out = predict_batches(forward, x)
    return out[:, forecast_step(target, x.shape[1])]


def generate(
    step_fn: Callable[[np.ndarray], np.ndarray], seed_window: np.ndarray, n_steps: int
) -> np.ndarray:
    """Continue a series by feeding forecasts back in as inputs.

    Args:
        step_fn: maps a ``(1, lookback, n_features)`` window to its next ``(k, n_features)`` steps
            (``k`` = 1 for a shifted-target model, ``horizon`` for a horizon model).
        seed_window: ``(lookback, n_features)``, the last known steps.
        n_steps: how many steps to produce.

    Returns:
        ``(n_steps, n_features)`` generated steps, in the units of ``seed_window``.
    """
    window = np.array(seed_window, dtype=np.float32)
    produced: list[np.ndarray] = []
    total = 0
    while total < n_steps:
        nxt = np.asarray(step_fn(window[None]), dtype=np.float32).reshape(-1, window.shape[-1])
        produced.append(nxt)
        total += len(nxt)
        window = np.concatenate([window, nxt], axis=0)[-len(seed_window) :]
    return np.concatenate(produced, axis=0)[:n_steps]


def model_step_fn(forward: Callable[[np.ndarray], np.ndarray], target: str) -> Callable[[np.ndarray], np.ndarray]:
    """The :func:`generate` step of a :func:`compiled` model: its forecast beyond the input window."""

    def step(window: np.ndarray) -> np.ndarray:
        out = forward(window)[0]
        return out[-1:] if target == "shifted" else out

    return step


def generate_continuation(
    forward: Callable[[np.ndarray], np.ndarray], scaler: Scaler, seed_window: np.ndarray, n_steps: int, target: str
) -> np.ndarray:
    """Generate ``n_steps`` after a raw-units ``(lookback, n_features)`` seed; returns raw units."""
    scaled = scaler.transform(seed_window).astype(np.float32)
    return scaler.inverse(generate(model_step_fn(forward, target), scaled, n_steps))


def forecast_points(start: np.ndarray, lookback: int) -> np.ndarray:
    """Series index ``(n_windows,)`` of each window's one-step-ahead forecast, from its ``(n_windows,)`` starts."""
    return np.asarray(start) + lookback


@dataclass(frozen=True)
class CellEvaluation:
    """Everything measured for one trained cell; arrays are in the series' own units."""

    metrics: dict[str, float]
    points: np.ndarray  # (n_test,) series index of each scored step
    truth: np.ndarray  # (n_test, n_features)
    forecast: np.ndarray  # (n_test, n_features)
    seed_points: np.ndarray  # (lookback,)
    seed: np.ndarray  # (lookback, n_features)
    generated_points: np.ndarray  # (n_generate,)
    generated_truth: np.ndarray  # (n_generate, n_features)
    generated: np.ndarray  # (n_generate, n_features)
    gradient_norms: np.ndarray  # (lookback,)


def evaluate_cell(
    model: keras.Model,
    values: np.ndarray,
    table: WindowTable,
    generate_steps: int,
    gradient_windows: int,
) -> CellEvaluation:
    """Score a trained model on the test part of ``table``.

    Args:
        model: trained on ``table``'s train part.
        values: ``(time, n_features)`` raw series the windows were cut from.
        table: a :class:`tasks.nets.windowing.WindowTable`.
        generate_steps: steps to generate, seeded with the ``lookback`` steps before the test part.
        gradient_windows: test windows used for :func:`input_gradient_norms`.
    """
    target = table.metadata["target"]
    scaler: Scaler = table.scaler
    bounds = table.bounds
    x_test, y_test = table.part("test")
    lookback = x_test.shape[1]
    points = forecast_points(table.start[table.split == "test"], lookback)
    forward = compiled(model)  # traced once, used for the test forecasts and every generated step
    forecast = scaler.inverse(one_step_forecasts(forward, x_test, target))
    truth = values[points]

    seed_points = np.arange(bounds.validation_end - lookback, bounds.validation_end)
    generated_points = np.arange(bounds.validation_end, bounds.validation_end + generate_steps)
    generated = generate_continuation(forward, scaler, values[seed_points], generate_steps, target)
    generated_truth = values[generated_points]

    norms = input_gradient_norms(model, x_test[:gradient_windows], y_test[:gradient_windows], target)
    metrics = {
        "test_rmse": rmse(truth, forecast),
        "test_mae": mae(truth, forecast),
        "generated_rmse": rmse(generated_truth, generated),
        "generated_mae": mae(generated_truth, generated),
        "gradient_first_to_last": gradient_ratio(norms),
    }
    return CellEvaluation(
        metrics=metrics,
        points=points,
        truth=truth,
        forecast=forecast,
        seed_points=seed_points,
        seed=values[seed_points],
        generated_points=generated_points,
        generated_truth=generated_truth,
        generated=generated,
        gradient_norms=norms,
    )
