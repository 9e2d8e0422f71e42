"""Tracking that needs no server: store location, artifact roots, run ownership and reconciliation."""

import os
from pathlib import Path
import subprocess
import sys

import pytest

from tasks import paths
from tasks.tracking import runs, store


def test_default_store_is_sqlite_under_artifacts(monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert store.tracking_uri() == f"sqlite:///{paths.mlflow_db()}"
    assert str(paths.mlflow_db()).startswith(str(paths.artifacts_dir()))
    cmd = store.ui_command("127.0.0.1", 5001)
    assert cmd[:2] == ["mlflow", "ui"]
    assert cmd[cmd.index("--host") + 1] == "127.0.0.1"
    assert cmd[cmd.index("--workers") + 1] == "1"
    assert cmd[cmd.index("--backend-store-uri") + 1] == store.tracking_uri()


def test_a_configured_server_wins(monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://mlflow.internal:5000")
    assert store.tracking_uri() == "http://mlflow.internal:5000"
    assert not store.uses_default_store()
    assert "--default-artifact-root" not in store.ui_command("127.0.0.1", 5000)


def test_any_local_sqlite_store_keeps_artifacts_beside_its_database(monkeypatch, tmp_path):
    db = tmp_path / "elsewhere" / "runs.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{db}")
    monkeypatch.chdir(tmp_path)
    exp_id = store.ensure_experiment("beside-db")
    run_id = runs.start_run(exp_id, "probe", {"seed": "0"})
    runs.end_run(run_id)
    assert runs.artifact_uri(run_id).startswith((db.parent / "artifacts").as_uri())
    assert not (tmp_path / "mlruns").exists()


def test_runtime_defaults_create_nothing_until_a_flow_runs(tmp_path):
    code = (
        "import os; from tasks.runtime import apply_defaults, prepare_prefect_home; apply_defaults(); "
        "assert not os.path.exists(os.environ['SEQFLOW_ARTIFACTS']); import flows.cli; "
        "assert not os.path.exists(os.environ['SEQFLOW_ARTIFACTS']); prepare_prefect_home(); "
        "print(os.environ['PREFECT_HOME'], os.path.isdir(os.environ['PREFECT_HOME']), os.environ['DO_NOT_TRACK'])"
    )
    root = tmp_path / "deep" / "artifacts"
    env = {k: v for k, v in os.environ.items() if k not in ("PREFECT_HOME", "PREFECT_LOCAL_STORAGE_PATH", "DO_NOT_TRACK")}
    env["SEQFLOW_ARTIFACTS"] = str(root)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split() == [str(root / "prefect"), "True", "true"]


def test_experiments_are_marked_as_model_training_and_keep_artifacts_under_artifacts(monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    exp_id = store.ensure_experiment("unit-artifacts")
    assert store.uses_default_store()  # set_tracking_uri exported MLFLOW_TRACKING_URI: still the default
    assert store.client().get_experiment(exp_id).tags[store.EXPERIMENT_KIND_TAG] == "custom_model_development"
    run_id = runs.start_run(exp_id, "probe", {"seed": "0"})
    runs.end_run(run_id)
    assert runs.artifact_uri(run_id).startswith(paths.mlflow_artifact_root().as_uri())
    assert runs.run_status(run_id) == "FINISHED"


def test_runs_record_their_owner_and_a_dead_owner_is_reconciled(monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    exp_id = store.ensure_experiment("unit-reconcile")
    mine = runs.start_run(exp_id, "alive", {})
    tags = store.client().get_run(mine).data.tags
    assert tags[runs.OWNER_PID] == str(os.getpid())
    assert runs.owner_alive(tags) is True

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()  # a pid that has exited
    dead = runs.start_run(exp_id, "dead", {runs.PREFECT_FLOW_RUN: "none"})
    store.client().set_tag(dead, runs.OWNER_PID, str(child.pid))
    store.client().set_tag(dead, runs.OWNER_START, "1")
    recycled = runs.start_run(exp_id, "recycled-pid", {})
    store.client().set_tag(recycled, runs.OWNER_START, "1")  # our pid, but another process's start time
    foreign = runs.start_run(exp_id, "other-host", {})
    store.client().set_tag(foreign, runs.OWNER_HOST, "some-other-machine")

    closed = {d.run_id for d in runs.reconcile_dead_runs()}
    assert closed == {dead, recycled}
    assert runs.run_status(dead) == "KILLED" and runs.run_status(recycled) == "KILLED"
    assert runs.run_status(mine) == "RUNNING" and runs.run_status(foreign) == "RUNNING"
    for run_id in (mine, foreign):
        runs.end_run(run_id)


def test_non_finite_metrics_become_tags_not_silence(monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    exp_id = store.ensure_experiment("unit-nonfinite")
    run_id = runs.start_run(exp_id, "probe", {})
    bad = runs.log_metrics(run_id, {"loss": float("nan"), "rmse": 0.5, "mae": float("inf")})
    runs.end_run(run_id)
    data = store.client().get_run(run_id).data
    assert sorted(bad) == ["loss", "mae"]
    assert data.metrics == {"rmse": 0.5}
    assert data.tags["nonfinite.loss"] == "nan" and data.tags["nonfinite.mae"] == "inf"


def test_user_supplied_names_never_become_path_parts():
    import pytest

    from tasks.study import steps
    from tasks.study.config import SineSource

    escape = "../../../../outside/escape"
    key = steps._wave_key(SineSource(series_id=escape), 0)
    path = paths.intermediate_path("series", key)
    assert path.resolve().is_relative_to(paths.artifacts_dir()) and escape not in str(path)
    for bad in (escape, "..", "a/b", "", ".hidden"):
        with pytest.raises(ValueError, match="is not a safe file name"):
            paths.intermediate_path("series", bad)


def _files_under(root) -> set:
    return {p for p in root.rglob("*") if p.is_file()}


HOSTILE_EXPERIMENTS = ["../../escape", "../../../../../../../../../../{tmp}/escape", "{tmp}/absolute", "..", "a/../../b", "a\\..\\..\\b", "nul\x00name",
                       "slash/inside", "../outside"]


@pytest.mark.parametrize("name", HOSTILE_EXPERIMENTS, ids=repr)
def test_no_experiment_name_places_anything_outside_the_store(monkeypatch, tmp_path, name):
    store_dir, cwd = tmp_path / "store", tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{store_dir / 'mlflow.db'}")
    monkeypatch.chdir(cwd)
    name = name.replace("{tmp}", str(tmp_path))
    experiment_id = store.ensure_experiment(name)
    run_id = runs.start_run(experiment_id, "probe", {})
    runs.log_text(run_id, "hello", "note.txt")
    runs.end_run(run_id)
    location = store.client().get_experiment(experiment_id).artifact_location
    artifacts = (store_dir / "artifacts").resolve()
    assert Path(location.removeprefix("file://")).resolve().is_relative_to(artifacts), location
    assert runs.artifact_uri(run_id).startswith(artifacts.as_uri() + "/")
    written = _files_under(tmp_path)
    assert written and all(p.resolve().is_relative_to(store_dir.resolve()) for p in written), sorted(map(str, written))


def test_the_default_experiment_keeps_its_artifacts_in_the_store(monkeypatch, tmp_path):
    store_dir, cwd = tmp_path / "store", tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{store_dir / 'mlflow.db'}")
    monkeypatch.chdir(cwd)
    default = store.client().get_experiment("0")
    assert default.name == "Default"
    assert default.artifact_location == (store_dir / "artifacts" / "0").resolve().as_uri()
    assert store.client().get_experiment(store.ensure_experiment("Default")).experiment_id == "0"
    assert not any(cwd.iterdir())


def _sqlite_without_mlflow(path) -> bytes:
    import contextlib
    import sqlite3

    with contextlib.closing(sqlite3.connect(path)) as connection, connection:
        connection.execute("CREATE TABLE notes (text TEXT)")
    return path.read_bytes()


def _torn_store(path) -> bytes:
    """A whole store's first page overwritten past its header (a torn write)."""
    import contextlib
    import sqlite3

    with contextlib.closing(sqlite3.connect(path)) as connection, connection:
        connection.execute("CREATE TABLE experiments (id INTEGER)")
        connection.execute("CREATE TABLE runs (id INTEGER)")
    data = bytearray(path.read_bytes())
    data[100:600] = b"\xff" * 500
    return bytes(data)


DAMAGED = {
    "empty": (lambda path: b"", "an empty file (0 bytes)"),
    "text": (lambda path: b"not a database\n" * 100, "not an SQLite database (file is not a database)"),
    "torn": (_torn_store, "a damaged SQLite database (database disk image is malformed)"),
    "other": (_sqlite_without_mlflow, "an SQLite database without MLflow's tables (experiments, runs)"),
}


@pytest.mark.parametrize("kind", DAMAGED)
def test_a_damaged_store_is_refused_in_one_line_and_left_as_it_was(monkeypatch, tmp_path, kind):
    from tasks.errors import EnvironmentFault

    make, said = DAMAGED[kind]
    db = tmp_path / "store" / "mlflow.db"
    db.parent.mkdir()
    content = make(db)
    db.write_bytes(content)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{db}")
    with pytest.raises(EnvironmentFault) as info:
        store.client()
    assert str(info.value) == (f"{db.resolve()}: {said} where the MLflow store was expected; restore it from a "
                               "backup, or move it away and run again to start a new, empty store")
    assert db.read_bytes() == content  # never re-created, never migrated
    assert sorted(p.name for p in db.parent.iterdir()) == ["mlflow.db", "mlflow.db.lock"]
