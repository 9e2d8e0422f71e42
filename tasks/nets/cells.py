"""The five recurrent cells, chosen by name, and the two written by hand.

A *cell* computes one timestep; ``keras.layers.RNN`` runs it over the sequence (the Keras split).
``ManualRNNCell`` keeps SimpleRNN's weight names and layout, and ``PeepholeLSTMCell`` keeps LSTM's
``[i, f, c, o]`` gate layout, so weights copy across and golden-number tests can compare them.
"""

from __future__ import annotations

from collections.abc import Callable

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

    def __init__(self, units: int, activation: str = "tanh", kernel_initializer="glorot_uniform",
                 recurrent_initializer="orthogonal", **kwargs):
        super().__init__(**kwargs)
        if units <= 0:
            raise ValueError(f"units={units}: must be > 0")
        self.units = units
        self.activation_name = activation
        self.activation = _activation(activation)
        self.state_size = units if self.n_states == 1 else [units] * self.n_states
        self.output_size = units
        # Kept as given (a name, or a seeded initializer): a name draws its seed when the weight is made.
        self.kernel_initializer = kernel_initializer
        self.recurrent_initializer = recurrent_initializer

    def get_config(self):
        return {**super().get_config(), "units": self.units, "activation": self.activation_name,
                "kernel_initializer": _serialized(self.kernel_initializer),
                "recurrent_initializer": _serialized(self.recurrent_initializer)}


def _serialized(initializer):
    return initializer if isinstance(initializer, (str, dict)) else keras.initializers.serialize(initializer)


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
        self.kernel = self.add_weight(shape=(n_features, self.units), initializer=self.kernel_initializer,
                                      name="kernel")
        self.recurrent_kernel = self.add_weight(
            shape=(self.units, self.units), initializer=self.recurrent_initializer, name="recurrent_kernel"
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

    def __init__(self, units: int, activation: str = "tanh", peephole_initializer=None, **kwargs):
        super().__init__(units, activation, **kwargs)
        self.peephole_initializer = peephole_initializer  # None: RandomUniform(-0.1, 0.1), seeded when built

    def get_config(self):
        config = super().get_config()
        if self.peephole_initializer is not None:
            config["peephole_initializer"] = _serialized(self.peephole_initializer)
        return config

    def build(self, input_shape):
        n_features = input_shape[-1]
        u = self.units
        self.kernel = self.add_weight(shape=(n_features, 4 * u), initializer=self.kernel_initializer,
                                      name="kernel")
        self.recurrent_kernel = self.add_weight(shape=(u, 4 * u), initializer=self.recurrent_initializer,
                                                name="recurrent_kernel")

        def bias_init(shape, dtype=None):
            # Forget-gate bias starts at 1, as Keras LSTM's unit_forget_bias=True does.
            zeros = keras.initializers.Zeros()((u,), dtype=dtype)
            ones = keras.initializers.Ones()((u,), dtype=dtype)
            return ops.concatenate([zeros, ones, zeros, zeros])

        self.bias = self.add_weight(shape=(4 * u,), initializer=bias_init, name="bias")
        # Small random peepholes; zeros would also train (their gradient is δ·C), but start symmetric.
        peep = (keras.initializers.RandomUniform(-0.1, 0.1) if self.peephole_initializer is None
                else self.peephole_initializer)
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


Seeds = Callable[[], int]  # draws the next initializer seed


def _keras_seeded(order: tuple[str, ...], seeds: Seeds | None) -> dict:
    """Seeded initializers (and dropout seed) for a Keras recurrent layer, drawn in ``order``: the order in
    which the layer, unseeded, would draw them from Python's global ``random``, so a seeded build
    gives the weights an unseeded one gives right after :func:`keras.utils.set_random_seed`."""
    if seeds is None:
        return {}
    made = {"seed": lambda s: s, "kernel_initializer": lambda s: keras.initializers.GlorotUniform(seed=s),
            "recurrent_initializer": lambda s: keras.initializers.Orthogonal(seed=s)}
    return {key: made[key](seeds()) for key in order}


_KERAS_ORDER = ("kernel_initializer", "recurrent_initializer", "seed")  # GRUCell, LSTMCell
_LAYERS = {
    "rnn": lambda units, activation, seeds, **kw: keras.layers.SimpleRNN(
        units, activation=activation, **_keras_seeded(("seed", "kernel_initializer", "recurrent_initializer"), seeds),
        **kw),
    "lstm": lambda units, activation, seeds, **kw: keras.layers.LSTM(
        units, activation=activation, **_keras_seeded(_KERAS_ORDER, seeds), **kw),
    "gru": lambda units, activation, seeds, **kw: keras.layers.GRU(
        units, activation=activation, **_keras_seeded(_KERAS_ORDER, seeds), **kw),
    "manual_rnn": lambda units, activation, seeds, **kw: keras.layers.RNN(
        ManualRNNCell(units, activation=activation, **_keras_seeded(_KERAS_ORDER[:2], seeds)), **kw),
    "peephole_lstm": lambda units, activation, seeds, **kw: keras.layers.RNN(
        PeepholeLSTMCell(units, activation=activation, **_keras_seeded(_KERAS_ORDER[:2], seeds),
                         **({"peephole_initializer": keras.initializers.RandomUniform(-0.1, 0.1, seed=seeds())}
                            if seeds else {})), **kw),
}
# The config validates cell names against CELLS; this is the registry that builds them. They must
# be the same set, or a name the config accepts would fail a minute later here.
if set(_LAYERS) != set(CELLS):
    raise ImportError(f"cell registry {sorted(_LAYERS)} differs from the config's CELLS {sorted(CELLS)}")


def recurrent_layer(cell: str, units: int, activation: str, return_sequences: bool, name: str | None = None,
                    seeds: Seeds | None = None):
    """Build the Keras layer that runs cell ``cell`` over a ``(batch, time, features)`` sequence.

    With ``seeds``, every random initializer (and the dropout seed) gets its seed from it; without,
    Keras draws them from Python's process-wide ``random``.

    Raises:
        ValueError: ``cell`` is not one of :data:`tasks.nets.config.CELLS`; the message lists them.
    """
    _activation(activation)  # fail on a bad name before building; the layers take it as a string
    if cell not in _LAYERS:
        raise ValueError(f"cell={cell!r} is not a known cell; valid cells: {', '.join(CELLS)}")
    return _LAYERS[cell](units, activation, seeds, return_sequences=return_sequences, name=name)
