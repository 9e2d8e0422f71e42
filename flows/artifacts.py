"""What a reviewer reads on a Prefect flow run: a name after its subject, tags, a link to its MLflow run, its tables.

Prefect names a flow run at random (``pastoral-rooster``) and shows no artifacts unless a flow makes
them. :func:`label_flow_run` (called by :func:`flows.tracked.tracked_run` when the parent run opens)
renames the flow run ``<flow>-<subject>-<UTC time>``, tags it with the flow, subject, config hash and
recipe, and adds a link artifact to its MLflow parent run; :func:`published` (a decorator under
``@flow``) turns the flow's summary record into table artifacts: the ranking (forecast, study), the
neighbours, scores and backend comparison (embed). The retrains' decision tables are published by
their gate (``tasks/operations/steps.py``). The pure helpers build names, tags, URLs and rows; the
rest only hands them to Prefect.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import math
import re
import typing
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar

# The view of an experiment MLflow 3 opens for training runs (its bare URL opens the GenAI welcome page).
TRAINING_VIEW = "workflowType=machine_learning"
# Where `seqflow ui` serves the MLflow UI by default, for a store that is a file rather than a server.
LOCAL_UI = "http://127.0.0.1:5000"
# Settings that say which recipe a run trained, tagged on its flow run as ``<last part>:<value>``.
RECIPE_KEYS = ("model.recipe", "model.cells", "model.backend", "model.architecture")

Summary = TypeVar("Summary")


def artifact_key(*parts: str) -> str:
    """A Prefect artifact key from free text: lowercase letters, digits and dashes, at most 100 characters."""
    return re.sub(r"[^a-z0-9-]+", "-", "-".join(parts).lower()).strip("-")[:100] or "seqflow"


def flow_run_name(flow: str, subject: str, now: datetime) -> str:
    """``<flow>-<subject>-<YYYYmmdd-HHMMSS>`` (UTC): what ran, on what, and when, e.g. ``forecast-alcohol-sales-20261203-124501``."""
    return f"{artifact_key(flow, subject)}-{now:%Y%m%d-%H%M%S}"


def flow_run_tags(flow: str, subject: str, config_hash: str, settings: Mapping[str, str]) -> list[str]:
    """The flow run's tags: ``seqflow``, ``flow:<flow>``, ``subject:<subject>``, ``config:<hash>`` and the recipe.

    Args:
        flow: the flow's short name (``forecast``, ``embed``, ...).
        subject: what it ran on (the data set's or corpus' name).
        config_hash: the short config hash the MLflow parent run's name carries.
        settings: the flattened config; the :data:`RECIPE_KEYS` it has become ``cells:gru,lstm`` and the like.
    """
    recipe = [f"{key.rsplit('.', 1)[1]}:{settings[key]}" for key in RECIPE_KEYS if settings.get(key)]
    return ["seqflow", f"flow:{flow}", f"subject:{subject}", f"config:{config_hash}", *recipe]


def mlflow_urls(tracking_uri: str, experiment_id: str, run_id: str) -> tuple[str, str]:
    """The MLflow UI's page of a run and its experiment's training-runs view.

    A tracking server's own URL is the UI's; a local store (``sqlite:``, ``file:``) is shown by
    ``seqflow ui`` at :data:`LOCAL_UI`.
    """
    base = tracking_uri.rstrip("/") if tracking_uri.startswith(("http://", "https://")) else LOCAL_UI
    return (f"{base}/#/experiments/{experiment_id}/runs/{run_id}",
            f"{base}/#/experiments/{experiment_id}?{TRAINING_VIEW}")


def _cell(value: Any) -> Any:
    """A table cell Prefect can show: floats to 4 significant digits, NaN and None as empty, the rest as is."""
    if isinstance(value, float):
        return "" if math.isnan(value) else float(f"{value:.4g}")
    if value is None:
        return ""
    if isinstance(value, (int, str, bool)):
        return value
    return str(value)


def rows_of(records: Sequence[Any]) -> list[dict[str, Any]]:
    """Rows for a table artifact from dataclass records or dicts, in their field order."""
    rows = []
    for record in records:
        fields = dataclasses.asdict(record) if dataclasses.is_dataclass(record) else dict(record)
        rows.append({k: _cell(v) for k, v in fields.items()})
    return rows


def summary_tables(summary: Any) -> list[tuple[str, str, list[dict[str, Any]]]]:
    """The tables a flow's summary record carries, as ``(name, description, rows)``; empty ones left out.

    Read by field, so every flow's summary works alike: ``ranking`` (forecast, study: best first),
    ``neighbours`` and ``comparison`` (embed), ``metrics`` as a two-column table of the scores.
    """
    tables = []
    ranking = getattr(summary, "ranking", ())
    if ranking:
        by = getattr(summary, "ranked_by", None) or ("test_rmse" if "test_rmse" in rows_of(ranking[:1])[0] else "")
        tables.append(("ranking", f"models and baselines, best first{f' by {by}' if by else ''}", rows_of(ranking)))
    comparison = getattr(summary, "comparison", ())
    if comparison:
        tables.append(("comparison", "the backends compared on the same tokens", rows_of(comparison)))
    neighbours = getattr(summary, "neighbours", ())
    if neighbours:
        tables.append(("neighbours", "nearest neighbours of the probe words (rank 0: not in the vocabulary)",
                       rows_of(neighbours)))
    metrics = getattr(summary, "metrics", None)
    if isinstance(metrics, Mapping) and metrics and neighbours:
        tables.append(("scores", "the vectors' benchmark scores",
                       [{"metric": k, "value": _cell(v)} for k, v in sorted(metrics.items())]))
    return tables


def _subject_of(summary: Any) -> str:
    name = getattr(summary, "parent_run_name", "") or ""
    parts = [p.strip() for p in name.split("·")]
    return artifact_key(*parts[:2]) if len(parts) >= 2 else artifact_key(getattr(summary, "flow", "seqflow"))


def publish_tables(summary: Any) -> list[str]:
    """Create a table artifact on the current flow run for every table of ``summary``; return their keys.

    Keys are ``<flow>-<subject>-<table>``, so the Artifacts page keeps each table's history across runs.
    """
    from prefect.artifacts import create_table_artifact

    keys = []
    for name, description, rows in summary_tables(summary):
        key = artifact_key(_subject_of(summary), name)
        create_table_artifact(table=rows, key=key, description=f"{getattr(summary, 'parent_run_name', '')}: "
                                                               f"{description}"[:500])
        keys.append(key)
    return keys


def published(fn: Callable[..., Summary]) -> Callable[..., Summary]:
    """Decorate a flow function (under ``@flow``) so its summary's tables become artifacts on its flow run."""

    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> Summary:
        summary = fn(*args, **kwargs)
        if getattr(summary, "flow_run_id", "none") != "none":
            publish_tables(summary)
        return summary

    # Prefect validates the flow's parameters from its signature, resolving string annotations in the
    # wrapper's module: resolved here instead, in the flow's own (`from __future__ import annotations`).
    run.__signature__ = inspect.signature(fn, eval_str=True)  # type: ignore[attr-defined]
    run.__annotations__ = typing.get_type_hints(fn)
    return run


