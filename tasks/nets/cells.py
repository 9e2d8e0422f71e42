"""The five recurrent cells, chosen by name, and the two written by hand.

A *cell* computes one timestep; ``keras.layers.RNN`` runs it over the sequence (the Keras split).
``ManualRNNCell`` keeps SimpleRNN's weight names and layout, and ``PeepholeLSTMCell`` keeps LSTM's
``[i, f, c, o]`` gate layout, so weights copy across and golden-number tests can compare them.
"""

from __future__ import annotations

import keras
from keras import ops

from tasks.nets.config import ACTIVATIONS, CELLS


def _activation(name: str):
    if name not in ACTIVATIONS:
        raise ValueError(f"activation={name!r} is not supported; valid activations: {', '.join(ACTIVATIONS)}")
    return keras.activations.get(name)


class _HandBuiltCell(keras.layers.Layer):
    """Shared plumbing of the hand-built cells: size, activation, state layout, config."""

    n_states = 1

    def __init__(self, units: int, activation: str = "tanh", **kwargs):
        super().__init__(**kwargs)
        if units <= 0:
            raise ValueError(f"units={units}: must be > 0")
        self.units = units
        self.activation_name = activation
        self.activation = _activation(activation)
        self.state_size = units if self.n_states == 1 else [units] * self.n_states
        self.output_size = units

    def get_config(self):
        return {**super().get_config(), "units": self.units, "activation": self.activation_name}


@keras.saving.register_keras_serializable(package="seqflow")
class ManualRNNCell(_HandBuiltCell):
    """The textbook Elman cell ``h_t = act(x_t·W_x + h_{t-1}·W_h + b)``.

    Args:
        units: size of the hidden state ``h``.
        activation: ``tanh`` (default), ``relu``, ``leaky_relu`` or ``elu``.

    Call args:
        inputs: ``(batch, n_features)`` — one timestep.
        states: ``[h_prev]`` with ``h_prev`` of shape ``(batch, units)``.
    """

    def build(self, input_shape):
        n_features = input_shape[-1]
        self.kernel = self.add_weight(shape=(n_features, self.units), initializer="glorot_uniform", name="kernel")
        self.recurrent_kernel = self.add_weight(
            shape=(self.units, self.units), initializer="orthogonal", name="recurrent_kernel"
        )
        self.bias = self.add_weight(shape=(self.units,), initializer="zeros", name="bias")

    def call(self, inputs, states, training=None):
        h_prev = states[0] if isinstance(states, (list, tuple)) else states
        h = self.activation(ops.matmul(inputs, self.kernel) + ops.matmul(h_prev, self.recurrent_kernel) + self.bias)
        return h, [h]


@keras.saving.register_keras_serializable(package="seqflow")
class PeepholeLSTMCell(_HandBuiltCell):
    """LSTM with peephole connections (Gers & Schmidhuber, 2000).

    The input and forget gates see the previous cell state ``C_{t-1}``, the output gate sees the
    new one ``C_t``, each through a diagonal (per-unit) peephole weight::

        i = σ(x·W_i + h·U_i + p_i ⊙ C_{t-1} + b_i)
        f = σ(x·W_f + h·U_f + p_f ⊙ C_{t-1} + b_f)
        C_t = f ⊙ C_{t-1} + i ⊙ act(x·W_c + h·U_c + b_c)
        o = σ(x·W_o + h·U_o + p_o ⊙ C_t + b_o)
        h_t = o ⊙ act(C_t)

    ``kernel``, ``recurrent_kernel`` and ``bias`` use Keras LSTM's ``[i, f, c, o]`` layout; with the
    peephole weights at zero the cell is exactly ``keras.layers.LSTMCell``.

    Args:
        units: size of ``h`` and ``C``.
        activation: the candidate and output activation, ``tanh`` by default.

    Call args:
        inputs: ``(batch, n_features)``; states ``[h_prev, c_prev]``, each ``(batch, units)``.
    """

    n_states = 2  # h and C

    def build(self, input_shape):
        n_features = input_shape[-1]
        u = self.units
        self.kernel = self.add_weight(shape=(n_features, 4 * u), initializer="glorot_uniform", name="kernel")
        self.recurrent_kernel = self.add_weight(shape=(u, 4 * u), initializer="orthogonal", name="recurrent_kernel")

        def bias_init(shape, dtype=None):
            # Forget-gate bias starts at 1, as Keras LSTM's unit_forget_bias=True does.
            zeros = keras.initializers.Zeros()((u,), dtype=dtype)
            ones = keras.initializers.Ones()((u,), dtype=dtype)
            return ops.concatenate([zeros, ones, zeros, zeros])

        self.bias = self.add_weight(shape=(4 * u,), initializer=bias_init, name="bias")
        # Small random peepholes; zeros would also train (their gradient is δ·C), but start symmetric.
        peep = keras.initializers.RandomUniform(-0.1, 0.1)
        self.peephole_i = self.add_weight(shape=(u,), initializer=peep, name="peephole_i")
        self.peephole_f = self.add_weight(shape=(u,), initializer=peep, name="peephole_f")
        self.peephole_o = self.add_weight(shape=(u,), initializer=peep, name="peephole_o")

    def call(self, inputs, states, training=None):
        h_prev, c_prev = states[0], states[1]
        z = ops.matmul(inputs, self.kernel) + ops.matmul(h_prev, self.recurrent_kernel) + self.bias
        z_i, z_f, z_c, z_o = ops.split(z, 4, axis=-1)
        i = ops.sigmoid(z_i + self.peephole_i * c_prev)
        f = ops.sigmoid(z_f + self.peephole_f * c_prev)
        c = f * c_prev + i * self.activation(z_c)
        o = ops.sigmoid(z_o + self.peephole_o * c)
        h = o * self.activation(c)
        return h, [h, c]


_LAYERS = {
    "rnn": lambda units, activation, **kw: keras.layers.SimpleRNN(units, activation=activation, **kw),
    "lstm": lambda units, activation, **kw: keras.layers.LSTM(units, activation=activation, **kw),
    "gru": lambda units, activation, **kw: keras.layers.GRU(units, activation=activation, **kw),
    "manual_rnn": lambda units, activation, **kw: keras.layers.RNN(ManualRNNCell(units, activation=activation), **kw),
    "peephole_lstm": lambda units, activation, **kw: keras.layers.RNN(
        PeepholeLSTMCell(units, activation=activation), **kw),
}
# The config validates cell names against CELLS; this is the registry that builds them. They must
# be the same set, or a name the config accepts would fail a minute later here.
if set(_LAYERS) != set(CELLS):
    raise ImportError(f"cell registry {sorted(_LAYERS)} differs from the config's CELLS {sorted(CELLS)}")


def recurrent_layer(cell: str, units: int, activation: str, return_sequences: bool, name: str | None = None):
    """Build the Keras layer that runs cell ``cell`` over a ``(batch, time, features)`` sequence.

    Raises:
        ValueError: ``cell`` is not one of :data:`tasks.nets.config.CELLS`; the message lists them.
    """
    _activation(activation)  # fail on a bad name before building; the layers take it as a string
    if cell not in _LAYERS:
        raise ValueError(f"cell={cell!r} is not a known cell; valid cells: {', '.join(CELLS)}")
    return _LAYERS[cell](units, activation, return_sequences=return_sequences, name=name)
