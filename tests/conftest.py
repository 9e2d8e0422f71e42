"""Test settings: every test writes under a temporary artifacts tree, never the user's."""

from __future__ import annotations

import os
import tempfile

# Before anything imports tasks.paths, Prefect or MLflow: a private artifacts tree and no servers.
_ARTIFACTS = tempfile.mkdtemp(prefix="seqflow-tests-")
os.environ["SEQFLOW_ARTIFACTS"] = _ARTIFACTS
for _var in ("MLFLOW_TRACKING_URI", "PREFECT_API_URL", "PREFECT_HOME", "PREFECT_LOCAL_STORAGE_PATH"):
    os.environ.pop(_var, None)
# A CLI run in a test's subprocess gets Prefect's temporary server, stopped with it, rather than a
# standing one left behind for minutes; tests/flows/test_local_server.py covers the standing server.
os.environ["SEQFLOW_SERVER_IDLE_SECONDS"] = "0"

from tasks.runtime import apply_defaults  # noqa: E402

apply_defaults()

import pytest  # noqa: E402


@pytest.fixture(scope="session")
def artifacts_root() -> str:
    """The temporary artifacts tree shared by the session."""
    return _ARTIFACTS


@pytest.fixture(scope="session")
def prefect_harness():
    """One temporary Prefect database for every flow test of the session."""
    from prefect.logging.configuration import setup_logging
    from prefect.testing.utilities import prefect_test_harness

    # Bind Prefect's console handler to the real stderr now; bound inside a CliRunner invocation,
    # it would keep writing to that invocation's closed buffer.
    setup_logging()
    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture(autouse=True)
def _no_leaked_tracking_uri():
    """Forget the store a test's in-process run used: ``mlflow.set_tracking_uri`` also sets
    ``MLFLOW_TRACKING_URI``, which would point every later test (and its ``SEQFLOW_ARTIFACTS``) at
    that store. The session starts without the variable; every test ends without it."""
    yield
    os.environ.pop("MLFLOW_TRACKING_URI", None)
