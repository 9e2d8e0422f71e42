"""Process-wide defaults that must be in place before Prefect, MLflow or TensorFlow is imported.

They only fill gaps (``os.environ.setdefault``): a user's own ``PREFECT_API_URL``,
``MLFLOW_TRACKING_URI`` or ``PREFECT_HOME`` always wins.
"""

from __future__ import annotations

import os

from tasks import paths

OFFLINE_DEFAULTS = {
    # This machine (and many users') cannot reach telemetry endpoints; MLflow accepts only "true".
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "DO_NOT_TRACK": "true",
    "MLFLOW_DISABLE_TELEMETRY": "true",
    # Caching needs persisted results; task results here are small path records, not data.
    "PREFECT_RESULTS_PERSIST_BY_DEFAULT": "true",
    # TensorFlow's C++ INFO lines (CUDA probing, oneDNN notes) drown the progress bars.
    "TF_CPP_MIN_LOG_LEVEL": "3",
    "PREFECT_LOGGING_LOG_PRINTS": "false",
}


def apply_defaults() -> None:
    """Set the embedded defaults: offline telemetry, Prefect home and result store under artifacts/."""
    for key, value in OFFLINE_DEFAULTS.items():
        os.environ.setdefault(key, value)
    os.environ.setdefault("PREFECT_HOME", str(paths.prefect_home()))
    os.environ.setdefault("PREFECT_LOCAL_STORAGE_PATH", str(paths.prefect_results()))
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
