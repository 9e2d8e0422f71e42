"""The standing local Prefect server: started once per Prefect home, reused, stopped when idle."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from flows import ephemeral
from flows.local_server import state_path
from tasks import paths, processes
from tasks.errors import InputError

# One process = one `seqflow run`: find or start the server, run a tiny flow, report where it ran.
RUN = """
import json, os
from flows import ephemeral
ephemeral.start_in_background()
from prefect import flow
ephemeral.wait()

@flow
def tiny():
    return 1

state = tiny(return_state=True)
from prefect.client.orchestration import get_client
with get_client(sync_client=True) as client:
    stored = client.read_flow_run(state.state_details.flow_run_id)
print(json.dumps({"url": os.environ.get("PREFECT_API_URL"), "api": str(client.api_url),
                  "stored": str(stored.state.type.value), "temporary": len(ephemeral._ours)}))
ephemeral.stop_without_waiting()
"""


def _run(home: Path, idle: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("PREFECT_API_URL", "PREFECT_HOME")}
    env.update(PREFECT_HOME=str(home), SEQFLOW_SERVER_IDLE_SECONDS=idle, PYTHONPATH=str(paths.PROJECT_ROOT))
    proc = subprocess.run([sys.executable, "-c", RUN], env=env, capture_output=True, text=True, timeout=300,
                          cwd=paths.PROJECT_ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "View at" not in proc.stderr  # no link to a UI this server does not serve
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_a_standing_server_is_started_once_reused_and_stops_when_idle(tmp_path):
    home = tmp_path / "prefect"
    # Idle long enough that the second run, started right after, finds the server even on a loaded
    # machine (a Python start with Prefect took over 6 s under a load of 9, and the test then saw two servers).
    first = _run(home, "20")
    state = json.loads(state_path(home).read_text())
    try:
        assert first["url"] == state["url"] and first["api"].rstrip("/") == state["url"]
        assert first["stored"] == "COMPLETED" and first["temporary"] == 0
        assert processes.alive(state["pid"])
        second = _run(home, "20")  # a second run finds the same server: same URL, same process
        assert second["url"] == state["url"] and second["stored"] == "COMPLETED"
        assert json.loads(state_path(home).read_text())["pid"] == state["pid"]
        deadline = time.monotonic() + 90
        while processes.alive(state["pid"]) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert not processes.alive(state["pid"]), "the standing server did not stop after 20 s idle"
        assert not state_path(home).exists()
    finally:
        ephemeral.stop_standing_server(home)


@pytest.mark.slow
def test_idle_zero_gives_each_run_a_temporary_server(tmp_path):
    home = tmp_path / "prefect"
    out = _run(home, "0")
    assert out["url"] is None and out["temporary"] == 1 and out["stored"] == "COMPLETED"
    assert not state_path(home).exists()


def test_a_stopped_server_is_stopped_and_forgotten(tmp_path):
    home = tmp_path / "prefect"
    home.mkdir()
    assert ephemeral.stop_standing_server(home) is False  # none recorded
    state_path(home).write_text(json.dumps({"pid": 2**22 + 17, "port": 1, "url": "http://127.0.0.1:1/api"}))
    assert ephemeral.standing_server(home) is None  # recorded, but its process is gone
    # A recorded pid now used by another process (here: this test's) is not that server, and is not stopped.
    me = os.getpid()
    state_path(home).write_text(json.dumps({"pid": me, "started": str(int(processes.start_time(me)) + 1),
                                            "port": 1, "url": "http://127.0.0.1:1/api"}))
    assert ephemeral.standing_server(home) is None
    assert ephemeral.stop_standing_server(home) is False and processes.alive(me)


@pytest.mark.parametrize("raw", ["soon", "-1", "nan"])
def test_a_bad_idle_value_is_refused_naming_the_variable(monkeypatch, raw):
    monkeypatch.setenv(ephemeral.IDLE_ENV, raw)
    with pytest.raises(InputError, match=f"{ephemeral.IDLE_ENV} = '{raw}'.*seconds >= 0"):
        ephemeral.idle_seconds()


def test_idle_defaults_to_five_minutes(monkeypatch):
    monkeypatch.delenv(ephemeral.IDLE_ENV, raising=False)
    assert ephemeral.idle_seconds() == 300.0
    monkeypatch.setenv(ephemeral.IDLE_ENV, "42.5")
    assert ephemeral.idle_seconds() == 42.5


@pytest.mark.slow
def test_seqflow_server_status_and_stop(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from flows.cli import app

    home = tmp_path / "prefect"
    _run(home, "300")
    pid = json.loads(state_path(home).read_text())["pid"]
    monkeypatch.setenv("PREFECT_HOME", str(home))
    try:
        status = CliRunner().invoke(app, ["server", "status"])
        assert status.exit_code == 0 and f"(pid {pid})" in status.output
        stopped = CliRunner().invoke(app, ["server", "stop"])
        assert stopped.exit_code == 0 and "stopped the local Prefect server" in stopped.output
        assert not processes.alive(pid) and not state_path(home).exists()
        again = CliRunner().invoke(app, ["server", "status"])
        assert "no Prefect server stands" in again.output
    finally:
        ephemeral.stop_standing_server(home)


RESTART = """
import json, os
from flows import ephemeral
from prefect import flow

