"""The memory tasks against hand-worked examples, and the no-memory baseline against its closed form."""

from pathlib import Path

import numpy as np
import pytest

from tasks import storage
from tasks.lesson.memory import (
    MARKER,
    NO_MEMORY_MSE,
    VALUE,
    MemoryData,
    adding_problem,
    copy_task,
    no_memory_mse,
    synthesize,
)

COUNTS = {"train": 50, "validation": 20, "test": 30}


def test_adding_problem_by_hand():
    values = np.array([[0.1, 0.2, 0.3, 0.4], [0.5, 0.6, 0.7, 0.8]])
    x, y = adding_problem(values, first=np.array([1, 0]), second=np.array([3, 2]))
    assert x.shape == (2, 4, 2)
    np.testing.assert_array_equal(x[:, :, MARKER], [[0, 1, 0, 1], [1, 0, 1, 0]])
    np.testing.assert_allclose(x[:, :, VALUE], values)
    np.testing.assert_allclose(y, [0.2 + 0.4, 0.5 + 0.7], rtol=1e-6)


def test_copy_task_by_hand():
    values = np.array([[0.9, 0.1, 0.2], [0.3, 0.8, 0.7]])
    x, y = copy_task(values)
    np.testing.assert_array_equal(x[:, :, MARKER], [[1, 0, 0], [1, 0, 0]])
    np.testing.assert_allclose(y, [0.9, 0.3], rtol=1e-6)


def test_length_two_marks_both_steps():
    # With two steps the halves are one step each: the target is always the sum of both values.
    data = synthesize("adding", 2, COUNTS, seed=0)
    np.testing.assert_array_equal(data.x[:, :, MARKER], 1.0)
    np.testing.assert_allclose(data.y[:, 0, 0], data.x[:, 0, VALUE] + data.x[:, 1, VALUE], rtol=1e-6)
    np.testing.assert_array_equal(data.marked, [[0, 1]] * 100)


@pytest.mark.parametrize("length", [3, 5, 10, 51])
def test_adding_markers_one_per_half_and_the_target_is_their_sum(length):
    data = synthesize("adding", length, COUNTS, seed=3)
    half = length // 2
    assert data.x.shape == (100, length, 2) and data.y.shape == (100, 1, 1)
    assert np.all(data.x[:, :, MARKER].sum(axis=1) == 2)
    first, second = data.marked[:, 0], data.marked[:, 1]
    assert np.all((0 <= first) & (first < half)) and np.all((half <= second) & (second < length))
    rows = np.arange(100)
    assert np.all(data.x[rows, first, MARKER] == 1) and np.all(data.x[rows, second, MARKER] == 1)
    np.testing.assert_allclose(data.y[:, 0, 0], data.x[rows, first, VALUE] + data.x[rows, second, VALUE], rtol=1e-6)
    assert data.x[:, :, VALUE].min() >= 0 and data.x[:, :, VALUE].max() <= 1
    # Over many sequences every position of each half is used.
    wide = synthesize("adding", length, {"train": 2000, "validation": 1, "test": 1}, seed=3)
    assert set(wide.marked[:, 0]) == set(range(half)) and set(wide.marked[:, 1]) == set(range(half, length))


def test_copy_recalls_the_first_value_after_length_steps():
    data = synthesize("copy", 7, COUNTS, seed=1)
    np.testing.assert_array_equal(data.x[:, :, MARKER].sum(axis=1), 1)
    np.testing.assert_array_equal(data.x[:, 0, MARKER], 1)
    np.testing.assert_allclose(data.y[:, 0, 0], data.x[:, 0, VALUE])


def test_splits_and_seeds():
    data = synthesize("adding", 6, COUNTS, seed=11)
    assert [int(np.sum(data.split == s)) for s in ("train", "validation", "test")] == [50, 20, 30]
    again = synthesize("adding", 6, COUNTS, seed=11)
    np.testing.assert_array_equal(data.x, again.x)
    other = synthesize("adding", 6, COUNTS, seed=12)
    assert not np.array_equal(data.x, other.x)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("sum", 5, COUNTS), "kind='sum' is not a memory task; valid tasks: adding, copy"),
        (("adding", 1, COUNTS), "length=1: a memory task needs at least 2 steps"),
        (("adding", 5, {"train": 5, "validation": 0, "test": 5}), "every split of"),
    ],
)
def test_bad_arguments_are_named(args, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        synthesize(*args, seed=0)


def test_no_memory_mse_by_hand():
    # Predicting the training mean 2 for targets 0 and 4 misses by 2 each time: MSE 4.
    assert no_memory_mse(np.array([1.0, 3.0]), np.array([0.0, 4.0])) == pytest.approx(4.0)


def test_closed_form_baselines():
    assert NO_MEMORY_MSE["adding"] == pytest.approx(1 / 6)  # Var(U1 + U2) = 2 · 1/12
    assert NO_MEMORY_MSE["copy"] == pytest.approx(1 / 12)  # Var(U)


@pytest.mark.parametrize(("kind", "tolerance"), [("adding", 0.002), ("copy", 0.001)])
def test_the_pipelines_baseline_matches_the_closed_form(kind, tolerance, tmp_path: Path):
    # Through the pipeline's own path: synthesize, store as Parquet, read back, score. With 200,000
    # test sequences the estimate's standard error is 0.0004 (adding) and 0.0002 (copy).
    data = synthesize(kind, 4, {"train": 200_000, "validation": 1, "test": 200_000}, seed=5)
    path = storage.write_arrays(data.to_arrays(), tmp_path / "memory.parquet", {"task": kind})
    stored = MemoryData.from_arrays(storage.read_arrays(path).arrays)
    np.testing.assert_array_equal(stored.x, data.x)
    measured = no_memory_mse(stored.part("train")[1], stored.part("test")[1])
    assert abs(measured - NO_MEMORY_MSE[kind]) < tolerance