def label_flow_run(flow_run_id: str, flow: str, subject: str, config_hash: str, settings: Mapping[str, str],
                   tracking_uri: str, experiment_id: str, run_id: str, run_name: str, now: datetime) -> str:
    """Rename and tag the running flow run after its subject and link its MLflow parent run; return the new name.

    Tags already on the flow run (a deployment's, ``prefect.tags``) are kept.
    """
    from prefect.artifacts import create_link_artifact
    from prefect.client.orchestration import get_client
    from prefect.logging import get_run_logger

    name = flow_run_name(flow, subject, now)
    with get_client(sync_client=True) as client:
        current = client.read_flow_run(flow_run_id)
        tags = list(dict.fromkeys([*(current.tags or []), *flow_run_tags(flow, subject, config_hash, settings)]))
        client.update_flow_run(flow_run_id, name=name, tags=tags)
    # Prefect's log lines keep the name the run started with: say once what it is called now.
    get_run_logger().info("flow run %r is now %r (MLflow run %r)", current.name, name, run_name)
    run_url, view_url = mlflow_urls(tracking_uri, experiment_id, run_id)
    local = "" if tracking_uri.startswith(("http://", "https://")) else " (open the UI with `seqflow ui`)"
    create_link_artifact(link=run_url, link_text=f"MLflow run {run_name}", key=artifact_key(flow, subject, "mlflow-run"),
                         description=f"The MLflow parent run of this flow run{local}; every run of the experiment, "
                                     f"rankable: {view_url}")
    return name
