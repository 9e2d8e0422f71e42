"""Run lifecycle: open, close, own and reconcile MLflow runs, and log their values.

Every run records who owns it (host, pid, the process's start time). No ``finally`` runs after a
``kill -9``, so the next flow on the same store calls :func:`reconcile_dead_runs`, which closes as
KILLED every RUNNING run whose owner process is gone.
"""

from __future__ import annotations

import contextlib
import functools
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from mlflow.entities import Metric, Param, RunStatus
from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID, MLFLOW_RUN_NAME, MLFLOW_SOURCE_NAME

from tasks import paths, processes
from tasks.tracking.store import client

_MAX_BATCH = 500  # MLflow's log_batch limit is 1000 metrics / 100 params per call

OWNER_HOST = "seqflow.owner.host"
OWNER_PID = "seqflow.owner.pid"
OWNER_START = "seqflow.owner.start"
PREFECT_FLOW_RUN = "prefect_flow_run_id"
FAILURE_REASON = "seqflow.failure"


@dataclass(frozen=True)
class RunContext:
    """What every task of a flow needs to log into its runs: small, hashable, no client inside."""

    experiment_id: str
    parent_run_id: str
    flow_run_id: str  # the Prefect flow run, or "none" outside Prefect
    tags: tuple[tuple[str, str], ...]  # seed, git commit, data hash, flow run id: copied onto child runs
    opened: float = 0.0  # time.monotonic() when the parent run opened: the tracked run keeps the flow's time

    @property
    def tag_dict(self) -> dict[str, str]:
        """The shared tags as a dict."""
        return dict(self.tags)

    def elapsed(self) -> float:
        """Seconds since the parent run opened."""
        import time

        return time.monotonic() - self.opened


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


def owner_tags() -> dict[str, str]:
    """Tags naming the process that owns a run."""
    return {OWNER_HOST: socket.gethostname(), OWNER_PID: str(os.getpid()), OWNER_START: processes.start_time(os.getpid())}


def owner_alive(tags: dict[str, str]) -> bool | None:
    """Whether the process that owns a run still runs; None when it cannot be told from here."""
    if tags.get(OWNER_HOST) != socket.gethostname() or not tags.get(OWNER_PID, "").isdigit():
        return None
    return processes.alive(int(tags[OWNER_PID]), tags.get(OWNER_START, ""))


def start_run(experiment_id: str, name: str, tags: dict[str, str], parent_run_id: str | None = None) -> str:
    """Create a RUNNING run (a child of ``parent_run_id`` if given), owned by this process; return its id."""
    all_tags = {MLFLOW_RUN_NAME: name, MLFLOW_SOURCE_NAME: "seqflow", **tags, **owner_tags()}
    commit = git_commit()
    all_tags.setdefault("git_commit", commit)
    if commit != "unknown":
        all_tags.setdefault("mlflow.source.git.commit", commit)
    if parent_run_id:
        all_tags[MLFLOW_PARENT_RUN_ID] = parent_run_id
    return client().create_run(experiment_id, tags=all_tags, run_name=name).info.run_id


def end_run(run_id: str, failed: bool = False, reason: str | None = None) -> None:
    """Close a run as FINISHED, or FAILED (with ``reason`` as a tag when given)."""
    if reason:
        client().set_tag(run_id, FAILURE_REASON, reason[:5000])
    status = RunStatus.to_string(RunStatus.FAILED if failed else RunStatus.FINISHED)
    client().set_terminated(run_id, status=status)


def fail_open_children(experiment_id: str, parent_run_id: str, reason: str) -> None:
    """Mark every child of ``parent_run_id`` still RUNNING as FAILED."""
    children = client().search_runs(
        [experiment_id],
        filter_string=f"tags.`{MLFLOW_PARENT_RUN_ID}` = '{parent_run_id}' and attributes.status = 'RUNNING'",
    )
    for child in children:
        end_run(child.info.run_id, failed=True, reason=reason)


@contextlib.contextmanager
def parent_run(experiment_id: str, name: str, params: dict[str, str], tags: dict[str, str]) -> Iterator[str]:
    """Open a flow's parent run; on any error its RUNNING children and itself end FAILED."""
    run_id = start_run(experiment_id, name, tags)
    try:
        log_params(run_id, params)
        yield run_id
    except BaseException as exc:
        reason = f"{type(exc).__name__}: {exc}"
        fail_open_children(experiment_id, run_id, reason)
        end_run(run_id, failed=True, reason=reason)
        raise
    fail_open_children(experiment_id, run_id, "still running when its flow ended")
    end_run(run_id)


@dataclass(frozen=True)
class DeadRun:
    """A run found RUNNING whose owner process is gone; it has been closed as KILLED."""

    run_id: str
    name: str
    prefect_flow_run_id: str | None


