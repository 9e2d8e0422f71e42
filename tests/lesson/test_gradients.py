"""The gradient probe and a trial: shapes, the at-initialisation measurement, the per-epoch ratio."""

import keras
import numpy as np
import pytest

from tasks.config import load_config
from tasks.nets.config import CELLS
from tasks.lesson.config import LessonConfig
from tasks.lesson.gradients import GradientProbe, sequence_gradient_norms
from tasks.lesson.memory import synthesize


def _reads(steps):
    """A model whose output depends on the inputs through ``steps`` only: ``(batch, L, 2) → (batch, 1, 1)``."""
    inputs = keras.Input((5, 2))
    picked = keras.layers.Lambda(steps)(inputs)
    out = keras.layers.Reshape((1, 1))(keras.layers.Dense(1, kernel_initializer="ones")(picked))
    return keras.Model(inputs, out)


def test_a_model_that_averages_every_step_has_ratio_one():
    x = np.random.default_rng(0).uniform(size=(16, 5, 2)).astype("float32")
    y = np.zeros((16, 1, 1), "float32")
    norms = sequence_gradient_norms(_reads(lambda t: keras.ops.mean(t, axis=1)), x, y)
    assert norms.shape == (5,)
    np.testing.assert_allclose(norms / norms[-1], 1.0, rtol=1e-6)


def test_a_model_that_reads_the_last_step_only_has_ratio_zero():
    x = np.random.default_rng(0).uniform(size=(16, 5, 2)).astype("float32")
    norms = sequence_gradient_norms(_reads(lambda t: t[:, -1, :]), x, np.zeros((16, 1, 1), "float32"))
    assert np.all(norms[:-1] == 0) and norms[-1] > 0


def test_the_probe_measures_at_initialisation_and_after_every_epoch():
    data = synthesize("adding", 5, {"train": 64, "validation": 16, "test": 32}, seed=0)
    model = _reads(lambda t: keras.ops.mean(t, axis=1))
    x_test, y_test = data.part("test")
    before = sequence_gradient_norms(model, x_test[:8], y_test[:8])
    probe = GradientProbe(x_test[:8], y_test[:8])
    model.compile(optimizer="sgd", loss="mse")
    model.fit(*data.part("train"), epochs=3, batch_size=32, verbose=0, callbacks=[probe])
    np.testing.assert_allclose(probe.init_norms, before)  # measured before the first update
    assert len(probe.ratios) == 4  # at initialisation, then after each of 3 epochs


@pytest.mark.slow
@pytest.mark.parametrize("cell", CELLS)
def test_every_cell_runs_a_trial(cell):
    from tasks.lesson.trials import run_trial

    cfg = load_config(LessonConfig, None, ["model.units=4", "train.epochs=2", "train.batch_size=16"])
    data = synthesize("adding", 5, {"train": 48, "validation": 16, "test": 24}, seed=0)
    model, fit, measured = run_trial(cell, data, cfg.model, cfg.train, 1, 8, per_epoch=True)
    assert model.output_shape == (None, 1, 1)  # two features in, one number out
    assert fit.epochs_run == 2
    assert measured.init_norms.shape == measured.trained_norms.shape == (5,)
    assert len(measured.ratio_by_epoch) == 3
    assert measured.ratio_by_epoch[0] == pytest.approx(measured.ratio_init)
    assert np.isfinite(measured.test_mse) and measured.test_mse > 0
    _, _, again = run_trial(cell, data, cfg.model, cfg.train, 1, 8, per_epoch=False)
    assert again.test_mse == measured.test_mse  # seeded and deterministic
    assert again.ratio_by_epoch == measured.ratio_by_epoch[:1]
