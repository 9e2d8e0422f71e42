"""Getting a flow that trains Keras models ready to run, its start-up costs overlapped."""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable
from typing import Any


def start_tensorflow_flow(module: str, verbose: bool) -> None:
    """Import the flow's ``module`` and TensorFlow at once, while the local Prefect server starts.

    Three costs overlap instead of adding up: the local Prefect server is found or started (its
    own process), the flow's module (Prefect, MLflow) imports in a thread and opens the MLflow
    store, TensorFlow imports here.
    TensorFlow's import releases the GIL for much of its time, so the two imports share it well.

    Args:
        module: the flow's module, e.g. ``flows.forecast``.
        verbose: show TensorFlow's start-up messages.
    """
    from flows import ephemeral
    from tasks.runtime import import_tensorflow

    ephemeral.start_in_background()
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
                        report: Callable[[Any], None], all_failed: str | None = None) -> None:
    """Run a flow that trains Keras models once and print its summary: ``--json``, or ``report``'s table.

    Args:
        module: the flow's module, e.g. ``flows.forecast``.
        function: the ``@flow`` function in it, called with ``cfg``.
        cfg: the flow's config.
        verbose: show TensorFlow's start-up messages.
        as_json: print the summary as JSON instead of ``report``.
        report: prints the summary for a person.
        all_failed: the module's exception for "every model failed" (exit 1, one line); bad input is
            :class:`tasks.errors.InputError` (exit 2, one line).
    """
    from flows import ephemeral
    from flows.cli.options import EXIT_FAILED, check_environment, fail, print_json
    from tasks.errors import EnvironmentFault, InputError

    check_environment()  # the artifacts folder and the MLflow store, before anything is written
    start_tensorflow_flow(module, verbose)
    flows = importlib.import_module(module)
    failed = (getattr(flows, all_failed),) if all_failed else ()
    try:
        ephemeral.wait()
        summary = getattr(flows, function)(cfg)
    except InputError as exc:
        fail(str(exc))
    except (*failed, EnvironmentFault) as exc:
        fail(str(exc), EXIT_FAILED)
    if as_json:
        print_json(summary.to_dict())
    else:
        report(summary)
    ephemeral.stop_without_waiting()
