"""Prefect's local server, found or started off the critical path, never waited for at the end.

With no ``PREFECT_API_URL``, Prefect starts a temporary server the first time a flow needs its API:
seconds of start-up (a fresh database is migrated first) that the user waits for after TensorFlow's
import. :func:`start_in_background` does that work in a thread while the caller imports TensorFlow.

By default it reuses a **standing** local server (:mod:`flows.local_server`): the first run on a
Prefect home starts it in its own session, later runs find it through ``standing-server.json``
and skip its start and its CPU; it stops itself after ``SEQFLOW_SERVER_IDLE_SECONDS`` (300) without
a request. ``SEQFLOW_SERVER_IDLE_SECONDS=0`` gives each run Prefect's own temporary server instead,
stopped as the run ends. With ``PREFECT_API_URL`` set (environment or Prefect profile), nothing starts.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from flows import prefect_server
from flows.local_server import state_path
from tasks import processes
from tasks.locks import exclusive
from tasks.runtime import prepare_prefect_home

IDLE_ENV = "SEQFLOW_SERVER_IDLE_SECONDS"
DEFAULT_IDLE_SECONDS = 300.0

_started: threading.Thread | None = None
_error: list[BaseException] = []
_ours: list = []  # the temporary server this process started, the only one it may stop
_standing_url: list[str] = []  # the standing server's API URL this process put in PREFECT_API_URL


def uses_temporary_server() -> bool:
    """True when no Prefect server is configured (env or settings), so a temporary one serves this process."""
    if os.environ.get("PREFECT_API_URL"):
        return False
    from prefect.settings import PREFECT_API_URL

    return not PREFECT_API_URL.value()


def idle_seconds() -> float:
    """``SEQFLOW_SERVER_IDLE_SECONDS``: how long a standing server waits for a request (0: none stands)."""
    raw = os.environ.get(IDLE_ENV, "").strip()
    if not raw:
        return DEFAULT_IDLE_SECONDS
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value >= 0:  # also refuses nan
        from tasks.errors import InputError

        raise InputError("expected seconds >= 0 (0 = a temporary server per run)", key=IDLE_ENV, value=raw)
    return value


def standing_server(home: str | os.PathLike) -> dict | None:
    """The standing server recorded in ``home`` (``{"pid", "started", "url"}``) when it answers, else ``None``."""
    return prefect_server.recorded_server(state_path(home), "url")


def stop_standing_server(home: str | os.PathLike, timeout: float = 10.0) -> bool:
    """Stop the standing server of ``home``, if one runs; ``True`` when one was stopped."""
    state = standing_server(home)
    if state is None:
        return False
    pid, started = int(state["pid"]), str(state.get("started", ""))
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while processes.alive(pid, started) and time.monotonic() < deadline:
        time.sleep(0.05)
    if processes.alive(pid, started):
        os.kill(pid, signal.SIGKILL)
    state_path(home).unlink(missing_ok=True)
    return True


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _spawn_standing(home: Path, idle: float) -> str:
    """Start a standing server for ``home`` in its own session; return its API URL once it answers."""
    from prefect.settings import PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS, get_current_settings

    port = _free_port()
    url = f"http://127.0.0.1:{port}/api"
    # The environment Prefect gives its own temporary server (no UI, ephemeral services only).
    env = {**os.environ, **get_current_settings().to_environment_variables(exclude_unset=True),
           "PREFECT_UI_ENABLED": "0", "PREFECT__SERVER_EPHEMERAL": "1", "PREFECT__SERVER_FINAL": "1"}
    env.pop("PREFECT_API_URL", None)
    log_path = home / "standing-server.log"
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "flows.local_server", str(port), str(idle)], env=env,
            stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True,
        )
    deadline = time.monotonic() + float(PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS.value())
    while not (prefect_server.healthy(url, timeout=1.0) and prefect_server.listened_by(port, process.pid)):
        if process.poll() is not None or time.monotonic() > deadline:
            if process.poll() is None:
                process.kill()
            tail = log_path.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"the local Prefect server did not start (log {log_path}):\n{tail}")
        time.sleep(0.1)
    state_path(home).write_text(json.dumps({"pid": process.pid, "started": processes.start_time(process.pid),
                                            "port": port, "url": url}))
    return url


def _start() -> None:
    if not uses_temporary_server():
        return
    idle = idle_seconds()
    home = Path(os.environ["PREFECT_HOME"])
    own = prefect_server.running(home)
    if own is not None:  # Prefect's own server stands (seqflow server start): every run shows in its UI
        _use(own["api_url"], own["ui_url"])
        return
    # Two first runs at once would both migrate the same SQLite database; one at a time.
    with exclusive(home / "server-start.lock"):
        from flows.templates import seed_prefect_database

        seed_prefect_database()  # a new database as a copy of the installation's template
        if idle > 0:
            state = standing_server(home)
            url = state["url"] if state else _spawn_standing(home, idle)
        else:
            from prefect.server.api.server import SubprocessASGIServer

            server = SubprocessASGIServer()
            already = server.running
            with _without_start_line():
                server.start()
            if not already:
                _ours.append(server)
            return
    # Prefect would infer a UI address from the API's and print "View at <url>" for every run, but
    # this server, like Prefect's temporary one, serves no UI: no link (a user's own UI URL stays).
    _use(url, os.environ.get("PREFECT_UI_URL", ""))


class _StartLine(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Starting temporary server")


@contextlib.contextmanager
def _without_start_line() -> Iterator[None]:
    """Start Prefect's temporary server without its "Starting temporary server" line: this process
    chose it, and the line would read as a worker starting a server of its own. Whether Prefect's
    logging was set up by then (and printed it) depended on the other imports' timing."""
    logger = logging.getLogger("prefect")
    line = _StartLine()
    logger.addFilter(line)
    try:
        yield
    finally:
        logger.removeFilter(line)


