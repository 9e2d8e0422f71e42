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


def test_runtime_defaults_create_prefect_home_with_its_parents(tmp_path):
    import os

    from tasks import runtime

    saved = dict(os.environ)
    root = tmp_path / "deep" / "artifacts"
    try:
        os.environ["SEQFLOW_ARTIFACTS"] = str(root)
        for key in ("PREFECT_HOME", "PREFECT_LOCAL_STORAGE_PATH", "DO_NOT_TRACK"):
            os.environ.pop(key, None)
        runtime.apply_defaults()
        assert os.environ["PREFECT_HOME"] == str(root / "prefect")
        assert (root / "prefect").is_dir()
        assert os.environ["PREFECT_LOCAL_STORAGE_PATH"] == str(root / "prefect" / "results")
        assert os.environ["DO_NOT_TRACK"] == "true"
        assert os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] == "false"
    finally:
        os.environ.clear()
        os.environ.update(saved)


def test_experiments_of_the_default_store_keep_artifacts_under_artifacts(monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    exp_id = tracking.ensure_experiment("unit-artifacts")
    # set_tracking_uri has now exported MLFLOW_TRACKING_URI: still the default store.
    assert tracking.uses_default_store()
    run_id = tracking.start_run(exp_id, "probe", {"seed": "0"})
    tracking.end_run(run_id)
    assert tracking.artifact_uri(run_id).startswith(paths.mlflow_artifact_root().as_uri())
    assert tracking.run_status(run_id) == "FINISHED"
