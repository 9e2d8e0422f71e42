"""A full disk told apart from other faults, and a little space held back to close the records with.

When the disk under the artifacts fills mid-run, the error surfaces in many forms: an ``OSError``
(errno ``ENOSPC``) from a Parquet or artifact write, SQLite's "database or disk is full" wrapped by
SQLAlchemy and MLflow, Prefect's "Failed to write result". :func:`is_full` recognises them all along
an exception's chain, so the CLI can say it in one line.

Closing the run's records needs a little space too: SQLite writes a journal before it changes a
page, so on a disk with no byte free even marking a run FAILED fails, and the run would be left
RUNNING. So a run holds :data:`RESERVE_BYTES` back in a file (:func:`reserve`) and frees it when the
disk is full (:func:`released_when_full`), before its runs are closed. The next run takes the
reserve again, or refuses at once in one line when even that much space is not free.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

from tasks.errors import EnvironmentFault

RESERVE_NAME = ".seqflow-space-reserve"
RESERVE_BYTES = 4 * 1024 * 1024
_FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT)
_FULL_TEXTS = ("no space left on device", "database or disk is full", "disk quota exceeded")


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    todo = [exc]
    while todo:
        current = todo.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        todo += [current.__cause__, current.__context__]


def is_full(exc: BaseException) -> bool:
    """Whether ``exc`` (or any exception it was raised from or during) says the disk or a quota is full."""
    for current in _chain(exc):
        if isinstance(current, OSError) and current.errno in _FULL_ERRNOS:
            return True
        if any(text in str(current).lower() for text in _FULL_TEXTS):
            return True
    return False


def database_full(exc: BaseException) -> bool:
    """Whether SQLite said "database or disk is full" anywhere in ``exc``'s chain (the store itself could not grow)."""
    return any("database or disk is full" in str(current).lower() for current in _chain(exc))


def full_file(exc: BaseException) -> str | None:
    """The file a full-disk ``OSError`` in ``exc``'s chain names, if any."""
    for current in _chain(exc):
        if isinstance(current, OSError) and current.errno in _FULL_ERRNOS and current.filename:
            return str(current.filename)
    return None


def free_bytes(folder: str | os.PathLike) -> int:
    """Bytes free for this user on the filesystem of ``folder`` (or of its nearest existing parent)."""
    path = Path(folder).absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return shutil.disk_usage(path).free


def size_text(n: int) -> str:
    """A byte count for a person: ``0 bytes``, ``812 KiB``, ``3.1 MiB``, ``73.2 GiB``."""
    if n < 1024:
        return f"{n} bytes"
    if n < 1024 * 1024:
        return f"{n // 1024} KiB"
    if n < 1024 ** 3:
        return f"{n / (1024 * 1024):.1f} MiB"
    return f"{n / 1024 ** 3:.1f} GiB"


def reserve(folder: str | os.PathLike, size: int = RESERVE_BYTES) -> Path:
    """Hold ``size`` bytes back in ``folder`` (a file, allocated now), unless already held; return its path.

    Raises:
        EnvironmentFault: the disk has not even ``size`` bytes free: the one line names the folder,
            says "no space left on device" and what to do; nothing is left behind.
    """
    path = Path(folder) / RESERVE_NAME
    with contextlib.suppress(OSError):
        if path.stat().st_size >= size:
            return path
    Path(folder).mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            os.posix_fallocate(fd, 0, size)  # real blocks, not a sparse file: tmpfs and ext4 alike
        finally:
            os.close(fd)
    except OSError as exc:
        path.unlink(missing_ok=True)
        if exc.errno in _FULL_ERRNOS:
            raise EnvironmentFault(
                f"{folder}: no space left on device ({size_text(free_bytes(folder))} free, a run needs at least "
                f"{size_text(size)} to start); free space there and run again") from exc
        raise
    return path


def release(folder: str | os.PathLike) -> bool:
    """Free the space :func:`reserve` held back in ``folder``; ``True`` when there was some."""
    path = Path(folder) / RESERVE_NAME
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    return True


@contextlib.contextmanager
def released_when_full(folder: str | os.PathLike) -> Iterator[None]:
    """Run the block; if it fails because the disk is full, free the reserve in ``folder`` before re-raising.

    Placed inside the block that closes the run's records on error, so they are closed with the
    space freed.
    """
    try:
        yield
    except BaseException as exc:
        if is_full(exc):
            release(folder)
        raise
