"""Faults of the process's surroundings, on real processes: the Prefect server dies mid-run, the disk fills.

Every process a test starts is stopped by its pid (its process group), also when the test fails.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from tasks import paths

pytestmark = pytest.mark.slow

# One small gru (the manual recipe: auto's inner backtests would only lengthen what these tests wait for).
TINY = ["--horizon", "6", "--set", "window.lookback=12", "--set", "model.units=8", "--set", "model.recipe=manual",
        "--set", "model.cells=gru", "--set", "train.progress=false", "--set", "evaluate.baselines=naive"]


def _env(root: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("PREFECT_HOME", "PREFECT_LOCAL_STORAGE_PATH", "MLFLOW_TRACKING_URI", "PREFECT_API_URL")}
    env["SEQFLOW_ARTIFACTS"] = str(root)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(paths.PROJECT_ROOT), env.get("PYTHONPATH")]))
    return env


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _runs(root: Path) -> list:
    from mlflow.tracking import MlflowClient

    from tasks.tracking.store import creation_lock

    db = root / "mlflow" / "mlflow.db"
    if not db.exists():
        return []
    with creation_lock(f"sqlite:///{db}"):  # never race the flow while it creates the schema
        client = MlflowClient(f"sqlite:///{db}")
        ids = [e.experiment_id for e in client.search_experiments()]
    return client.search_runs(ids) if ids else []


class Lines:
    """A process's merged output, each line with the time it arrived."""

    def __init__(self, process: subprocess.Popen):
        self.lines: list[tuple[float, str]] = []
        self._thread = threading.Thread(target=self._read, args=(process,), daemon=True)
        self._thread.start()

    def _read(self, process: subprocess.Popen) -> None:
        for line in process.stdout:
            self.lines.append((time.monotonic(), line.rstrip("\n")))

    def since(self, moment: float) -> list[str]:
        self._thread.join(timeout=5)
        return [line for at, line in self.lines if at >= moment and line.strip()]


def _seqflow(root: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "flows.cli", *args], env=_env(root), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)


