"""The lesson's figures draw from records alone, including failed trials and underflowed ratios."""

import numpy as np

from tasks.lesson import plots
from tasks.lesson.records import NoMemoryBaseline, TrialResult
from tasks.lesson.summary import summarise


def _trials():
    rng = np.random.default_rng(0)
    found = []
    for length in (4, 8):
        for cell in ("rnn", "lstm"):
            init, trained = tuple(rng.uniform(0.1, 1, length)), tuple(rng.uniform(0.1, 1, length))
            ratios = (0.5, 0.0, 0.2) if cell == "rnn" else (1e-3, 1.0, 1.2)  # 0: underflowed float32
            metrics = {"test_mse": 0.16 if cell == "rnn" else 1e-4, "gradient_ratio_init": ratios[0],
                       "gradient_ratio_trained": ratios[-1]}
            found.append(TrialResult(cell, length, 1, "r", metrics, init, trained, ratios))
    found.append(TrialResult("gru", 4, 1, "r", {}, failure="training diverged"))
    return found


def _texts(fig):
    return [t.get_text() for legend in fig.legends for t in legend.get_texts()] + [
        t.get_text() for ax in fig.axes if ax.get_legend() for t in ax.get_legend().get_texts()]


def test_every_figure_draws_and_names_what_it_shows():
    trials = _trials()
    baselines = [NoMemoryBaseline(4, 1 / 6, 0.15), NoMemoryBaseline(8, 1 / 6, 0.17)]
    rows = summarise(trials, baselines, ["rnn", "lstm", "gru"], [1], 0.01)
    mse = plots.mse_by_length_figure(rows, baselines, 0.01, "adding")
    assert "no memory: predict the mean (0.167)" in _texts(mse)
    overlay = plots.gradient_overlay_figure(trials, [4, 8], 1)
    assert {"rnn", "lstm", "at initialisation", "after training"} <= set(_texts(overlay))
    assert "gru" not in _texts(overlay)  # the failed trial has nothing to draw
    ratios = plots.ratio_by_epoch_figure(trials, [4, 8], 1)
    assert "0: underflowed float32" in _texts(ratios)
    for fig in (mse, overlay, ratios, plots.trial_gradient_figure(trials[0])):
        fig.canvas.draw()  # renders without error
        plots.close(fig)
