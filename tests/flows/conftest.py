"""Fixtures of the flow tests that start real parts."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def dask_cluster():
    """Two worker processes of one thread each on 127.0.0.1, closed when the module's tests end (or fail)."""
    from distributed import LocalCluster

    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                           dashboard_address=None)
    try:
        yield cluster
    finally:
        cluster.close()
