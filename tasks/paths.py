"""The only module that knows where things live: ``data/`` (read-only defaults) and ``artifacts/``.

``SEQFLOW_ARTIFACTS`` moves the whole artifacts tree (tests point it at a temporary folder).
"""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def data_dir() -> Path:
    """Small real datasets shipped with the project; code never writes here."""
    return PROJECT_ROOT / "data"


def configs_dir() -> Path:
    """TOML presets shipped with the flows."""
    return PROJECT_ROOT / "flows" / "configs"


def artifacts_dir() -> Path:
    """Root of everything the pipeline writes (git-ignored)."""
    return Path(os.environ.get("SEQFLOW_ARTIFACTS", PROJECT_ROOT / "artifacts")).resolve()


def intermediate_path(stage: str, key: str) -> Path:
    """Content-addressed Parquet file of one pipeline stage, e.g. ``series/sine-<key>.parquet``."""
    return artifacts_dir() / "intermediates" / stage / f"{key}.parquet"


def model_dir(run_id: str) -> Path:
    """Where a trained Keras model of one MLflow run is saved."""
    return artifacts_dir() / "models" / run_id


def mlflow_dir() -> Path:
    """The default MLflow store: a SQLite file and an artifact folder beside it."""
    return artifacts_dir() / "mlflow"


def mlflow_db() -> Path:
    """The default MLflow SQLite backend."""
    return mlflow_dir() / "mlflow.db"


def mlflow_artifact_root() -> Path:
    """Where MLflow runs of the default store keep their artifacts."""
    return mlflow_dir() / "artifacts"


def prefect_home() -> Path:
    """PREFECT_HOME for the embedded defaults: the temporary server's database and profiles."""
    return artifacts_dir() / "prefect"


def prefect_results() -> Path:
    """Where Prefect persists task results, which is what makes cached steps survive a re-run."""
    return artifacts_dir() / "prefect" / "results"


def bench_dir() -> Path:
    """Scratch space for ``seqflow bench``."""
    return artifacts_dir() / "bench"
