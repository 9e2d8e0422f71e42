"""Windows that do not fit in memory, fed to Keras part by part: a seeded, repeatable ``tf.data`` stream.

The windows live in parts (a Parquet row group each, say) that are read one at a time. An epoch
visits the parts in an order drawn from ``(seed, epoch)``, reads ``mix_parts`` of them at a time,
shuffles their windows together and cuts them into batches; what is left over (less than a batch)
goes to the front of the next read, so every batch but the epoch's last is full and an epoch has
``ceil(n_windows / batch_size)`` steps. The order depends on the seed and the epoch alone: the
same seed gives the same batches, and a run resumed at epoch ``k`` draws epoch ``k``'s order.

Memory holds ``mix_parts`` parts (twice while they are joined) and a batch, whatever the number of
windows. The shuffle is coarser than a whole-array permutation (a batch mixes the windows of
``mix_parts`` parts), and the batches differ from the in-memory path's
(:func:`tasks.nets.training.epoch_datasets`): the two paths train to different weights from the same seed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import tensorflow as tf

MIX_PARTS = 4  # parts whose windows are shuffled together: more mixes better and holds more in memory


@dataclass(frozen=True)
class WindowParts:
    """Windows stored in parts, read one part at a time.

    ``read(part)`` returns that part's ``(x (n, steps, n_features), y (n, target_steps, n_targets))``
    float32 arrays, ``n = sizes[part]``.
    """

    read: Callable[[int], tuple[np.ndarray, np.ndarray]]
    sizes: tuple[int, ...]  # windows in each part
    x_shape: tuple[int, ...]  # (steps, n_features) of one window's input
    y_shape: tuple[int, ...]  # (target_steps, n_targets) of one window's target

    @property
    def n_windows(self) -> int:
        return int(sum(self.sizes))

    @property
    def shape(self) -> tuple[int, ...]:
        """``(n_windows, steps, n_features)``, as an input array's shape."""
        return (self.n_windows, *self.x_shape)


def epoch_batches(parts: WindowParts, batch_size: int, epoch: int, seed: int | None,
                  mix_parts: int = MIX_PARTS) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """One epoch's ``(x, y)`` batches: shuffled from ``(seed, epoch)``, or every window in order if ``seed`` is None."""
    if batch_size < 1 or mix_parts < 1:
        raise ValueError(f"batch_size={batch_size}, mix_parts={mix_parts}: both must be >= 1")
    filled = [i for i, n in enumerate(parts.sizes) if n]
    rng = None if seed is None else np.random.default_rng([seed, epoch])
    if rng is not None:
        filled = [filled[k] for k in rng.permutation(len(filled))]
    carry_x = np.zeros((0, *parts.x_shape), np.float32)
    carry_y = np.zeros((0, *parts.y_shape), np.float32)
    for first in range(0, len(filled), mix_parts):
        read = [parts.read(i) for i in filled[first : first + mix_parts]]
        # One copy of the parts, the carry first; the shuffle is an order of rows gathered a batch at a time.
        x = np.concatenate([carry_x, *(r[0] for r in read)]).astype(np.float32, copy=False)
        y = np.concatenate([carry_y, *(r[1] for r in read)]).astype(np.float32, copy=False)
        del read
        fresh = np.arange(len(carry_x), len(x))
        order = np.concatenate([np.arange(len(carry_x)), fresh if rng is None else rng.permutation(fresh)])
        whole = len(x) - len(x) % batch_size
        for start in range(0, whole, batch_size):
            rows = order[start : start + batch_size]
            yield x[rows], y[rows]
        carry_x, carry_y = x[order[whole:]], y[order[whole:]]
        del x, y
    if len(carry_x):
        yield carry_x, carry_y


def _forever(parts: WindowParts, batch_size: int, seed: int | None, first_epoch: int):
    epoch = first_epoch
    while True:
        yield from epoch_batches(parts, batch_size, epoch, seed)
        epoch += 1


def streamed_datasets(
    train: WindowParts, validation: WindowParts, batch_size: int, seed: int, first_epoch: int = 0
) -> tuple[tf.data.Dataset, int, tf.data.Dataset, int]:
    """Endless datasets for ``fit``: training shuffled per epoch from ``seed``, validation in order.

    ``fit`` takes one iterator for the whole run with ``steps_per_epoch`` set, so each dataset is a
    generator over every epoch; ``first_epoch`` is where a resumed training starts.

    Returns:
        ``(train, steps_per_epoch, validation, validation_steps)``, as
        :func:`tasks.nets.training.epoch_datasets` returns them.
    """
    import tensorflow as tf  # at run time: the forecasting steps import this module, the CLI must start fast

    if train.n_windows == 0 or validation.n_windows == 0:
        raise ValueError(f"streamed training needs windows: {train.n_windows} to train on, "
                         f"{validation.n_windows} to validate on")
    signature = (tf.TensorSpec((None, *train.x_shape), tf.float32), tf.TensorSpec((None, *train.y_shape), tf.float32))
    fit_data = tf.data.Dataset.from_generator(lambda: _forever(train, batch_size, seed, first_epoch),
                                              output_signature=signature)
    checks = tf.data.Dataset.from_generator(lambda: _forever(validation, batch_size, None, 0),
                                            output_signature=signature)
    return fit_data, -(-train.n_windows // batch_size), checks, -(-validation.n_windows // batch_size)
