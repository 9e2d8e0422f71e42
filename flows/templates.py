"""Database templates for new stores (:mod:`tasks.templates`): Prefect's here, MLflow's in the store.

``python -m flows.templates`` makes any template missing for the installed versions (``make``'s
set-up runs it once); a run that finds none makes Prefect's itself before its local server starts,
and MLflow's from the first store it creates.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from tasks import templates


def prefect_template() -> Path | None:
    """The Prefect database template of the installed Prefect (``None`` when templates are off)."""
    import prefect

    return templates.path("prefect", prefect.__version__)


def prefect_database() -> Path | None:
    """The SQLite file of the configured Prefect database, or ``None`` for any other database."""
    from prefect.settings import get_current_settings
    from sqlalchemy.engine import make_url

    url = get_current_settings().server.database.connection_url
    if url is None:
        return None
    url = make_url(url.get_secret_value() if hasattr(url, "get_secret_value") else str(url))
    if not url.drivername.startswith("sqlite") or not url.database or url.database == ":memory:":
        return None
    return Path(url.database)


def _migrate(target: Path) -> None:
    """Create a Prefect database at ``target`` through all of Prefect's migrations, in a fresh process."""
    env = {**os.environ, "PREFECT_API_DATABASE_CONNECTION_URL": f"sqlite+aiosqlite:///{target}"}
    proc = subprocess.run([sys.executable, "-m", "flows.templates", "--migrate"], env=env,
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise OSError(f"migrating a Prefect database failed: {proc.stderr[-2000:]}")


def seed_prefect_database() -> bool:
    """Start a new Prefect database as a copy of the template (made first if missing); ``True`` when seeded.

    Called before a local server starts, under the lock that serializes server starts.
    """
    database, template = prefect_database(), prefect_template()
    if database is None or database.exists() or not templates.save(template, _migrate):
        return False
    return templates.seed(database, template)


def make_templates() -> dict[str, float | None]:
    """Make the missing templates; seconds each took (``0`` when it existed, ``None`` when it could not be made)."""
    from tasks.tracking import store

    made: dict[str, float | None] = {}
    for kind, template, build in (("prefect", prefect_template(), _migrate),
                                  ("mlflow", store.template_path(), store.new_store_template)):
        existed = template is not None and template.is_file()
        began = time.perf_counter()
        ok = templates.save(template, build)
        made[kind] = None if not ok else 0.0 if existed else time.perf_counter() - began
    return made


def _migrate_here() -> None:
    import asyncio

    from prefect.server.database import provide_database_interface

    asyncio.run(provide_database_interface().create_db())


def main(argv: list[str]) -> int:
    if argv == ["--migrate"]:
        _migrate_here()
        return 0
    if argv:
        sys.stderr.write("usage: python -m flows.templates\n")
        return 2
    folder = templates.directory()
    for kind, seconds in make_templates().items():
        state = ("could not be made (folder not writable?)" if seconds is None
                 else "already there" if seconds == 0 else f"made in {seconds:.1f} s")
        print(f"{kind} database template in {folder}: {state}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
