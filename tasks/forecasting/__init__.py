"""Forecasting: series in, windows, recurrent cells, training, evaluation against baselines."""
