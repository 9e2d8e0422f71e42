"""Networks kept keyed on their inputs: what makes a key, and when a kept network counts as finished."""

import keras
import numpy as np

from tasks.config import load_config
from tasks.forecasting.config import ForecastConfig
from tasks.forecasting.records import WindowsRef
from tasks.forecasting.steps.kept import finished as _finished
from tasks.forecasting.steps.kept import keep as _keep
from tasks.forecasting.steps.models import _training_key
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


def _worker_unit(monkeypatch, tmp_path, fitted):
    """train_unit (what a Dask worker runs) on stand-ins for the windows and the fit; returns (call, folder, stem)."""
    import threading

    from tasks import paths
    from tasks.forecasting.steps import models

    monkeypatch.setenv("SEQFLOW_ARTIFACTS", str(tmp_path))
    monkeypatch.setattr("tasks.runtime.configure_tf_threads", lambda threads: True)
    monkeypatch.setattr(models, "uses_streamed_windows", lambda windows, cfg: False)
    monkeypatch.setattr(models, "read_panel", lambda windows, split=None: None)
    monkeypatch.setattr(models, "_units", lambda table, cfg: [models.Unit(0, 0, 0, None)])
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])

    def fit(*args, **kwargs):
        fitted.set()
        return model, FitResult({"loss": [0.5]}, 1, 1, 0.1, 20.0)

    monkeypatch.setattr(models, "_fit_unit", fit)
    cfg = load_config(ForecastConfig, None, [])
    unit = models.Unit(0, 0, 0, None)
    folder = paths.trained_dir(models._training_key(_windows("a"), cfg, "gru", "gru"))
    out = {}
    call = threading.Thread(target=lambda: out.setdefault("fit", models.train_unit.fn(_windows("a"), cfg, "gru", "gru", unit)))
    return call, out, folder, "gru", model


def test_a_worker_waits_for_a_unit_another_process_trains_and_then_reuses_it(monkeypatch, tmp_path):
    import threading

    from tasks import locks
    from tasks.forecasting.steps import kept

    fitted = threading.Event()
    call, out, folder, stem, model = _worker_unit(monkeypatch, tmp_path, fitted)
    with locks.exclusive(kept.unit_lock(folder, stem)):  # another run is training this unit
        call.start()
        assert not fitted.wait(1.0), "the worker trained a unit whose lock another process held"
        folder.mkdir(parents=True, exist_ok=True)
        kept.keep(folder, stem, model, FitResult({"loss": [0.4]}, 1, 1, 0.1, 20.0), "other-run")
    call.join(30)
    assert not call.is_alive() and not fitted.is_set()
    assert out["fit"].reused and out["fit"].fit is None and out["fit"].failure is None


def test_a_worker_trains_a_unit_once_its_lock_is_free(monkeypatch, tmp_path):
    import threading

    from tasks import locks
    from tasks.forecasting.steps import kept

    fitted = threading.Event()
    call, out, folder, stem, _ = _worker_unit(monkeypatch, tmp_path, fitted)
    with locks.exclusive(kept.unit_lock(folder, stem)):  # held, then let go with nothing finished
        call.start()
        assert not fitted.wait(1.0)
    call.join(30)
    assert fitted.is_set() and not out["fit"].reused and out["fit"].fit.epochs_run == 1
    assert (folder / f"{stem}.keras").is_file() and kept.finished(folder, stem) is None  # saved, recorded later
