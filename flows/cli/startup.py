"""Getting a flow that trains Keras models ready to run, its start-up costs overlapped."""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any

# What to do when the run's Prefect server died, by who ran it (flows.ephemeral.server_in_use).
SERVER_ADVICE = {
    "seqflow server": "start it again (`seqflow server start`) and run again",
    "standing": "run again (a new local server starts)",
    "temporary": "run again (a new local server starts)",
    "configured": "check the server PREFECT_API_URL names, then run again",
}


def start_tensorflow_flow(module: str, verbose: bool, tensorflow: bool = True, cluster: Any = None) -> None:
    """Import the flow's ``module`` and TensorFlow at once, while the local Prefect server starts.

    Three costs overlap instead of adding up: the local Prefect server is found or started (its
    own process), the flow's module (Prefect, MLflow) imports in a thread and opens the MLflow
    store, TensorFlow imports here.
    TensorFlow's import releases the GIL for much of its time, so the two imports share it well.

    Args:
        module: the flow's module, e.g. ``flows.forecast``.
        verbose: show TensorFlow's start-up messages.
        tensorflow: False when this process trains nothing (the work runs on Dask workers, which
            import TensorFlow themselves): only the module imports, while the server starts.
        cluster: the flow's :class:`flows.runners.Runner`; a local Dask cluster it needs starts now,
            in a thread (:func:`flows.runners.start_local_cluster`).
    """
    from flows import ephemeral, runners
    from tasks.runtime import import_tensorflow

    ephemeral.start_in_background()
    runners.start_local_cluster(cluster)
    if not tensorflow:
        _preload(module)
        return
    preload = threading.Thread(target=_preload, args=(module,), daemon=True)
    preload.start()
    import_tensorflow(verbose)
    preload.join()


def _preload(module: str) -> None:
    """Import the flow's module, then open (or create) the MLflow store: 0.6 s warm, 1.5 s on a new one."""
    importlib.import_module(module)
    try:
        from tasks.tracking import store

        store.client()
    except Exception:  # the flow opens the store again and reports what is wrong there
        pass


def run_tensorflow_flow(module: str, function: str, cfg: Any, verbose: bool, as_json: bool,
                        report: Callable[[Any], None], all_failed: str | None = None, extra: tuple = (),
                        tensorflow: bool = True, cluster: Any = None) -> None:
    """Run a flow that trains Keras models once and print its summary: ``--json``, or ``report``'s table.

    Args:
        module: the flow's module, e.g. ``flows.forecast``.
        function: the ``@flow`` function in it (or one that runs it), called with ``cfg`` and ``extra``.
        cfg: the flow's config.
        verbose: show TensorFlow's start-up messages.
        as_json: print the summary as JSON instead of ``report``.
        report: prints the summary for a person.
        all_failed: the module's exception for "every model failed" (exit 1, one line); bad input is
            :class:`tasks.errors.InputError` (exit 2, one line).
        extra: further arguments of ``function``, after ``cfg``.
        tensorflow: False when the flow trains nothing in this process (see :func:`start_tensorflow_flow`).
        cluster: the flow's runner, whose local Dask cluster (if any) starts with the CLI and is
            closed once the summary is printed.
    """
    from flows.cli.options import check_environment

    check_environment()  # the artifacts folder and the MLflow store, before anything is written
    try:
        _run_flow(module, function, cfg, verbose, as_json, report, all_failed, extra, tensorflow, cluster)
    finally:
        from flows import runners

        runners.close_local_clusters()


def _run_flow(module: str, function: str, cfg: Any, verbose: bool, as_json: bool, report: Callable[[Any], None],
              all_failed: str | None, extra: tuple, tensorflow: bool, cluster: Any) -> None:
    from flows import ephemeral
    from flows.cli.options import EXIT_FAILED, fail, print_json
    from tasks.errors import EnvironmentFault, InputError

    start_tensorflow_flow(module, verbose, tensorflow, cluster)
    flows = importlib.import_module(module)
    failed = (getattr(flows, all_failed),) if all_failed else ()
    try:
        ephemeral.wait()
        with environment_faults_in_one_line():
            summary = getattr(flows, function)(cfg, *extra)
    except InputError as exc:
        ephemeral.stop_without_waiting()  # else Prefect's exit hook says it stops the server: a second line
        fail(str(exc))
    except (*failed, EnvironmentFault) as exc:
        ephemeral.stop_without_waiting()
        fail(str(exc), EXIT_FAILED)
    if as_json:
        print_json(summary.to_dict())
    else:
        report(summary)
    ephemeral.stop_without_waiting()


@contextlib.contextmanager
def environment_faults_in_one_line() -> Iterator[None]:
    """Run a flow with its Prefect server watched and a full disk said in one line; both exit 1.

    Bad input and the faults already said in one line (:class:`~tasks.errors.InputError`,
    :class:`~tasks.errors.EnvironmentFault`) pass through to the caller's handlers.
    """
    from flows import ephemeral
    from flows.cli.options import EXIT_FAILED, fail
    from tasks import diskspace
    from tasks.errors import EnvironmentFault, InputError

    hide_full_disk_from_consoles()
    try:
        with watching_server():
            yield
    except (InputError, EnvironmentFault):
        raise
    except Exception as exc:
        if not diskspace.is_full(exc):
            raise
        line = full_disk_line(exc)
        ephemeral.stop_without_waiting()  # else Prefect's exit hook says it stops the server: a second line
        fail(line, EXIT_FAILED)


