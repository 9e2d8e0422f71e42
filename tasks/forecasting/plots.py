"""Figures for review in MLflow: forecasts, generated continuations, loss curves, gradient flow."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

# Figures are built with the object API (Figure, not pyplot): no global state, so they can be drawn
# in a worker thread while the next model trains, and they need no display backend.


def _axes(figsize: tuple[float, float]):
    fig = Figure(figsize=figsize)
    return fig, fig.subplots()


def _margins(fig: Figure) -> None:
    """Fixed margins in inches, room for a title, tick labels and axis labels.

    ``tight_layout`` measures every text first: a third of a figure's cost, 0.1 s each, paid four
    times per model while the flow waits.
    """
    width, height = fig.get_size_inches()
    fig.subplots_adjust(left=0.95 / width, right=1 - 0.2 / width, bottom=0.6 / height, top=1 - 0.4 / height)


def forecast_figure(t: np.ndarray, truth: np.ndarray, forecast: np.ndarray, title: str) -> Figure:
    """One-step-ahead forecasts over the test range; ``truth``/``forecast`` are ``(n_points,)``."""
    fig, ax = _axes((9, 3.5))
    ax.plot(t, truth, label="truth", color="black", linewidth=1.5)
    ax.plot(t, forecast, label="one-step forecast", color="tab:orange", linestyle="--")
    ax.set(title=title, xlabel="t", ylabel="value")
    ax.legend(loc="upper right")
    _margins(fig)
    return fig


def generation_figure(
    t_seed: np.ndarray, seed: np.ndarray, t_gen: np.ndarray, truth: np.ndarray, generated: np.ndarray, title: str
) -> Figure:
    """A seed window, then the generated continuation against the true one (all ``(n,)``)."""
    fig, ax = _axes((9, 3.5))
    ax.plot(t_seed, seed, label="seed (known)", color="tab:blue")
    ax.plot(t_gen, truth, label="true continuation", color="black")
    ax.plot(t_gen, generated, label="generated", color="tab:red", linestyle="--")
    ax.axvline(t_gen[0], color="grey", linewidth=0.8)
    ax.set(title=title, xlabel="t", ylabel="value")
    ax.legend(loc="upper right")
    _margins(fig)
    return fig


def loss_figure(history: dict[str, list[float]], title: str) -> Figure:
    """Training and validation loss per epoch, log scale."""
    fig, ax = _axes((6, 3.5))
    for key in ("loss", "val_loss"):
        if key in history:
            ax.plot(np.arange(1, len(history[key]) + 1), history[key], label=key)
    ax.set(title=title, xlabel="epoch", ylabel="MSE (scaled units)", yscale="log")
    ax.legend()
    _margins(fig)
    return fig


def gradient_figure(norms: dict[str, np.ndarray], title: str) -> Figure:
    """Per-input-step gradient norms, ``{name: (lookback,)}``, each divided by its last step's norm."""
    fig, ax = _axes((7, 3.8))
    for name, values in norms.items():
        values = np.asarray(values, dtype=float)
        lag = np.arange(len(values) - 1, -1, -1)  # steps before the forecast: oldest on the left
        ax.plot(-lag, values / values[-1], marker=".", label=name)
    ax.set(
        title=title,
        xlabel="input step relative to the last (0 = most recent)",
        ylabel="‖∂loss/∂x_t‖ / ‖∂loss/∂x_last‖",
        yscale="log",
    )
    ax.legend()
    _margins(fig)
    return fig


def close(fig: Figure) -> None:
    """Free a figure's memory once it has been logged."""
    fig.clear()


def model_figures(cell: str, t: np.ndarray, ev, history: dict[str, list[float]]) -> dict[str, Figure]:
    """The four figures logged for every trained model, keyed by artifact file name.

    Args:
        cell: the model's cell, used in the captions.
        t: ``(time,)`` the series' time axis.
        ev: the model's :class:`tasks.forecasting.evaluation.CellEvaluation` (first feature is plotted).
        history: per-epoch losses from training.
    """
    return {
        "plots/test_forecast.png": forecast_figure(
            t[ev.points], ev.truth[:, 0], ev.forecast[:, 0], f"{cell}: one-step forecast on test"),
        "plots/generated.png": generation_figure(
            t[ev.seed_points], ev.seed[:, 0], t[ev.generated_points], ev.generated_truth[:, 0],
            ev.generated[:, 0], f"{cell}: {len(ev.generated)} generated steps"),
        "plots/loss.png": loss_figure(history, f"{cell}: loss per epoch"),
        "plots/gradient_norms.png": gradient_figure(
            {cell: ev.gradient_norms}, f"{cell}: gradient of the forecast loss by input step"),
    }


def series_forecast_figure(
    history_t: np.ndarray,
    history: np.ndarray,
    truth_t: np.ndarray,
    truth: np.ndarray,
    forecasts: dict[str, np.ndarray],
    title: str,
) -> Figure:
    """One series at its latest origin: history, the held-out truth and each named forecast.

    Args:
        history_t: ``(n_history,)`` times of the steps before the origin; ``history`` their values.
        truth_t: ``(horizon,)`` times of the held-out steps; ``truth`` their values.
        forecasts: name (e.g. ``"lstm (best model)"``) to ``(horizon,)`` forecast.
        title: the caption.
    """
    fig, ax = _axes((9, 3.8))
    ax.plot(history_t, history, label="history", color="tab:blue", linewidth=1.2)
    ax.plot(truth_t, truth, label="truth (held out)", color="black", linewidth=1.5)
    styles = ("--", "-.", ":")
    colors = ("tab:red", "tab:green", "tab:purple")
    for i, (name, values) in enumerate(forecasts.items()):
        ax.plot(truth_t, values, label=name, color=colors[i % 3], linestyle=styles[i % 3], linewidth=1.5)
    if len(truth_t):
        ax.axvline(truth_t[0], color="grey", linewidth=0.8)
    ax.set(title=title, xlabel="time", ylabel="value")
    ax.legend(loc="upper left", fontsize="small")
    fig.autofmt_xdate()
    fig.tight_layout()
    return fig
