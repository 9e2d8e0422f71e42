"""Fixtures of the flow tests that start real parts."""

from __future__ import annotations

import importlib

import pytest


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
