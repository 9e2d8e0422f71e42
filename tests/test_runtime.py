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


def test_freed_heap_goes_back_to_the_system_where_the_c_library_can_trim(monkeypatch):
    import ctypes
    import platform

    from tasks import runtime

    if platform.libc_ver()[0] == "glibc":
        assert runtime.release_memory() is True
    # Without malloc_trim (musl, macOS) it still collects and says it did not trim.
    monkeypatch.setattr(ctypes, "CDLL", lambda name: (_ for _ in ()).throw(OSError("no libc")))
    assert runtime.release_memory() is False
