"""The one run context every flow opens: reconcile the dead, then experiment, parent run, params, tags.

Every flow calls :func:`reconcile` first and then works inside :func:`tracked_run`; tasks receive
the :class:`~tasks.tracking.runs.RunContext` it yields, one small record instead of loose ids.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator
from datetime import datetime, timezone

from prefect.runtime import flow_run

from flows import artifacts
from tasks import diskspace, paths
from tasks.caching import content_key
from tasks.config import RunConfig, flatten
from tasks.tracking import runs, store
from tasks.tracking.runs import RunContext

logger = logging.getLogger("seqflow")


def _mark_prefect_crashed(flow_run_ids: list[str]) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
    from prefect.states import Crashed

    message = "its process died (killed, or its server died); marked by the next seqflow run"
    with get_client(sync_client=True) as client:
        for flow_run_id in flow_run_ids:
            try:
                run = client.read_flow_run(flow_run_id)
            except Exception:  # a flow run of another Prefect server: nothing to mark here
                continue
            if run.state is not None and not run.state.is_final():
                client.set_flow_run_state(flow_run_id, Crashed(message=message), force=True)
            task_runs = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])))
            for task_run in task_runs:
                if task_run.state is not None and not task_run.state.is_final():
                    client.set_task_run_state(task_run.id, Crashed(message=message), force=True)


def dead_flow_runs(flow_runs: list[tuple[str, dict[str, str]]]) -> list[str]:
    """The ids of the flow runs, given as ``(id, labels)``, whose owner process on this host is dead.

    The owner is the process that labelled the flow run (:func:`_label_own_flow_run`); flow runs
    without those labels, of another host, or of a live process are not this run's to judge.
    """
    return [flow_run_id for flow_run_id, labels in flow_runs if runs.owner_alive(labels) is False]


def _label_own_flow_run(client, flow_run_id: str | None) -> None:
    """Label this process's flow run with its owner (host, pid, start), as its MLflow runs are tagged."""
    if flow_run_id:
        client.update_flow_run_labels(flow_run_id, runs.owner_tags())


def _orphaned_flow_runs() -> list[str]:
    """Label this flow run with its owner; return the RUNNING flow runs whose owner process is gone.

    A flow run is left RUNNING when its process was killed (no ``finally`` runs) or when its server
    died mid-run (nothing could be recorded): its MLflow runs are then closed already, so only
    Prefect itself can tell.
    """
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterState, FlowRunFilterStateType
    from prefect.client.schemas.objects import StateType

    running = FlowRunFilter(state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.RUNNING])))
    try:
        with get_client(sync_client=True) as client:
            _label_own_flow_run(client, flow_run.get_id())
            found = client.read_flow_runs(flow_run_filter=running, limit=200)
    except Exception as exc:  # e.g. a configured server too old for labels: the run itself can still go on
        logger.warning("could not look for Prefect flow runs left RUNNING by dead processes (%s: %s)",
                       type(exc).__name__, exc)
        return []
    return dead_flow_runs([(str(run.id), {k: str(v) for k, v in (run.labels or {}).items()}) for run in found])


def reconcile() -> tuple[str, ...]:
    """Close runs left RUNNING by dead processes: KILLED in MLflow, Crashed in Prefect; log one line.

    A run's process is dead when it was killed, or when it stopped because its Prefect server died
    (:func:`flows.cli.startup.watching_server`). Returns the MLflow runs closed.
    """
    dead = runs.reconcile_dead_runs()
    flow_runs = sorted({d.prefect_flow_run_id for d in dead if d.prefect_flow_run_id} | set(_orphaned_flow_runs()))
    if not dead and not flow_runs:
        return ()
    _mark_prefect_crashed(flow_runs)
    logger.warning(
        "closed %d run(s) left RUNNING by a killed process as KILLED (%s); Prefect flow run(s) %s marked Crashed",
        len(dead), ", ".join(f"{d.name} {d.run_id[:8]}" for d in dead) or "none", ", ".join(flow_runs) or "none",
    )
    return tuple(d.run_id for d in dead)


def changed_settings(cfg: RunConfig) -> dict[str, str]:
    """The settings that differ from the schema's defaults, flattened (what tells runs apart)."""
    defaults = flatten(type(cfg).model_construct())
    return {k: v for k, v in flatten(cfg).items() if defaults.get(k) != v}