def reconcile_dead_runs() -> list[DeadRun]:
    """Close as KILLED every RUNNING run of this store whose owner process on this host is dead.

    Runs owned by another host, or by a live process, are left alone.
    """
    c = client()
    experiment_ids = [e.experiment_id for e in c.search_experiments()]
    if not experiment_ids:
        return []
    found = []
    running = c.search_runs(experiment_ids, filter_string="attributes.status = 'RUNNING'", max_results=5000)
    for run in running:
        if owner_alive(run.data.tags) is False:
            c.set_tag(run.info.run_id, FAILURE_REASON, "its process died (killed); closed by the next flow run")
            c.set_terminated(run.info.run_id, status=RunStatus.to_string(RunStatus.KILLED))
            flow_run = run.data.tags.get(PREFECT_FLOW_RUN)
            found.append(DeadRun(run.info.run_id, run.info.run_name, flow_run if flow_run not in (None, "none") else None))
    return found


def open_runs_of_this_process() -> list[str]:
    """Ids of the runs this process opened (by its owner tags) that are still RUNNING, in every experiment."""
    c = client()
    experiment_ids = [e.experiment_id for e in c.search_experiments()]
    if not experiment_ids:
        return []
    mine = owner_tags()
    filter_string = " and ".join(["attributes.status = 'RUNNING'",
                                  *(f"tags.`{key}` = '{value}'" for key, value in mine.items())])
    return [r.info.run_id for r in c.search_runs(experiment_ids, filter_string=filter_string, max_results=5000)]


def fail_runs_of_this_process(reason: str) -> list[str]:
    """Close as FAILED every run this process opened that is still RUNNING; return their ids.

    For a process about to end without unwinding (its Prefect server died mid-run): no ``finally``
    of :func:`parent_run` will run, so the runs are closed here, children and parents alike.
    """
    closed = open_runs_of_this_process()
    for run_id in closed:
        end_run(run_id, failed=True, reason=reason)
    return closed


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


def log_metrics(run_id: str, metrics: dict[str, float], step: int = 0) -> list[str]:
    """Log scalar metrics at one step; returns the keys that were not finite.

    MLflow's charts cannot draw NaN or infinity, so a non-finite value is recorded as a tag
    ``nonfinite.<key>`` (its value, e.g. ``nan``) instead of being dropped silently.
    """
    return log_entries(run_id, [(key, value, step) for key, value in metrics.items()])


def log_series(run_id: str, key: str, values: list[float] | np.ndarray, first_step: int = 0) -> list[str]:
    """Log a metric's whole history, one value per step (e.g. loss per epoch, gradient norm per t)."""
    return log_entries(run_id, [(key, value, first_step + i) for i, value in enumerate(values)])


def log_entries(run_id: str, entries: list[tuple[str, float, int]]) -> list[str]:
    """Log ``(key, value, step)`` metrics in batches; non-finite ones become tags (see :func:`log_metrics`)."""
    now = int(time.time() * 1000)
    items, bad = [], {}
    for key, value, step in entries:
        if np.isfinite(value):
            items.append(Metric(key, float(value), now, step))
        else:
            bad[f"nonfinite.{key}"] = str(float(value))
    c = client()
    for i in range(0, len(items), _MAX_BATCH):
        c.log_batch(run_id, metrics=items[i : i + _MAX_BATCH])
    if bad:
        set_tags(run_id, bad)
    return [k.removeprefix("nonfinite.") for k in bad]


def log_figure(run_id: str, figure, artifact_file: str) -> None:
    """Log a matplotlib figure as a PNG artifact."""
    client().log_figure(run_id, figure, artifact_file)


def log_dict(run_id: str, data: dict, artifact_file: str) -> None:
    """Log a JSON or YAML artifact."""
    client().log_dict(run_id, data, artifact_file)


def load_dict(run_id: str, artifact_file: str) -> dict | None:
    """Read a JSON artifact a run logged with :func:`log_dict`; None when the run has no such file."""
    import json
    import tempfile

    from mlflow.exceptions import MlflowException

    with tempfile.TemporaryDirectory() as tmp:
        try:
            local = client().download_artifacts(run_id, artifact_file, tmp)
        except (MlflowException, OSError):
            return None
        with open(local, encoding="utf-8") as f:
            return json.load(f)


def log_text(run_id: str, text: str, artifact_file: str) -> None:
    """Log a text artifact (a Markdown table, a report)."""
    client().log_text(run_id, text, artifact_file)


def log_file(run_id: str, path: Path, artifact_path: str | None = None) -> None:
    """Log a local file as an artifact."""
    client().log_artifact(run_id, str(path), artifact_path)


def artifact_uri(run_id: str) -> str:
    """Root URI of a run's artifacts."""
    return client().get_run(run_id).info.artifact_uri
