"""train_forecasters: series → windows → cells → evaluate → compare, tracked in MLflow."""

from __future__ import annotations

from typing import Any

from prefect import flow
from prefect.runtime import flow_run

from tasks import tracking
from tasks.config import ForecastConfig, flatten
from tasks.forecasting import steps


@flow(name="train-forecasters", log_prints=False)
def train_forecasters(cfg: ForecastConfig) -> dict[str, Any]:
    """Train every configured cell on one series and score it beside the baselines.

    Returns a JSON-ready summary: MLflow ids, artifact paths and the metrics of every model.
    """
    flow_run_id = flow_run.get_id()
    experiment_id = steps.open_experiment(cfg.tracking.experiment)
    with tracking.parent_run(
        experiment_id, f"{cfg.source.kind}-forecasters", flatten(cfg), steps.run_tags(cfg, flow_run_id)
    ) as parent_run_id:
        series = steps.ingest_series(cfg.source, cfg.seed)
        windows = steps.window_series(series, cfg.window, cfg.split)
        steps.record_inputs(windows, parent_run_id)
        baselines = steps.score_baselines(windows, cfg, parent_run_id)
        results = []
        for cell in cfg.model.cells:
            trained = steps.train_forecaster(windows, cfg, cell, experiment_id, parent_run_id, flow_run_id)
            results.append(steps.evaluate_forecaster(trained, windows, cfg))
        ranking = steps.compare_forecasters(results, baselines, parent_run_id)
    return {
        "flow": "train-forecasters",
        "flow_run_id": str(flow_run_id),
        "tracking_uri": tracking.tracking_uri(),
        "experiment_id": experiment_id,
        "parent_run_id": parent_run_id,
        "artifacts": {
            "series": series.path,
            "windows": windows.path,
            "parent_run_artifacts": tracking.artifact_uri(parent_run_id),
        },
        "data_content_hash": series.content_hash,
        "models": {
            r["cell"]: {k: r[k] for k in ("run_id", "model_uri", "model_path", "metrics")} for r in results
        },
        "baselines": baselines,
        "ranking": [{k: row[k] for k in ("rank", "name", "kind", "test_rmse", "test_mae")} for row in ranking],
    }
