"""Fit a forecaster with Keras: seeded, deterministic, early-stopped on validation loss."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from tasks.nets.config import NetConfig, TrainConfig
from tasks.nets.models import build_forecaster
from tasks.nets.streaming import WindowParts, streamed_datasets

logger = logging.getLogger(__name__)

EpochHook = Callable[[int, dict[str, float]], None]


def seed_everything(seed: int) -> None:
    """Seed Python, numpy and TensorFlow and ask TensorFlow for deterministic ops.

    With op determinism, a re-run with the same seed, data and config gives the same weights and
    metrics on the same machine (at some cost in speed: a few kernels lose their fast paths).
    """
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


def optimizer_for(cfg: TrainConfig) -> keras.optimizers.Optimizer:
    """Adam with the configured learning rate and gradient clipping."""
    kwargs = {}
    if cfg.clipnorm is not None:
        kwargs["clipnorm"] = cfg.clipnorm
    if cfg.clipvalue is not None:
        kwargs["clipvalue"] = cfg.clipvalue
    return keras.optimizers.Adam(learning_rate=cfg.learning_rate, **kwargs)


class DivergedError(RuntimeError):
    """Training produced a NaN or infinite loss; the model is unusable and must not be ranked."""


class _StopOnNonFinite(keras.callbacks.Callback):
    """Stop training after an epoch whose loss is NaN or infinite; the caller reports the model failed.

    Keras' TerminateOnNaN prints to stdout, which would corrupt ``--json`` output, and checks every
    batch, which costs a device sync per step; one check per epoch is free and stops as surely.
    """

    def on_epoch_end(self, epoch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not np.isfinite(float(loss)):
            self.model.stop_training = True


def epoch_datasets(
    x_train: np.ndarray, y_train: np.ndarray, x_val: np.ndarray, y_val: np.ndarray, batch_size: int
) -> tuple[tf.data.Dataset, int, tf.data.Dataset, int]:
    """Batches for ``fit`` that give Keras' own array results, bit for bit, without its per-epoch cost.

    ``model.fit(x, y, shuffle=True)`` feeds arrays through Keras' array adapter, which builds a
    fresh ``tf.data`` iterator every epoch (a shuffle, a flat_map and a parallel gather: about 12 ms
    each time, for training and for validation). Its order is ``tf.random.shuffle(tf.range(n))``
    inside a ``Dataset.range(1).map``; with a global seed set, as :func:`seed_everything` does, that
    op is seeded by the global seed and by its position in the traced map function, so every epoch
    (a fresh iterator, a fresh kernel) draws the **same** permutation. The same public ops, traced the
    same way, draw it here once; the windows are gathered in that order once, and both datasets
    repeat from memory: one iterator for the whole ``fit``, the same batches in the same order, and
    the same weights and losses to the last bit (``tests/nets/test_training.py`` checks it).

    Returns:
        ``(train, steps_per_epoch, validation, validation_steps)``.
    """
    n = len(x_train)
    # Keep this map function exactly as Keras' adapter writes its ``permutation``: one more op traced
    # before the shuffle would move its implicit op seed and draw another order (still seeded, but
    # no longer ``fit``'s).
    keras_order = tf.data.Dataset.range(1).map(lambda _: tf.random.shuffle(tf.range(n, dtype=tf.int64)))
    order = next(iter(keras_order)).numpy()
    train = tf.data.Dataset.from_tensor_slices((x_train[order], y_train[order])).batch(batch_size)
    validation = tf.data.Dataset.from_tensor_slices((x_val, y_val)).batch(batch_size)
    steps, validation_steps = -(-n // batch_size), -(-len(x_val) // batch_size)
    # Made in the training thread: no prefetch thread of tf.data's (see _synchronous).
    train, validation = train.cache().repeat(), validation.cache().repeat()
    return train.with_options(_synchronous()), steps, validation.with_options(_synchronous()), validation_steps


def _synchronous() -> tf.data.Options:
    """tf.data options that make every batch in the thread that trains: no prefetch thread, no autotuning.

    Batches of windows already in memory cost next to nothing to make; what a prefetch thread adds is
    a hand-over between it and the training thread at every batch, and each hand-over waits for a
    time slice when another process holds the other core (two Dask workers, a sweep point beside a
    one-off run). Measured on 2 cores (docs/results/2026-12-04-sweep-cpu.md): a small GRU's fit pinned
    to one core took 6.2 s with the thread and 3.4 s without; the milk sweep's eight networks trained
    in 97.7 s with it and 77.9 s without serially, 138.7 s and 84.9 s two at once on Dask. The
    batches, and so the weights, are the same either way (tests/nets/test_training.py).
    """
    options = tf.data.Options()
    options.autotune.enabled = False
    options.experimental_optimization.inject_prefetch = False
    options.threading.private_threadpool_size = 1
    return options


class _EpochCallback(keras.callbacks.Callback):
    def __init__(self, hook: EpochHook):
        super().__init__()
        self._hook = hook

    def on_epoch_end(self, epoch, logs=None):
        self._hook(epoch, {k: float(v) for k, v in (logs or {}).items()})


@dataclass(frozen=True)
class FitResult:
    """What one ``fit`` did."""

    history: dict[str, list[float]]  # per-epoch "loss", "val_loss", ..., of every epoch (resumed ones too)
    epochs_run: int
    best_epoch: int  # 1-based epoch whose weights were restored
    seconds: float
    samples_per_second: float  # training windows processed per second of fit
    resumed_from_epoch: int = 0  # epochs restored from a backup (0: trained from the start)

    @classmethod
    def from_history(cls, history: dict[str, list], n_windows: int, seconds: float,
                     resumed_from_epoch: int = 0) -> FitResult:
        """What ``fit`` returned (Keras' ``History.history``) over ``n_windows`` training windows in ``seconds``.

        ``history`` holds every epoch, the ``resumed_from_epoch`` restored ones first; the speed counts
        only the epochs trained in this ``fit``.
        """
        hist = {k: [float(v) for v in vals] for k, vals in history.items()}
        epochs_run = len(hist.get("loss", []))
        trained = epochs_run - resumed_from_epoch
        return cls(
            history=hist,
            epochs_run=epochs_run,
            best_epoch=int(np.argmin(hist["val_loss"])) + 1 if hist.get("val_loss") else 0,
            seconds=seconds,
            samples_per_second=n_windows * trained / seconds if seconds > 0 else float("nan"),
            resumed_from_epoch=resumed_from_epoch,
        )


def fit_callbacks(cfg: TrainConfig) -> list[keras.callbacks.Callback]:
    """The callbacks every forecaster's ``fit`` runs: a NaN stop, early stopping, learning-rate halving."""
    callbacks: list[keras.callbacks.Callback] = [
        _StopOnNonFinite(),
        keras.callbacks.EarlyStopping(monitor="val_loss", patience=cfg.patience, restore_best_weights=True),
    ]
    if cfg.lr_patience > 0:
        # Halving the step when validation loss stalls buys the last digits of accuracy that a
        # generated continuation needs: its errors compound over every fed-back step.
        callbacks.append(
            keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=cfg.lr_patience, min_lr=1e-5)
        )
    return callbacks


