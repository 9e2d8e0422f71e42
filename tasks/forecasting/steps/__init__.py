"""Prefect ``@task`` wrappers of the forecasting flow: read inputs, call pure functions, write, log.

The only place the forecasting package meets Prefect, storage, paths and tracking, in three files:
:mod:`.data` (ingest, windows, baselines), :mod:`.models` (train, forecast and score each cell) and
:mod:`.compare` (the comparison, its tables and plots, the served model), and :mod:`.auto`
(``model.recipe = auto``: its recipes, and its choice on the inner folds).

Every series' last ``window.horizon`` steps are held out per backtest origin and scored with the M4
metrics beside the multi-step baselines.
"""

from tasks.forecasting.steps.auto import baselines_to_run, choose_auto, recipe_configs, resolve_inner_folds
from tasks.forecasting.steps.compare import LOCAL_NOT_SERVED, compare_holdout, score_served_models, serve_best_model
from tasks.forecasting.steps.data import backtest_baselines, check_log_fits, ingest_series, record_inputs, transform_spec, window_panel
from tasks.forecasting.steps.models import evaluate_panel_model, member_seed, train_panel_model, train_units

__all__ = [
    "LOCAL_NOT_SERVED", "backtest_baselines", "baselines_to_run", "check_log_fits", "choose_auto", "recipe_configs", "resolve_inner_folds", "compare_holdout", "evaluate_panel_model", "ingest_series", "member_seed",
    "record_inputs", "score_served_models", "serve_best_model", "train_panel_model", "train_units", "transform_spec", "window_panel",
]
