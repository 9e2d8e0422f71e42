"""Fixtures shared by the flow tests' modules, some of them starting real parts."""

from __future__ import annotations

import importlib
import json

import pytest
from typer.testing import CliRunner


@pytest.fixture(scope="session")
def swept(prefect_harness, tmp_path_factory):
    """One tiny serial sweep (two points of the milk series, two epochs each) and its best preset's path.

    Session-wide so that the suite trains it once: the sweep tests check its record, the Dask test
    compares against its scores and the browser test shows it in the MLflow UI.
    """
    from flows.cli import app
    from tests.flows.test_sweep_flow import _sweep

    folder = tmp_path_factory.mktemp("sweep")
    sweep = _sweep(folder, '"model.units" = [4, 8]')
    result = CliRunner().invoke(app, ["run", "sweep", "--config", str(sweep), "--best", str(folder / "best.toml"),
                                      "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout), folder / "best.toml"


@pytest.fixture(scope="session")
def dask_cluster():
    """Two worker processes of one thread each on 127.0.0.1, closed when the session's tests end (or fail).

    Each worker imports the training code once here (TensorFlow, Keras, MLflow: seconds per process),
    so the tests that share the cluster do not each wait for it.
    """
    from distributed import Client, LocalCluster

    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                           dashboard_address=None)
    try:
        with Client(cluster) as client:
            client.run(importlib.import_module, "tasks.forecasting.steps.models")
        yield cluster
    finally:
        cluster.close()
