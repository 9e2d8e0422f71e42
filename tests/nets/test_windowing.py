import numpy as np
import pytest

from tasks.nets.windowing import (
    WindowTable,
    assign_splits,
    build_window_table,
    fit_scaler,
    make_windows,
    split_bounds,
)


def test_shifted_target_is_the_input_one_step_ahead():
    series = np.arange(1, 11, dtype=float).reshape(-1, 1)  # 1..10
    w = make_windows(series, lookback=6, horizon=1, stride=1, target="shifted")
    assert w.x[0, :, 0].tolist() == [1, 2, 3, 4, 5, 6]
    assert w.y[0, :, 0].tolist() == [2, 3, 4, 5, 6, 7]
    assert w.x.shape == (4, 6, 1) and w.y.shape == (4, 6, 1)
    assert w.target_first.tolist() == [1, 2, 3, 4] and w.target_last.tolist() == [6, 7, 8, 9]


def test_horizon_target_is_the_next_steps_and_stride_skips_starts():
    series = np.arange(20, dtype=float).reshape(-1, 1)
    w = make_windows(series, lookback=5, horizon=3, stride=4, target="horizon")
    assert w.start.tolist() == [0, 4, 8, 12]
    assert w.x[1, :, 0].tolist() == [4, 5, 6, 7, 8]
    assert w.y[1, :, 0].tolist() == [9, 10, 11]


def test_windows_match_a_python_loop_on_many_features():
    rng = np.random.default_rng(0)
    series = rng.normal(size=(57, 3))
    w = make_windows(series, lookback=7, horizon=2, stride=3, target="horizon")
    for i, s in enumerate(range(0, 57 - 9 + 1, 3)):
        np.testing.assert_allclose(w.x[i], series[s : s + 7], rtol=1e-6)
        np.testing.assert_allclose(w.y[i], series[s + 7 : s + 9], rtol=1e-6)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"lookback": 0}, "lookback=0: must be > 0"),
        ({"stride": -1}, "stride=-1: must be > 0"),
        ({"lookback": 30}, "a series of 10 steps is shorter than one window (lookback 30 + 1 (shifted target) = 31)"),
        ({"target": "next"}, "target='next': must be 'shifted' or 'horizon'"),
    ],
)
def test_bad_window_arguments_are_named(kwargs, message):
    args = {"lookback": 3, "horizon": 1, "stride": 1, "target": "shifted", **kwargs}
    with pytest.raises(ValueError) as info:
        make_windows(np.zeros((10, 1)), **args)
    assert message in str(info.value)


def test_splits_never_share_a_target_step():
    series = np.arange(200, dtype=float).reshape(-1, 1)
    bounds = split_bounds(200, 0.6, 0.2)
    for target in ("shifted", "horizon"):
        w = make_windows(series, lookback=10, horizon=4, stride=1, target=target)
        labels = assign_splits(w, bounds)
        targets = {name: set() for name in ("train", "validation", "test")}
        for label, first, last in zip(labels, w.target_first, w.target_last):
            if label:
                targets[label].update(range(first, last + 1))
        assert targets["train"] and targets["validation"] and targets["test"]
        assert max(targets["train"]) < bounds.train_end <= min(targets["validation"])
        assert max(targets["validation"]) < bounds.validation_end <= min(targets["test"])


def test_scaler_is_fitted_on_the_training_part_only():
    values = np.concatenate([np.zeros(70), np.full(30, 100.0)]).reshape(-1, 1)
    values[:70, 0] = np.linspace(-1, 1, 70)
    table = build_window_table(values, 5, 1, 1, "shifted", 0.7, 0.15)
    scaler = table.scaler
    assert scaler.mean[0] == pytest.approx(values[:70].mean())
    assert scaler.std[0] == pytest.approx(values[:70].std())
    np.testing.assert_allclose(scaler.inverse(scaler.transform(values)), values)
    assert fit_scaler(np.ones((5, 1))).std[0] == 1.0  # a flat training part does not divide by zero


def test_window_table_reports_a_split_too_short_for_a_window():
    with pytest.raises(ValueError, match="the validation part .* holds no whole window of lookback 20"):
        build_window_table(np.zeros((100, 1)), 20, 1, 1, "shifted", 0.7, 0.15)


def test_window_table_round_trips_through_storage(tmp_path):
    from tasks import storage

    values = np.sin(np.arange(300) * 0.2).reshape(-1, 1)
    table = build_window_table(values, 12, 3, 2, "horizon", 0.6, 0.2)
    arrays, meta = table.to_arrays()
    stored = storage.read_arrays(storage.write_arrays(arrays, tmp_path / "w.parquet", meta))
    back = WindowTable.from_arrays(stored.arrays, stored.metadata)
    np.testing.assert_array_equal(back.x, table.x)
    np.testing.assert_array_equal(back.y, table.y)
    np.testing.assert_array_equal(back.start, table.start)
    assert back.split.tolist() == table.split.tolist()
    assert back.metadata["target"] == "horizon" and back.bounds == table.bounds
    np.testing.assert_allclose(back.scaler.mean, table.scaler.mean)
