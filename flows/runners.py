"""Where a flow's independent parts run: one after another in its own process, or fanned out on Dask.

A sweep's points and one forecast run's training units (cell x ensemble member x backtest origin) are
independent: with ``Runner("dask")`` they are submitted as Prefect tasks to prefect-dask's
``DaskTaskRunner``, on a running cluster (``address``) or on a local one started for the flow run.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

RUNNERS = ("serial", "dask")
# Dask configuration of the local cluster's workers, over the parent's. Dask's statistical profiler
# samples the thread running a task every 10 ms, holding the GIL the training loop needs; with no
# dashboard nobody can read its profile.
LOCAL_WORKER_CONFIG = {"distributed.worker.profile.enabled": False}


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
    without a dashboard or Dask's profiler (``LOCAL_WORKER_CONFIG``). One started early by
    :func:`start_local_cluster` is used as it is; otherwise one starts for the flow run and is closed
    when it ends. The workers report their task runs to this process's Prefect server: a worker
    started without its address would start a temporary server of its own and keep its task runs
    there. A remote cluster's workers need
    ``PREFECT_API_URL`` in their own environment (docs/scale.md).
    """
    from prefect_dask import DaskTaskRunner

    if runner.address:
        return DaskTaskRunner(address=runner.address)
    early = _early.get(runner)
    address = early.address() if early is not None else None
    if address:
        return DaskTaskRunner(address=address)
    return DaskTaskRunner(cluster_class="distributed.LocalCluster", cluster_kwargs=_local_cluster_kwargs(runner))


def _local_cluster_kwargs(runner: Runner) -> dict[str, Any]:
    from flows import ephemeral

    in_use = ephemeral.server_in_use()
    return {"n_workers": runner.workers, "threads_per_worker": 1, "processes": True, "host": "127.0.0.1",
            "dashboard_address": None, "env": {"PREFECT_API_URL": in_use[0]} if in_use else {},
            "config": LOCAL_WORKER_CONFIG}


class _EarlyCluster:
    """A local cluster started in a thread while the CLI starts, its workers importing TensorFlow and
    the flows as they start (``flows.worker_preload``); closed by :func:`close_local_clusters`."""

    def __init__(self, runner: Runner) -> None:
        self.runner = runner
        self.cluster: Any = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._start, name="seqflow-dask-cluster", daemon=True)
        self.thread.start()

    def _start(self) -> None:
        from flows import ephemeral

        try:
            ephemeral.wait()  # the workers are given the Prefect server's address as they start
            from distributed import LocalCluster

            self.cluster = LocalCluster(**_local_cluster_kwargs(self.runner), preload=["flows.worker_preload"])
        except BaseException as exc:  # the flow starts its own cluster instead and reports what fails there
            self.error = exc

    def address(self) -> str | None:
        self.thread.join()
        return None if self.cluster is None else self.cluster.scheduler_address

    def close(self) -> None:
        self.thread.join()
        if self.cluster is not None:
            self.cluster.close()
            self.cluster = None


_early: dict[Runner, _EarlyCluster] = {}


def start_local_cluster(runner: Runner | None) -> None:
    """Start ``runner``'s local Dask cluster now, in a thread, if it needs one (Dask, no ``address``).

    The workers' start (a process each, then TensorFlow's and the flows' imports) overlaps the CLI's
    own start and the Prefect server's; the flow's :func:`dask_task_runner` then connects to this
    cluster instead of starting one. Call :func:`close_local_clusters` when the flow has ended.
    """
    if runner is None or runner.kind != "dask" or runner.address or runner in _early:
        return
    _early[runner] = _EarlyCluster(runner)


def close_local_clusters() -> None:
    """Close the clusters :func:`start_local_cluster` started (their workers' processes end)."""
    while _early:
        _, early = _early.popitem()
        early.close()


def worker_threads(threads: int) -> None:
    """Give TensorFlow on a Dask worker ``threads`` threads, or one when the preset leaves it to TensorFlow
    (``0``): workers sharing a machine then do not fight over its cores."""
    from tasks.runtime import configure_tf_threads, import_tensorflow

    import_tensorflow()  # without its start-up lines on the CLI's stderr, which the workers share
    configure_tf_threads(threads or 1)