def fit_forecaster(
    model: keras.Model,
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_val: np.ndarray,
    y_val: np.ndarray,
    cfg: TrainConfig,
    on_epoch_end: EpochHook | None = None,
    extra_callbacks: Sequence[keras.callbacks.Callback] = (),
    backup_dir: Path | None = None,
    backup_seconds: float = 0.0,
) -> FitResult:
    """Compile and fit ``model`` with ``cfg.loss``, early stopping on ``val_loss`` and best weights restored.

    Args:
        model: from :func:`tasks.nets.models.build_forecaster`.
        x_train: ``(n_windows, lookback, n_features)`` scaled inputs.
        y_train: ``(n_windows, target_steps, n_features)`` scaled targets.
        x_val: validation inputs, same layout.
        y_val: validation targets, same layout.
        cfg: epochs, batch size, learning rate, patience, clipping.
        on_epoch_end: called with ``(epoch, logs)`` after every epoch (progress bars, MLflow).
        extra_callbacks: more Keras callbacks, run after the built-in ones (e.g. a probe that
            measures gradients after every epoch).
        backup_dir: this training's own folder for a backup after every epoch
            (:class:`tasks.nets.resume.EpochBackup`); when it holds one, training resumes after the
            epoch it saved, and it is deleted once ``fit`` returns. ``None``: no backup.
        backup_seconds: back up only after epochs that end at least this long after the last backup
            (0: after every epoch).
    """
    return _fit(model, lambda done: epoch_datasets(x_train, y_train, x_val, y_val, cfg.batch_size), len(x_train),
                cfg, on_epoch_end, extra_callbacks, backup_dir, backup_seconds)


