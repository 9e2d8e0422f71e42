"""Process-level helpers: ending a process after a flow without the interpreter's teardown."""

import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = """
import atexit, sys
from tasks.runtime import exit_without_teardown
atexit.register(lambda: open(sys.argv[1], "w").write("handlers ran"))
sys.stdout.write("buffered, no newline")
exit_without_teardown({code})
print("never reached")
"""


@pytest.mark.parametrize(("code", "expected_rc", "expected_err"), [(None, 0, ""), (3, 3, ""), ('"a message"', 1, "a message\n")])
def test_exit_without_teardown_runs_handlers_flushes_and_keeps_the_exit_code(tmp_path, code, expected_rc, expected_err):
    marker = tmp_path / "marker"
    proc = subprocess.run([sys.executable, "-c", SCRIPT.format(code=code), str(marker)], capture_output=True,
                          text=True, cwd=Path(__file__).resolve().parents[1])
    assert proc.returncode == expected_rc, proc.stderr
    assert proc.stdout == "buffered, no newline"
    assert proc.stderr == expected_err
    assert marker.read_text() == "handlers ran"


ONEDNN = ("import os, runpy, sys; runpy.run_path(sys.argv[1]); import keras, tensorflow; "
          "from tensorflow.python.util import _pywrap_util_port as port; "
          "print(os.environ.get('TF_ENABLE_ONEDNN_OPTS'), port.IsMklEnabled())")


@pytest.mark.parametrize("entry, users, expected", [
    ("flows/__init__.py", None, "0 False"), ("tasks/tracking/forecaster_pyfunc.py", None, "0 False"),
    ("tasks/tracking/keras_pyfunc.py", None, "0 False"), ("flows/__init__.py", "1", "1 True"),
    ("tasks/tracking/forecaster_pyfunc.py", "1", "1 True")])
def test_tensorflow_starts_with_onednn_off_unless_the_user_turns_it_on(entry, users, expected):
    """The flows and the served models' code (run before Keras imports TensorFlow, as `mlflow models serve`
    runs it) turn TensorFlow's oneDNN kernels off, both alike; a user's own TF_ENABLE_ONEDNN_OPTS wins."""
    import os

    from tasks import paths

    env = {k: v for k, v in os.environ.items() if k != "TF_ENABLE_ONEDNN_OPTS"}
    if users is not None:
        env["TF_ENABLE_ONEDNN_OPTS"] = users
    done = subprocess.run([sys.executable, "-c", ONEDNN, str(paths.PROJECT_ROOT / entry)], env=env,
                          capture_output=True, text=True, timeout=300, cwd=paths.PROJECT_ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split()[-2:] == expected.split()
