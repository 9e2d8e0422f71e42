"""Prefect's local API server, kept standing between runs and stopped when left idle.

Prefect starts a temporary server for every process that has no ``PREFECT_API_URL``: about 4 s of
CPU (importing the server, opening its database) that a run on a 2-core machine pays while
TensorFlow imports, and again for every run of ``make demo``. seqflow starts the same server
(Prefect's own ``create_app``, with the settings Prefect gives its temporary one) once per Prefect
home, in its own session, and later runs find it through ``standing-server.json`` beside the
database. The server stops itself after ``SEQFLOW_SERVER_IDLE_SECONDS`` (default 300) with no
request and no open connection, and removes that file; ``SEQFLOW_SERVER_IDLE_SECONDS=0`` goes
back to a temporary server per run. While it waits, Prefect's own services poll its database:
about 6 % of one core on a 2-core machine, the same as the temporary server costs during a run.

Usage (seqflow starts it; see :mod:`flows.ephemeral`):
``python -m flows.local_server PORT IDLE_SECONDS`` with the Prefect environment of the run.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from pathlib import Path

STATE_FILE = "standing-server.json"


def state_path(prefect_home: str | os.PathLike) -> Path:
    """Where a Prefect home's standing server writes its pid, port and URL."""
    return Path(prefect_home) / STATE_FILE


class IdleWatch:
    """ASGI middleware that counts open requests and connections and remembers the last one's end."""

    def __init__(self, app) -> None:
        self.app = app
        self.active = 0
        self.last = time.monotonic()

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)  # lifespan: start-up and shut-down of Prefect's services
            return
        self.active += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.active -= 1
            self.last = time.monotonic()

    def idle_for(self) -> float:
        """Seconds since the last request ended; 0 while one is open."""
        return 0.0 if self.active else time.monotonic() - self.last


def main(port: int, idle_seconds: float) -> None:
    """Serve Prefect's API on ``127.0.0.1:port`` until idle for ``idle_seconds``."""
    import uvicorn
    from prefect.server.api.server import create_app

    watch = IdleWatch(create_app())
    server = uvicorn.Server(uvicorn.Config(watch, host="127.0.0.1", port=port, log_level="error", lifespan="on"))
    state = state_path(os.environ["PREFECT_HOME"])

    async def stop_when_idle() -> None:
        while not server.started and not server.should_exit:  # a fresh database migrates first
            await asyncio.sleep(0.2)
        watch.last = time.monotonic()
        while not server.should_exit:
            await asyncio.sleep(min(5.0, idle_seconds / 4))
            if watch.idle_for() >= idle_seconds:
                server.should_exit = True

    async def serve() -> None:
        watcher = asyncio.create_task(stop_when_idle())
        try:
            await server.serve()
        finally:
            watcher.cancel()

    try:
        asyncio.run(serve())
    finally:
        try:  # forget this server, unless a newer one has taken the file over
            if json.loads(state.read_text()).get("pid") == os.getpid():
                state.unlink()
        except (OSError, ValueError):
            pass


if __name__ == "__main__":
    main(int(sys.argv[1]), float(sys.argv[2]))
