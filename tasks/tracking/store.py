"""Where runs are kept: the tracking URI, one client per store, experiments created safely.

MLflow itself is imported on first use, so the CLI can check the store (:func:`check_store`) before
anything heavy loads.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from tasks import databases, paths, templates
from tasks.locks import exclusive

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

# The experiment tag MLflow 3's UI reads to open an experiment on its training runs rather than on
# the GenAI view (traces, latency, evaluations).
EXPERIMENT_KIND_TAG = "mlflow.experimentKind"
EXPERIMENT_KIND = "custom_model_development"
# Tables every MLflow store has from its creation: a file without them is not this project's store.
MLFLOW_TABLES = ("experiments", "runs")


def import_sqlalchemy_store() -> None:
    """Import MLflow's SQLAlchemy tracking store now.

    Importing it runs ``sqlalchemy.orm.configure_mappers()`` over every SQLAlchemy registry of the
    process. Imported while another thread is half-way through defining Prefect's server models, that
    call fails ("expression 'WorkPool' failed to locate a name"): the thread that imports Prefect's
    server calls this first (:func:`flows.ephemeral._start_safely`).
    """
    import mlflow.store.tracking.sqlalchemy_store  # noqa: F401


def default_uri() -> str:
    """The embedded store: SQLite under ``artifacts/mlflow``."""
    return f"sqlite:///{paths.mlflow_db()}"


def tracking_uri() -> str:
    """``MLFLOW_TRACKING_URI`` if set, else the embedded SQLite store under ``artifacts/mlflow``."""
    return os.environ.get("MLFLOW_TRACKING_URI") or default_uri()


def uses_default_store() -> bool:
    """True when the embedded SQLite store is in use (no other store configured)."""
    return tracking_uri() == default_uri()


def server_url(uri: str) -> str | None:
    """The address of an MLflow tracking server (``http(s)://``, no trailing slash), or None for a database.

    A server is its own UI and keeps its own artifacts (``mlflow-artifacts:/`` URIs): nothing local
    stands in for it, and ``seqflow ui`` has nothing to start.
    """
    if not uri.lower().startswith(("http://", "https://")):
        return None
    return uri.rstrip("/")


def sqlite_path(uri: str) -> Path | None:
    """The database file of a local ``sqlite:///`` URI, or None for any other store."""
    if not uri.startswith("sqlite:///"):
        return None
    return Path(uri.removeprefix("sqlite:///")).resolve()


def artifact_root(uri: str) -> Path | None:
    """Where a local SQLite store keeps run artifacts: beside its database, never ``./mlruns``."""
    db = sqlite_path(uri)
    return None if db is None else db.parent / "artifacts"


@contextlib.contextmanager
def creation_lock(uri: str) -> Iterator[None]:
    """Hold an exclusive file lock beside a local database while its schema may be created.

    Two first runs started together would otherwise both create MLflow's schema and one fails with
    ``duplicate column``. Remote stores create their own schema, so nothing is locked for them.
    """
    db = sqlite_path(uri)
    if db is None:
        yield
        return
    with exclusive(databases.lock_path(db)):
        yield


def check_store() -> None:
    """Refuse a local store's database that exists but is not whole, before anything else opens it.

    A 0-byte, non-SQLite, damaged or foreign file is never taken for a missing store (SQLite would
    open a 0-byte file as an empty database, and MLflow would create its tables in it: the history
    silently gone). Writes nothing: a database found wanting is looked at again under the creation
    lock only when a lock file shows that a process may be creating it right now (a creator takes
    the lock before the database exists).

    Raises:
        tasks.errors.EnvironmentFault: one line naming the file and what to do.
    """
    uri = tracking_uri()
    db = sqlite_path(uri)
    if db is None or databases.problem(db, MLFLOW_TABLES) is None:
        return
    if databases.lock_path(db).exists():
        with creation_lock(uri):
            _check_database(db)
    else:
        _check_database(db)


def _check_database(db: Path) -> None:
    databases.check_existing(db, MLFLOW_TABLES, "the MLflow store", "MLflow's tables (experiments, runs)")


def client() -> MlflowClient:
    """A client on :func:`tracking_uri`; also points MLflow's module-level API there."""
    import mlflow

    uri = tracking_uri()
    mlflow.set_tracking_uri(uri)  # cheap; keeps the fluent API (log_model) on the same store
    return _client_for(uri)


@functools.lru_cache(maxsize=4)
def _client_for(uri: str) -> MlflowClient:
    # One client per store for the process (every epoch logs through here). The first query
    # creates or migrates the schema, so it runs under the creation lock. A new local store starts
    # as a copy of the installation's template (tasks.templates); without one, the schema is
    # created here and the template made from it. An existing database is used only when whole.
    from mlflow.tracking import MlflowClient

    db = sqlite_path(uri)
    with creation_lock(uri):
        if db is not None:
            _check_database(db)
        new = db is not None and not db.exists()
        seeded = new and templates.seed(db, template_path())
        c = MlflowClient(tracking_uri=uri)
        c.search_experiments(max_results=1)
        if new and not seeded:
            templates.save(template_path(), lambda target: _template_from(db, target))
        if db is not None:
            _keep_default_experiment_in_store(db, artifact_root(uri))
    return c


def _keep_default_experiment_in_store(db: Path, root: Path) -> None:
    """Point the Default experiment (id 0) at ``<artifact root>/0``, inside the store.

    MLflow creates it when a store lacks it, with the artifact root of the client that opens it:
    a client has no way to be given one, so it is ``./mlruns`` under whatever the current directory
    is, and a run logged to Default would write there. Runs already logged keep their own location.
    """
    location = (root / "0").as_uri()
    with contextlib.closing(sqlite3.connect(db)) as connection, connection:
        row = connection.execute("SELECT artifact_location FROM experiments WHERE experiment_id = 0").fetchone()
        if row is not None and row[0] != location:
            connection.execute("UPDATE experiments SET artifact_location = ? WHERE experiment_id = 0", (location,))


def template_path() -> Path | None:
    """The MLflow database template of the installed MLflow (``None`` when templates are off)."""
    import mlflow

    return templates.path("mlflow", mlflow.__version__)


def new_store_template(target: Path) -> None:
    """Create MLflow's schema in a scratch store and keep it as a template at ``target``."""
    import tempfile

    from mlflow.tracking import MlflowClient

    with tempfile.TemporaryDirectory() as scratch:
        db = Path(scratch) / "mlflow.db"
        MlflowClient(tracking_uri=f"sqlite:///{db}").search_experiments(max_results=1)
        _template_from(db, target)


def _template_from(db: Path, target: Path) -> None:
    """A template from a store just created: its schema, without the default experiment.

    MLflow creates experiment 0 whenever a store lacks it, with the artifact location of the
    store that opens it; the template's would name another store's folder.
    """
    templates.copy_database(db, target)
    with contextlib.closing(sqlite3.connect(target)) as connection, connection:
        connection.execute("DELETE FROM experiment_tags WHERE experiment_id = 0")
        connection.execute("DELETE FROM experiments WHERE experiment_id = 0")


def experiment_folder(name: str) -> str:
    """The folder experiment ``name`` keeps its artifacts in, under the store's artifact root.

    Always one safe path component, whatever the name: a name that is one already (letters,
    digits, ``_.-``) is kept, so existing stores keep their folders; any other (``../x``, ``/abs``,
    ``a\\b``, a NUL) becomes its letters and digits plus a hash of the whole name, so two names
    never share a folder and none can reach outside the root.
    """
    try:
        return paths.safe_name(name, "experiment")
    except ValueError:
        slug = re.sub(r"[^A-Za-z0-9_]+", "-", name).strip("-")[:80] or "experiment"
        digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:12]
        return paths.safe_name(f"{slug}-{digest}", "experiment folder")


