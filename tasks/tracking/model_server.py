"""A logged model served over HTTP from this process: MLflow's scoring app behind a request size limit, on uvicorn.

Why not ``mlflow models serve``: it starts ``uvicorn`` by name through a shell, so it exits 127
("uvicorn: not found") unless the environment's ``bin`` is on ``PATH``; SIGTERM to it leaves its
uvicorn child running; and it reads any request whole, so a 17 MB history ran 60 s to a 504 and
kept a core busy long after (the work of a timed-out request is not cancelled). Here the same app
(:func:`mlflow.pyfunc.scoring_server.init`: ``/invocations``, ``/ping``, ``/health``, ``/version``,
the same JSON and CSV formats) runs in this very process, with no child to outlive it; SIGTERM or
Ctrl-C stops it, a request over the limit is answered 413 before its body is parsed, and a refused
history's 400 is the model's own line (MLflow would prefix it with the whole request).
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

DEFAULT_MAX_REQUEST_MB = 10.0
# How much of a refused body is still read (and dropped) so the client can read its 413.
DRAIN_CAP_BYTES = 256 * 2**20

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class _TooLarge(Exception):
    """The body grew past the limit while it was read (no Content-Length was sent)."""


def too_large_message(size: int | None, limit: int) -> str:
    """The 413's message, in the HTTP caller's terms: the size sent, the limit, and what to send instead."""
    sent = f"{size:,} bytes" if size is not None else "more bytes"
    return (f"request body of {sent} is over this server's limit of {limit:,} bytes (seqflow serve-model "
            "--max-request-mb); send fewer series or rows per request")


class RequestSizeLimit:
    """ASGI middleware: answer 413 to a request whose body is over ``max_bytes``, without reading it whole.

    A declared ``Content-Length`` over the limit is refused before the app sees any of the body; a
    body without one (chunked) is counted as it arrives and refused as soon as it passes the limit.
    Either way the rest of the body is read and dropped (up to :data:`DRAIN_CAP_BYTES`), never kept
    or parsed, so that a client that sends its whole body before reading gets the 413.

    Args:
        app: the ASGI app to protect.
        max_bytes: the largest body accepted, in bytes.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or ()).get(b"content-length")
        if declared is not None:
            try:
                size = int(declared)
            except ValueError:
                await _answer(send, 400, "BAD_REQUEST", f"Content-Length {declared.decode(errors='replace')!r} is "
                                                        "not a number of bytes")
                return
            if size > self.max_bytes:
                # Read and drop what the client sends (cheap: nothing is kept or parsed), so it gets the
                # answer rather than a broken pipe; past the cap the connection is closed instead.
                await _discard(receive, DRAIN_CAP_BYTES)
                await _answer(send, 413, "REQUEST_TOO_LARGE", too_large_message(size, self.max_bytes))
                return
        received, started = 0, False

        async def counted_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise _TooLarge
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted_receive, watched_send)
        except _TooLarge:
            if not started:
                await _discard(receive, DRAIN_CAP_BYTES)
                await _answer(send, 413, "REQUEST_TOO_LARGE", too_large_message(None, self.max_bytes))


async def _discard(receive: Receive, cap: int) -> None:
    """Read the rest of a request body and drop it, up to ``cap`` bytes."""
    dropped = 0
    while dropped <= cap:
        message = await receive()
        if message["type"] != "http.request":
            return
        dropped += len(message.get("body", b""))
        if not message.get("more_body"):
            return


# MLflow prefixes a model's refusal with the whole request, as pandas prints it, over several lines.
_PREDICT_PREFIX = re.compile(r"^Failed to predict data '.*'\. \nError: ", re.DOTALL)


def caller_message(message: str) -> str:
    """A model's refusal as the caller should read it: MLflow's ``Failed to predict data '<the request>'`` cut off."""
    return _PREDICT_PREFIX.sub("", message, count=1)


class PlainErrors:
    """ASGI middleware: a 400's JSON ``message`` without MLflow's prefix, so it is the model's one line.

    Args:
        app: the scoring app.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        held: Message | None = None
        chunks: list[bytes] = []

        async def plain_send(message: Message) -> None:
            nonlocal held
            if message["type"] == "http.response.start" and message["status"] == 400:
                held = message
                return
            if held is None or message["type"] != "http.response.body":
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body"):
                return
            body = b"".join(chunks)
            try:
                payload = json.loads(body)
                payload["message"] = caller_message(payload["message"])
                body = json.dumps(payload).encode()
            except (ValueError, KeyError, TypeError):
                pass  # not MLflow's JSON error: passed on as it came
            headers = [(k, v) for k, v in held.get("headers", []) if k.lower() != b"content-length"]
            await send({**held, "headers": [*headers, (b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body})

        await self.app(scope, receive, plain_send)


async def _answer(send: Send, status: int, code: str, message: str) -> None:
    """Send a whole JSON error response in MLflow's shape (``error_code``, ``message``)."""
    body = json.dumps({"error_code": code, "message": message}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


def scoring_app(model_uri: str, max_bytes: int) -> ASGIApp:
    """Load a logged or registered model from this project's store and wrap MLflow's scoring app around it.

    Raises:
        InputError: the model cannot be found or loaded (one line naming ``--model`` and the URI).
    """
    from mlflow.exceptions import MlflowException
    from mlflow.pyfunc import scoring_server

    from tasks.errors import InputError
    from tasks.tracking import models

    try:
        model = models.load_model(model_uri)
    except (MlflowException, OSError) as exc:
        text = (exc.message if isinstance(exc, MlflowException) else str(exc)).strip() or type(exc).__name__
        raise InputError(f"cannot load the model: {text.splitlines()[0]}", key="--model", value=model_uri) from None
    return RequestSizeLimit(PlainErrors(scoring_server.init(model)), max_bytes)


def serve(app: ASGIApp, host: str, port: int) -> None:
    """Run ``app`` on ``host:port`` in this process until SIGTERM or Ctrl-C, then return.

    uvicorn stops gracefully on either signal and then raises it again for the handler it found;
    the handler here takes it as the stop it asked for, so the process ends normally (exit 0).
    """
    import signal

    import uvicorn

    def stopped(signum: int, frame: Any) -> None:
        """The signal uvicorn raises again after its shutdown: already handled."""

    previous = {sig: signal.signal(sig, stopped) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        # A request still computing when the stop comes is given a few seconds, not its whole run.
        uvicorn.run(app, host=host, port=port, log_level="warning", timeout_graceful_shutdown=5)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
