"""Tracking helpers that need no server: the store location and the UI command line."""

from tasks import paths, tracking


def test_default_store_is_sqlite_under_artifacts(monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert tracking.tracking_uri() == f"sqlite:///{paths.mlflow_db()}"
    assert str(paths.mlflow_db()).startswith(str(paths.artifacts_dir()))
    cmd = tracking.ui_command("127.0.0.1", 5001)
    assert cmd[:2] == ["mlflow", "ui"]
    assert cmd[cmd.index("--host") + 1] == "127.0.0.1"
    assert cmd[cmd.index("--backend-store-uri") + 1] == tracking.tracking_uri()


def test_a_configured_server_wins(monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://mlflow.internal:5000")
    assert tracking.tracking_uri() == "http://mlflow.internal:5000"
    assert not tracking.uses_default_store()
    assert "--default-artifact-root" not in tracking.ui_command("127.0.0.1", 5000)
