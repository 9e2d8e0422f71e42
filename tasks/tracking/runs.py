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

# Bookkeeping a reviewer never needs: under ``mlflow.``, the prefix MLflow's UI keeps out of a run's
# tags. Runs written before they moved keep them under the old keys, still read (:func:`owner_alive`).
OWNER_HOST = "mlflow.seqflow.owner.host"
OWNER_PID = "mlflow.seqflow.owner.pid"
OWNER_START = "mlflow.seqflow.owner.start"
_LEGACY_OWNER_PREFIX = "seqflow.owner."
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
    name: str = ""  # the parent run's name, as the UI lists it

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
    legacy = {f"mlflow.{k}": v for k, v in tags.items() if k.startswith(_LEGACY_OWNER_PREFIX)}
    tags = {**legacy, **tags}
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
    run_id = client().create_run(experiment_id, tags=all_tags, run_name=name).info.run_id
    if parent_run_id:
        _inherit_datasets(parent_run_id, run_id)
    return run_id


def log_dataset(run_id: str, name: str, source: str, digest: str, sample, profile: dict[str, Any],
                context: str = "training") -> None:
    """Record a run's input in MLflow's Datasets (what ``mlflow.log_input`` records, without loading the data).

    Args:
        run_id: the run that read it.
        name: what the data is (e.g. the subject ``shop``).
        source: the file or URI it was read from.
        digest: its content hash (the one the run's tags and caches use); MLflow keeps its first 36 characters.
        sample: a few rows of the data as a ``pandas.DataFrame``, for the schema; None records none.
        profile: counts to show beside it (``num_rows``, ``num_series`` ...).
        context: ``training`` (or ``evaluation`` ...), shown as the input's context.
    """
    import json
    import warnings

    from mlflow.entities import Dataset, DatasetInput, InputTag
    from mlflow.models import infer_signature
    from mlflow.utils.mlflow_tags import MLFLOW_DATASET_CONTEXT

    schema = None
    if sample is not None:
        with warnings.catch_warnings():
            # Its hint on integer columns and missing values concerns a model's enforced input schema,
            # not the record of a dataset.
            warnings.filterwarnings("ignore", message="Hint: Inferred schema contains integer column", category=UserWarning)
            schema = json.dumps({"mlflow_colspec": infer_signature(sample).inputs.to_dict()})
    dataset = Dataset(name=name, digest=digest[:36], source_type="local", source=json.dumps({"uri": source}),
                      schema=schema, profile=json.dumps(profile))
    client().log_inputs(run_id, datasets=[DatasetInput(dataset, [InputTag(MLFLOW_DATASET_CONTEXT, context)])])


def _inherit_datasets(parent_run_id: str, run_id: str) -> None:
    """Record on a child run the inputs its parent recorded: the Datasets column shows them on every row."""
    inputs = client().get_run(parent_run_id).inputs
    found = list(inputs.dataset_inputs) if inputs is not None else []
    if found:
        client().log_inputs(run_id, datasets=found)


# Tags a reviewer never reads (where the intermediates are, ids other runs are found by) go under
# this prefix: MLflow's UI hides ``mlflow.``-prefixed tags from a run's page; the API still reads them.
INTERNAL = "mlflow.seqflow."


def internal(tags: dict[str, str]) -> dict[str, str]:
    """``tags`` under :data:`INTERNAL`: kept on the run, out of the reviewer's way in the UI."""
    return {f"{INTERNAL}{key}": value for key, value in tags.items()}


def unique_run_name(experiment_id: str, name: str) -> str:
    """``name``, or ``name #2``, ``#3`` .. when runs of the experiment already carry it."""
    if "'" in name:  # cannot be quoted in a filter string; names carry no quotes in practice
        return name
    taken = {r.info.run_name for r in client().search_runs(
        [experiment_id], filter_string=f"attributes.run_name LIKE '{name}%'", max_results=1000)}
    if name not in taken:
        return name
    return next(f"{name} #{k}" for k in range(2, len(taken) + 3) if f"{name} #{k}" not in taken)


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


def finished_runs(experiment_id: str, tags: dict[str, str]) -> list[tuple[str, dict[str, str], dict[str, float]]]:
    """The FINISHED runs of an experiment that carry every one of ``tags``, newest first.

    Returns:
        ``(run id, its tags, its latest metrics)`` for each run found.
    """
    if any("'" in f"{key}{value}" for key, value in tags.items()):
        raise ValueError(f"tags {tags!r}: a quote cannot be searched for")
    filter_string = " and ".join(["attributes.status = 'FINISHED'",
                                  *(f"tags.`{key}` = '{value}'" for key, value in tags.items())])
    found = client().search_runs([experiment_id], filter_string=filter_string, max_results=5000,
                                 order_by=["attributes.start_time DESC"])
    return [(r.info.run_id, dict(r.data.tags), dict(r.data.metrics)) for r in found]


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


# A parent run's copies of each compared model's metrics: ``by_model.<model>.<metric>``, never
# the plain names, which the parent keeps for its own headline (the served or best model's), the
# same names its children use, so one column ranks parents and children alike.
BY_MODEL = "by_model"


def ranked_metrics(headline: dict[str, float], per_model: dict[str, dict[str, float]]) -> dict[str, float]:
    """A parent run's metrics: ``headline`` under its own names, each model's under ``by_model.<model>.<metric>``.

    Args:
        headline: the metrics the parent is ranked by (the served or best model's), named as its
            children name theirs (``mase``, ``test_rmse``).
        per_model: model or baseline name to its metrics.
    """
    return {**{f"{BY_MODEL}.{name}.{key}": value for name, m in per_model.items() for key, value in m.items()},
            **headline}


def log_ranked(run_id: str, headline: dict[str, float], per_model: dict[str, dict[str, float]]) -> list[str]:
    """Log :func:`ranked_metrics` on a parent run; returns the keys that were not finite."""
    return log_metrics(run_id, ranked_metrics(headline, per_model))


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


def log_table(run_id: str, frame, artifact_file: str) -> None:
    """Log a ``pandas.DataFrame`` (or a list of row dicts) as a table MLflow's UI renders (a ``.json`` file, ``log_table``'s format).

    Columns of other types than text, numbers and booleans are written as text; NaN stays empty.
    """
    import pandas as pd

    table = pd.DataFrame(frame).copy()
    for column in table.columns:
        if not (pd.api.types.is_numeric_dtype(table[column]) or pd.api.types.is_bool_dtype(table[column])):
            table[column] = table[column].map(lambda v: None if v is None else str(v))
    client().log_table(run_id, data=table, artifact_file=artifact_file)


def log_text(run_id: str, text: str, artifact_file: str) -> None:
    """Log a text artifact (a Markdown table, a report)."""
    client().log_text(run_id, text, artifact_file)


def log_file(run_id: str, path: Path, artifact_path: str | None = None) -> None:
    """Log a local file as an artifact."""
    client().log_artifact(run_id, str(path), artifact_path)


def artifact_uri(run_id: str) -> str:
    """Root URI of a run's artifacts."""
    return client().get_run(run_id).info.artifact_uri