def _stop(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def _start_server(root: Path, port: int) -> dict:
    out = subprocess.run([sys.executable, "-m", "flows.cli", "server", "start", "--port", str(port)], env=_env(root),
                         capture_output=True, text=True, timeout=180)
    state = json.loads((root / "prefect" / "prefect-server.json").read_text()) if out.returncode == 0 else None
    assert state is not None, out.stderr[-2000:]
    return state


def _flow_run_state(api_url: str, flow_run_id: str) -> str:
    with urllib.request.urlopen(f"{api_url}/flow_runs/{flow_run_id}", timeout=30) as response:
        return json.loads(response.read())["state"]["type"]


@pytest.mark.server
def test_a_dead_server_ends_the_run_in_one_line_and_the_next_run_marks_it_crashed(tmp_path):
    root = tmp_path / "artifacts"
    started: list[int] = []
    try:
        server = _start_server(root, _free_port())
        started.append(server["pid"])
        victim = _seqflow(root, "run", "forecast", *TINY, "--set", "train.epochs=3000", "--set", "train.patience=3000")
        started.append(victim.pid)
        output = Lines(victim)
        deadline = time.monotonic() + 240
        while not any(r.info.run_name.startswith("gru") and r.info.status == "RUNNING" for r in _runs(root)):
            assert victim.poll() is None and time.monotonic() < deadline, "\n".join(l for _, l in output.lines)[-3000:]
            time.sleep(0.5)

        killed = time.monotonic()
        _stop(server["pid"])  # the server dies: its whole session, as `kill -9` on its group does
        with contextlib.suppress(subprocess.TimeoutExpired):
            victim.wait(timeout=30)
        took = time.monotonic() - killed
        print("server died:", output.since(killed), f"exit {victim.returncode} {took:.1f} s after the kill")
        assert victim.poll() is not None, "the run did not exit within 30 s of its server's death"
        said = output.since(killed)
        assert victim.returncode == 1, said
        assert len(said) == 1, said  # one line, no ConnectError
        assert said[0].startswith(f"error: the Prefect server (seqflow server) at {server['api_url']} refuses"), said
        assert "died mid-run" in said[0] and "seqflow server start" in said[0]
        assert took < 30
        records = _runs(root)
        parent = next(r for r in records if "mlflow.parentRunId" not in r.data.tags)
        assert {r.info.status for r in records} == {"FAILED"}, [(r.info.run_name, r.info.status) for r in records]
        assert "died mid-run" in parent.data.tags["seqflow.failure"]
        orphan = parent.data.tags["prefect_flow_run_id"]

        server = _start_server(root, _free_port())
        started.append(server["pid"])
        assert _flow_run_state(server["api_url"], orphan) == "RUNNING"  # what the dead server could not record
        nxt = _seqflow(root, "run", "forecast", *TINY, "--set", "train.epochs=1", "--json")
        started.append(nxt.pid)
        out, _ = nxt.communicate(timeout=300)
        assert nxt.returncode == 0, out[-3000:]
        assert f"Prefect flow run(s) {orphan} marked Crashed" in out
        assert _flow_run_state(server["api_url"], orphan) == "CRASHED"
    finally:
        for pid in started:
            _stop(pid)


@contextlib.contextmanager
def _small_disk(where: Path, size: str):
    """A tmpfs of ``size`` mounted at ``where`` for the block (root only; skipped where mounting is refused)."""
    where.mkdir(parents=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True)


def _fill(disk: Path) -> Path:
    """Write zeros until not one byte is free; return the ballast file."""
    ballast = disk / "ballast"
    fd = os.open(ballast, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    try:
        for block in (1 << 20, 4096, 1):  # the last megabyte, then the last page, in smaller writes
            with contextlib.suppress(OSError):
                while True:
                    os.write(fd, b"\0" * block)
    finally:
        os.close(fd)
    return ballast


def test_a_full_disk_stops_the_run_in_one_line_with_its_runs_closed_and_the_store_usable_after(tmp_path):
    from tasks import diskspace, storage

    with _small_disk(tmp_path / "disk", "96m") as disk:
        root = disk / "artifacts"
        started: list[int] = []
        try:
            victim = _seqflow(root, "run", "forecast", *TINY, "--set", "train.epochs=150", "--set", "train.patience=150")
            started.append(victim.pid)
            output = Lines(victim)
            deadline = time.monotonic() + 240
            while not any(r.info.run_name.startswith("gru") and r.info.status == "RUNNING" for r in _runs(root)):
                assert victim.poll() is None and time.monotonic() < deadline, "\n".join(l for _, l in output.lines)[-3000:]
                time.sleep(0.5)
            filled = time.monotonic()
            ballast = _fill(disk)  # while the gru trains: its metrics, model and forecasts have no room left
            assert diskspace.free_bytes(disk) < 64 * 1024
            victim.wait(timeout=120)
            said = output.since(filled)
            print("full disk:", said, f"{time.monotonic() - filled:.1f} s after the disk filled")
            assert victim.returncode == 1, said
            assert len(said) == 1, said  # one line: no MLflow or Prefect traceback
            assert said[0].startswith("error: ") and "no space left on device" in said[0], said
            assert "free space there and run again" in said[0] and "no MLflow run left open" in said[0]
            assert not any("Traceback" in line for _, line in output.lines)
            records = _runs(root)
            assert records and {r.info.status for r in records} == {"FAILED"}, [(r.info.run_name, r.info.status)
                                                                               for r in records]

            ballast.unlink()  # space freed: the same store takes the next run
            nxt = _seqflow(root, "run", "forecast", *TINY, "--set", "train.epochs=1", "--json")
            started.append(nxt.pid)
            out, _ = nxt.communicate(timeout=300)
            assert nxt.returncode == 0, out[-3000:]
            after = _runs(root)
            assert sorted(r.info.status for r in after) == sorted(["FAILED"] * len(records) + ["FINISHED"] *
                                                                  (len(after) - len(records)))
            assert (root / diskspace.RESERVE_NAME).stat().st_size == diskspace.RESERVE_BYTES
            assert not [p for p in root.rglob("*.tmp")]  # nothing half-written left behind
            for parquet in root.rglob("*.parquet"):
                storage.read_frame(parquet)  # every intermediate whole
        finally:
            for pid in started:
                _stop(pid)
