"""Process liveness by pid and start time (tasks.processes)."""

from __future__ import annotations

import os
import subprocess
import sys

from tasks import processes


def test_this_process_is_alive_and_a_recycled_pid_is_not():
    me = os.getpid()
    started = processes.start_time(me)
    assert started.isdigit()
    assert processes.alive(me) and processes.alive(me, started)
    assert not processes.alive(me, str(int(started) + 1))  # same pid, another process's start time


def test_a_zombie_and_a_reaped_child_are_not_alive():
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    while processes._stat_after_name(child.pid)[0] != "Z":  # exited, not yet reaped
        pass
    assert not processes.alive(child.pid)
    child.wait()
    assert not processes.alive(child.pid)
    assert not processes.alive(0) and not processes.alive(-1)