def recipe(cfg: RunConfig) -> str:
    """What the flow trains, in a few characters: its cells or backends joined by ``+`` (``gru+lstm``).

    Read from the flattened config (``model.cells``, ``model.backend``), so every flow's config is
    covered without a flow saying it; a config with neither gives ``""``.
    """
    flat = flatten(cfg)
    for key in ("model.cells", "model.backend"):
        if flat.get(key):
            return "+".join(part.strip() for part in flat[key].split(",") if part.strip())
    return ""


def run_name(flow: str, subject: str, what: str, started: datetime) -> str:
    """A parent run name a reviewer can read: flow, subject, what ran and when it started (UTC, to the second).

    Two reruns of one config differ by their start time; :func:`tasks.tracking.runs.unique_run_name`
    adds a sequence when two start within the same second.
    """
    parts = [flow, subject, what, started.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S")]
    return " · ".join(p for p in parts if p)


def run_description(changed: dict[str, str], ranked_by: str | None = None) -> str:
    """The parent run's description (Markdown): how its runs rank, and the settings changed from the defaults."""
    settings = "Settings changed from the defaults: " + (
        ", ".join(f"`{k}={v}`" for k, v in sorted(changed.items())) or "none")
    if ranked_by is None:
        return settings
    return (f"Ranked by `{ranked_by}` (lower is better): this run carries its served or best model's value under "
            f"the name its child runs use, each model's under `by_model.<model>.{ranked_by}`. In the runs table, "
            f"**Sort → {ranked_by}** shows it as a column.\n\n{settings}")


@contextlib.contextmanager
def tracked_run(cfg: RunConfig, flow: str, subject: str, tags: dict[str, str],
                ranked_by: str | None = None) -> Iterator[RunContext]:
    """Open the flow's experiment and parent run; yield the context its tasks log with.

    The parent run carries the whole config as params, the tags every run of the flow shares
    (seed, git commit, Prefect flow run id, plus ``tags``) and a description of the settings that
    differ from the defaults and, given ``ranked_by``, of the metric that ranks the runs (see
    :func:`run_description`). The Prefect flow run is renamed after the flow and subject, tagged, and
    linked to the parent run (:func:`flows.artifacts.label_flow_run`). On any error its open children
    and itself end FAILED; when the error is a full disk, the space held back for that
    (:mod:`tasks.diskspace`) is freed first.
    """
    diskspace.reserve(paths.artifacts_dir())  # or refuse now, in one line, when the disk has no room
    experiment_id = store.ensure_experiment(cfg.tracking.experiment)
    shared = {"seed": str(cfg.seed), runs.PREFECT_FLOW_RUN: str(flow_run.get_id() or "none"),
              "git_commit": runs.git_commit(), "seqflow.flow": flow, **tags}
    description = run_description(changed_settings(cfg), ranked_by)
    started = datetime.now(timezone.utc)
    name = runs.unique_run_name(experiment_id, run_name(flow, subject, recipe(cfg), started))
    settings = flatten(cfg)
    with (runs.parent_run(experiment_id, name, settings, {**shared, "mlflow.note.content": description}) as parent,
          diskspace.released_when_full(paths.artifacts_dir())):
        ctx = RunContext(experiment_id, parent, shared[runs.PREFECT_FLOW_RUN], tuple(sorted(shared.items())),
                         time.monotonic(), name)
        if ctx.flow_run_id != "none":
            artifacts.label_flow_run(ctx.flow_run_id, flow, subject, content_key(cfg.model_dump(mode="json"))[:8],
                                     settings, store.tracking_uri(), experiment_id, parent, name, started)
        yield ctx
        runs.log_metrics(parent, {"run_seconds": ctx.elapsed()})  # the flow's time, kept by its run


def task_seconds(flow_run_id: str) -> tuple[dict[str, float], float]:
    """Wall time of each task of a finished flow run (by task name, summed) and of the flow run, from Prefect.

    Timing is Prefect's own record (each run's start and end), so flows carry no timing code; a task
    whose result was reused from the cache counts 0.
    """
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    with get_client(sync_client=True) as client:
        flow_run = client.read_flow_run(flow_run_id)
        task_runs = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])))
    seconds: dict[str, float] = {}
    for run in task_runs:
        name = run.name.rsplit("-", 1)[0]
        took = (run.end_time - run.start_time).total_seconds() if run.start_time and run.end_time else 0.0
        seconds[name] = seconds.get(name, 0.0) + took
    wall = ((flow_run.end_time - flow_run.start_time).total_seconds()
            if flow_run.start_time and flow_run.end_time else float("nan"))
    return seconds, wall
