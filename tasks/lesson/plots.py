"""The lesson's figures: test MSE against sequence length, and the gradients of every cell overlaid.

Built with the object API (``Figure``, not pyplot): no global state and no display needed.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from tasks.lesson.records import LessonRow, NoMemoryBaseline, TrialResult

# One colour per cell, the same in every figure of the lesson.
COLOURS = {"rnn": "tab:red", "manual_rnn": "tab:orange", "lstm": "tab:blue", "gru": "tab:green",
           "peephole_lstm": "tab:purple"}


def _colour(cell: str) -> str:
    return COLOURS.get(cell, "tab:gray")


def mse_by_length_figure(
    rows: Sequence[LessonRow], baselines: Sequence[NoMemoryBaseline], solved_mse: float, task: str
) -> Figure:
    """Test MSE against sequence length, one line per cell (mean over seeds, each seed a dot).

    The no-memory baseline (predict the mean) and the "solved" threshold are drawn across.
    """
    fig = Figure(figsize=(9.5, 4.5))
    ax = fig.subplots()
    cells = list(dict.fromkeys(r.cell for r in rows))
    for cell in cells:
        mine = sorted((r for r in rows if r.cell == cell), key=lambda r: r.length)
        lengths = np.array([r.length for r in mine])
        ax.plot(lengths, [r.mean_test_mse for r in mine], marker="o", color=_colour(cell), label=cell)
        for r in mine:
            ax.scatter([r.length] * len(r.test_mse), r.test_mse, color=_colour(cell), s=12, alpha=0.5)
    lengths = sorted(b.length for b in baselines)
    closed = baselines[0].closed_form
    ax.axhline(closed, color="black", linestyle="--", linewidth=1, label=f"no memory: predict the mean ({closed:.3f})")
    ax.axhline(solved_mse, color="grey", linestyle=":", linewidth=1, label=f"solved below {solved_mse:g}")
    ax.set(title=f"{task} problem: test MSE by sequence length (same budget for every cell)",
           xlabel="sequence length (steps)", ylabel="test MSE", xscale="log", yscale="log")
    ax.set_xticks(lengths, [str(n) for n in lengths])
    ax.minorticks_off()
    ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    fig.tight_layout()
    return fig


def _panels(n: int, height: float) -> tuple[Figure, np.ndarray]:
    # Wide enough for a one-panel sweep too, with room on the right for the legend.
    fig = Figure(figsize=(max(8.5, 3.6 * n + 2.4), height))
    return fig, np.atleast_1d(fig.subplots(1, n, squeeze=False)[0])


def _legend(fig: Figure, cells: Sequence[str], styles: bool, underflow: bool = False) -> None:
    handles = [Line2D([], [], color=_colour(c), label=c) for c in cells]
    if styles:
        handles += [Line2D([], [], color="black", linestyle="--", label="at initialisation"),
                    Line2D([], [], color="black", label="after training")]
    if underflow:
        handles.append(Line2D([], [], color="black", marker="v", linestyle="none", label="0: underflowed float32"))
    fig.legend(handles=handles, loc="center right", fontsize=8, frameon=False)


def _right_margin(n: int) -> float:
    return 1 - 2.0 / max(8.5, 3.6 * n + 2.4)  # 2 inches for the legend


def gradient_overlay_figure(trials: Sequence[TrialResult], lengths: Sequence[int], seed: int) -> Figure:
    """‖∂loss/∂x_t‖ per input step, relative to the last step: one panel per length, cells overlaid.

    Dashed: at initialisation; solid: after training. Only the trials of ``seed`` are drawn.
    """
    fig, axes = _panels(len(lengths), 4.0)
    cells: list[str] = []
    for ax, length in zip(axes, lengths):
        for trial in (t for t in trials if t.length == length and t.seed == seed and t.ok):
            cells.append(trial.cell)
            steps = np.arange(length) - (length - 1)  # 0 = the last input step
            for norms, style in ((trial.init_norms, "--"), (trial.trained_norms, "-")):
                values = np.asarray(norms, dtype=float)
                relative = np.where(values > 0, values / values[-1], np.nan)
                ax.plot(steps, relative, linestyle=style, color=_colour(trial.cell), linewidth=1.2)
        ax.set(title=f"length {length}", xlabel="input step (0 = last)", yscale="log")
    axes[0].set_ylabel("‖∂loss/∂x_t‖ / ‖∂loss/∂x_last‖")
    _legend(fig, list(dict.fromkeys(cells)), styles=True)
    fig.suptitle(f"Gradient of the loss reaching each input step (training seed {seed})")
    fig.tight_layout(rect=(0, 0, _right_margin(len(lengths)), 1))
    return fig


def ratio_by_epoch_figure(trials: Sequence[TrialResult], lengths: Sequence[int], seed: int) -> Figure:
    """First-to-last gradient ratio after each epoch (0 = at initialisation): one panel per length.

    A ratio of exactly 0 (the first step's gradient underflowed float32) cannot sit on a log axis;
    it is marked with a triangle on the panel's lower edge.
    """
    fig, axes = _panels(len(lengths), 3.8)
    cells: list[str] = []
    underflowed = False
    for ax, length in zip(axes, lengths):
        zeros: list[tuple[int, str]] = []
        for trial in (t for t in trials if t.length == length and t.seed == seed and t.ok):
            cells.append(trial.cell)
            ratios = np.asarray(trial.ratio_by_epoch, dtype=float)
            zeros += [(int(k), trial.cell) for k in np.flatnonzero(ratios == 0)]
            ax.plot(np.arange(len(ratios)), np.where(ratios > 0, ratios, np.nan), marker=".", color=_colour(trial.cell))
        ax.set(title=f"length {length}", xlabel="epochs trained (0 = at initialisation)", yscale="log")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        if zeros:
            underflowed = True
            bottom = ax.get_ylim()[0]
            for epoch, cell in zeros:
                ax.plot([epoch], [bottom], marker="v", color=_colour(cell), clip_on=False, linestyle="none")
            ax.set_ylim(bottom=bottom)
    axes[0].set_ylabel("‖∂loss/∂x_first‖ / ‖∂loss/∂x_last‖")
    _legend(fig, list(dict.fromkeys(cells)), styles=False, underflow=underflowed)
    fig.suptitle(f"First-to-last gradient ratio as training goes (training seed {seed})")
    fig.tight_layout(rect=(0, 0, _right_margin(len(lengths)), 1))
    return fig


def trial_gradient_figure(trial: TrialResult) -> Figure:
    """One trial's ‖∂loss/∂x_t‖ per input step: dashed at initialisation, solid after training."""
    fig = Figure(figsize=(6.5, 3.6))
    ax = fig.subplots()
    steps = np.arange(trial.length) - (trial.length - 1)
    ax.plot(steps, trial.init_norms, linestyle="--", color=_colour(trial.cell), label="at initialisation")
    ax.plot(steps, trial.trained_norms, color=_colour(trial.cell), label="after training")
    ax.set(title=f"{trial.cell}, length {trial.length}, seed {trial.seed}: gradient by input step",
           xlabel="input step (0 = last)", ylabel="‖∂loss/∂x_t‖", yscale="log")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def close(fig: Figure) -> None:
    """Free a figure's memory once it has been logged."""
    fig.clear()
