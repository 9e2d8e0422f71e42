"""A full disk is recognised in every form it takes, and the space held back is taken and freed as promised."""

from __future__ import annotations

import errno
import sqlite3
import subprocess

import pytest

from tasks import diskspace
from tasks.errors import EnvironmentFault


def _wrapped(inner: BaseException) -> BaseException:
    """``inner`` as MLflow raises it: re-raised twice, each time from the one before."""
    try:
        try:
            raise inner
        except BaseException as exc:
            raise RuntimeError("(sqlalchemy) wrapped") from exc
    except RuntimeError as exc:
        try:
            raise ValueError("MlflowException: see above") from exc
        except ValueError as outer:
            return outer


@pytest.mark.parametrize("inner", [
    OSError(errno.ENOSPC, "No space left on device", "/data/x.parquet"),
    OSError(errno.EDQUOT, "Disk quota exceeded"),
    sqlite3.OperationalError("database or disk is full"),
])
def test_a_full_disk_is_recognised_however_deep_it_is_wrapped(inner):
    assert diskspace.is_full(inner)
    assert diskspace.is_full(_wrapped(inner))


@pytest.mark.parametrize("other", [
    OSError(errno.EACCES, "Permission denied", "/data/x.parquet"),
    sqlite3.OperationalError("database is locked"),
    ValueError("no space between columns"),
])
def test_other_faults_are_not_a_full_disk(other):
    assert not diskspace.is_full(_wrapped(other))


def test_the_full_file_is_named_when_the_error_names_one():
    assert diskspace.full_file(_wrapped(OSError(errno.ENOSPC, "No space left on device", "/data/x.parquet"))) == \
        "/data/x.parquet"
    assert diskspace.full_file(_wrapped(sqlite3.OperationalError("database or disk is full"))) is None
    assert diskspace.database_full(_wrapped(sqlite3.OperationalError("database or disk is full")))
    assert not diskspace.database_full(_wrapped(OSError(errno.ENOSPC, "No space left on device")))


def test_sizes_read_as_a_person_would_say_them():
    sizes = (0, 1023, 4096, 4 * 1024 * 1024, 3 * 1024 ** 3)
    assert [diskspace.size_text(n) for n in sizes] == ["0 bytes", "1023 bytes", "4 KiB", "4.0 MiB", "3.0 GiB"]


def test_the_reserve_is_held_once_and_freed_only_on_a_full_disk(tmp_path):
    path = diskspace.reserve(tmp_path, size=64 * 1024)
    assert path.stat().st_size == 64 * 1024
    assert diskspace.reserve(tmp_path, size=64 * 1024) == path  # held already: nothing more taken

    with pytest.raises(KeyError), diskspace.released_when_full(tmp_path):
        raise KeyError("another fault")
    assert path.exists()
    with pytest.raises(OSError), diskspace.released_when_full(tmp_path):
        raise OSError(errno.ENOSPC, "No space left on device")
    assert not path.exists()
    assert diskspace.release(tmp_path) is False


def test_a_disk_without_room_for_the_reserve_is_refused_in_one_line_leaving_nothing(tmp_path):
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(disk)], capture_output=True,
                             text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        with pytest.raises(EnvironmentFault) as refused:
            diskspace.reserve(disk / "artifacts", size=4 * 1024 * 1024)
        message = str(refused.value)
        assert "\n" not in message
        assert message.startswith(f"{disk / 'artifacts'}: no space left on device (")
        assert message.endswith("a run needs at least 4.0 MiB to start); free space there and run again")
        assert not (disk / "artifacts" / diskspace.RESERVE_NAME).exists()
    finally:
        subprocess.run(["umount", "-l", str(disk)], capture_output=True)


def test_the_full_disk_line_names_the_file_and_says_when_the_runs_could_not_be_closed(monkeypatch):
    from flows.cli import startup
    from tasks.tracking import runs

    full = _wrapped(OSError(errno.ENOSPC, "No space left on device", "/data/.x.parquet.tmp"))
    monkeypatch.setattr(runs, "fail_runs_of_this_process", lambda reason: [])
    line = startup.full_disk_line(full)
    assert line.startswith("/data/.x.parquet.tmp: no space left on device (") and "\n" not in line
    assert line.endswith("the run was stopped, no MLflow run left open, no file half-written; "
                         "free space there and run again")

    def store_full(reason):
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(runs, "fail_runs_of_this_process", store_full)
    line = startup.full_disk_line(_wrapped(sqlite3.OperationalError("database or disk is full")))
    assert line.startswith("the MLflow store ")
    assert "its MLflow runs could not be closed (the store cannot be written): the next run closes them" in line


def test_the_consoles_drop_a_full_disks_records_and_keep_the_rest():
    import logging

    from flows.cli.startup import HideFullDisk

    def record(message: str, exc: BaseException | None = None) -> logging.LogRecord:
        return logging.LogRecord("mlflow", logging.ERROR, __file__, 1, message, None,
                                 (type(exc), exc, None) if exc else None)

    keep = HideFullDisk().filter
    assert not keep(record("SQLAlchemy database error.", _wrapped(sqlite3.OperationalError("database or disk is full"))))
    assert not keep(record("Failed to write result: [Errno 28] No space left on device"))
    assert keep(record("Finished in state Completed()"))
    assert keep(record("SQLAlchemy database error.", _wrapped(sqlite3.OperationalError("database is locked"))))
