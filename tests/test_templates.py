"""Database templates: a new store starts as a consistent copy of an empty, migrated database."""

from __future__ import annotations

import contextlib
import sqlite3
import sys
from pathlib import Path

import pytest

from tasks import templates


def _wal_database(path: Path, rows: int) -> sqlite3.Connection:
    """A WAL-mode database whose last rows are still only in its write-ahead log (the connection stays open)."""
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA wal_autocheckpoint=0")
    connection.execute("CREATE TABLE t (x INTEGER)")
    connection.executemany("INSERT INTO t VALUES (?)", [(i,) for i in range(rows)])
    connection.commit()
    return connection


def _rows(path: Path) -> int:
    with contextlib.closing(sqlite3.connect(path)) as connection:
        return connection.execute("SELECT count(*) FROM t").fetchone()[0]


def test_the_folder_follows_the_installation_unless_named_or_turned_off(monkeypatch, tmp_path):
    monkeypatch.delenv(templates.ENV, raising=False)
    assert templates.directory() == Path(sys.prefix) / "share" / "seqflow" / "templates"
    monkeypatch.setenv(templates.ENV, str(tmp_path))
    assert templates.path("prefect", "3.9.1") == tmp_path / "prefect-3.9.1.db"
    monkeypatch.setenv(templates.ENV, "off")
    assert templates.directory() is None and templates.path("mlflow", "3.0") is None
    assert not templates.save(None, lambda target: target.touch())


def test_a_copy_holds_what_is_still_in_the_write_ahead_log(tmp_path):
    source = tmp_path / "source.db"
    live = _wal_database(source, 25)
    assert (tmp_path / "source.db-wal").stat().st_size > 0  # the rows are not in the main file yet
    templates.copy_database(source, tmp_path / "copy" / "target.db")
    live.close()
    assert _rows(tmp_path / "copy" / "target.db") == 25
    assert [p.name for p in (tmp_path / "copy").iterdir()] == ["target.db"]  # no partial file left


def test_seed_copies_only_into_a_store_that_does_not_exist(tmp_path):
    template = tmp_path / "t.db"
    _wal_database(template, 3).close()
    new, existing = tmp_path / "home" / "new.db", tmp_path / "existing.db"
    _wal_database(existing, 7).close()
    assert templates.seed(new, template) and _rows(new) == 3
    assert not templates.seed(existing, template) and _rows(existing) == 7
    gone = tmp_path / "home" / "gone.db"  # a database deleted without its write-ahead log
    live = _wal_database(gone, 99)
    log = (tmp_path / "home" / "gone.db-wal").read_bytes()
    live.close()
    gone.unlink()
    (tmp_path / "home" / "gone.db-wal").write_bytes(log)
    assert templates.seed(gone, template) and _rows(gone) == 3  # the old log is not replayed into the copy
    assert not templates.seed(tmp_path / "other.db", tmp_path / "missing.db")
    assert not templates.seed(tmp_path / "other.db", None)
    assert not (tmp_path / "other.db").exists()


def test_save_builds_beside_and_renames_into_place_once(tmp_path):
    template = tmp_path / "templates" / "kind-1.db"
    built = []

    def build(target: Path) -> None:
        built.append(target)
        assert not template.exists()  # nobody sees a half-made template under its name
        _wal_database(target, 4).close()

    assert templates.save(template, build) and _rows(template) == 4
    assert built[0].parent == template.parent and built[0] != template
    assert templates.save(template, build) and len(built) == 1  # made once
    assert sorted(p.name for p in template.parent.iterdir()) == ["kind-1.db"]


def test_a_failed_build_leaves_no_template_and_nothing_half_made(tmp_path):
    template = tmp_path / "kind-1.db"

    def broken(target: Path) -> None:
        _wal_database(target, 1).close()
        raise RuntimeError("migration failed")

    assert not templates.save(template, broken)
    assert list(tmp_path.iterdir()) == []


def test_an_unwritable_folder_means_no_template(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    assert not templates.save(blocker / "kind-1.db", lambda target: _wal_database(target, 1).close())


@pytest.mark.parametrize("first", ["made", "seeded"])
def test_mlflow_stores_start_from_the_template_with_their_own_default_experiment(monkeypatch, tmp_path, first):
    from tasks.tracking import runs, store

    folder = tmp_path / "templates"
    monkeypatch.setenv(templates.ENV, str(folder))
    monkeypatch.chdir(tmp_path)
    if first == "seeded":  # made beforehand, as the set-up does
        assert templates.save(store.template_path(), store.new_store_template)
    seeded = []
    real_seed = templates.seed
    monkeypatch.setattr(templates, "seed", lambda db, template: seeded.append(real_seed(db, template)) or seeded[-1])
    for name in ("one", "two"):
        db = tmp_path / name / "mlflow.db"
        monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{db}")
        experiment_id = store.ensure_experiment(f"exp-{name}")
        run_id = runs.start_run(experiment_id, "probe", {})
        runs.end_run(run_id)
        assert runs.artifact_uri(run_id).startswith((db.parent / "artifacts").as_uri())
        default = store.client().get_experiment("0")
        assert default.name == "Default"
        # The template holds no default experiment: each store's own is made where it opens.
        assert [e.name for e in store.client().search_experiments()] == [f"exp-{name}", "Default"]
    # Without a template the first store is created from scratch and the template made from it.
    assert seeded == ([False, True] if first == "made" else [True, True])
    (template,) = folder.iterdir()
    assert template.name.startswith("mlflow-")
    with contextlib.closing(sqlite3.connect(template)) as connection:
        assert connection.execute("SELECT count(*) FROM experiments").fetchone()[0] == 0
        revision = connection.execute("SELECT version_num FROM alembic_version").fetchone()[0]
    with contextlib.closing(sqlite3.connect(tmp_path / "two" / "mlflow.db")) as connection:
        assert connection.execute("SELECT version_num FROM alembic_version").fetchone()[0] == revision


def test_make_templates_reports_what_it_found_made_or_could_not_make(monkeypatch, tmp_path, capsys):
    from flows import templates as flow_templates
    from tasks.tracking import store

    monkeypatch.setenv(templates.ENV, str(tmp_path))
    for template in (flow_templates.prefect_template(), store.template_path()):
        _wal_database(template, 1).close()  # both there already: nothing to make
    assert flow_templates.make_templates() == {"prefect": 0.0, "mlflow": 0.0}
    assert flow_templates.main([]) == 0
    assert capsys.readouterr().out.count("already there") == 2
    assert flow_templates.main(["--bogus"]) == 2
    monkeypatch.setenv(templates.ENV, "off")
    assert flow_templates.make_templates() == {"prefect": None, "mlflow": None}


@pytest.mark.parametrize("content", [b"", b"\x00" * 4096], ids=["0-byte", "zeros"])
def test_an_existing_empty_store_is_never_taken_for_a_missing_one(monkeypatch, tmp_path, content):
    from tasks.errors import EnvironmentFault
    from tasks.tracking import store

    monkeypatch.setenv(templates.ENV, str(tmp_path / "templates"))
    assert templates.save(store.template_path(), store.new_store_template)
    db = tmp_path / "store" / "mlflow.db"
    db.parent.mkdir()
    db.write_bytes(content)
    assert not templates.seed(db, store.template_path())  # it exists: never replaced by the template
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{db}")
    with pytest.raises(EnvironmentFault, match="where the MLflow store was expected"):
        store.client()
    with pytest.raises(EnvironmentFault, match="where the MLflow store was expected"):
        store.check_store()
    assert db.read_bytes() == content