def ensure_experiment(name: str) -> str:
    """Return the id of experiment ``name``, creating it (and the store) on first use.

    A local SQLite store gets its artifacts beside the database, in :func:`experiment_folder`: the
    name never becomes a path. The experiment is tagged as a model-training experiment so MLflow's
    UI opens it on its runs.
    """
    c = client()
    uri = tracking_uri()
    with creation_lock(uri):
        found = c.get_experiment_by_name(name)
        if found is None:
            root = artifact_root(uri)
            location = (root / experiment_folder(name)).as_uri() if root is not None else None
            experiment_id = c.create_experiment(name, artifact_location=location)
        else:
            experiment_id = found.experiment_id
            if found.lifecycle_stage == "deleted":
                c.restore_experiment(experiment_id)
    c.set_experiment_tag(experiment_id, EXPERIMENT_KIND_TAG, EXPERIMENT_KIND)
    return experiment_id


def ui_command(host: str, port: int, workers: int = 1) -> list[str]:
    """The ``mlflow ui`` command line serving this project's store.

    One worker by default: MLflow's four take about a minute to answer on a 2-core machine.
    """
    uri = tracking_uri()
    cmd = ["mlflow", "ui", "--backend-store-uri", uri, "--host", host, "--port", str(port), "--workers", str(workers)]
    root = artifact_root(uri)
    if root is not None:
        cmd += ["--default-artifact-root", root.as_uri()]
    return cmd
