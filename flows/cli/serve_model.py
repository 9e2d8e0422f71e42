"""``seqflow serve-model``: a logged or registered model over HTTP, from this process, without activating the venv."""

from __future__ import annotations

import errno
import os
import socket
from typing import Annotated

import typer

from flows.cli.options import check_environment, console, fail

MB = 2**20


def serve_model(
    model: Annotated[str, typer.Option(
        "--model", "-m", metavar="MODEL_URI",
        help="The model: models:/NAME@ALIAS (e.g. models:/forecast-alcohol-sales@champion), models:/NAME/VERSION or a "
             "logged model's models:/m-... URI, from this project's store.")],
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 5001,
    host: Annotated[str, typer.Option(help="Interface to bind; keep 127.0.0.1 unless you mean to share it.")] = "127.0.0.1",
    max_request_mb: Annotated[float, typer.Option(
        "--max-request-mb", min=0.001, metavar="MB",
        help="Largest request body accepted; a larger one is answered 413 at once, before it is read.")] = 10.0,
    timeout: Annotated[int, typer.Option(
        "--timeout", min=1, max=86_400, metavar="SECONDS", envvar="MLFLOW_SCORING_SERVER_REQUEST_TIMEOUT",
        help="Longest a request may compute. At 90 % of it the forecast stops and the answer (504) says how many "
             "series to send per request; MLflow's own timeout answers 504 at 100 %.")] = 60,
) -> None:
    """Serve a model over HTTP (MLflow's scoring protocol) until Ctrl-C or SIGTERM.

    POST a history to /invocations as JSON ({"dataframe_split": {"columns": ["series_id", "timestamp",
    "value"], "data": [...]}}) or CSV; the answer is {"predictions": [...]}, one row per series and step
    with series_id, timestamp, yhat, lower, upper. A history the model cannot use is answered 400 with one
    line naming the row, column and what to send; a body over --max-request-mb 413; a request that would
    outlast --timeout 504, saying how many series fit. GET /ping answers
    once the model is loaded. The server runs in this one process (no `uvicorn` on PATH needed, no child
    left behind): SIGTERM or Ctrl-C stops it.
    """
    from tasks.errors import InputError

    check_environment()
    _check_port(host, port)
    from tasks.runtime import import_tensorflow
    from tasks.tracking import model_server

    import_tensorflow(False)
    limit = int(max_request_mb * MB)
    os.environ["MLFLOW_SCORING_SERVER_REQUEST_TIMEOUT"] = str(timeout)  # MLflow's app and the model read it
    try:
        app = model_server.scoring_app(model, limit)
    except InputError as exc:
        fail(str(exc))
    console(stderr=True).print(
        f"serving {model} at http://{host}:{port}/invocations (pid {os.getpid()}; requests up to {limit:,} bytes); "
        "Ctrl+C or SIGTERM stops it", highlight=False)
    model_server.serve(app, host, port)
    console(stderr=True).print(f"stopped serving {model}", highlight=False)


def _check_port(host: str, port: int) -> None:
    """Refuse a port another process holds, in one line, before the model loads."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                fail(f"--port = {port}: {host}:{port} is taken by another process; pick a free one with --port")
            fail(f"--host = {host!r}: cannot listen there ({exc.strerror})")
