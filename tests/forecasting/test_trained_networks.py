"""Networks kept keyed on their inputs: what makes a key, and when a kept network counts as finished."""

import keras
import numpy as np

from tasks.config import load_config
from tasks.forecasting.config import ForecastConfig
from tasks.forecasting.records import WindowsRef
from tasks.forecasting.steps.models import _finished, _keep, _training_key
from tasks.nets.training import FitResult


def _windows(content_hash: str) -> WindowsRef:
    return WindowsRef("w.parquet", content_hash, None, ())


def test_the_key_follows_what_shapes_the_weights_and_ignores_how_the_run_is_shown():
    base = load_config(ForecastConfig, None, [])
    key = _training_key(_windows("a"), base, "gru", "gru")
    assert key == _training_key(_windows("a"), base, "gru", "gru")
    assert key != _training_key(_windows("b"), base, "gru", "gru")  # other windows
    assert key != _training_key(_windows("a"), base, "lstm", "lstm")
    for changed in ("seed=7", "train.epochs=3", "model.units=5", "model.ensemble=2"):
        assert key != _training_key(_windows("a"), load_config(ForecastConfig, None, [changed]), "gru", "gru"), changed
    for shown in ("train.progress=false", "tracking.experiment=elsewhere", "train.resume=false", "train.max_window_mb=1"):
        assert key == _training_key(_windows("a"), load_config(ForecastConfig, None, [shown]), "gru", "gru"), shown
    # The path the windows take (streamed or in memory) trains other weights; the bound that chose it does not.
    assert key != _training_key(_windows("a"), base, "gru", "gru", streamed=True)


def test_a_kept_network_is_finished_only_while_both_its_file_and_its_record_exist(tmp_path):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    fit = FitResult({"loss": [0.5, 0.25]}, 2, 2, 0.1, 20.0, resumed_from_epoch=1)
    assert _finished(tmp_path, "gru") is None
    _keep(tmp_path, "gru", model, fit, "run-1")
    assert _finished(tmp_path, "gru") == (fit, "run-1")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["gru.fit.json", "gru.keras"]  # no partial file left
    restored = keras.saving.load_model(tmp_path / "gru.keras")
    for a, b in zip(model.get_weights(), restored.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)

    (tmp_path / "gru.keras").unlink()  # a deleted network is trained again, never pointed at
    assert _finished(tmp_path, "gru") is None
    _keep(tmp_path, "gru", model, fit, "run-1")
    (tmp_path / "gru.fit.json").unlink()  # killed between the two renames
    assert _finished(tmp_path, "gru") is None
