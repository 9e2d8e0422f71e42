"""The only module that knows where things live: ``data/`` (read-only defaults) and ``artifacts/``.

``SEQFLOW_ARTIFACTS`` moves the whole artifacts tree (tests point it at a temporary folder).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from tasks.errors import InputError

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def configs_dir() -> Path:
    """TOML presets shipped with the flows."""
    return PROJECT_ROOT / "flows" / "configs"


def artifacts_dir() -> Path:
    """Root of everything the pipeline writes (git-ignored)."""
    return Path(os.environ.get("SEQFLOW_ARTIFACTS", PROJECT_ROOT / "artifacts")).resolve()


ARTIFACTS_ADVICE = "point it at a folder, or at a path that does not exist yet"


def check_artifacts_dir() -> None:
    """Refuse an artifacts folder that cannot be one, before anything is written under it.

    It must be a folder, or a path whose nearest existing ancestor is a folder this process may
    write in (the folder is made on first write). Nothing is created here.

    Raises:
        InputError: naming ``SEQFLOW_ARTIFACTS`` (or the default folder) and its value, what is in
            the way and what to do.
    """
    raw = os.environ.get("SEQFLOW_ARTIFACTS")
    root = artifacts_dir()
    where = {"key": "SEQFLOW_ARTIFACTS", "value": raw} if raw else {"file": root}
    advice = ARTIFACTS_ADVICE if raw else "move it away, or set SEQFLOW_ARTIFACTS to another folder"
    probe = root
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if probe == root and not root.is_dir():
        raise InputError(f"not a folder (a file is there); {advice}", **where)
    if not probe.is_dir():
        raise InputError(f"{probe} is a file, so no folder can be made there; {advice}", **where)
    if not os.access(probe, os.W_OK | os.X_OK):
        raise InputError(f"{probe} cannot be written (permission denied); {advice}", **where)


_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,199}")


def safe_name(name: str, what: str = "name") -> str:
    """Return ``name`` if it can be one path component (letters, digits, ``_.-``), else raise.

    File names are made from content hashes and fixed words, never from user data; this guards the
    rule so that an id such as ``../../outside`` can never become a path.
    """
    if not _SAFE_NAME.fullmatch(name) or ".." in name:
        raise ValueError(f"{what} {name!r} is not a safe file name (letters, digits, '_', '.', '-' only)")
    return name


def intermediate_path(stage: str, key: str) -> Path:
    """Content-addressed Parquet file of one pipeline stage, e.g. ``series/<hash>.parquet``."""
    return artifacts_dir() / "intermediates" / safe_name(stage, "stage") / f"{safe_name(key, 'key')}.parquet"


def model_dir(run_id: str) -> Path:
    """Where a trained Keras model of one MLflow run is saved."""
    return artifacts_dir() / "models" / safe_name(run_id, "run id")


def trained_dir(key: str) -> Path:
    """Where the networks trained from one set of inputs are kept, keyed on those inputs (see
    ``tasks.forecasting.steps.models``): a re-run with the same inputs finds them here."""
    return artifacts_dir() / "models" / "trained" / safe_name(key, "key")


def training_backup_dir(key: str) -> Path:
    """One training's per-epoch backup (``tasks.nets.resume``), keyed on what determines its weights."""
    return artifacts_dir() / "training-backups" / safe_name(key, "key")


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


def prefect_database() -> Path | None:
    """The local Prefect server's SQLite file (``PREFECT_HOME/prefect.db``, or the SQLite file the
    database URL names); ``None`` when Prefect's database is not a local SQLite file."""
    for key in ("PREFECT_SERVER_DATABASE_CONNECTION_URL", "PREFECT_API_DATABASE_CONNECTION_URL"):
        url = os.environ.get(key, "").strip()
        if url:
            match = re.match(r"^sqlite(\+\w+)?:///(.+)$", url)
            return Path(match.group(2)) if match and match.group(2) != ":memory:" else None
    return Path(os.environ.get("PREFECT_HOME") or prefect_home()) / "prefect.db"


def prefect_results() -> Path:
    """Where Prefect persists task results, which is what makes cached steps survive a re-run."""
    return artifacts_dir() / "prefect" / "results"


def bench_dir() -> Path:
    """Scratch space for ``seqflow bench``."""
    return artifacts_dir() / "bench"
