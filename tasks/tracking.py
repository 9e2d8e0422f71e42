"""The only module that imports MLflow.

Runs are addressed by id through ``MlflowClient`` rather than MLflow's thread-local "active run",
so tasks running in Prefect worker threads log to the right run. Every run this module opens is
closed as FINISHED or FAILED, never left RUNNING.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.metadata
import logging
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
from mlflow.entities import Metric, Param, RunStatus
from mlflow.models import infer_signature
from mlflow.tracking import MlflowClient
from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID, MLFLOW_RUN_NAME, MLFLOW_SOURCE_NAME

from tasks import paths

_MAX_BATCH = 500  # MLflow's log_batch limit is 1000 metrics / 100 params per call


class _KnownNoise(logging.Filter):
    """Drop MLflow messages that are expected here and would bury the pipeline's own output."""

    NOISE = (
        # The pickled object is a KerasForecasterModel: its class is pickled by reference to this
        # module, so only two small arrays (the scaler) are serialized.
        "Passing a Python object as `python_model`",
        # uv-built environments have no pip; the model's requirements are pinned explicitly.
        "Failed to resolve installed pip version",
    )

    def filter(self, record: logging.LogRecord) -> bool:
        return not any(text in record.getMessage() for text in self.NOISE)


for _name in ("mlflow.pyfunc", "mlflow.utils.environment"):
    logging.getLogger(_name).addFilter(_KnownNoise())
logging.getLogger("mlflow.utils.uv_utils").setLevel(logging.WARNING)  # per-model "copied uv.lock" chatter


def default_uri() -> str:
    """The embedded store: SQLite under ``artifacts/mlflow``."""
    return f"sqlite:///{paths.mlflow_db()}"


def tracking_uri() -> str:
    """``MLFLOW_TRACKING_URI`` if set, else the embedded SQLite store under ``artifacts/mlflow``."""
    return os.environ.get("MLFLOW_TRACKING_URI") or default_uri()


def uses_default_store() -> bool:
    """True when the embedded SQLite store is in use (no tracking server configured).

    ``mlflow.set_tracking_uri`` exports MLFLOW_TRACKING_URI for subprocesses, so the variable being
    set is not enough to tell: it counts as configured only when it names another store.
    """
    return tracking_uri() == default_uri()


def client() -> MlflowClient:
    """A client on :func:`tracking_uri`; also points MLflow's module-level API there."""
    uri = tracking_uri()
    mlflow.set_tracking_uri(uri)  # cheap; keeps the fluent API (log_model) on the same store
    return _client_for(uri)


@functools.lru_cache(maxsize=4)
def _client_for(uri: str) -> MlflowClient:
    # One client per store for the process: every epoch logs through here.
    if uri == default_uri():
        paths.mlflow_dir().mkdir(parents=True, exist_ok=True)
    return MlflowClient(tracking_uri=uri)


def ensure_experiment(name: str) -> str:
    """Return the id of experiment ``name``, creating it (and the SQLite store) on first use.

    Call it once, before any fan-out: parallel first-time creation of the SQLite schema corrupts it.
    """
    c = client()
    found = c.get_experiment_by_name(name)
    if found is not None:
        if found.lifecycle_stage == "deleted":
            c.restore_experiment(found.experiment_id)
        return found.experiment_id
    location = None
    if uses_default_store():
        location = (paths.mlflow_artifact_root() / name).as_uri()
    return c.create_experiment(name, artifact_location=location)


@functools.lru_cache(maxsize=1)
def git_commit() -> str:
    """The project's current git commit, or ``"unknown"`` outside a checkout."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=paths.PROJECT_ROOT, capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.stdout.strip() if out.returncode == 0 and out.stdout.strip() else "unknown"


def start_run(experiment_id: str, name: str, tags: dict[str, str], parent_run_id: str | None = None) -> str:
    """Create a RUNNING run (a child of ``parent_run_id`` if given) and return its id."""
    all_tags = {MLFLOW_RUN_NAME: name, MLFLOW_SOURCE_NAME: "seqflow", **tags}
    commit = git_commit()
    all_tags.setdefault("git_commit", commit)
    if commit != "unknown":
        all_tags.setdefault("mlflow.source.git.commit", commit)
    if parent_run_id:
        all_tags[MLFLOW_PARENT_RUN_ID] = parent_run_id
    run = client().create_run(experiment_id, tags=all_tags, run_name=name)
    return run.info.run_id


def end_run(run_id: str, failed: bool = False) -> None:
    """Close a run as FINISHED, or FAILED."""
    status = RunStatus.to_string(RunStatus.FAILED if failed else RunStatus.FINISHED)
    client().set_terminated(run_id, status=status)


def fail_open_children(experiment_id: str, parent_run_id: str) -> None:
    """Mark every child of ``parent_run_id`` still RUNNING as FAILED."""
    c = client()
    children = c.search_runs(
        [experiment_id],
        filter_string=f"tags.`{MLFLOW_PARENT_RUN_ID}` = '{parent_run_id}' and attributes.status = 'RUNNING'",
    )
    for child in children:
        c.set_terminated(child.info.run_id, status="FAILED")


@contextlib.contextmanager
def parent_run(experiment_id: str, name: str, params: dict[str, str], tags: dict[str, str]) -> Iterator[str]:
    """Open the flow's parent run; on any error its RUNNING children and itself end as FAILED."""
    run_id = start_run(experiment_id, name, tags)
    try:
        log_params(run_id, params)
        yield run_id
    except BaseException:
        fail_open_children(experiment_id, run_id)
        end_run(run_id, failed=True)
        raise
    fail_open_children(experiment_id, run_id)
    end_run(run_id)


