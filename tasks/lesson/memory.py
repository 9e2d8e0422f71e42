"""Long-memory tasks: the adding problem and copy/recall, synthesised from a seed.

Both tasks give every step two features, ``(value, marker)``: ``value`` is uniform in [0, 1] and
``marker`` is 1 where a value must be remembered and 0 elsewhere. The target is one number per
sequence, read after the last step, so the only way to score well is to carry the marked values
through every step between the marker and the end: the longer the sequence, the further back the
gradient that teaches this must travel.

- **adding** (Hochreiter & Schmidhuber 1997, in the form of Le et al. 2015 and Arjovsky et al.
  2016): one marker in the first half, one in the second half; the target is the sum of the two
  marked values.
- **copy** (a recall task): the marker is on the first step; the target is the value seen there,
  recalled ``length - 1`` steps later, after ``length - 1`` distracting values.

A model that remembers nothing can do no better than predicting the targets' mean; its mean squared
error is the targets' variance, the *no-memory baseline*: ``Var(U1 + U2) = 2/12 = 1/6`` for adding
and ``Var(U) = 1/12`` for copy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

VALUE, MARKER = 0, 1  # feature axis of every task's inputs
N_FEATURES = 2
SPLITS = ("train", "validation", "test")

# Closed form: the targets' variance, which is the mean squared error of predicting their mean.
NO_MEMORY_MSE = {"adding": 2.0 / 12.0, "copy": 1.0 / 12.0}


@dataclass(frozen=True)
class MemoryData:
    """Sequences of one memory task, every split together.

    Attributes:
        split: ``(n_sequences,)`` ``"train" | "validation" | "test"``.
        x: ``(n_sequences, length, 2)`` float32 inputs, features ``(value, marker)``.
        y: ``(n_sequences, 1, 1)`` float32 targets (one step, one feature: what a horizon-1 model predicts).
        marked: ``(n_sequences, 2)`` int64 step index of each marked value (copy: both 0).
    """

    split: np.ndarray
    x: np.ndarray
    y: np.ndarray
    marked: np.ndarray

    def part(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """``(x, y)`` of one split."""
        keep = self.split == name
        return self.x[keep], self.y[keep]

    def to_arrays(self) -> dict[str, np.ndarray]:
        """The columns :func:`tasks.storage.write_arrays` stores."""
        return {"split": self.split.astype(object), "x": self.x, "y": self.y, "marked": self.marked}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> MemoryData:
        """Rebuild from :meth:`to_arrays`'s columns as read back from Parquet."""
        return cls(
            np.asarray(arrays["split"], dtype=object), arrays["x"].astype(np.float32),
            arrays["y"].astype(np.float32), arrays["marked"].astype(np.int64),
        )


def adding_problem(values: np.ndarray, first: np.ndarray, second: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Build adding-problem inputs and targets from given values and marker positions.

    Args:
        values: ``(n, length)`` the value channel.
        first: ``(n,)`` step of the first marker, in ``[0, length // 2)``.
        second: ``(n,)`` step of the second marker, in ``[length // 2, length)``.

    Returns:
        ``x`` of shape ``(n, length, 2)`` and ``y`` of shape ``(n,)``: ``values[first] + values[second]``.
    """
    n, length = values.shape
    rows = np.arange(n)
    x = np.zeros((n, length, N_FEATURES), dtype=np.float32)
    x[:, :, VALUE] = values
    x[rows, first, MARKER] = 1.0
    x[rows, second, MARKER] = 1.0
    return x, (values[rows, first] + values[rows, second]).astype(np.float32)


def copy_task(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Build copy/recall inputs and targets: the marker is on the first step, the target its value.

    Args:
        values: ``(n, length)`` the value channel.

    Returns:
        ``x`` of shape ``(n, length, 2)`` and ``y`` of shape ``(n,)``: ``values[:, 0]``.
    """
    n, length = values.shape
    x = np.zeros((n, length, N_FEATURES), dtype=np.float32)
    x[:, :, VALUE] = values
    x[:, 0, MARKER] = 1.0
    return x, values[:, 0].astype(np.float32)


def synthesize(kind: str, length: int, counts: dict[str, int], seed: int) -> MemoryData:
    """Draw the sequences of every split for one task and length, reproducibly from ``seed``.

    Args:
        kind: ``"adding"`` or ``"copy"``.
        length: steps per sequence; at least 2 (the adding problem needs two halves).
        counts: sequences per split, e.g. ``{"train": 2000, "validation": 500, "test": 1000}``.
        seed: the same seed, kind, length and counts always give the same sequences.

    Raises:
        ValueError: an unknown kind, a length below 2 or a split without sequences.
    """
    if kind not in NO_MEMORY_MSE:
        raise ValueError(f"kind={kind!r} is not a memory task; valid tasks: {', '.join(NO_MEMORY_MSE)}")
    if length < 2:
        raise ValueError(f"length={length}: a memory task needs at least 2 steps")
    if set(counts) != set(SPLITS) or min(counts.values()) < 1:
        raise ValueError(f"counts={counts}: every split of {SPLITS} needs at least one sequence")
    n = sum(counts[s] for s in SPLITS)
    rng = np.random.default_rng([seed, length, list(NO_MEMORY_MSE).index(kind)])
    values = rng.uniform(0.0, 1.0, size=(n, length))
    half = length // 2
    if kind == "adding":
        first = rng.integers(0, half, size=n)
        second = rng.integers(half, length, size=n)
        x, y = adding_problem(values, first, second)
    else:
        first = second = np.zeros(n, dtype=np.int64)
        x, y = copy_task(values)
    split = np.concatenate([np.full(counts[s], s, dtype=object) for s in SPLITS])
    return MemoryData(split, x, y.reshape(n, 1, 1), np.stack([first, second], axis=1).astype(np.int64))


def no_memory_mse(y_train: np.ndarray, y_test: np.ndarray) -> float:
    """MSE on ``y_test`` of the best forecaster that sees no input: the training targets' mean.

    Args:
        y_train: ``(n_train, ...)`` training targets; their mean is the prediction.
        y_test: ``(n_test, ...)`` the targets scored.
    """
    prediction = float(np.mean(y_train, dtype=np.float64))
    return float(np.mean((np.asarray(y_test, dtype=np.float64) - prediction) ** 2))


def mse(truth: np.ndarray, prediction: np.ndarray) -> float:
    """Mean squared error over all elements, in float64."""
    diff = np.asarray(truth, dtype=np.float64) - np.asarray(prediction, dtype=np.float64)
    return float(np.mean(diff**2))
