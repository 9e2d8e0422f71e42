"""A dead Prefect server is told from a slow one, a dead process's flow runs are found, and its runs closed."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time

import pytest

from flows.server_watch import Liveness, ServerWatch, probe
from flows.tracked import dead_flow_runs
from tasks.tracking import runs, store


def test_refusals_for_long_enough_mean_gone_and_an_answer_resets_them():
    live = Liveness(refused_for=3, silent_for=120)
    assert live.observe(True, 0) is None
    assert live.observe(False, 1) is None
    assert live.observe(True, 2) is None  # it answered again: the refusals so far do not count
    assert [live.observe(False, t) for t in (3, 4, 5)] == [None, None, None]
    assert live.observe(False, 6) == "refuses connections (for 3 s)"


def test_a_slow_server_is_alive_until_silent_for_the_limit():
    live = Liveness(refused_for=3, silent_for=120)
    assert live.observe(True, 0) is None
    assert all(live.observe(None, t) is None for t in range(1, 120))  # busy: timeouts, never refused
    assert live.observe(None, 120) == "has not answered for 120 s"


def test_a_timeout_between_refusals_starts_the_refusal_count_again():
    live = Liveness(refused_for=3, silent_for=120)
    live.observe(True, 0)
    for t, answer in ((1, False), (2, False), (3, None), (4, False), (5, False)):
        assert live.observe(answer, t) is None
    assert live.observe(False, 7) is not None


def test_probe_tells_refused_from_unanswered_from_answered():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]  # bound, not listening: connections are refused
        assert probe(f"http://127.0.0.1:{closed_port}/api", timeout=2) is False
    with socket.socket() as mute:  # listens, never answers
        mute.bind(("127.0.0.1", 0))
        mute.listen(8)
        assert probe(f"http://127.0.0.1:{mute.getsockname()[1]}/api", timeout=0.5) is None

    from http.server import BaseHTTPRequestHandler, HTTPServer

    class Broken(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - the http.server hook's name
            self.send_response(500)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Broken)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        assert probe(f"http://127.0.0.1:{server.server_port}/api", timeout=2) is True  # an error status still answers
    finally:
        server.shutdown()
        server.server_close()


def test_an_http_proxy_in_the_environment_does_not_answer_for_a_dead_server(monkeypatch):
    from http.server import BaseHTTPRequestHandler, HTTPServer

    class Proxy(BaseHTTPRequestHandler):  # answers every request, as a proxy does for an unreachable host
        def do_GET(self):  # noqa: N802 - the http.server hook's name
            self.send_response(502)
            self.end_headers()

        def log_message(self, *args):
            pass

    proxy = HTTPServer(("127.0.0.1", 0), Proxy)
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    try:
        for var in ("http_proxy", "HTTP_PROXY"):
            monkeypatch.setenv(var, f"http://127.0.0.1:{proxy.server_port}")
        monkeypatch.delenv("no_proxy", raising=False)
        monkeypatch.delenv("NO_PROXY", raising=False)
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            assert probe(f"http://127.0.0.1:{sock.getsockname()[1]}/api", timeout=2) is False
    finally:
        proxy.shutdown()
        proxy.server_close()


def test_the_watch_calls_back_once_when_the_port_stops_answering():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    deaths: list[str] = []
    watch = ServerWatch(f"http://127.0.0.1:{port}/api", deaths.append, Liveness(refused_for=0.3), poll=0.1).start()
    deadline = time.monotonic() + 10
    while not deaths and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    watch.stop()
    assert len(deaths) == 1 and deaths[0].startswith("refuses connections")


def test_a_stopped_watch_never_calls_back():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    deaths: list[str] = []
    watch = ServerWatch(f"http://127.0.0.1:{port}/api", deaths.append, Liveness(refused_for=0.5), poll=0.1).start()
    watch.stop()
    time.sleep(1.0)
    assert deaths == []


def _exited_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_flow_runs_of_a_dead_owner_are_found_and_the_rest_left_alone():
    mine = runs.owner_tags()
    dead = {**mine, runs.OWNER_PID: str(_exited_pid()), runs.OWNER_START: "1"}
    foreign = {**dead, runs.OWNER_HOST: "some-other-machine"}
    given = [("alive", mine), ("dead", dead), ("other-host", foreign), ("unlabelled", {}),
             ("recycled", {**mine, runs.OWNER_START: "1"})]
    assert dead_flow_runs(given) == ["dead", "recycled"]


def test_the_runs_of_this_process_are_closed_failed_and_no_other(monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    exp_id = store.ensure_experiment("unit-server-died")
    parent = runs.start_run(exp_id, "parent", {})
    child = runs.start_run(exp_id, "child", {}, parent_run_id=parent)
    finished = runs.start_run(exp_id, "finished", {})
    runs.end_run(finished)
    other = runs.start_run(exp_id, "another-process", {})
    store.client().set_tag(other, runs.OWNER_PID, str(os.getppid()))

    assert sorted(runs.fail_runs_of_this_process("the server died")) == sorted([parent, child])
    assert [runs.run_status(r) for r in (parent, child, finished, other)] == ["FAILED", "FAILED", "FINISHED", "RUNNING"]
    assert store.client().get_run(parent).data.tags[runs.FAILURE_REASON] == "the server died"
    assert runs.open_runs_of_this_process() == []
    runs.end_run(other)


@pytest.mark.slow
def test_reconcile_marks_a_dead_processs_running_flow_run_crashed(prefect_harness):
    """No MLflow run points at it (they were closed when its server died): Prefect's own record is checked."""
    from prefect import flow
    from prefect.client.orchestration import get_client
    from prefect.states import Completed, Running

    from flows.tracked import reconcile

    @flow(name="orphan")
    def orphan() -> None:
        pass

    with get_client(sync_client=True) as client:
        gone = client.create_flow_run(orphan, state=Running())
        client.update_flow_run_labels(gone.id, {**runs.owner_tags(), runs.OWNER_PID: str(_exited_pid())})
        alive = client.create_flow_run(orphan, state=Running())
        client.update_flow_run_labels(alive.id, runs.owner_tags())

    @flow(name="next-run")
    def next_run() -> str:
        reconcile()
        from prefect.runtime import flow_run

        return str(flow_run.get_id())

    own = next_run()
    with get_client(sync_client=True) as client:
        assert client.read_flow_run(gone.id).state.type.value == "CRASHED"
        assert client.read_flow_run(alive.id).state.type.value == "RUNNING"
        assert client.read_flow_run(own).labels[runs.OWNER_PID] == str(os.getpid())  # the next run can judge this one
        client.set_flow_run_state(alive.id, Completed(), force=True)


def test_while_the_watch_runs_prefect_log_shipping_errors_are_not_printed(monkeypatch):
    # Prefect's API log worker writes "--- Error logging to API ---" and the ConnectError to stderr
    # (while logging.raiseExceptions is true) when a batch fails: after the server dies that raced the
    # watch's one line. The watch is what reports a lost server, so the printing is off while it runs.
    import logging

    from flows import ephemeral
    from flows.cli import startup

    started = []

    class Watch:
        def __init__(self, api_url, on_death):
            started.append(api_url)

        def start(self):
            return self

        def stop(self):
            started.append("stopped")

    monkeypatch.setattr(ephemeral, "server_in_use", lambda: ("http://127.0.0.1:9/api", "seqflow server"))
    monkeypatch.setattr("flows.server_watch.ServerWatch", Watch)
    assert logging.raiseExceptions
    with startup.watching_server():
        assert logging.raiseExceptions is False
    assert logging.raiseExceptions is True
    assert started == ["http://127.0.0.1:9/api", "stopped"]