def fit_streamed(
    model: keras.Model,
    train: WindowParts,
    validation: WindowParts,
    cfg: TrainConfig,
    seed: int,
    on_epoch_end: EpochHook | None = None,
    extra_callbacks: Sequence[keras.callbacks.Callback] = (),
    backup_dir: Path | None = None,
    backup_seconds: float = 0.0,
) -> FitResult:
    """:func:`fit_forecaster` on windows read part by part (:mod:`tasks.nets.streaming`), shuffled from ``seed``."""
    return _fit(model, lambda done: streamed_datasets(train, validation, cfg.batch_size, seed, done), train.n_windows,
                cfg, on_epoch_end, extra_callbacks, backup_dir, backup_seconds)


def _fit(
    model: keras.Model,
    datasets: Callable[[int], tuple[tf.data.Dataset, int, tf.data.Dataset, int]],
    n_windows: int,
    cfg: TrainConfig,
    on_epoch_end: EpochHook | None,
    extra_callbacks: Sequence[keras.callbacks.Callback],
    backup_dir: Path | None,
    backup_seconds: float,
) -> FitResult:
    """Compile, restore a backup, then fit on ``datasets(first epoch)``: ``(train, steps, validation, steps)``."""
    from tasks.nets.resume import EpochBackup, discard

    model.compile(optimizer=optimizer_for(cfg), loss=cfg.loss, metrics=["mae"])
    callbacks = fit_callbacks(cfg)
    if on_epoch_end is not None:
        callbacks.append(_EpochCallback(on_epoch_end))
    callbacks.extend(extra_callbacks)
    backup, done = None, 0
    if backup_dir is not None:
        backup = EpochBackup(backup_dir, callbacks, backup_seconds)
        done = backup.restore(model)
        callbacks.append(backup)  # last: it saves the others' state after they update it
    began = time.perf_counter()
    train, steps, validation, validation_steps = datasets(done)
    history = model.fit(
        train,
        steps_per_epoch=steps,
        validation_data=validation,
        validation_steps=validation_steps,
        epochs=cfg.epochs,
        initial_epoch=done,
        shuffle=False,  # the batches are already in Keras' shuffled order (see epoch_datasets)
        callbacks=callbacks,
        verbose=0,
    )
    seconds = time.perf_counter() - began
    fit = FitResult.from_history(backup.history if backup else history.history, n_windows, seconds, done)
    if backup_dir is not None:
        discard(backup_dir)
    hist, epochs_run = fit.history, fit.epochs_run
    if epochs_run == 0 or not np.isfinite(hist["loss"][-1]) or not np.all(np.isfinite(hist.get("val_loss", [0.0]))):
        losses = hist.get("loss", [])
        raise DivergedError(
            f"training diverged: loss {losses[-1] if losses else 'nan'} at epoch {epochs_run} "
            f"(learning_rate {cfg.learning_rate}); lower train.learning_rate or set train.clipnorm"
        )
    return fit


