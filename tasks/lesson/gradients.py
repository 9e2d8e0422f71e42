"""The vanishing-gradient story, measured: ‖∂loss/∂x_t‖ per input step, at initialisation and as training goes.

For a fixed batch of sequences, the loss of the sequence's one target is differentiated with
respect to every input step (:func:`tasks.nets.gradients.input_gradient_norms`, whose
horizon-1 form is exactly a sequence-to-one target). The *first-to-last ratio* divides the norm at
the first step by the norm at the last: near 1, the first input still shapes the loss as strongly as
the last; many orders of magnitude below 1, the gradient that would teach the model to remember the
first input has vanished on its way back.
"""

from __future__ import annotations

import keras
import numpy as np

from tasks.nets.gradients import gradient_ratio, input_gradient_norms

TARGET = "horizon"  # a memory task's model predicts one step from the last state: horizon 1


def sequence_gradient_norms(model: keras.Model, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """‖∂loss/∂x_t‖ over a batch, per input step.

    Args:
        model: maps ``(batch, length, n_features)`` to ``(batch, 1, 1)``.
        x: ``(batch, length, n_features)`` inputs.
        y: ``(batch, 1, 1)`` targets.

    Returns:
        ``(length,)`` norms over batch and features, first step first.
    """
    return input_gradient_norms(model, x, y, TARGET)


class GradientProbe(keras.callbacks.Callback):
    """Measure the gradient norms on a fixed batch when training begins and after every epoch.

    Attributes after ``fit``:
        init_norms: ``(length,)`` norms of the freshly initialised model, before any update.
        ratios: first-to-last ratio after each number of epochs completed: ``ratios[0]`` at
            initialisation, ``ratios[k]`` after epoch ``k`` (only ``ratios[0]`` unless ``per_epoch``).

    Args:
        x: ``(batch, length, n_features)`` the fixed batch (test sequences: never trained on).
        y: ``(batch, 1, 1)`` its targets.
        per_epoch: measure after every epoch too (one backward pass each), not only at the start.
    """

    def __init__(self, x: np.ndarray, y: np.ndarray, per_epoch: bool = True):
        super().__init__()
        self._x, self._y, self._per_epoch = x, y, per_epoch
        self.init_norms: np.ndarray | None = None
        self.ratios: list[float] = []

    def on_train_begin(self, logs=None):
        self.init_norms = sequence_gradient_norms(self.model, self._x, self._y)
        self.ratios = [gradient_ratio(self.init_norms)]

    def on_epoch_end(self, epoch, logs=None):
        if self._per_epoch:
            self.ratios.append(gradient_ratio(sequence_gradient_norms(self.model, self._x, self._y)))
