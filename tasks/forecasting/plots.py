"""Figures of the forecasting flow for review in MLflow: each plotted series' held-out horizon."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from tasks.nets.plots import axes as _axes
from tasks.nets.plots import close, loss_figure, members_loss_figure

__all__ = ["close", "loss_figure", "members_loss_figure", "series_forecast_figure"]


def series_forecast_figure(
    history_t: np.ndarray,
    history: np.ndarray,
    truth_t: np.ndarray,
    truth: np.ndarray,
    forecasts: dict[str, np.ndarray],
    title: str,
    band: tuple[np.ndarray, np.ndarray] | None = None,
    band_label: str = "prediction interval",
) -> Figure:
    """One series at its latest origin: history, the held-out truth, each named forecast and the first's interval.

    The legend sits to the right of the axes, never over the data.

    Args:
        history_t: ``(n_history,)`` times of the steps before the origin; ``history`` their values.
        truth_t: ``(horizon,)`` times of the held-out steps; ``truth`` their values.
        forecasts: name (e.g. ``"lstm (best model)"``) to ``(horizon,)`` forecast.
        title: the caption.
        band: ``(lower, upper)``, each ``(horizon,)``: the first forecast's prediction interval, drawn
            as a shaded band in its colour; None draws none.
        band_label: the band's legend entry (e.g. ``"gru 95% interval"``).
    """
    fig, ax = _axes((10, 3.8))
    ax.plot(history_t, history, label="history", color="tab:blue", linewidth=1.2)
    ax.plot(truth_t, truth, label="truth (held out)", color="black", linewidth=1.5)
    styles = ("--", "-.", ":")
    colors = ("tab:red", "tab:green", "tab:purple")
    if band is not None and len(truth_t):
        ax.fill_between(truth_t, band[0], band[1], color=colors[0], alpha=0.18, linewidth=0, label=band_label)
    for i, (name, values) in enumerate(forecasts.items()):
        ax.plot(truth_t, values, label=name, color=colors[i % 3], linestyle=styles[i % 3], linewidth=1.5)
    if len(truth_t):
        ax.axvline(truth_t[0], color="grey", linewidth=0.8)
    ax.set(title=title, xlabel="time", ylabel="value")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0, fontsize="small")
    fig.autofmt_xdate()
    fig.tight_layout()
    return fig