def run_status(run_id: str) -> str:
    """The status of a run: RUNNING, FINISHED, FAILED or KILLED."""
    return client().get_run(run_id).info.status


def set_tags(run_id: str, tags: dict[str, str]) -> None:
    """Set tags on a run."""
    c = client()
    for key, value in tags.items():
        c.set_tag(run_id, key, value)


def log_params(run_id: str, params: dict[str, Any]) -> None:
    """Log flat params (see :func:`tasks.config.flatten`) in batches."""
    items = [Param(k, str(v)) for k, v in params.items()]
    c = client()
    for i in range(0, len(items), 100):
        c.log_batch(run_id, params=items[i : i + 100])


def log_metrics(run_id: str, metrics: dict[str, float], step: int = 0) -> None:
    """Log finite scalar metrics at one step (non-finite values are skipped: MLflow rejects NaN in charts)."""
    _log_metric_batch(run_id, [(key, value, step) for key, value in metrics.items()])


def log_series(run_id: str, key: str, values: list[float] | np.ndarray, first_step: int = 0) -> None:
    """Log a metric's whole history, one value per step (e.g. loss per epoch, gradient norm per t)."""
    _log_metric_batch(run_id, [(key, value, first_step + i) for i, value in enumerate(values)])


def _log_metric_batch(run_id: str, entries: list[tuple[str, float, int]]) -> None:
    now = int(time.time() * 1000)
    items = [Metric(key, float(value), now, step) for key, value, step in entries if np.isfinite(value)]
    c = client()
    for i in range(0, len(items), _MAX_BATCH):
        c.log_batch(run_id, metrics=items[i : i + _MAX_BATCH])


def log_figure(run_id: str, figure, artifact_file: str) -> None:
    """Log a matplotlib figure as a PNG artifact."""
    client().log_figure(run_id, figure, artifact_file)


def log_dict(run_id: str, data: dict, artifact_file: str) -> None:
    """Log a JSON or YAML artifact."""
    client().log_dict(run_id, data, artifact_file)


def log_file(run_id: str, path: Path, artifact_path: str | None = None) -> None:
    """Log a local file as an artifact."""
    client().log_artifact(run_id, str(path), artifact_path)


def artifact_uri(run_id: str) -> str:
    """Root URI of a run's artifacts."""
    return client().get_run(run_id).info.artifact_uri


class KerasForecasterModel(mlflow.pyfunc.PythonModel):
    """A seqflow forecaster as an MLflow pyfunc model, in the series' own units.

    ``predict`` takes raw windows ``(batch, lookback, n_features)`` and returns the model's raw-unit
    output: ``(batch, lookback, n_features)`` for a shifted-target model (the last step is the
    one-step-ahead forecast) or ``(batch, horizon, n_features)`` for a horizon model. The scaler
    fitted on the training part travels with the model, so callers never scale by hand.
    """

    def __init__(self, mean: list[float], std: list[float]):
        self.mean = np.asarray(mean, dtype=np.float32)
        self.std = np.asarray(std, dtype=np.float32)

    def load_context(self, context):
        import keras

        import tasks.forecasting.cells  # noqa: F401  registers the hand-built cells with Keras

        self._model = keras.saving.load_model(context.artifacts["keras_model"], compile=False)

    def predict(self, context, model_input: np.ndarray, params=None):
        x = (np.asarray(model_input, dtype=np.float32) - self.mean) / self.std
        return np.asarray(self._model(x, training=False)) * self.std + self.mean


def _pinned(*names: str) -> list[str]:
    pins = []
    for name in names:
        try:
            pins.append(f"{name}=={importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            pins.append(name)
    return pins


def log_forecaster(
    run_id: str, keras_path: Path, mean: list[float], std: list[float], input_example: np.ndarray,
    output_example: np.ndarray,
) -> str:
    """Log a saved Keras forecaster as a pyfunc model with a signature and an input example.

    Args:
        keras_path: the ``.keras`` file.
        mean: the training-part scaler's mean per feature; ``std`` likewise.
        input_example: ``(1, lookback, n_features)`` raw-unit window.
        output_example: the model's raw-unit output for ``input_example``.

    Returns:
        The ``models:/`` URI that ``mlflow.pyfunc.load_model`` accepts.
    """
    signature = infer_signature(input_example.astype(np.float32), output_example.astype(np.float32))
    with mlflow.start_run(run_id=run_id):
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=KerasForecasterModel(mean, std),
            artifacts={"keras_model": str(keras_path)},
            code_paths=[str(paths.PROJECT_ROOT / "tasks")],
            signature=signature,
            input_example=input_example.astype(np.float32),
            # Pinned here: inferring requirements would reload the model in a subprocess (slow).
            pip_requirements=_pinned("tensorflow", "keras", "numpy", "mlflow"),
        )
    return info.model_uri


def load_forecaster(model_uri: str):
    """Load a logged forecaster with ``mlflow.pyfunc.load_model`` (what a user would call)."""
    return mlflow.pyfunc.load_model(model_uri)


def ui_command(host: str, port: int) -> list[str]:
    """The ``mlflow ui`` command line serving this project's store."""
    cmd = ["mlflow", "ui", "--backend-store-uri", tracking_uri(), "--host", host, "--port", str(port)]
    if uses_default_store():
        cmd += ["--default-artifact-root", paths.mlflow_artifact_root().as_uri()]
    return cmd
