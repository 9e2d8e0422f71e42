"""The forecast plot shows the model's prediction interval with its legend outside the data; the loss plot shows every member."""

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import PolyCollection

from tasks.forecasting import plots


def _outside(fig) -> bool:
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    (ax,) = fig.axes
    renderer = canvas.get_renderer()
    return ax.get_legend().get_window_extent(renderer).x0 >= ax.get_window_extent(renderer).x1


def test_the_forecast_plot_draws_the_interval_band_and_keeps_the_legend_off_the_data():
    t = np.arange(30.0)
    lower, upper = np.full(6, 8.0), np.full(6, 12.0)
    fig = plots.series_forecast_figure(t[:24], np.sin(t[:24]), t[24:], np.full(6, 10.0),
                                       {"gru (best model)": np.full(6, 10.0)}, "s1", (lower, upper), "gru 95% interval")
    (ax,) = fig.axes
    bands = [c for c in ax.collections if isinstance(c, PolyCollection)]
    assert len(bands) == 1
    corners = bands[0].get_paths()[0].vertices
    assert corners[:, 1].min() == 8.0 and corners[:, 1].max() == 12.0
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "history", "truth (held out)", "gru 95% interval", "gru (best model)"]
    assert _outside(fig)
    plots.close(fig)


def test_the_forecast_plot_without_a_band_draws_none():
    t = np.arange(10.0)
    fig = plots.series_forecast_figure(t[:7], t[:7], t[7:], t[7:], {"naive (best baseline)": t[7:]}, "s1")
    assert not [c for c in fig.axes[0].collections if isinstance(c, PolyCollection)]
    plots.close(fig)


def test_the_loss_plot_shows_training_and_validation_of_every_member():
    histories = [{"loss": [1.0, 0.5, 0.3], "val_loss": [1.1, 0.7, 0.6]} for _ in range(3)]
    fig = plots.members_loss_figure(histories, "gru")
    (ax,) = fig.axes
    labels = [line.get_label() for line in ax.get_lines()]
    assert labels == [f"member {m} {kind}" for m in range(3) for kind in ("training", "validation")]
    assert [line.get_linestyle() for line in ax.get_lines()[:2]] == ["-", "--"]
    assert _outside(fig)
    plots.close(fig)
