"""Where a flow's independent parts run: one after another in its own process, or fanned out on Dask.

A sweep's points and one forecast run's training units (cell x ensemble member x backtest origin) are
independent: with ``Runner("dask")`` they are submitted as Prefect tasks to prefect-dask's
``DaskTaskRunner``, on a running cluster (``address``) or on a local one started for the flow run.
"""

from __future__ import annotations

from dataclasses import dataclass

RUNNERS = ("serial", "dask")


@dataclass(frozen=True)
class Runner:
    """Where a flow's independent parts run: one after another in this process, or fanned out on Dask."""

    kind: str = "serial"  # serial | dask
    address: str | None = None  # tcp://HOST:PORT of a running Dask scheduler; None: a local cluster
    workers: int = 2  # processes of the local cluster, one thread each


def dask_task_runner(runner: Runner):
    """prefect-dask's runner on the cluster at ``runner.address``, or on a local cluster of processes.

    The local cluster's workers are processes with one thread each (a task that trains gives its
    TensorFlow one thread too, unless the preset sets ``train.threads``), listening on 127.0.0.1 only,
    without a dashboard; it is closed when the flow run ends. The workers report their task runs to
    this process's Prefect server: a worker started without its address would start a temporary
    server of its own and keep its task runs there. A remote cluster's workers need
    ``PREFECT_API_URL`` in their own environment (docs/scale.md).
    """
    from prefect_dask import DaskTaskRunner

    from flows import ephemeral

    if runner.address:
        return DaskTaskRunner(address=runner.address)
    in_use = ephemeral.server_in_use()
    return DaskTaskRunner(cluster_class="distributed.LocalCluster", cluster_kwargs={
        "n_workers": runner.workers, "threads_per_worker": 1, "processes": True, "host": "127.0.0.1",
        "dashboard_address": None, "env": {"PREFECT_API_URL": in_use[0]} if in_use else {}})


def worker_threads(threads: int) -> None:
    """Give TensorFlow on a Dask worker ``threads`` threads, or one when the preset leaves it to TensorFlow
    (``0``): workers sharing a machine then do not fight over its cores."""
    from tasks.runtime import configure_tf_threads

    configure_tf_threads(threads or 1)
