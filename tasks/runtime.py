"""Process-wide defaults that must be in place before Prefect, MLflow or TensorFlow is imported.

They only fill gaps (``os.environ.setdefault``): a user's own ``PREFECT_API_URL``,
``MLFLOW_TRACKING_URI`` or ``PREFECT_HOME`` always wins.
"""

from __future__ import annotations

import os

from tasks import paths

DEFAULTS = {
    # This machine (and many users') cannot reach telemetry endpoints; MLflow accepts only "true".
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "DO_NOT_TRACK": "true",
    "MLFLOW_DISABLE_TELEMETRY": "true",
    # Caching needs persisted results; task results here are small path records, not data.
    "PREFECT_RESULTS_PERSIST_BY_DEFAULT": "true",
    # TensorFlow's C++ INFO lines (CUDA probing, oneDNN notes) drown the progress bars.
    "TF_CPP_MIN_LOG_LEVEL": "3",
    "PREFECT_LOGGING_LOG_PRINTS": "false",
    # The temporary server migrates a fresh SQLite database on first use: over 20 s on a 2-core
    # machine, past Prefect's default wait, so a first run on a new clone would time out.
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "180",
}


def apply_defaults() -> None:
    """Set the embedded defaults: offline telemetry, Prefect home and result store under artifacts/."""
    for key, value in DEFAULTS.items():
        os.environ.setdefault(key, value)
    if "PREFECT_HOME" not in os.environ:
        # Prefect creates its home with a single-level mkdir: without the parents, its temporary
        # server cannot open its SQLite file and retries until the startup timeout.
        paths.prefect_home().mkdir(parents=True, exist_ok=True)
        os.environ["PREFECT_HOME"] = str(paths.prefect_home())
    os.environ.setdefault("PREFECT_LOCAL_STORAGE_PATH", str(paths.prefect_results()))
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
