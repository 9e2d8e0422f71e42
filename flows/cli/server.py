"""``seqflow server start|status|stop``: Prefect's own server (UI and scheduler), and the one runs leave standing."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from flows.cli.options import fail, print_json

app = typer.Typer(
    help="Prefect's server for this project: `start` runs Prefect's own (UI, scheduler: what `seqflow serve` "
    "needs) on 127.0.0.1; without it, runs share a lighter local server stopped after "
    "SEQFLOW_SERVER_IDLE_SECONDS (300) without a request.",
    no_args_is_help=True, rich_markup_mode=None,
)


def _prefect_home() -> Path:
    from tasks.runtime import apply_defaults, prepare_prefect_home

    apply_defaults()
    prepare_prefect_home()
    return Path(os.environ["PREFECT_HOME"])


@app.command("start")
def start(
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port on 127.0.0.1 for the API and the UI.")] = 4200,
) -> None:
    """Start Prefect's own server (API, UI, scheduler) for this project on 127.0.0.1, in the background.

    Its database is this project's Prefect home under artifacts/. One-off runs use it while it
    stands; `seqflow serve` needs it for schedules. Stop it with `seqflow server stop`.
    """
    from flows import prefect_server

    from tasks.errors import EnvironmentFault

    home = _prefect_home()
    try:
        state = prefect_server.start(home, port)
    except EnvironmentFault as exc:
        fail(str(exc), 1)
    except RuntimeError as exc:
        fail(str(exc).splitlines()[0] if "taken" in str(exc) else str(exc), 1 if "did not start" in str(exc) else 2)
    typer.echo(f"Prefect's server at {state['ui_url']} (API {state['api_url']}, pid {state['pid']}) for {home}; "
               f"log {state['log']}")


@app.command("status")
def status(as_json: Annotated[bool, typer.Option("--json", help="Print the state as JSON.")] = False) -> None:
    """Say which Prefect server stands for this project, and where."""
    from flows import ephemeral, prefect_server

    home = _prefect_home()
    own, standing = prefect_server.running(home), ephemeral.standing_server(home)
    if as_json:
        print_json({"prefect_home": str(home), "prefect_server": own, "standing_server": standing})
        return
    if own is not None:
        typer.echo(f"Prefect's server at {own['ui_url']} (API {own['api_url']}, pid {own['pid']}) for {home}")
    if standing is not None:
        typer.echo(f"local Prefect server at {standing['url']} (pid {standing['pid']}) for {home}")
    if own is None and standing is None:
        typer.echo(f"no Prefect server stands for {home}; the next run starts a local one "
                   "(`seqflow server start` for the UI and schedules)")


@app.command("stop")
def stop() -> None:
    """Stop this project's Prefect servers now (runs start a local one when they need it)."""
    from flows import ephemeral, prefect_server

    home = _prefect_home()
    own = prefect_server.stop(home)
    standing = ephemeral.stop_standing_server(home)
    if own:
        typer.echo(f"stopped Prefect's server for {home}")
    if standing:
        typer.echo(f"stopped the local Prefect server for {home}")
    if not own and not standing:
        typer.echo(f"no Prefect server stands for {home}")
