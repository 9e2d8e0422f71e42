"""Where a Dask run's start goes: a local cluster started with the CLI (its workers importing TensorFlow
as they start, without Dask's profiler), a sweep's parent without TensorFlow, points longest first."""

from __future__ import annotations

import subprocess
import sys

from flows.runners import Runner, close_local_clusters, dask_task_runner, start_local_cluster
from flows.sweep import point_work
from tasks import paths
from tasks.forecasting.config import ForecastConfig


def _cfg(**over) -> ForecastConfig:
    data = {"source": {"kind": "csv", "path": "data/monthly-milk.csv"}, "window": {"lookback": 12},
            "model": {"cells": ["gru"], "units": 4}, "train": {"epochs": 300}}
    for dotted, value in over.items():
        section, key = dotted.split("__")
        data.setdefault(section, {})[key] = value
    return ForecastConfig.model_validate(data)


def test_points_are_ordered_by_their_training_work_longest_first():
    short, long_ = _cfg(), _cfg(window__lookback=24)
    assert point_work(long_) > point_work(short)  # the bench sweep's points fitted in ~7.5 s and ~10 s
    assert point_work(_cfg(train__epochs=600)) > point_work(short)
    assert point_work(_cfg(model__ensemble=3)) > point_work(short)
    assert point_work(_cfg(model__cells=["gru", "lstm"])) > point_work(short)
    assert point_work(_cfg(model__units=8)) > point_work(short)  # the width only breaks ties
    assert point_work(_cfg(model__units=8)) < point_work(_cfg(window__lookback=13))


def test_a_local_cluster_started_early_is_the_flows_cluster_and_is_closed(monkeypatch):
    from distributed import Client

    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:9/api")  # no Prefect server is started for this
    runner = Runner("dask", workers=1)
    start_local_cluster(runner)
    try:
        task_runner = dask_task_runner(runner)
        address = task_runner.address
        assert address and address.startswith("tcp://127.0.0.1:")
        with Client(address, timeout=30) as client:
            found = client.run(_worker_state)
        (imported, profiler), = found.values()
        assert imported  # the preload imported TensorFlow and the flows as the worker started
        assert profiler is False
        assert dask_task_runner(Runner("dask", address="tcp://10.0.0.1:8786")).address == "tcp://10.0.0.1:8786"
    finally:
        close_local_clusters()
    _assert_closed(address)


def _assert_closed(address: str) -> None:
    """Nothing answers at ``address`` any more: the cluster's scheduler is closed."""
    import socket
    from urllib.parse import urlsplit

    parts = urlsplit(address)
    with socket.socket() as sock:
        sock.settimeout(2)
        assert sock.connect_ex((parts.hostname, parts.port)) != 0


def _worker_state() -> tuple[bool, bool]:
    import dask

    return ("tensorflow" in sys.modules and "flows.forecast" in sys.modules,
            dask.config.get("distributed.worker.profile.enabled"))


def test_a_dask_sweeps_own_process_does_not_import_tensorflow():
    code = ("import sys; from flows.cli.startup import start_tensorflow_flow; "
            "start_tensorflow_flow('flows.sweep', False, tensorflow={}); "
            "print('flows.sweep' in sys.modules, 'tensorflow' in sys.modules)")
    env = {"PREFECT_API_URL": "http://127.0.0.1:9/api", "PATH": "/usr/bin:/bin",
           "SEQFLOW_ARTIFACTS": str(paths.artifacts_dir())}
    seen = [subprocess.run([sys.executable, "-c", code.format(flag)], env=env, capture_output=True, text=True,
                           timeout=300, cwd=paths.PROJECT_ROOT).stdout.split() for flag in (False, True)]
    assert seen == [["True", "False"], ["True", "True"]]
