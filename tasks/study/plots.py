"""Figures of the sine study for review in MLflow: one-step forecasts, generated continuations, gradient flow."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from tasks.nets.plots import axes as _axes
from tasks.nets.plots import close, loss_figure
from tasks.nets.plots import margins as _margins

__all__ = ["close", "forecast_figure", "generation_figure", "gradient_figure", "model_figures"]


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


def model_figures(cell: str, t: np.ndarray, ev, history: dict[str, list[float]]) -> dict[str, Figure]:
    """The four figures logged for every trained model, keyed by artifact file name.

    Args:
        cell: the model's cell, used in the captions.
        t: ``(time,)`` the series' time axis.
        ev: the model's :class:`tasks.study.evaluation.CellEvaluation` (first feature is plotted).
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
