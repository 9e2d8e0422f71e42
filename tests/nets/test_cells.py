"""Contract test over every cell, and golden numbers for the two written by hand."""

import keras
import numpy as np
import pytest

from tasks.nets.cells import ManualRNNCell, PeepholeLSTMCell, recurrent_layer
from tasks.nets.config import CELLS, NetConfig
from tasks.nets.models import build_forecaster

RNG = np.random.default_rng(1234)


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize(("target", "horizon"), [("shifted", 1), ("horizon", 3)])
def test_every_cell_builds_trains_a_step_and_round_trips(cell, target, horizon, tmp_path):
    cfg = NetConfig(units=6, layers=2, dropout=0.1, layer_norm=True, activation="elu")
    model = build_forecaster(cell, cfg, lookback=5, n_features=2, target=target, horizon=horizon)
    x = RNG.normal(size=(4, 5, 2)).astype("float32")
    expected_shape = (4, 5, 2) if target == "shifted" else (4, horizon, 2)
    assert model(x).shape == expected_shape
    model.compile(optimizer="adam", loss="mse")
    before = [w.copy() for w in model.get_weights()]
    model.fit(x, np.zeros(expected_shape, "float32"), epochs=1, verbose=0)
    assert any(not np.allclose(a, b) for a, b in zip(before, model.get_weights())), "a training step changed nothing"
    path = tmp_path / f"{cell}.keras"
    model.save(path)
    reloaded = keras.saving.load_model(path)
    np.testing.assert_allclose(reloaded(x, training=False), model(x, training=False), rtol=1e-5, atol=1e-6)


def test_unknown_cell_lists_the_valid_ones():
    with pytest.raises(ValueError) as info:
        recurrent_layer("transformer", 4, "tanh", False)
    assert str(info.value) == (
        "cell='transformer' is not a known cell; valid cells: rnn, lstm, gru, manual_rnn, peephole_lstm"
    )


def test_unknown_activation_is_named():
    with pytest.raises(ValueError, match="activation='sigmoid' is not supported"):
        ManualRNNCell(4, activation="sigmoid")


@pytest.mark.parametrize("activation", ["tanh", "relu", "leaky_relu", "elu"])
def test_manual_rnn_equals_keras_simple_rnn_given_the_same_weights(activation):
    x = RNG.normal(size=(3, 7, 4)).astype("float32")
    reference = keras.layers.SimpleRNN(5, activation=activation, return_sequences=True)
    manual = keras.layers.RNN(ManualRNNCell(5, activation=activation), return_sequences=True)
    reference(x), manual(x)  # build both
    manual.set_weights(reference.get_weights())
    np.testing.assert_allclose(manual(x), reference(x), rtol=1e-5, atol=1e-6)


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def _peephole_reference(x, kernel, recurrent, bias, p_i, p_f, p_o):
    """The Gers & Schmidhuber equations, step by step, in NumPy (float64)."""
    batch, steps, _ = x.shape
    u = recurrent.shape[0]
    h = np.zeros((batch, u))
    c = np.zeros((batch, u))
    outputs = []
    for t in range(steps):
        z = x[:, t] @ kernel + h @ recurrent + bias
        z_i, z_f, z_c, z_o = np.split(z, 4, axis=-1)
        i = _sigmoid(z_i + p_i * c)
        f = _sigmoid(z_f + p_f * c)
        c = f * c + i * np.tanh(z_c)
        o = _sigmoid(z_o + p_o * c)
        h = o * np.tanh(c)
        outputs.append(h)
    return np.stack(outputs, axis=1)


def test_peephole_lstm_matches_numpy_reference():
    x = RNG.normal(size=(2, 6, 3)).astype("float32")
    layer = keras.layers.RNN(PeepholeLSTMCell(4), return_sequences=True)
    layer(x)
    weights = [RNG.normal(scale=0.5, size=w.shape).astype("float32") for w in layer.get_weights()]
    layer.set_weights(weights)
    expected = _peephole_reference(x.astype(np.float64), *[w.astype(np.float64) for w in weights])
    assert np.abs(expected).max() > 0.05  # the check compares real activity, not zeros
    np.testing.assert_allclose(layer(x), expected, rtol=1e-4, atol=1e-5)


def test_peephole_lstm_with_zero_peepholes_is_keras_lstm():
    x = RNG.normal(size=(3, 8, 2)).astype("float32")
    lstm = keras.layers.LSTM(5, return_sequences=True)
    peephole = keras.layers.RNN(PeepholeLSTMCell(5), return_sequences=True)
    lstm(x), peephole(x)
    kernel, recurrent, bias = lstm.get_weights()
    zeros = np.zeros(5, "float32")
    peephole.set_weights([kernel, recurrent, bias, zeros, zeros, zeros])
    np.testing.assert_allclose(peephole(x), lstm(x), rtol=1e-5, atol=1e-6)
    peephole.set_weights([kernel, recurrent, bias, zeros + 0.5, zeros, zeros])
    assert not np.allclose(peephole(x), lstm(x)), "peepholes had no effect"
