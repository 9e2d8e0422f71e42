"""The network and training settings every flow shares: which cells, their size, how they are fit.

Cells are a closed set chosen by name (:data:`CELLS`); an unknown one is refused with the valid
names. Each flow's own model section extends :class:`NetConfig` with what only it means (the
forecaster's strategy, scope and ensemble).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator

from tasks.config import Frozen

# The closed set of cells, by name; tasks.nets.cells builds exactly these (checked on import).
CELLS: tuple[str, ...] = ("rnn", "lstm", "gru", "manual_rnn", "peephole_lstm")
ACTIVATIONS: tuple[str, ...] = ("tanh", "relu", "leaky_relu", "elu")

class NetConfig(Frozen):
    """The recurrent network; the same settings apply to every cell in ``cells``."""

    cells: tuple[str, ...] = CELLS  # cells to train, by name: rnn | lstm | gru | manual_rnn | peephole_lstm
    units: int = Field(32, gt=0, le=4096)  # hidden units per recurrent layer
    layers: int = Field(1, ge=1, le=8)  # stacked recurrent layers
    activation: str = "tanh"  # candidate/state activation: tanh | relu | leaky_relu | elu
    dropout: float = Field(0.0, ge=0, lt=1)  # dropout between recurrent layers and before the head
    layer_norm: bool = False  # LayerNormalization after each recurrent layer
    @field_validator("cells", mode="before")
    @classmethod
    def _split_names(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        return tuple(value) if isinstance(value, list) else value

    @field_validator("cells")
    @classmethod
    def _known_cells(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError(f"at least one cell is needed; valid cells: {', '.join(CELLS)}")
        for name in value:
            if name not in CELLS:
                raise ValueError(f"unknown cell {name!r}; valid cells: {', '.join(CELLS)}")
        if len(set(value)) != len(value):
            raise ValueError(f"cells {list(value)} name a cell twice")
        return value

    @field_validator("activation")
    @classmethod
    def _known_activation(cls, value: str) -> str:
        if value not in ACTIVATIONS:
            raise ValueError(f"unknown activation {value!r}; valid activations: {', '.join(ACTIVATIONS)}")
        return value


class TrainConfig(Frozen):
    """Keras ``fit`` settings."""

    epochs: int = Field(40, gt=0, le=100_000)  # upper bound; early stopping usually ends sooner
    batch_size: int = Field(64, gt=0, le=1_000_000)  # windows per gradient step
    learning_rate: float = Field(0.01, gt=0, le=10)  # Adam step size
    patience: int = Field(8, ge=1, le=100_000)  # epochs without validation improvement before stopping
    lr_patience: int = Field(4, ge=0, le=100_000)  # halve the learning rate after this many flat epochs (0 = never)
    # "mse" squares the error in model units; "mae" (the median's loss) weighs big misses less, closer to
    # what sMAPE and MASE count; "huber" is squared below 1 and absolute above.
    loss: Literal["mse", "mae", "huber"] = "mse"  # training loss in model units: mse | mae | huber
    clipnorm: float | None = Field(1.0, gt=0)  # clip each gradient to this L2 norm (off = no clipping)
    clipvalue: float | None = Field(None, gt=0)  # clip each gradient element to ±value (off = no clipping)
    progress: bool = True  # show a progress bar per cell on stderr
    # Small recurrent nets train faster on one thread: their ops are too small to split, and handing
    # them between threads costs more than it saves. The same weights to the last bit either way.
    threads: int = Field(0, ge=0, le=1024)  # TensorFlow's intra- and inter-op threads for the process (0 = TensorFlow's default, one per core)
