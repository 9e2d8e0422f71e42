"""Training backups after completed epochs, so that a killed ``fit`` resumes from the last one saved.

A backup follows every epoch, or (``every_seconds``) only epochs that end at least that long after the
previous backup: a tiny network's epoch is shorter than writing its backup.

Keras' ``BackupAndRestore`` restores the weights, the optimizer's state (Adam's moments, its step
count and the learning rate) and the epoch counter, but not the
state of the other callbacks: ``EarlyStopping`` starts again with ``wait = 0``, no best loss and no
best weights, and ``ReduceLROnPlateau`` forgets its plateau, so a resumed run stops (and restores)
at other epochs than an uninterrupted one. It also writes the weights and the epoch number as two
files, one after the other, and a kill between them pairs the weights of one epoch with the number
of the one before; and ``save_weights`` takes about 120 ms for a 4-unit network on this project's
2-core machine, more than a small network's epoch. :class:`EpochBackup` keeps the weights, the
optimizer's variables, the other callbacks' state and the loss history as arrays and JSON (about
25 ms), in one folder per epoch that appears whole (written under a temporary name, then renamed), so the resumed fit is the
uninterrupted one: the same shuffle order (``training.epoch_datasets`` draws one order that every
epoch repeats), the same weights and the same losses, bit for bit on CPU with op determinism
(``tests/nets/test_resume.py``).

The model's variables are saved, not only its weights: they include the seed generators of its
dropout, so a network with ``model.dropout > 0`` resumes bit for bit too.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import keras
import numpy as np

_STATE = "state.json"
_ARRAYS = "arrays.npz"  # w<i>: the model's variables, o<i>: the optimizer's, b<i>: early stopping's best weights
# Per kind of callback, the attributes that carry its progress across epochs.
_TRACKED = {
    keras.callbacks.EarlyStopping: ("wait", "best", "best_epoch", "stopped_epoch"),
    keras.callbacks.ReduceLROnPlateau: ("wait", "best", "cooldown_counter"),
}


@dataclass
class Backup:
    """The last completed epoch's state, read back from its folder."""

    folder: Path
    epochs_done: int
    history: dict[str, list[float]]
    callbacks: list[dict] = field(default_factory=list)


def latest(directory: Path) -> Backup | None:
    """The newest whole epoch folder under ``directory``, or None when there is none."""
    folders = sorted(Path(directory).glob("epoch-*")) if Path(directory).is_dir() else []
    for folder in reversed(folders):
        state = folder / _STATE
        if state.is_file():
            data = json.loads(state.read_text())
            return Backup(folder, int(data["epochs_done"]), data["history"], data["callbacks"])
    return None


def _series(arrays, prefix: str) -> list[np.ndarray]:
    """The arrays ``<prefix>0``, ``<prefix>1``, ... of an ``.npz`` file, in order."""
    count = sum(1 for name in arrays.files if name[0] == prefix)
    return [arrays[f"{prefix}{i}"] for i in range(count)]


def _number(value):
    if value is None or isinstance(value, int):
        return value
    value = float(value)
    return value if np.isfinite(value) else repr(value)


def _from_number(value):
    return float(value) if isinstance(value, str) else value


class EpochBackup(keras.callbacks.Callback):
    """Save the whole training state after every epoch; restore it when ``fit`` starts again.

    Put it **last** in the callback list: its ``on_epoch_end`` must see the other callbacks' state
    after theirs, and its ``on_train_begin`` sets their state after they have reset it.

    Args:
        directory: the backup folder of this one training; nothing else may write there.
        stateful: the callbacks whose progress is saved and restored (EarlyStopping, ReduceLROnPlateau).
        every_seconds: back up after an epoch only once this many seconds have passed since the last
            backup (or since training began); 0 backs up every epoch. A kill then loses at most that
            long plus one epoch of training; a network whose epochs are shorter than a backup does not
            spend most of its time writing them.
    """

    def __init__(self, directory: Path, stateful: Sequence[keras.callbacks.Callback], every_seconds: float = 0.0):
        super().__init__()
        self.directory = Path(directory)
        self.every_seconds = float(every_seconds)
        self._last = time.monotonic()
        self.stateful = [c for c in stateful if type(c) in _TRACKED]
        self.restored: Backup | None = None
        self.history: dict[str, list[float]] = {}
        self._best: list[np.ndarray] | None = None

    def restore(self, model: keras.Model) -> int:
        """Load the latest backup into the compiled ``model``; return the epochs it had completed (0: none)."""
        self.restored = latest(self.directory)
        if self.restored is None:
            return 0
        if not model.optimizer.built:
            model.optimizer.build(model.trainable_variables)  # its variables must exist to be loaded
        with np.load(self.restored.folder / _ARRAYS) as arrays:
            weights, optimizer, best = (_series(arrays, prefix) for prefix in "wob")
        if len(weights) != len(model.variables) or len(optimizer) != len(model.optimizer.variables):
            raise ValueError(f"backup {self.restored.folder} holds {len(weights)} variables and {len(optimizer)} "
                             f"optimizer variables; the model has {len(model.variables)} and "
                             f"{len(model.optimizer.variables)}: it was written by another network")
        for variable, value in zip([*model.variables, *model.optimizer.variables], [*weights, *optimizer], strict=True):
            variable.assign(value)
        self._best = best or None
        self.history = {k: list(v) for k, v in self.restored.history.items()}
        return self.restored.epochs_done

    def on_train_begin(self, logs=None):
        self._last = time.monotonic()
        if self.restored is None:
            return
        for callback, saved in zip(self.stateful, self.restored.callbacks, strict=True):
            for name in _TRACKED[type(callback)]:
                setattr(callback, name, _from_number(saved[name]))
            if isinstance(callback, keras.callbacks.EarlyStopping):
                callback.best_weights = self._best

    def on_epoch_end(self, epoch, logs=None):
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(float(value))
        if time.monotonic() - self._last < self.every_seconds:
            return
        self.save(epoch)
        self._last = time.monotonic()

    def save(self, epoch: int) -> None:
        """Write the state after ``epoch`` (0-based) as ``epoch-<epoch + 1>``, then delete older backups."""
        self.directory.mkdir(parents=True, exist_ok=True)
        partial = self.directory / f".partial-{epoch + 1:05d}"
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir()
        # The model's variables, not only its weights: they hold the dropout layers' seed generators too.
        arrays = {f"w{i}": np.asarray(v.numpy()) for i, v in enumerate(self.model.variables)}
        arrays |= {f"o{i}": np.asarray(v.numpy()) for i, v in enumerate(self.model.optimizer.variables)}
        states = []
        for callback in self.stateful:
            states.append({name: _number(getattr(callback, name, None)) for name in _TRACKED[type(callback)]})
            if isinstance(callback, keras.callbacks.EarlyStopping) and callback.best_weights is not None:
                arrays |= {f"b{i}": w for i, w in enumerate(callback.best_weights)}
        np.savez(partial / _ARRAYS, **arrays)
        state = {"epochs_done": epoch + 1, "history": self.history, "callbacks": states}
        (partial / _STATE).write_text(json.dumps(state))
        final = self.directory / f"epoch-{epoch + 1:05d}"
        shutil.rmtree(final, ignore_errors=True)
        os.replace(partial, final)
        for older in self.directory.glob("epoch-*"):
            if older.name < f"epoch-{epoch + 1:05d}":
                shutil.rmtree(older, ignore_errors=True)


def discard(directory: Path) -> None:
    """Delete a finished training's backup folder."""
    shutil.rmtree(directory, ignore_errors=True)
