"""``seqflow serve``: run the deployments file's schedules on Prefect's own server until stopped."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Annotated

import typer

from flows.cli.options import console, fail


def serve(
    config: Annotated[Path, typer.Option(
        "--config", "-c", metavar="DEPLOYMENTS.toml",
        help="The deployments to serve: each a flow, a preset and a cron or interval.")] = Path("flows/deployments.toml"),
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port of Prefect's own server when seqflow starts it.")] = 4200,
) -> None:
    """Serve scheduled flows (e.g. retrain the sales forecaster nightly) until Ctrl-C or SIGTERM.

    Needs Prefect's own server, whose scheduler creates the runs: the one PREFECT_API_URL names, else
    this project's (`seqflow server start`; started here, and stopped on exit, when none stands).
    Every entry of the file is checked before anything starts. On Ctrl-C or SIGTERM the runner stops,
    a run it was executing is marked Cancelled, and a server it started is stopped.
    """
    from tasks.errors import InputError
    from tasks.runtime import apply_defaults, prepare_prefect_home

    apply_defaults()
    prepare_prefect_home()
    from flows.deployments import read_deployments

    root = Path.cwd()
    try:
        specs = read_deployments(config, root)
    except InputError as exc:
        fail(str(exc))
    from flows import prefect_server

    home = Path(os.environ["PREFECT_HOME"])
    started = None
    if not os.environ.get("PREFECT_API_URL"):
        own = prefect_server.running(home)
        if own is None:
            try:
                own = started = prefect_server.start(home, port)
            except RuntimeError as exc:
                fail(str(exc), 1)
        os.environ["PREFECT_API_URL"], os.environ["PREFECT_UI_URL"] = own["api_url"], own["ui_url"]
    out = console(stderr=True)
    for spec in specs:
        when = f"cron {spec.cron!r}" if spec.cron else f"every {spec.interval:g} s"
        out.print(f"serving {spec.name}: {spec.flow}, {when}", highlight=False)
    out.print(f"Prefect's UI: {os.environ.get('PREFECT_UI_URL') or os.environ['PREFECT_API_URL']}", highlight=False)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        _serve(specs)
    except KeyboardInterrupt:
        pass
    finally:
        cancelled = _cancel_unfinished([spec.name for spec in specs])
        if cancelled:
            out.print(f"marked {cancelled} unfinished run(s) Cancelled", highlight=False)
        if started is not None:
            prefect_server.stop(home)
            out.print("stopped Prefect's server seqflow started", highlight=False)


def _interrupt(signum, frame) -> None:
    """SIGTERM (a service manager's stop) ends the runner as Ctrl-C does, through Prefect's own shutdown."""
    raise KeyboardInterrupt


def _serve(specs) -> None:
    from prefect import serve as prefect_serve

    from flows.deployments import to_deployments
    from tasks.runtime import import_tensorflow

    import_tensorflow(False)  # once, here, so each scheduled run pays no import
    prefect_serve(*to_deployments(specs), print_starting_message=False)


def _cancel_unfinished(names: list[str]) -> int:
    """Mark this file's deployments' runs that are still scheduled-to-run or running as Cancelled."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        DeploymentFilter,
        DeploymentFilterName,
        FlowRunFilter,
        FlowRunFilterState,
        FlowRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType
    from prefect.states import Cancelled

    try:
        with get_client(sync_client=True) as client:
            runs = client.read_flow_runs(
                deployment_filter=DeploymentFilter(name=DeploymentFilterName(any_=names)),
                flow_run_filter=FlowRunFilter(state=FlowRunFilterState(type=FlowRunFilterStateType(
                    any_=[StateType.RUNNING, StateType.PENDING, StateType.CANCELLING]))))
            for run in runs:
                client.set_flow_run_state(run.id, Cancelled(message="seqflow serve stopped"), force=True)
    except Exception:  # the server itself is gone: nothing left to mark there
        return 0
    return len(runs)
