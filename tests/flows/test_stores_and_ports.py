"""Stores and ports (issue 23, items 6 and 8): a 0-byte or damaged Prefect database is refused in one
line rather than silently re-created; a bad SEQFLOW_SERVER_IDLE_SECONDS is refused before any store
is created; ``seqflow ui`` on a taken port fails in one line, non-zero; a program answering HTTP on
a recorded server's port is never taken for seqflow's Prefect server.

Commands run in a subprocess: Prefect's home and the artifacts folder are read at start-up.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from flows import prefect_server
from tasks import processes

STORE_ADVICE = "restore it from a backup, or move it away and run again to start a new, empty store"


def _env(root: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("PREFECT_HOME", "PREFECT_LOCAL_STORAGE_PATH", "MLFLOW_TRACKING_URI", "PREFECT_API_URL")}
    return {**env, "SEQFLOW_ARTIFACTS": str(root), **extra}


def _seqflow(root: Path, *args: str, **extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "flows.cli", *args], env=_env(root, **extra), capture_output=True,
                          text=True, timeout=120)


def _tree(root: Path) -> dict[str, bytes | None]:
    return {p.relative_to(root).as_posix(): (p.read_bytes() if p.is_file() else None)
            for p in sorted(root.rglob("*"))} if root.is_dir() else {}


def _lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


@pytest.fixture(scope="module")
def history(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("history") / "history.csv"
    path.write_text("date,value\n" + "".join(f"20{y:02d}-{m:02d}-01,{m + y}\n" for y in range(10) for m in range(1, 13)))
    return path


@pytest.mark.parametrize(("content", "problem"), [
    (b"", "an empty file (0 bytes)"),
    (b"this is no database at all" * 10, "not an SQLite database (file is not a database)"),
])
def test_a_broken_prefect_database_is_refused_in_one_line_and_left_as_it_is(tmp_path, history, content, problem):
    database = tmp_path / "prefect" / "prefect.db"
    database.parent.mkdir(parents=True)
    database.write_bytes(content)
    before = _tree(tmp_path)
    result = _seqflow(tmp_path, "run", "forecast", "--path", str(history), "--set", "train.epochs=1")
    assert result.returncode == 1, result.stderr
    assert _lines(result.stderr) == [f"error: {database}: {problem} where Prefect's database was expected; "
                                     f"{STORE_ADVICE}"]
    assert _tree(tmp_path) == before  # not re-created, no MLflow store beside it


def test_server_start_refuses_a_zero_byte_prefect_database(tmp_path):
    database = tmp_path / "prefect" / "prefect.db"
    database.parent.mkdir(parents=True)
    database.write_bytes(b"")
    port = _free_port()
    result = _seqflow(tmp_path, "server", "start", "--port", str(port))
    assert result.returncode == 1, result.stderr
    assert _lines(result.stderr) == [f"error: {database}: an empty file (0 bytes) where Prefect's database was "
                                     f"expected; {STORE_ADVICE}"]
    assert database.read_bytes() == b""
    assert not prefect_server.port_in_use(port)


@pytest.mark.parametrize("value", ["abc", "-5", "nan"])
def test_a_bad_idle_setting_is_refused_before_any_store_is_created(tmp_path, history, value):
    root = tmp_path / "artifacts"
    result = _seqflow(root, "run", "forecast", "--path", str(history), SEQFLOW_SERVER_IDLE_SECONDS=value)
    assert result.returncode == 2, result.stderr
    assert _lines(result.stderr) == [f"error: SEQFLOW_SERVER_IDLE_SECONDS = {value!r}: expected seconds >= 0 "
                                     "(0 = a temporary server per run)"]
    assert not root.exists()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_ui_on_a_port_in_use_fails_in_one_line_non_zero(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = _seqflow(tmp_path, "ui", "--port", str(port))
    assert result.returncode == 2
    assert _lines(result.stderr) == [f"error: --port {port}: 127.0.0.1:{port} is already in use by another program; "
                                     "stop it or choose another port with --port"]
    assert "MLflow UI on" not in result.stderr + result.stdout


FAKE = textwrap.dedent('''
    import http.server, json, sys
    answers = json.loads(sys.argv[2])
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = answers.get(self.path, "OK").encode()
            self.send_response(200)
            self.end_headers()
            self.wfile.write(body)
        def log_message(self, *args):
            pass
    http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
''')


@pytest.fixture
def impostor(tmp_path):
    """Start a web server in its own session answering fixed bodies; yields a function that starts it."""
    started: list[subprocess.Popen] = []

    def start(answers: dict[str, str]) -> tuple[int, subprocess.Popen]:
        port = _free_port()
        process = subprocess.Popen([sys.executable, "-c", FAKE, str(port), json.dumps(answers)],
                                   start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        started.append(process)
        deadline = time.monotonic() + 30
        while not prefect_server.port_in_use(port):
            assert process.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        return port, process

    yield start
    for process in started:
        process.kill()
        process.wait()


def _state(tmp_path: Path, pid: int, port: int) -> Path:
    path = tmp_path / "standing-server.json"
    path.write_text(json.dumps({"pid": pid, "started": processes.start_time(pid), "port": port,
                                "url": f"http://127.0.0.1:{port}/api"}))
    return path


def test_any_web_server_answering_200_is_not_prefect(impostor):
    port, _ = impostor({})
    assert not prefect_server.healthy(f"http://127.0.0.1:{port}/api")


def test_a_program_on_the_recorded_port_is_not_taken_for_the_recorded_server(impostor, tmp_path):
    import importlib.metadata

    version = importlib.metadata.version("prefect")
    port, process = impostor({"/api/health": "true", "/api/admin/version": json.dumps(version)})
    url = f"http://127.0.0.1:{port}/api"
    assert prefect_server.healthy(url)  # it answers as Prefect does
    # The recorded server (this test's own process: alive, same start time) does not listen there.
    assert prefect_server.recorded_server(_state(tmp_path, os.getpid(), port), "url") is None
    assert not prefect_server.listened_by(port, os.getpid())
    # The process that does listen there is recognised, so the check is not simply always False.
    assert prefect_server.listened_by(port, process.pid)
    assert prefect_server.recorded_server(_state(tmp_path, process.pid, port), "url")["pid"] == process.pid
