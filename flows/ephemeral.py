"""Prefect's temporary local server, started off the critical path and stopped without a wait.

With no ``PREFECT_API_URL``, Prefect starts a temporary server the first time a flow needs its API:
seconds of start-up (a fresh database is migrated first) that the user waits for after TensorFlow's
import. :func:`start_in_background` starts that same server in a thread while the caller imports
TensorFlow; Prefect then finds it running and uses it. With ``PREFECT_API_URL`` set, nothing starts.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from tasks.locks import exclusive
from tasks.runtime import prepare_prefect_home

_started: threading.Thread | None = None
_error: list[BaseException] = []
_ours: list = []  # the server this process started, the only one it may stop


def uses_temporary_server() -> bool:
    """True when no Prefect server is configured (env or settings), so a temporary one serves this process."""
    if os.environ.get("PREFECT_API_URL"):
        return False
    from prefect.settings import PREFECT_API_URL

    return not PREFECT_API_URL.value()


def _start() -> None:
    if not uses_temporary_server():
        return
    from prefect.server.api.server import SubprocessASGIServer

    # Two first runs at once would both migrate the same SQLite database; one at a time.
    with exclusive(Path(os.environ["PREFECT_HOME"]) / "server-start.lock"):
        server = SubprocessASGIServer()
        already = server.running
        server.start()
    if not already:
        _ours.append(server)


def _start_safely() -> None:
    try:
        _start()
    except BaseException as exc:  # re-raised in the main thread by wait()
        _error.append(exc)


def start_in_background() -> None:
    """Begin starting the temporary server in a thread (no-op with ``PREFECT_API_URL`` set)."""
    global _started
    prepare_prefect_home()
    if os.environ.get("PREFECT_API_URL") or _started is not None:
        return
    _started = threading.Thread(target=_start_safely, name="prefect-server-start", daemon=True)
    _started.start()


def wait() -> None:
    """Block until the server started in the background answers; raise its start-up error if any."""
    if _started is not None:
        _started.join()
    if _error:
        raise _error[0]


def stop_without_waiting() -> None:
    """Flush Prefect's log and event queues, then ask the temporary server to stop, without waiting.

    Prefect's own exit hook waits up to 5 s for the server process. Stopping it before the queues
    are flushed is worse: their at-exit flush then retries against a dead server for about a
    minute ("All connection attempts failed"). So: drain first, then terminate and return; the
    operating system reaps the server.
    """
    if not _ours:
        return
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    for service in (APILogWorker, EventsWorker):
        service.drain_all(timeout=10)
    while _ours:
        server = _ours.pop()
        process = server.server_process
        if process is not None and process.poll() is None:
            process.terminate()
        server.server_process = None
        server.running = False
