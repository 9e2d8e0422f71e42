"""Watch the Prefect server a run talks to, and act once if it dies mid-run.

Once a Prefect client has connected, it retries a refused connection (``ConnectError``) with
back-off, and its log and event workers keep retrying in the background: a run whose server died
printed one ``ConnectError`` after another and never ended, its flow run left RUNNING. A
:class:`ServerWatch` asks the server's ``/health`` once a second from a daemon thread and calls
``on_death`` once when it is gone; the CLI then closes the run's records and exits in one line
(:func:`flows.cli.startup.watching_server`).

"Gone" is a refused connection for :data:`REFUSED_SECONDS` (nothing listens on the port any more:
the process died or was stopped), or no answer at all for :data:`SILENT_SECONDS` (hung, or its
machine unreachable). A slow answer is not death: on a busy 2-core machine a live server may take
seconds to answer while TensorFlow trains.
"""

from __future__ import annotations

import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass

POLL_SECONDS = 1.0
REFUSED_SECONDS = 3.0
SILENT_SECONDS = 120.0
PROBE_TIMEOUT = 5.0
# Straight to the server: through an HTTP proxy from the environment, a dead server would look alive
# (the proxy answers 502 in its place).
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def probe(api_url: str, timeout: float = PROBE_TIMEOUT) -> bool | None:
    """Ask ``api_url``'s health check once.

    Returns:
        ``True`` when something answered HTTP (even an error status: the server lives), ``False``
        when the connection was refused or reset (nothing listens), ``None`` when no answer came
        within ``timeout`` seconds (busy, hung or unreachable: cannot be told apart here).
    """
    try:
        with _DIRECT.open(f"{api_url}/health", timeout=timeout):
            return True
    except urllib.error.HTTPError:
        return True
    except urllib.error.URLError as exc:
        return None if isinstance(exc.reason, (TimeoutError, socket.timeout)) else False
    except (TimeoutError, socket.timeout):
        return None
    except OSError:  # reset or refused while reading
        return False


@dataclass
class Liveness:
    """What the answers so far say about a server: alive, or gone and why (pure; times in seconds).

    Attributes:
        refused_for: refused connections for this long mean nothing listens any more.
        silent_for: no answer at all for this long means the server hangs or cannot be reached.
    """

    refused_for: float = REFUSED_SECONDS
    silent_for: float = SILENT_SECONDS
    last_answer: float | None = None
    first_refusal: float | None = None

    def observe(self, answered: bool | None, now: float) -> str | None:
        """Record one probe's outcome (see :func:`probe`) at ``now``; return why the server is gone, else ``None``."""
        if self.last_answer is None:
            self.last_answer = now  # watching starts from a server that answered
        if answered:
            self.last_answer, self.first_refusal = now, None
            return None
        if answered is False:
            self.first_refusal = now if self.first_refusal is None else self.first_refusal
            if now - self.first_refusal >= self.refused_for:
                return f"refuses connections (for {now - self.first_refusal:.0f} s)"
        else:
            self.first_refusal = None  # a timeout: something may listen again
        if now - self.last_answer >= self.silent_for:
            return f"has not answered for {now - self.last_answer:.0f} s"
        return None


class ServerWatch:
    """Probe ``api_url`` every :data:`POLL_SECONDS` in a daemon thread; call ``on_death(reason)`` once if it dies.

    Args:
        api_url: the Prefect API the run talks to, e.g. ``http://127.0.0.1:4200/api``.
        on_death: called from the watch's thread with why the server is gone (see :class:`Liveness`).
        liveness: the rule that tells; its defaults unless a test asks for shorter times.
    """

    def __init__(self, api_url: str, on_death: Callable[[str], None], liveness: Liveness | None = None,
                 poll: float = POLL_SECONDS):
        self.api_url = api_url
        self.on_death = on_death
        self.liveness = liveness or Liveness()
        self.poll = poll
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="prefect-server-watch", daemon=True)

    def start(self) -> ServerWatch:
        """Begin watching; returns ``self``."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop watching (the flow ended); waits for the thread unless it is the caller."""
        self._stop.set()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout=self.poll + PROBE_TIMEOUT + 1)

    def _watch(self) -> None:
        while not self._stop.wait(self.poll):
            reason = self.liveness.observe(probe(self.api_url, timeout=min(PROBE_TIMEOUT, self.poll * 5)),
                                           time.monotonic())
            if reason is not None and not self._stop.is_set():
                self.on_death(reason)
                return
