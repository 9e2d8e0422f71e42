"""Prefect's own server (``prefect server start``: API, UI and scheduler), started and stopped by seqflow.

Scheduled runs need a server whose scheduler service runs: Prefect's temporary server (and
seqflow's standing one, :mod:`flows.local_server`, which runs the same subset of services) cannot
schedule. ``seqflow server start`` starts Prefect's own server on 127.0.0.1, its database in this
project's Prefect home under ``artifacts/``, in its own session, and records its pid, start time
and URLs in ``prefect-server.json`` there; ``seqflow server stop`` stops it by that pid. While it
answers, one-off runs use it too (:func:`flows.ephemeral.start_in_background`), so every run,
deployment and schedule shows in its UI.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from tasks import processes

STATE_FILE = "prefect-server.json"
DEFAULT_PORT = 4200


def state_path(home: str | os.PathLike) -> Path:
    """Where the Prefect home's own server records its pid, start time and URLs."""
    return Path(home) / STATE_FILE


def healthy(api_url: str, timeout: float = 2.0) -> bool:
    """Whether Prefect's API answers at ``api_url``: its health check says ``true`` and its version is ours.

    Any web server can answer 200 on ``/api/health``; Prefect's answers the JSON ``true``, and
    ``/api/admin/version`` the installed Prefect's version (read from the package metadata, so
    Prefect itself is not imported).
    """
    import importlib.metadata

    health = _get_json(f"{api_url}/health", timeout)
    if health is not True:
        return False
    version = _get_json(f"{api_url}/admin/version", timeout)
    try:
        return version == importlib.metadata.version("prefect")
    except importlib.metadata.PackageNotFoundError:
        return isinstance(version, str)


def _get_json(url: str, timeout: float) -> object:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            if response.status != 200:
                return None
            return json.loads(response.read(4096) or b"null")
    except (OSError, ValueError):
        return None


def port_of(url: str) -> int | None:
    """The port of an ``http://host:port/...`` URL."""
    from urllib.parse import urlsplit

    try:
        return urlsplit(str(url)).port
    except ValueError:
        return None


def listened_by(port: int, pid: int) -> bool:
    """Whether the socket listening on TCP ``port`` belongs to process ``pid`` or its session.

    Read from ``/proc`` (the listening socket's inode among the file descriptors of the session's
    processes); where ``/proc`` cannot tell (another OS, another user's processes), True.
    """
    inodes = _listening_inodes(port)
    if inodes is None:
        return True
    if not inodes:
        return False
    session = _session(pid)
    proc = Path("/proc")
    for entry in proc.iterdir():
        if not entry.name.isdigit() or (int(entry.name) != pid and (session is None or _session(int(entry.name)) != session)):
            continue
        try:
            links = [os.readlink(fd) for fd in (entry / "fd").iterdir()]
        except OSError:
            continue
        if any(link in inodes for link in links):
            return True
    return False


def _session(pid: int) -> str | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[3]
    except (OSError, IndexError):
        return None


def _listening_inodes(port: int) -> set[str] | None:
    """``socket:[inode]`` of every socket listening on ``port`` (IPv4 and IPv6), None without ``/proc``."""
    found: set[str] = set()
    seen = False
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        seen = True
        for line in lines:
            fields = line.split()
            if len(fields) > 9 and fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                found.add(f"socket:[{fields[9]}]")
    return found if seen else None


