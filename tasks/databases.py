"""The SQLite files seqflow keeps (the MLflow store): an existing one is used whole or refused, never replaced.

A store that does not exist is created (from a template, :mod:`tasks.templates`). One that exists
holds history, so it is opened only when it is what it should be: a 0-byte file, a file that is not
SQLite, a damaged one, or an SQLite database of something else is refused with one line naming the
file and what to do. SQLite itself would treat a 0-byte file as an empty database, and MLflow would
then create its tables in it: every run and model version gone without a word, versions restarting
at 1.

Standard library only: the CLI checks the store with it before Prefect, MLflow or TensorFlow load.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterable
from pathlib import Path

from tasks.errors import EnvironmentFault

ADVICE = "restore it from a backup, or move it away and run again to start a new, empty store"


def lock_path(database: Path) -> Path:
    """The lock file beside ``database`` held while its schema may be created (:func:`tasks.locks.exclusive`)."""
    return database.with_name(database.name + ".lock")


def problem(database: Path, tables: Iterable[str]) -> str | None:
    """Say what is wrong with an existing ``database`` that should hold ``tables``; None when it is whole or absent.

    Reads the file's header and schema only (opened read-only, so nothing beside it is created).
    """
    database = Path(database)
    if not database.exists():
        return None
    if not database.is_file():
        return "not a file"
    if database.stat().st_size == 0:
        return "an empty file (0 bytes)"
    with database.open("rb") as handle:
        if handle.read(16) != b"SQLite format 3\x00":
            return "not an SQLite database (file is not a database)"
    try:
        with contextlib.closing(sqlite3.connect(f"{database.resolve().as_uri()}?mode=ro", uri=True)) as connection:
            found = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    except sqlite3.DatabaseError as exc:
        return f"a damaged SQLite database ({exc})"
    missing = [t for t in tables if t not in found]
    if missing:
        return f"an SQLite database without {', '.join(missing)}"
    return None


def check_existing(database: Path, tables: Iterable[str], what: str, tables_said: str | None = None) -> None:
    """Refuse an existing ``database`` that is not a whole ``what``; do nothing when it is whole or absent.

    Args:
        database: the SQLite file.
        tables: tables the store has whenever it was created whole.
        what: the store, as the message names it (``the MLflow store``).
        tables_said: how the message names the missing tables (default: their names).

    Raises:
        EnvironmentFault: one line naming the file, what is wrong and what to do.
    """
    tables = tuple(tables)
    found = problem(database, tables)
    if found is None:
        return
    if tables_said is not None and found.startswith("an SQLite database without "):
        found = f"an SQLite database without {tables_said}"
    raise EnvironmentFault(f"{Path(database).resolve()}: {found} where {what} was expected; {ADVICE}")


PREFECT_TABLES = ("alembic_version", "flow_run")  # present in every migrated Prefect database


def check_prefect_store() -> None:
    """Refuse a local Prefect database that exists but is not whole (0 bytes, not SQLite, damaged, foreign).

    Prefect, like MLflow, would migrate a 0-byte file into a new, empty database: every flow run,
    deployment and schedule gone without a word. Nothing is checked when runs go to a Prefect
    server elsewhere (``PREFECT_API_URL``) or the database is not a local SQLite file.

    Raises:
        EnvironmentFault: one line naming the file, what is wrong and what to do.
    """
    import os

    from tasks import paths

    if os.environ.get("PREFECT_API_URL"):
        return
    database = paths.prefect_database()
    if database is not None:
        check_existing(database, PREFECT_TABLES, "Prefect's database", "Prefect's tables")
