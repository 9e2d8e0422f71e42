"""``seqflow server status|stop``: the local Prefect server that runs share."""

from __future__ import annotations

import os
from pathlib import Path

import typer

app = typer.Typer(
    help="The local Prefect server that runs share: started by the first run, stopped after "
    "SEQFLOW_SERVER_IDLE_SECONDS (300) without a request.",
    no_args_is_help=True, rich_markup_mode=None,
)


def _prefect_home() -> Path:
    from tasks.runtime import apply_defaults

    apply_defaults()
    return Path(os.environ["PREFECT_HOME"])


@app.command("status")
def status() -> None:
    """Say whether a local Prefect server stands for this project, and where."""
    from flows import ephemeral

    home = _prefect_home()
    state = ephemeral.standing_server(home)
    if state is None:
        typer.echo(f"no local Prefect server stands for {home}; the next run starts one")
    else:
        typer.echo(f"local Prefect server at {state['url']} (pid {state['pid']}) for {home}")


@app.command("stop")
def stop() -> None:
    """Stop this project's local Prefect server now (runs start another when they need one)."""
    from flows import ephemeral

    home = _prefect_home()
    stopped = ephemeral.stop_standing_server(home)
    typer.echo(f"stopped the local Prefect server for {home}" if stopped else f"no local Prefect server stands for {home}")
