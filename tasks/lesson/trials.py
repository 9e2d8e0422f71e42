"""One trial of the lesson: one cell, trained at one sequence length from one seed, then measured."""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np

from tasks.nets.config import NetConfig, TrainConfig
from tasks.nets.gradients import gradient_ratio
from tasks.nets.training import EpochHook, FitResult, train_cell
from tasks.lesson.gradients import TARGET, GradientProbe, sequence_gradient_norms
from tasks.lesson.memory import MemoryData, mse


@dataclass(frozen=True)
class TrialMeasures:
    """What one trained model scored, and its gradients before and after training.

    Attributes:
        test_mse: the model's MSE on the test sequences, in the target's own units.
        init_norms: ``(length,)`` ‖∂loss/∂x_t‖ at initialisation, on the fixed gradient batch.
        trained_norms: ``(length,)`` the same after training (the best epoch's weights).
        ratio_by_epoch: first-to-last ratio after 0, 1, 2, ... epochs (index 0: at initialisation;
            only that one when the per-epoch probe is off).
    """

    test_mse: float
    init_norms: np.ndarray
    trained_norms: np.ndarray
    ratio_by_epoch: tuple[float, ...]

    @property
    def ratio_init(self) -> float:
        """First-to-last gradient ratio at initialisation."""
        return gradient_ratio(self.init_norms)

    @property
    def ratio_trained(self) -> float:
        """First-to-last gradient ratio after training."""
        return gradient_ratio(self.trained_norms)


def run_trial(
    cell: str,
    data: MemoryData,
    model_cfg: NetConfig,
    train_cfg: TrainConfig,
    seed: int,
    gradient_batch: int,
    per_epoch: bool,
    on_epoch_end: EpochHook | None = None,
) -> tuple[keras.Model, FitResult, TrialMeasures]:
    """Train ``cell`` on ``data``'s training part and measure it on its test part.

    Args:
        cell: one of ``rnn | lstm | gru | manual_rnn | peephole_lstm``.
        data: the task's sequences; ``x`` is ``(n, length, 2)``, ``y`` is ``(n, 1, 1)``.
        model_cfg: units, layers, activation (the same for every cell).
        train_cfg: the training budget (the same for every cell).
        seed: initialisation and shuffling.
        gradient_batch: the first this many test sequences are the fixed gradient batch.
        per_epoch: measure the first-to-last ratio after every epoch, not only at initialisation.
        on_epoch_end: called with ``(epoch, logs)`` after every epoch.

    Raises:
        tasks.nets.training.DivergedError: the loss turned NaN or infinite.
    """
    (x_train, y_train), (x_val, y_val), (x_test, y_test) = (data.part(s) for s in ("train", "validation", "test"))
    x_probe, y_probe = x_test[:gradient_batch], y_test[:gradient_batch]
    probe = GradientProbe(x_probe, y_probe, per_epoch)
    model, fit = train_cell(
        cell, x_train, y_train, x_val, y_val, model_cfg, train_cfg, seed, TARGET, 1, on_epoch_end,
        extra_callbacks=[probe], n_targets=1,
    )
    # Called directly, not through a traced function: a sweep traces one per model (evaluation.compiled
    # or Keras' predict), and TensorFlow warns about "retracing" from the fifth model on.
    prediction = np.concatenate(
        [np.asarray(model(x_test[i : i + 1024], training=False)) for i in range(0, len(x_test), 1024)])
    trained = sequence_gradient_norms(model, x_probe, y_probe)  # the restored best epoch's weights
    return model, fit, TrialMeasures(mse(y_test, prediction), probe.init_norms, trained, tuple(probe.ratios))
