"""Process-wide defaults that must be in place before Prefect, MLflow or TensorFlow is imported.

They only fill gaps (``os.environ.setdefault``): a user's own ``PREFECT_API_URL``,
``MLFLOW_TRACKING_URI`` or ``PREFECT_HOME`` always wins. Nothing here creates a folder: folders
appear when something is written (:func:`prepare_prefect_home` when a flow is about to run).
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator

from tasks import paths

DEFAULTS = {
    # This machine (and many users') cannot reach telemetry endpoints; MLflow accepts only "true".
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "DO_NOT_TRACK": "true",
    "MLFLOW_DISABLE_TELEMETRY": "true",
    # Over HTTP, MLflow prints "View run ... at <url>" to stdout whenever a run ends: stdout carries
    # `--json` summaries and tables, and the CLI names the run itself.
    "MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT": "true",
    # Caching needs persisted results; task results here are small path records, not data.
    "PREFECT_RESULTS_PERSIST_BY_DEFAULT": "true",
    # TensorFlow's C++ INFO lines (CUDA probing, oneDNN notes) drown the progress bars.
    "TF_CPP_MIN_LOG_LEVEL": "3",
    "PREFECT_LOGGING_LOG_PRINTS": "false",
    # The temporary server migrates a fresh SQLite database on first use: over 20 s on a 2-core
    # machine, past Prefect's default wait, so a first run on a new clone would time out.
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "180",
    "KERAS_BACKEND": "tensorflow",
    # OpenMP threads that spin while they wait (scikit-learn's t-SNE) made it about 10x slower on a
    # busy 2-core machine; passive waiting costs nothing measurable when the machine is idle.
    "OMP_WAIT_POLICY": "PASSIVE",
}


def apply_defaults() -> None:
    """Set the embedded defaults: offline telemetry, Prefect home and result store under artifacts/."""
    for key, value in DEFAULTS.items():
        os.environ.setdefault(key, value)
    os.environ.setdefault("PREFECT_HOME", str(paths.prefect_home()))
    os.environ.setdefault("PREFECT_LOCAL_STORAGE_PATH", str(paths.prefect_results()))


def prepare_prefect_home() -> None:
    """Create Prefect's home (with its parents) before a flow runs.

    Prefect creates its home with a single-level mkdir: without the parents, its temporary server
    cannot open its SQLite file and retries until the startup timeout.
    """
    for var in ("PREFECT_HOME", "PREFECT_LOCAL_STORAGE_PATH"):
        if os.environ.get(var):
            os.makedirs(os.environ[var], exist_ok=True)


@contextlib.contextmanager
def stderr_silenced(enabled: bool = True) -> Iterator[None]:
    """Send file descriptor 2 to /dev/null for the block (C++ libraries write there directly).

    TensorFlow's start-up lines (oneDNN notice, CUDA probe, "All log messages before
    absl::InitializeLog()") are printed by C++ before ``TF_CPP_MIN_LOG_LEVEL`` is read, so only the
    descriptor itself can silence them.
    """
    if not enabled:
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def import_tensorflow(verbose: bool = False) -> None:
    """Import TensorFlow and Keras now, without their start-up noise unless ``verbose``."""
    if "tensorflow" in sys.modules:
        return
    with stderr_silenced(not verbose):
        import keras  # noqa: F401
        import tensorflow  # noqa: F401


def configure_tf_threads(threads: int) -> bool:
    """Give TensorFlow ``threads`` intra-op and inter-op threads (0: leave TensorFlow's default, one per core).

    TensorFlow fixes its thread pools when its first op runs; after that the setting can only be
    read. Returns ``False`` when the runtime had already started with another count, which the
    process then keeps (the caller warns; results are the same, only the speed differs).
    """
    if threads <= 0:
        return True
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    except RuntimeError:
        return (tf.config.threading.get_intra_op_parallelism_threads() == threads
                and tf.config.threading.get_inter_op_parallelism_threads() == threads)
    return True


def exit_without_teardown(code: int | str | None) -> None:
    """End the process with ``code`` once exit handlers have run, skipping the interpreter's teardown.

    After a flow, the work is done and written: files closed, runs ended, Prefect's queues drained
    (:func:`flows.ephemeral.stop_without_waiting`). What Python does next, module by module and
    object by object, is tearing down TensorFlow's and MLflow's state: about 2.5 s of a user's wait
    on a 2-core machine, for nothing. So the ``atexit`` handlers run here (temporary folders are
    still removed, fluent runs still ended), the standard streams are flushed, and the process ends.
    ``code`` follows :class:`SystemExit`: ``None`` is 0, a string is printed to stderr and means 1.
    """
    import atexit

    if isinstance(code, str):
        sys.stderr.write(code + "\n")
        code = 1
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code or 0)


def release_memory() -> bool:
    """Collect garbage and hand the C heap's free pages back to the system (glibc's ``malloc_trim``).

    A step that built many small arrays and frames (a residual per series, a forecast per origin)
    frees them into the heap, where they stay resident: after the evaluation of 10,000 series that
    was ~340 MB the next step's peak stood on. Returns whether the heap was trimmed (False where the C
    library has no ``malloc_trim``: musl, macOS).
    """
    import ctypes
    import ctypes.util
    import gc

    gc.collect()
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim = libc.malloc_trim
    except (OSError, AttributeError):
        return False
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    trim(0)
    return True
