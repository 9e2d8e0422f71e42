"""A network's initial weights come from its seed alone: not from Python's process-wide ``random``,
which other threads of the process (a Dask worker's event loop, Prefect's) draw from at any time."""

from __future__ import annotations

import random
import threading

import keras
import numpy as np
import pytest

from tasks.nets.config import CELLS, NetConfig
from tasks.nets.models import build_forecaster
from tasks.nets.training import seeded_forecaster

X = np.zeros((4, 12, 2), dtype="float32")  # (n_windows, lookback, n_features): only its shape is read


def _weights(model: keras.Model) -> list[np.ndarray]:
    return [np.asarray(w) for w in model.get_weights()]


def test_the_weights_do_not_change_when_another_thread_draws_from_pythons_random():
    cfg = NetConfig(cells=("gru",), units=4, layers=2, dropout=0.1)
    alone = _weights(seeded_forecaster("gru", X, cfg, 7, "horizon", 3))
    stop = threading.Event()

    def draw() -> None:  # what dask's sizeof does on a worker's event loop while a task runs
        while not stop.is_set():
            random.sample(range(100), 10)

    other = threading.Thread(target=draw, daemon=True)
    other.start()
    try:
        busy = [_weights(seeded_forecaster("gru", X, cfg, 7, "horizon", 3)) for _ in range(3)]
    finally:
        stop.set()
        other.join()
    for weights in busy:
        assert all(np.array_equal(a, b) for a, b in zip(alone, weights, strict=True))


@pytest.mark.parametrize("cell", CELLS)
def test_a_seeded_build_has_the_weights_keras_draws_right_after_set_random_seed(cell):
    # So models trained before the seed reached the initializers keep their numbers.
    cfg = NetConfig(cells=(cell,), units=5, layers=2, dropout=0.2, layer_norm=True)
    keras.utils.set_random_seed(11)
    unseeded = _weights(build_forecaster(cell, cfg, 12, 2, "horizon", 4, None, 3))
    keras.utils.set_random_seed(999)  # another global state: the seeded build must not read it
    seeded = _weights(build_forecaster(cell, cfg, 12, 2, "horizon", 4, None, 3, seed=11))
    assert all(np.array_equal(a, b) for a, b in zip(unseeded, seeded, strict=True))
    keras.utils.set_random_seed(11)
    other = _weights(build_forecaster(cell, cfg, 12, 2, "horizon", 4, None, 3, seed=12))
    assert not all(np.array_equal(a, b) for a, b in zip(seeded, other, strict=True))