def seeded_forecaster(
    cell: str, x_train: np.ndarray | WindowParts, model_cfg: NetConfig, seed: int, target: str, horizon: int,
    n_targets: int | None = None, future_steps: int = 0,
) -> keras.Model:
    """Seed everything, then build ``cell`` for windows shaped like ``x_train`` (see :func:`train_cell`).

    The initial weights come from ``seed`` alone (:func:`build_forecaster`'s own seed generator), not
    from Python's process-wide ``random``, which other threads of a Dask worker draw from.
    """
    seed_everything(seed)
    _, steps, n_features = x_train.shape  # an array, or WindowParts' shape
    return build_forecaster(cell, model_cfg, steps - future_steps, n_features, target, horizon, n_targets,
                            future_steps, seed=seed)


def _configure_threads(threads: int) -> None:
    """Apply ``train.threads`` before the first TensorFlow op; once started, the process keeps its pools."""
    from tasks.runtime import configure_tf_threads

    if not configure_tf_threads(threads) and threads not in _THREADS_WARNED:
        _THREADS_WARNED.add(threads)
        logger.warning("train.threads = %d not applied: TensorFlow already runs with %d threads in this process "
                       "(same results, only the speed differs)", threads,
                       tf.config.threading.get_intra_op_parallelism_threads())


_THREADS_WARNED: set[int] = set()


def train_cell(
    cell: str,
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_val: np.ndarray,
    y_val: np.ndarray,
    model_cfg: NetConfig,
    train_cfg: TrainConfig,
    seed: int,
    target: str,
    horizon: int,
    on_epoch_end: EpochHook | None = None,
    extra_callbacks: Sequence[keras.callbacks.Callback] = (),
    n_targets: int | None = None,
    future_steps: int = 0,
    backup_dir: Path | None = None,
    backup_seconds: float = 0.0,
) -> tuple[keras.Model, FitResult]:
    """Seed, build and fit one cell; sizes (lookback, n_features) are read from ``x_train``.

    Args:
        x_train: ``(n_windows, lookback, n_features)`` scaled inputs; ``y_train`` their targets.
        x_val: validation windows, same layout; ``y_val`` their targets.
        extra_callbacks: more Keras callbacks, passed to :func:`fit_forecaster`.
        n_targets: features per predicted step (see :func:`build_forecaster`); ``None``: every input feature.
        future_steps: the last rows of each window that carry the forecast steps' covariates
            (:func:`tasks.forecasting.preprocessing.with_calendar`); 0 without.
        backup_dir: the backup to resume from and keep (see :func:`fit_forecaster`).
        backup_seconds: the least time between two backups (see :func:`fit_forecaster`).
    """
    _configure_threads(train_cfg.threads)
    model = seeded_forecaster(cell, x_train, model_cfg, seed, target, horizon, n_targets, future_steps)
    return model, fit_forecaster(model, x_train, y_train, x_val, y_val, train_cfg, on_epoch_end, extra_callbacks,
                                 backup_dir, backup_seconds)


def train_streamed_cell(
    cell: str,
    train: WindowParts,
    validation: WindowParts,
    model_cfg: NetConfig,
    train_cfg: TrainConfig,
    seed: int,
    target: str,
    horizon: int,
    on_epoch_end: EpochHook | None = None,
    extra_callbacks: Sequence[keras.callbacks.Callback] = (),
    n_targets: int | None = None,
    future_steps: int = 0,
    backup_dir: Path | None = None,
    backup_seconds: float = 0.0,
) -> tuple[keras.Model, FitResult]:
    """:func:`train_cell` on windows read part by part, for windows that do not fit in memory.

    The network starts from the same weights as :func:`train_cell`'s with the same seed; the batches
    are :mod:`tasks.nets.streaming`'s (shuffled from ``seed``), so the trained weights differ from
    the in-memory path's, and repeat with the seed.
    """
    _configure_threads(train_cfg.threads)
    model = seeded_forecaster(cell, train, model_cfg, seed, target, horizon, n_targets, future_steps)
    return model, fit_streamed(model, train, validation, train_cfg, seed, on_epoch_end, extra_callbacks, backup_dir,
                               backup_seconds)
