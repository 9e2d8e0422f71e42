"""Windows streamed part by part: every window once per epoch, a seeded order, and a network that learns from them."""

from __future__ import annotations

import numpy as np
import pytest

from tasks.nets.config import NetConfig, TrainConfig
from tasks.nets.streaming import WindowParts, epoch_batches, streamed_datasets


def _parts(sizes: tuple[int, ...], lookback: int = 3) -> WindowParts:
    """Part ``p``'s window ``i`` holds the number ``1000 * p + i`` everywhere: each window says where it came from."""
    def read(part: int):
        ids = 1000 * part + np.arange(sizes[part], dtype=np.float32)
        return np.repeat(ids[:, None, None], lookback, axis=1), ids[:, None, None]

    return WindowParts(read, sizes, (lookback, 1), (1, 1))


def _ids(batches) -> list[np.ndarray]:
    return [y[:, 0, 0].copy() for _, y in batches]


def test_an_epoch_visits_every_window_once_in_full_batches_but_its_last():
    parts = _parts((7, 0, 5, 9, 3))
    batches = _ids(epoch_batches(parts, 4, epoch=0, seed=1, mix_parts=2))
    assert [len(b) for b in batches] == [4, 4, 4, 4, 4, 4]  # 24 windows: ceil(24 / 4) steps
    every = np.sort(np.concatenate(batches))
    assert every.tolist() == sorted(1000.0 * p + i for p, n in enumerate(parts.sizes) for i in range(n))
    uneven = _ids(epoch_batches(_parts((7, 6)), 4, epoch=0, seed=1))
    assert [len(b) for b in uneven] == [4, 4, 4, 1]


def test_the_order_repeats_with_the_seed_and_epoch_and_changes_with_either():
    parts = _parts((50, 50, 50, 50, 50))
    first = np.concatenate(_ids(epoch_batches(parts, 16, epoch=0, seed=3)))
    assert np.array_equal(first, np.concatenate(_ids(epoch_batches(parts, 16, epoch=0, seed=3))))
    assert not np.array_equal(first, np.concatenate(_ids(epoch_batches(parts, 16, epoch=1, seed=3))))
    assert not np.array_equal(first, np.concatenate(_ids(epoch_batches(parts, 16, epoch=0, seed=4))))
    # Shuffled across parts, not only within one: the first batch mixes windows of several parts.
    assert len(set((first[:16] // 1000).tolist())) > 1


def test_without_a_seed_the_windows_come_in_order():
    parts = _parts((3, 4))
    assert np.concatenate(_ids(epoch_batches(parts, 2, epoch=5, seed=None))).tolist() == [0, 1, 2, 1000, 1001, 1002,
                                                                                            1003]


def test_the_datasets_run_epoch_after_epoch_and_refuse_an_empty_split():
    parts = _parts((5, 6))
    train, steps, validation, validation_steps = streamed_datasets(parts, parts, 4, seed=0, first_epoch=2)
    assert (steps, validation_steps) == (3, 3)
    got = [y.numpy()[:, 0, 0] for _, y in train.take(2 * steps)]
    expected = _ids(epoch_batches(parts, 4, 2, 0)) + _ids(epoch_batches(parts, 4, 3, 0))
    assert all(np.array_equal(a, b) for a, b in zip(got, expected, strict=True))
    in_order = np.concatenate([y.numpy()[:, 0, 0] for _, y in validation.take(validation_steps)])
    assert in_order.tolist() == [0, 1, 2, 3, 4, 1000, 1001, 1002, 1003, 1004, 1005]
    with pytest.raises(ValueError, match="0 to validate on"):
        streamed_datasets(parts, _parts((0, 0)), 4, seed=0)


def _sine_parts(n_parts: int, per_part: int, lookback: int = 12) -> WindowParts:
    t = np.arange(n_parts * per_part + lookback + 1, dtype=np.float32)
    series = np.sin(0.3 * t)
    starts = np.arange(n_parts * per_part)
    x = series[starts[:, None] + np.arange(lookback)][:, :, None]
    y = series[starts + lookback][:, None, None]

    def read(part: int):
        rows = slice(part * per_part, (part + 1) * per_part)
        return x[rows], y[rows]

    return WindowParts(read, (per_part,) * n_parts, (lookback, 1), (1, 1))


def test_a_network_trained_on_streamed_windows_learns_and_repeats_with_its_seed():
    from tasks.nets.training import train_streamed_cell

    train, validation = _sine_parts(6, 40), _sine_parts(2, 20)
    cfg = TrainConfig(epochs=3, batch_size=16, learning_rate=0.02, patience=5, progress=False)

    def run():
        model, fit = train_streamed_cell("gru", train, validation, NetConfig(units=4), cfg, seed=5, target="horizon",
                                         horizon=1)
        return [w.copy() for w in model.get_weights()], fit

    weights, fit = run()
    again, fit_again = run()
    assert fit.history["loss"][-1] < 0.5 * fit.history["loss"][0], fit.history
    assert fit.epochs_run == 3 and fit.history == fit_again.history
    assert all(np.array_equal(a, b) for a, b in zip(weights, again, strict=True))
