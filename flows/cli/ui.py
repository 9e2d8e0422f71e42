"""``seqflow ui``: the MLflow UI on this project's tracking store."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from flows.cli.options import TRAINING_VIEW, check_environment, console, fail


def ui(
    host: Annotated[str, typer.Option(help="Interface to bind; keep 127.0.0.1 unless you mean to share it.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port for the MLflow UI.")] = 5000,
    workers: Annotated[int, typer.Option(min=1, help="Server worker processes (one answers fastest on a small machine).")] = 1,
) -> None:
    """Open the MLflow UI on this project's tracking store (a tracking server: say where its own UI is)."""
    from tasks.tracking import store

    server = store.server_url(store.tracking_uri())
    if server is not None:
        console(stderr=True).print(
            f"MLFLOW_TRACKING_URI is an MLflow server: its UI is at {server}/#/experiments?{TRAINING_VIEW}; "
            "nothing to start here", highlight=False, soft_wrap=True)
        return
    check_environment(prefect=False)  # `mlflow ui` would create its tables in a 0-byte or foreign mlflow.db
    check_port_free(host, port)
    cmd = store.ui_command(host, port, workers)
    mlflow_bin = Path(sys.executable).with_name("mlflow")
    if mlflow_bin.exists():
        cmd[0] = str(mlflow_bin)
    console(stderr=True).print(
        f"MLflow UI on http://{host}:{port}/#/experiments?{TRAINING_VIEW}  (store: {store.tracking_uri()}); "
        "Ctrl+C stops it", highlight=False)
    os.execvp(cmd[0], cmd)


def check_port_free(host: str, port: int) -> None:
    """Refuse, in one line with exit 2, a port something already listens on (or an address not of this machine).

    ``mlflow ui`` would print its URL, fail to bind and exit 0, and the URL would then show
    whatever else answers there: another project's store.
    """
    import errno
    import socket

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        fail(f"--host {host}: not an address of this machine ({exc.strerror})")
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # a closed connection's TIME_WAIT is no user
        try:
            probe.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                fail(f"--port {port}: {host}:{port} is already in use by another program; stop it or choose "
                     "another port with --port")
            fail(f"--host {host} --port {port}: cannot listen there ({exc.strerror}); use 127.0.0.1 and a free port")
