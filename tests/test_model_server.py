"""The served model's request size limit, on a stand-in ASGI app (no model, no server, no MLflow)."""

from __future__ import annotations

import asyncio
import json

import pytest

from tasks.tracking.model_server import PlainErrors, RequestSizeLimit, caller_message, too_large_message

LIMIT = 1000


async def _echo(scope, receive, send):
    """A stand-in app that reads the whole body (as MLflow's /invocations does) and answers its size."""
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": str(len(body)).encode()})


def _call(chunks: list[bytes], headers: list[tuple[bytes, bytes]], app=_echo) -> tuple[int, bytes, int]:
    """Drive the middleware with a request of ``chunks``; return the status, the body and the chunks read."""
    sent, read = [], 0

    async def receive():
        nonlocal read
        read += 1
        return {"type": "http.request", "body": chunks[read - 1], "more_body": read < len(chunks)}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/invocations", "headers": headers}
    asyncio.run(RequestSizeLimit(app, LIMIT)(scope, receive, send))
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], body, read


def test_a_body_within_the_limit_reaches_the_app():
    status, body, _ = _call([b"x" * 600, b"x" * 400], [(b"content-length", b"1000")])
    assert (status, body) == (200, b"1000")


def _refusing_app(scope, receive, send):
    raise AssertionError("the app was called with a body over the limit")


def test_a_declared_length_over_the_limit_is_refused_with_413_before_the_app_sees_it():
    status, body, read = _call([b"x" * 1200, b"x" * 800], [(b"content-length", b"2000")], app=_refusing_app)
    assert status == 413 and read == 2  # read and dropped, so the client can read the answer
    answer = json.loads(body)
    assert answer["error_code"] == "REQUEST_TOO_LARGE"
    assert answer["message"] == too_large_message(2000, LIMIT)
    assert "request body of 2,000 bytes is over this server's limit of 1,000 bytes" in answer["message"]
    assert "send fewer series or rows per request" in answer["message"]


def test_a_chunked_body_is_refused_as_soon_as_it_passes_the_limit():
    status, body, read = _call([b"x" * 600, b"x" * 600, b"x" * 600, b"x" * 600], [])
    assert status == 413 and read == 4  # the app stopped at the second chunk; the rest was dropped
    assert "request body of more bytes is over this server's limit of 1,000 bytes" in json.loads(body)["message"]


@pytest.mark.parametrize("declared", [b"lots", b"-"])
def test_a_content_length_that_is_no_number_is_a_400(declared):
    status, body, read = _call([b"x"], [(b"content-length", declared)])
    assert status == 400 and read == 0 and "is not a number of bytes" in json.loads(body)["message"]


MLFLOW_400 = ("Failed to predict data '    timestamp  value\n0  1992-01-01   3459'. \nError: input, row 1, column "
              "'value': series 'series' has 1 value (rows 1-1)")


def test_a_refusal_reads_as_the_models_line_without_the_request_mlflow_repeats():
    assert caller_message(MLFLOW_400) == "input, row 1, column 'value': series 'series' has 1 value (rows 1-1)"
    assert caller_message("something else") == "something else"


def _answering(status: int, body: bytes):
    async def app(scope, receive, send):
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body[:5], "more_body": True})
        await send({"type": "http.response.body", "body": body[5:]})
    return app


def _through_plain_errors(app) -> tuple[int, dict, bytes]:
    sent = []

    async def send(message):
        sent.append(message)

    async def receive():
        return {"type": "http.request", "body": b""}

    asyncio.run(PlainErrors(app)({"type": "http", "headers": []}, receive, send))
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], dict(start["headers"]), body


def test_a_400_from_the_scoring_app_is_passed_on_with_the_models_line_only():
    payload = json.dumps({"error_code": "INVALID_PARAMETER_VALUE", "message": MLFLOW_400}).encode()
    status, headers, body = _through_plain_errors(_answering(400, payload))
    assert status == 400 and json.loads(body) == {"error_code": "INVALID_PARAMETER_VALUE", "message": (
        "input, row 1, column 'value': series 'series' has 1 value (rows 1-1)")}
    assert int(headers[b"content-length"]) == len(body)


def test_other_answers_pass_through_untouched():
    payload = b'{"predictions": [1, 2]}'
    assert _through_plain_errors(_answering(200, payload))[::2] == (200, payload)
    assert _through_plain_errors(_answering(400, b"not json at all"))[::2] == (400, b"not json at all")