def _use(api_url: str, ui_url: str) -> None:
    """Point this process's Prefect client at a server that already answers."""
    # Prefect's documented hook for settings changed by the environment after its import.
    from prefect.context import refresh_global_settings_context

    os.environ["PREFECT_API_URL"] = api_url
    os.environ["PREFECT_UI_URL"] = ui_url
    _standing_url[:] = [api_url]
    refresh_global_settings_context()


# CPython before 3.13 can fail compile() when two threads compile at once (python/cpython gh-106905):
# this thread imports Prefect's server (beartype-instrumented dependencies compile their source)
# while the main thread imports TensorFlow. The import is simply tried again.
_COMPILE_RACE = "AST constructor recursion depth mismatch"
_ATTEMPTS = 3


def _start_safely() -> None:
    try:
        # MLflow's SQLAlchemy store configures every SQLAlchemy registry when it is imported; imported by
        # the main thread while this thread was half-way through Prefect's ORM models, it failed the run.
        # Imported here first, it has configured before Prefect's models exist (and the main thread,
        # importing it meanwhile, waits for this import to finish).
        from tasks.tracking import store

        store.import_sqlalchemy_store()
        for attempt in range(1, _ATTEMPTS + 1):
            try:
                _start()
                break
            except SystemError as exc:
                if _COMPILE_RACE not in str(exc) or attempt == _ATTEMPTS:
                    raise
    except BaseException as exc:  # re-raised in the main thread by wait()
        _error.append(exc)


def start_in_background() -> None:
    """Begin finding or starting the local server in a thread (no-op with ``PREFECT_API_URL`` set)."""
    global _started
    prepare_prefect_home()
    if _standing_url and os.environ.get("PREFECT_API_URL") == _standing_url[0]:
        if prefect_server.healthy(_standing_url[0]):
            return  # this process's earlier run found it; it still answers
        # It stopped while this process was idle: find or start another, as a new process would.
        from prefect.context import refresh_global_settings_context

        os.environ.pop("PREFECT_API_URL")
        refresh_global_settings_context()
        _standing_url.clear()
        _error.clear()
        _started = None
    if os.environ.get("PREFECT_API_URL") or _started is not None:
        return
    try:
        idle_seconds()
    except ValueError as exc:  # refused by wait(), where callers report bad input
        _error.append(exc)
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
    """Flush Prefect's log and event queues, then ask a temporary server to stop, without waiting.

    Prefect's own exit hook waits up to 5 s for the server process. Stopping it before the queues
    are flushed is worse: their at-exit flush then retries against a dead server for about a
    minute ("All connection attempts failed"). So: drain first, then terminate and return; the
    operating system reaps the server. A standing server is left standing.
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


def server_in_use() -> tuple[str, str] | None:
    """The API URL this process's flows talk to and who runs it; ``None`` before any server was chosen.

    Who runs it is ``"seqflow server"`` (Prefect's own server, ``seqflow server start``),
    ``"standing"`` (:mod:`flows.local_server`), ``"temporary"`` (Prefect's, for this process only) or
    ``"configured"`` (the user's ``PREFECT_API_URL``): what to do when it dies depends on it.
    """
    if _ours:
        return _ours[0].api_url, "temporary"
    from prefect.settings import PREFECT_API_URL

    url = os.environ.get("PREFECT_API_URL") or PREFECT_API_URL.value()
    if not url:
        return None
    if not (_standing_url and url == _standing_url[0]):
        return url, "configured"
    try:
        own = json.loads(prefect_server.state_path(os.environ["PREFECT_HOME"]).read_text())
    except (OSError, ValueError, KeyError):
        own = {}
    return url, "seqflow server" if isinstance(own, dict) and own.get("api_url") == url else "standing"