@contextlib.contextmanager
def watching_server() -> Iterator[None]:
    """Run the block while a :class:`~flows.server_watch.ServerWatch` watches the run's Prefect server.

    If the server dies mid-run, the run cannot record anything more in Prefect and its client would
    retry for ever: the watch closes this process's open MLflow runs as FAILED, says so in one line
    and ends the process with exit code 1, without unwinding (Prefect's exit hooks would retry the
    dead server too). The flow run stays RUNNING in the server's database; the next run marks it
    Crashed (:func:`flows.tracked.reconcile`).

    While the watch runs, ``logging.raiseExceptions`` is off (Python's advice for production): Prefect's
    API log worker prints ``--- Error logging to API ---`` and the ``ConnectError`` to stderr for each
    batch it could not send, which raced the watch's one line in the second before it tells a dead
    server from a slow one. A lost server is what the watch reports; Prefect's client retries the rest.
    """
    from flows import ephemeral
    from flows.server_watch import ServerWatch

    server = ephemeral.server_in_use()
    if server is None:
        yield
        return
    api_url, kind = server
    printing = logging.raiseExceptions
    logging.raiseExceptions = False
    watch = ServerWatch(api_url, lambda reason: _server_died(api_url, kind, reason)).start()
    try:
        yield
    finally:
        watch.stop()
        logging.raiseExceptions = printing


def _server_died(api_url: str, kind: str, reason: str) -> None:
    """Close this process's open MLflow runs FAILED, say what died and what to do in one line, exit 1."""
    from flows.cli.options import EXIT_FAILED

    logging.disable(logging.CRITICAL)  # Prefect's workers would now log a ConnectError for each retry
    what = f"the Prefect server ({kind}) at {api_url} {reason}: it died mid-run"
    try:
        from tasks.tracking import runs

        closed = runs.fail_runs_of_this_process(f"{what}; the run was stopped")
        records = f"{len(closed)} open MLflow run(s) closed FAILED"
    except Exception as exc:  # the store too may be gone; the next run closes them as KILLED
        records = f"its MLflow runs could not be closed ({type(exc).__name__}), the next run closes them"
    advice = SERVER_ADVICE.get(kind, "run again")
    line = f"error: {what}; the run was stopped, {records}; {advice}: the next run marks its Prefect flow run Crashed"
    with contextlib.suppress(Exception):
        sys.stdout.flush()
    with contextlib.suppress(Exception):
        sys.stderr.write(line + "\n")
        sys.stderr.flush()
    os._exit(EXIT_FAILED)


class HideFullDisk(logging.Filter):
    """Drop the log records of a full disk: MLflow's and Prefect's tracebacks and the failed states quoting them."""

    def filter(self, record: logging.LogRecord) -> bool:
        from tasks import diskspace

        if record.exc_info and record.exc_info[1] is not None and diskspace.is_full(record.exc_info[1]):
            return False
        message = record.getMessage().lower()
        return not any(text in message for text in ("no space left on device", "database or disk is full"))


def hide_full_disk_from_consoles() -> None:
    """Keep every console handler (Prefect's, MLflow's) from printing a full disk's tracebacks.

    The CLI says a full disk in one line (:func:`full_disk_line`); without this, MLflow alone
    printed a traceback for each write it tried, over 1,800 lines in all. Calling it again adds nothing.
    """
    loggers = [logging.getLogger(), *(lg for lg in logging.Logger.manager.loggerDict.values()
                                      if isinstance(lg, logging.Logger))]
    for logger in loggers:
        for handler in logger.handlers:
            if not any(isinstance(f, HideFullDisk) for f in handler.filters):
                handler.addFilter(HideFullDisk())


def full_disk_line(exc: BaseException) -> str:
    """Say in one line where the disk filled, that the run's records are closed (or what to do), and what next.

    The flow's tracked run closed its MLflow runs FAILED with the space it held back; any this
    process still holds open are closed here. If even that cannot be written, the next run closes
    them as KILLED once space is free.
    """
    from tasks import diskspace, paths
    from tasks.tracking import runs, store

    folder = paths.artifacts_dir()
    where = diskspace.full_file(exc)
    if where is None:
        where = f"the MLflow store {store.tracking_uri()}" if diskspace.database_full(exc) else str(folder)
    try:
        runs.fail_runs_of_this_process(f"no space left on device: {where}")
        records = "no MLflow run left open"
    except Exception:
        records = "its MLflow runs could not be closed (the store cannot be written): the next run closes them"
    free = diskspace.size_text(diskspace.free_bytes(folder))
    return (f"{where}: no space left on device ({free} free under {folder}); the run was stopped, {records}, "
            "no file half-written; free space there and run again")