@flow
def tiny():
    return 1

ephemeral.start_in_background(); ephemeral.wait()
first = os.environ["PREFECT_API_URL"]
tiny()
ephemeral.stop_standing_server(os.environ["PREFECT_HOME"])  # as if it had stopped while this process idled
ephemeral.start_in_background(); ephemeral.wait()
second = os.environ["PREFECT_API_URL"]
state = tiny(return_state=True)
print(json.dumps({"first": first, "second": second, "ok": state.is_completed()}))
ephemeral.stop_standing_server(os.environ["PREFECT_HOME"])
"""


@pytest.mark.slow
def test_a_process_whose_standing_server_stopped_finds_a_new_one(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("PREFECT_API_URL", "PREFECT_HOME")}
    env.update(PREFECT_HOME=str(tmp_path / "prefect"), SEQFLOW_SERVER_IDLE_SECONDS="300",
               PYTHONPATH=str(paths.PROJECT_ROOT))
    proc = subprocess.run([sys.executable, "-c", RESTART], env=env, capture_output=True, text=True, timeout=300,
                          cwd=paths.PROJECT_ROOT)
    try:
        assert proc.returncode == 0, proc.stderr[-3000:]
        out = json.loads(proc.stdout.strip().splitlines()[-1])
        assert out["ok"] and out["first"] != out["second"]
    finally:
        ephemeral.stop_standing_server(tmp_path / "prefect")


@pytest.mark.slow
def test_a_new_prefect_home_starts_as_a_copy_of_the_installations_template(tmp_path, monkeypatch):
    import sqlite3

    monkeypatch.setenv("SEQFLOW_TEMPLATES", str(tmp_path / "templates"))
    first = _run(tmp_path / "one", "0")  # no template yet: made (migrated once), then copied
    (template,) = (tmp_path / "templates").iterdir()
    assert template.name.startswith("prefect-")
    made = template.stat().st_mtime_ns
    second = _run(tmp_path / "two", "0")  # the same template, copied again
    assert first["stored"] == second["stored"] == "COMPLETED"
    assert template.stat().st_mtime_ns == made

    def read(db: Path, query: str):
        with sqlite3.connect(db) as connection:
            return connection.execute(query).fetchone()[0]

    revision = read(template, "SELECT version_num FROM alembic_version")
    assert read(template, "SELECT count(*) FROM flow_run") == 0
    for home in ("one", "two"):  # each home its own database, at the template's revision, with its own run
        db = tmp_path / home / "prefect.db"
        assert read(db, "SELECT version_num FROM alembic_version") == revision
        assert read(db, "SELECT count(*) FROM flow_run") == 1
