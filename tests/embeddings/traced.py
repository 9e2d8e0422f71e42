"""Traced memory peaks measured in a fresh process.

tracemalloc counts every thread's allocations; in a test process other threads (pytest-xdist's channel,
servers an earlier test left running) allocate while a test measures. A child process has none.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

from tasks import paths


def traced_peak(setup: str, traced: str, *argv: str) -> tuple[int, list[str]]:
    """Run ``setup``, then ``traced`` under tracemalloc, in a new interpreter with ``sys.argv[1:] = argv``.

    Returns the traced peak in bytes and the words ``traced`` printed.
    """
    child = "\n".join([
        "import sys, tracemalloc", textwrap.dedent(setup), "tracemalloc.start()", textwrap.dedent(traced),
        "print('PEAK', tracemalloc.get_traced_memory()[1])",
    ])
    done = subprocess.run([sys.executable, "-c", child, *argv], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(paths.PROJECT_ROOT)})
    assert done.returncode == 0, done.stderr[-3000:]
    words = done.stdout.split()
    return int(words[words.index("PEAK") + 1]), words[:words.index("PEAK")]
