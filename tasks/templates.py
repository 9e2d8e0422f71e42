"""Empty databases made once per installation, copied instead of created for each new store.

A new Prefect home migrates a fresh SQLite database through every Alembic revision Prefect ever
shipped (about 8 s of one core here), and a new MLflow store does the same for MLflow's schema
(about 1.8 s). The result depends only on the installed versions, so it is made once, kept as a
*template* keyed by the version (``prefect-3.9.1.db``), and a new store starts as a copy of it
(milliseconds). Whoever opens the copy still checks its schema revision as usual, so a template
that fell behind would be migrated forward, never trusted blindly.

Templates live with the installation whose schema they hold, ``<sys.prefix>/share/seqflow/templates``
(``SEQFLOW_TEMPLATES`` names another folder; ``off`` turns them off). Where that folder cannot be
written, stores are simply created from scratch, as without templates.

Standard library only: the Prefect and MLflow specifics live with their callers
(:mod:`flows.templates`, :mod:`tasks.tracking.store`).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

ENV = "SEQFLOW_TEMPLATES"


def directory() -> Path | None:
    """Where templates are kept, or ``None`` when ``SEQFLOW_TEMPLATES=off``."""
    raw = os.environ.get(ENV, "").strip()
    if raw.lower() == "off":
        return None
    return Path(raw) if raw else Path(sys.prefix) / "share" / "seqflow" / "templates"


def path(kind: str, version: str) -> Path | None:
    """The template of ``kind`` (``prefect``, ``mlflow``) at schema ``version``; ``None`` when turned off."""
    folder = directory()
    return None if folder is None else folder / f"{kind}-{version}.db"


def copy_database(source: Path, target: Path) -> None:
    """Copy a SQLite database consistently (SQLite's backup API, its WAL included), replacing ``target`` atomically."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    partial.unlink(missing_ok=True)
    with contextlib.closing(sqlite3.connect(f"file:{source}?mode=ro", uri=True)) as src, \
            contextlib.closing(sqlite3.connect(partial)) as dst:
        src.backup(dst)
    os.replace(partial, target)


def seed(database: Path, template: Path | None) -> bool:
    """Start ``database`` as a copy of ``template`` when it does not exist yet and the template does.

    Returns whether it was seeded. The caller holds the lock under which the store is created.
    """
    if template is None or database.exists() or not template.is_file():
        return False
    for orphan in _sidecars(database):  # a deleted database's log would be replayed into the copy
        orphan.unlink(missing_ok=True)
    copy_database(template, database)
    return True


def save(template: Path | None, build: Callable[[Path], None]) -> bool:
    """Make ``template`` with ``build(path)`` (which creates a database at ``path``) unless it exists.

    Built beside its final name and renamed into place, so a reader never sees half a template.
    Returns whether a template now exists; ``False`` where the folder cannot be written.
    """
    if template is None:
        return False
    if template.is_file():
        return True
    partial = template.with_name(f".{template.name}.{os.getpid()}.build")
    try:
        template.parent.mkdir(parents=True, exist_ok=True)
        for leftover in (partial, *_sidecars(partial)):
            leftover.unlink(missing_ok=True)
        build(partial)
        _single_file(partial)
        os.replace(partial, template)
    except Exception:  # noqa: BLE001 - a template is an optimisation; stores are then created as without one
        return False
    finally:
        for leftover in (partial, *_sidecars(partial)):
            with contextlib.suppress(OSError):
                leftover.unlink(missing_ok=True)
    return True


def _sidecars(database: Path) -> Iterator[Path]:
    for suffix in ("-wal", "-shm", "-journal"):
        yield database.with_name(database.name + suffix)


def _single_file(database: Path) -> None:
    """Fold a write-ahead log back into the database file and leave WAL mode, so the one file is
    the whole database and reading it creates no ``-wal``/``-shm`` files beside it (a store that
    wants WAL, as Prefect's does, turns it on again in its copy)."""
    with contextlib.closing(sqlite3.connect(database)) as connection:
        connection.execute("PRAGMA journal_mode=DELETE")
