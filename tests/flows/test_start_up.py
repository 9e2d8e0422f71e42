"""The flow's modules import beside TensorFlow's (in a thread): they must not share an import cycle with it."""

from __future__ import annotations

import subprocess
import sys


def test_the_flow_modules_do_not_import_what_keras_imports_in_the_other_thread():
    # Keras imports scikit-learn, which imports narwhals; statsmodels imports it too (via formulaic).
    # Imported from two threads at once, narwhals' import cycle deadlocked the CLI's start-up, so
    # statsmodels is imported inside the baseline task, at run time, never with the flow's modules.
    code = (
        "import sys; import flows.forecast; "
        "print(sorted(m for m in ('statsmodels', 'narwhals', 'sklearn', 'formulaic') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_server_start_imports_mlflows_sqlalchemy_store_before_prefects_orm():
    # MLflow's SQLAlchemy store calls sqlalchemy.orm.configure_mappers() for every registry when it is
    # imported. Imported in the main thread while the background start was half-way through Prefect's
    # ORM models, it failed the run ("expression 'WorkPool' failed to locate a name"). The start
    # thread imports MLflow's store first, so Prefect's models are only defined after it.
    code = (
        "import sys; from flows import ephemeral; "
        "ephemeral._start = lambda: print(sorted(m for m in ('mlflow.store.tracking.sqlalchemy_store', "
        "'prefect.server.database.orm_models') if m in sys.modules)); "
        "ephemeral._start_safely(); print(ephemeral._error)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split("\n")[:2] == ["['mlflow.store.tracking.sqlalchemy_store']", "[]"], out.stdout


def test_the_server_start_tries_again_when_two_threads_compiling_at_once_trip_cpython(monkeypatch):
    # CPython before 3.13 can fail compile() with "AST constructor recursion depth mismatch" when two
    # threads compile at once (python/cpython gh-106905): the start thread imports Prefect's server
    # (its beartype-instrumented dependencies compile their source) while the main thread imports
    # TensorFlow. Seen once in the full suite; the import is tried again, any other error is not.
    from flows import ephemeral

    calls = []

    def flaky():
        calls.append(1)
        if len(calls) == 1:
            raise SystemError("AST constructor recursion depth mismatch (before=183, after=313)")

    monkeypatch.setattr(ephemeral, "_start", flaky)
    monkeypatch.setattr(ephemeral, "_error", [])
    ephemeral._start_safely()
    assert len(calls) == 2 and ephemeral._error == []

    def broken():
        calls.append(1)
        raise SystemError("some other fault")

    monkeypatch.setattr(ephemeral, "_start", broken)
    calls.clear()
    ephemeral._start_safely()
    assert len(calls) == 1 and [str(e) for e in ephemeral._error] == ["some other fault"]