def recorded_server(state_file: Path, url_key: str) -> dict | None:
    """The server a state file records (its pid, start time and ``url_key``) when it is alive, answers as
    Prefect and is the process listening on its port (never another program that took the port)."""
    try:
        state = json.loads(state_file.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(state, dict) or not processes.alive(int(state.get("pid", 0)), str(state.get("started", ""))):
        return None
    url = str(state.get(url_key))
    port = port_of(url)
    if port is None or not listened_by(port, int(state["pid"])):
        return None
    return state if healthy(url) else None


def running(home: str | os.PathLike) -> dict | None:
    """The server recorded in ``home`` (``pid, started, port, api_url, ui_url``) when it is alive and answers."""
    return recorded_server(state_path(home), "api_url")


def port_in_use(port: int) -> bool:
    """Whether something already listens on ``127.0.0.1:port``."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def start(home: str | os.PathLike, port: int = DEFAULT_PORT, timeout: float = 120.0) -> dict:
    """Start Prefect's own server for ``home`` on ``127.0.0.1:port`` and wait until it answers.

    Returns:
        Its state (``pid, started, port, api_url, ui_url, log``); the running one if it already stands.

    Raises:
        EnvironmentFault: its database exists but is not whole (0 bytes, not SQLite, damaged, foreign).
        RuntimeError: the port is taken by another program, or the server did not answer in time
            (the message carries the end of its log).
    """
    home = Path(home)
    already = running(home)
    if already is not None:
        return already
    if port_in_use(port):
        raise RuntimeError(f"port {port} on 127.0.0.1 is taken by another program; choose another with --port")
    from tasks import databases

    databases.check_existing(home / "prefect.db", databases.PREFECT_TABLES, "Prefect's database", "Prefect's tables")
    from flows import ephemeral
    from flows.templates import seed_prefect_database

    ephemeral.stop_standing_server(home)  # one server per database: the idle-stopping one steps aside
    if Path(os.environ.get("PREFECT_HOME", "")) == home:
        seed_prefect_database()  # this process's settings name that database; another home migrates itself
    api_url, ui_url = f"http://127.0.0.1:{port}/api", f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if k not in ("PREFECT_API_URL", "PREFECT_UI_URL")}
    env.update({"PREFECT_HOME": str(home), "PREFECT_SERVER_API_HOST": "127.0.0.1",
                "PREFECT_SERVER_API_PORT": str(port), "PREFECT_UI_API_URL": api_url,
                "PREFECT_SERVER_ANALYTICS_ENABLED": "false"})
    prefect = Path(sys.executable).with_name("prefect")
    command = [str(prefect)] if prefect.exists() else [sys.executable, "-m", "prefect"]
    log_path = home / "prefect-server.log"
    home.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        process = subprocess.Popen([*command, "server", "start", "--host", "127.0.0.1", "--port", str(port)],
                                   env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
    deadline = time.monotonic() + timeout
    while not (healthy(api_url, timeout=1.0) and listened_by(port, process.pid)):
        if process.poll() is not None or time.monotonic() > deadline:
            _terminate(process.pid, "")
            tail = log_path.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"Prefect's server did not start on port {port} (log {log_path}):\n{tail}")
        time.sleep(0.25)
    state = {"pid": process.pid, "started": processes.start_time(process.pid), "port": port, "api_url": api_url,
             "ui_url": ui_url, "log": str(log_path)}
    state_path(home).write_text(json.dumps(state))
    return state


def _terminate(pid: int, started: str, timeout: float = 20.0) -> None:
    """SIGTERM the server's whole session (its uvicorn and service children), SIGKILL what is left."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(pid, sig)
        except (ProcessLookupError, PermissionError):
            return
        deadline = time.monotonic() + timeout
        while processes.alive(pid, started) and time.monotonic() < deadline:
            time.sleep(0.1)
        if not processes.alive(pid, started):
            break
    try:  # reap it when it is this process's child (seqflow server start in the same process, a test)
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def stop(home: str | os.PathLike) -> bool:
    """Stop the server recorded in ``home`` by its pid; ``True`` when one was stopped."""
    try:
        state = json.loads(state_path(home).read_text())
    except (OSError, ValueError):
        return False
    pid, started = int(state.get("pid", 0)), str(state.get("started", ""))
    stopped = processes.alive(pid, started)
    if stopped:
        _terminate(pid, started)
    state_path(home).unlink(missing_ok=True)
    return stopped
