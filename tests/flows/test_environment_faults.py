"""Faults of the environment are one line, never a traceback (issue 23): exit 2 for what the user can
fix (SEQFLOW_ARTIFACTS at a file, an input file that cannot be read), exit 1 for a fault (a damaged
MLflow store), before anything is started or written.

Tests run as root, for whom no permission bit refuses a read: an unreadable file is simulated by a
monkeypatched read that raises ``PermissionError`` (EACCES) for that one path, and by a FIFO where
a file is expected. Commands run in a subprocess where what starts matters (Prefect's home is
derived from SEQFLOW_ARTIFACTS at start-up), in-process where the refusal happens while reading input.
"""

from __future__ import annotations

import builtins
import errno
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flows.cli import app

ADVICE = "point it at a folder, or at a path that does not exist yet"
STORE_ADVICE = "restore it from a backup, or move it away and run again to start a new, empty store"


def _env(root: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("PREFECT_HOME", "PREFECT_LOCAL_STORAGE_PATH", "MLFLOW_TRACKING_URI", "PREFECT_API_URL")}
    env["SEQFLOW_ARTIFACTS"] = str(root)
    return env


def _seqflow(root: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "flows.cli", *args], env=_env(root), capture_output=True, text=True,
                          timeout=timeout)


def _tree(root: Path) -> dict[str, bytes | None]:
    return {p.relative_to(root).as_posix(): (p.read_bytes() if p.is_file() else None)
            for p in sorted(root.rglob("*"))} if root.is_dir() else {}


@pytest.fixture(scope="module")
def history(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("history") / "history.csv"
    path.write_text("date,value\n" + "".join(f"2020-{m:02d}-01,{m}\n" for m in range(1, 13)))
    return path


RUNS = {
    "study": ["run", "study", "--set", "train.epochs=1"],
    "forecast": ["run", "forecast", "--set", "model.recipe=manual", "--set", "train.epochs=1"],
    "embed": ["run", "embed", "--set", "model.epochs=1"],
    "lesson": ["run", "lesson", "--set", "train.epochs=1"],
}


@pytest.mark.parametrize("command", RUNS)
def test_artifacts_at_a_file_is_refused_in_one_line(tmp_path, command):
    target = tmp_path / "artifacts"
    target.write_text("not a folder\n")
    done = _seqflow(target, *RUNS[command])
    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines() == [
        f"error: SEQFLOW_ARTIFACTS = '{target}': not a folder (a file is there); {ADVICE}"]
    assert target.read_text() == "not a folder\n" and sorted(p.name for p in tmp_path.iterdir()) == ["artifacts"]


def test_artifacts_under_a_file_is_refused_in_one_line(tmp_path, history):
    blocker = tmp_path / "blocker"
    blocker.write_text("x")
    target = blocker / "artifacts"
    done = _seqflow(target, "predict", "--model", "models:/seqflow-forecaster@candidate", "--input", str(history))
    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines() == [
        f"error: SEQFLOW_ARTIFACTS = '{target}': {blocker} is a file, so no folder can be made there; {ADVICE}"]


@pytest.mark.parametrize("command", ["study", "forecast", "embed", "lesson", "predict", "ui"])
@pytest.mark.parametrize("kind", ["empty", "text"])
def test_a_damaged_store_is_refused_before_anything_starts_and_left_as_it_was(tmp_path, history, command, kind):
    root = tmp_path / "artifacts"
    db = root / "mlflow" / "mlflow.db"
    db.parent.mkdir(parents=True)
    db.write_bytes(b"" if kind == "empty" else b"a spreadsheet saved over the store\n" * 50)
    before = _tree(root)
    if command == "predict":
        args = ["predict", "--model", "models:/seqflow-forecaster@candidate", "--input", str(history)]
    elif command == "ui":
        args = ["ui", "--port", "1"]  # never reached: the store is refused first
    else:
        args = RUNS[command]
    done = _seqflow(root, *args, timeout=60)
    said = "an empty file (0 bytes)" if kind == "empty" else "not an SQLite database (file is not a database)"
    assert done.returncode == 1, done.stderr
    assert done.stderr.splitlines() == [f"error: {db}: {said} where the MLflow store was expected; {STORE_ADVICE}"]
    assert _tree(root) == before  # nothing re-created, migrated or started beside it


def _refuse_reading(monkeypatch, target: Path) -> None:
    """Make every read of ``target`` fail as an unreadable file does for a user who is not root (EACCES)."""
    denied = PermissionError(errno.EACCES, "Permission denied", str(target))

    def guarded(real):
        def read(self, *args, **kwargs):
            if Path(self).resolve() == target.resolve():
                raise denied
            return real(self, *args, **kwargs)
        return read

    monkeypatch.setattr(Path, "read_bytes", guarded(Path.read_bytes))
    monkeypatch.setattr(Path, "read_text", guarded(Path.read_text))
    real_open = builtins.open

    def opener(file, *args, **kwargs):
        if isinstance(file, (str, os.PathLike)) and Path(file).resolve() == target.resolve():
            raise denied
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", opener)


UNREADABLE = "cannot be read: permission denied; check its permissions (or copy it somewhere you can read)"


@pytest.mark.parametrize("command", ["forecast", "predict", "preset", "embed"])
def test_an_unreadable_input_file_is_refused_in_one_line(monkeypatch, tmp_path, history, artifacts_root, command):
    if command == "forecast":
        target, args = history, ["run", "forecast", "--path", str(history)]
    elif command == "predict":
        target, args = history, ["predict", "--model", "models:/seqflow-forecaster@candidate", "--input", str(history)]
    elif command == "preset":
        target = tmp_path / "preset.toml"
        target.write_text("seed = 3\n")
        args = ["run", "study", "--config", str(target)]
    else:
        target = tmp_path / "corpus.txt"
        target.write_text("the cat sat on the mat\n")
        args = ["run", "embed", "--corpus", str(target)]
    _refuse_reading(monkeypatch, target)
    before = _tree(Path(artifacts_root))
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    prefix = "error: config: --config " if command == "preset" else "error: "
    assert result.stderr.splitlines() == [f"{prefix}{target}: {UNREADABLE}"]
    assert _tree(Path(artifacts_root)) == before


@pytest.mark.parametrize("command", ["forecast", "preset", "embed"])
def test_a_fifo_where_a_file_is_expected_is_refused_without_waiting_for_a_writer(tmp_path, command):
    fifo = tmp_path / "input"
    os.mkfifo(fifo)
    args = {"forecast": ["run", "forecast", "--path", str(fifo)],
            "preset": ["run", "study", "--config", str(fifo)],
            "embed": ["run", "embed", "--corpus", str(fifo)]}[command]
    done = _seqflow(tmp_path / "artifacts", *args, timeout=30)
    assert done.returncode == 2, done.stderr
    prefix = "error: config: --config " if command == "preset" else "error: "
    assert done.stderr.splitlines() == [f"{prefix}{fifo}: not a regular file (a FIFO); give a file"]
    assert not (tmp_path / "artifacts").exists()
