"""Figures every flow draws of a network's training: the loss curves; the figure plumbing they share.

Figures are built with the object API (``Figure``, not pyplot): no global state and no display
backend, so drawing never depends on what else the process has drawn.
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure


def axes(figsize: tuple[float, float]):
    fig = Figure(figsize=figsize)
    return fig, fig.subplots()


def margins(fig: Figure) -> None:
    """Fixed margins in inches, room for a title, tick labels and axis labels.

    ``tight_layout`` measures every text first: a third of a figure's cost, 0.1 s each, paid four
    times per model while the flow waits.
    """
    width, height = fig.get_size_inches()
    fig.subplots_adjust(left=0.95 / width, right=1 - 0.2 / width, bottom=0.6 / height, top=1 - 0.4 / height)


def loss_figure(history: dict[str, list[float]], title: str) -> Figure:
    """Training and validation loss per epoch, log scale."""
    fig, ax = axes((6, 3.5))
    for key in ("loss", "val_loss"):
        if key in history:
            ax.plot(np.arange(1, len(history[key]) + 1), history[key], label=key)
    ax.set(title=title, xlabel="epoch", ylabel="MSE (scaled units)", yscale="log")
    ax.legend()
    margins(fig)
    return fig


def members_loss_figure(histories: list[dict[str, list[float]]], title: str) -> Figure:
    """Training (solid) and validation (dashed) loss per epoch of every ensemble member, one colour each, log scale.

    Args:
        histories: one Keras history per member (``loss``, ``val_loss`` per epoch), in member order.
        title: the caption.
    """
    fig, ax = axes((7.5, 3.8))
    colors = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown", "tab:pink", "tab:grey")
    for member, history in enumerate(histories):
        color = colors[member % len(colors)]
        for key, style in (("loss", "-"), ("val_loss", "--")):
            if key in history:
                ax.plot(np.arange(1, len(history[key]) + 1), history[key], color=color, linestyle=style,
                        label=f"member {member} {'training' if key == 'loss' else 'validation'}")
    ax.set(title=title, xlabel="epoch", ylabel="MSE (scaled units)", yscale="log")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0, fontsize="small")
    fig.tight_layout()
    return fig


def close(fig: Figure) -> None:
    """Free a figure's memory once it has been logged."""
    fig.clear()
