"""Progress of long work on stderr (so ``--json`` output on stdout stays clean), with an ETA where the total is known.

On a terminal a Rich bar is redrawn in place. In a log (stderr is no TTY: a scheduled run, a file,
a CI job) a redrawn bar leaves only its final state, so there each finished step is one plain line
instead, e.g. ``score-baselines: 120/400 (30%), 12 s, about 28 s left``, at most one line every
``every`` seconds (epochs: each one): work done within those seconds prints nothing, longer work a
line every few seconds and its last step.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Callable, Iterator
from typing import TextIO

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

_console = Console(stderr=True)


def _interactive() -> bool:
    return _console.is_terminal


def seconds_left(done: int, total: int, elapsed: float, first: float | None) -> float | None:
    """The time the ``total - done`` steps left take at the pace since the first step ended.

    The first step is left out of the pace when a later one has ended: it carries the warm-up
    (graph tracing, the first model load) and would inflate the estimate many times over.

    Args:
        done: steps finished.
        total: steps in all.
        elapsed: seconds since the work began.
        first: seconds from the start to the end of the first step (None: not known).
    """
    if not total or done <= 0 or done >= total:
        return None
    if done >= 2 and first is not None and elapsed > first:
        return (elapsed - first) / (done - 1) * (total - done)
    return elapsed / done * (total - done)


def eta_line(label: str, done: int, total: int, elapsed: float, unit: str = "", extra: str = "",
             left: float | None = None) -> str:
    """One log line for a finished step: count, share, elapsed time and the time left.

    Args:
        label: what is progressing, e.g. ``score-baselines``.
        done: steps finished.
        total: steps in all (``0``: unknown, no share or ETA).
        elapsed: seconds since the work began.
        unit: the steps' name, e.g. ``epochs``, after the count.
        extra: appended after a comma (e.g. the losses).
        left: seconds left (:func:`seconds_left`); None: at the mean pace so far.
    """
    count = f"{done}/{total}" if total else str(done)
    parts = [f"{label}: {count}{f' {unit}' if unit else ''}" + (f" ({done / total:.0%})" if total else ""),
             _seconds(elapsed)]
    if total and 0 < done < total:
        parts.append(f"about {_seconds(left if left is not None else elapsed / done * (total - done))} left")
    elif total and done >= total:
        parts.append("done")
    if extra:
        parts.append(extra)
    return ", ".join(parts)


def _seconds(s: float) -> str:
    if s < 60:
        return f"{s:.0f} s" if s >= 10 else f"{s:.1f} s"
    minutes, sec = divmod(int(round(s)), 60)
    return f"{minutes} min {sec:02d} s" if minutes < 60 else f"{minutes // 60} h {minutes % 60:02d} min"


class LineProgress:
    """Progress as plain lines: one per finished step, at most one per ``every`` seconds, and the last.

    Args:
        label: what is progressing.
        total: steps in all.
        unit: the steps' name.
        every: the fewest seconds between two lines (``0``: every step).
        stream: where the lines go (stderr).
        clock: seconds, monotonic (a test passes its own).
    """

    def __init__(self, label: str, total: int, unit: str = "", every: float = 5.0, stream: TextIO | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.label, self.total, self.unit, self.every = label, total, unit, every
        self.stream, self.clock = stream, clock
        self.start = clock()
        self.last_line = self.start
        self.printed = False
        self.first: float | None = None  # seconds from the start to the end of the first step

    def update(self, done: int, extra: str = "") -> None:
        """Record that ``done`` steps are finished; print a line when due.

        A line is due ``every`` seconds after the last one (or the start); the last step gets one
        whenever any came before it or the work took ``every`` seconds: work that ends sooner stays silent.
        """
        now = self.clock()
        if self.first is None:
            self.first = now - self.start
        final = bool(self.total) and done >= self.total
        due = now - self.last_line >= self.every
        if not (due or (final and self.printed)):
            return
        self.last_line, self.printed = now, True
        elapsed = now - self.start
        print(eta_line(self.label, done, self.total, elapsed, self.unit, extra,
                       seconds_left(done, self.total, elapsed, self.first)),
              file=self.stream or sys.stderr, flush=True)


def _bar(label: str, fields: str = "") -> Progress:
    return Progress(
        TextColumn("[bold]{task.description:<14}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn(fields),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=_console,
        transient=False,
    )


@contextlib.contextmanager
def step_progress(label: str, total: int, unit: str = "", enabled: bool = True,
                  every: float = 5.0) -> Iterator[Callable[[int], None]]:
    """Yield an ``advance(done)`` hook for ``total`` steps: a bar with an ETA on a terminal, lines in a log.

    Args:
        label: what is progressing, e.g. ``score-baselines``.
        total: steps in all.
        unit: the steps' name, e.g. ``series × origins``.
        enabled: off: the hook does nothing.
        every: in a log, the fewest seconds between two lines (the last step always gets one).
    """
    if not enabled or total <= 0:
        yield lambda done: None
        return
    if not _interactive():
        lines = LineProgress(label, total, unit, every)
        yield lines.update
        return
    progress = _bar(label, unit)
    with progress:
        bar = progress.add_task(label, total=total)
        yield lambda done: progress.update(bar, completed=done)


@contextlib.contextmanager
def epoch_bar(label: str, total: int, enabled: bool = True) -> Iterator[Callable[[int, dict[str, float]], None]]:
    """Yield an ``(epoch, logs)`` hook that advances a bar of ``total`` epochs showing the losses and an ETA.

    Early stopping may end training before ``total``; the bar then stops where training did. In a
    log (stderr no TTY) every epoch is one line.
    """
    if not enabled:
        yield lambda epoch, logs: None
        return

    def losses(logs: dict[str, float]) -> str:
        return "  ".join(f"{k} {logs[k]:.2e}" for k in ("loss", "val_loss") if k in logs)

    if not _interactive():
        lines = LineProgress(label, total, "epochs", every=0.0)
        yield lambda epoch, logs: lines.update(epoch + 1, losses(logs))
        return
    progress = _bar(label, "epochs  {task.fields[losses]}")
    with progress:
        bar = progress.add_task(label, total=total, losses="")

        def hook(epoch: int, logs: dict[str, float]) -> None:
            progress.update(bar, completed=epoch + 1, losses=losses(logs))

        yield hook


# A step shorter than this leaves no line behind: it needed no progress, and a refusal of bad input
# right after it stays the one line on stderr.
REPORT_AFTER_SECONDS = 2.0


@contextlib.contextmanager
def work_bar(label: str, total: int | None, unit: str, enabled: bool = True) -> Iterator[Callable[[int], None]]:
    """Yield an ``update(completed)`` hook for one long step: progress, elapsed and time left on a terminal.

    With ``total`` known the bar shows ``completed/total unit`` and an ETA; with ``total=None`` a
    spinner and the elapsed time. The bar is redrawn in place on a terminal only; when the step ends,
    it is replaced by one line, e.g. ``t-SNE of 2,000 words: 1,000/1,000 iterations in 63.2 s``, which
    is all a non-interactive log (stderr not a terminal) gets. A step shorter than
    :data:`REPORT_AFTER_SECONDS` leaves no line.

    Args:
        label: what the step does, e.g. ``"tokenize"``.
        total: the amount of work when known (iterations, bytes, measurements), else ``None``.
        unit: what ``completed`` counts, for the finished line.
        enabled: ``False`` for a hook that does nothing.
    """
    if not enabled:
        yield lambda completed: None
        return
    done = 0
    began = time.perf_counter()

    def finished_line() -> str:
        of = f"{done:,}/{total:,}" if total is not None else f"{done:,}"
        return f"{label}: {of} {unit} in {time.perf_counter() - began:.1f} s"

    def report() -> None:
        if time.perf_counter() - began >= REPORT_AFTER_SECONDS:
            _console.print(finished_line(), markup=False, highlight=False)

    if not _console.is_terminal:

        def note(completed: int) -> None:
            nonlocal done
            done = completed

        yield note
        report()
        return
    progress = Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn() if total is not None else TextColumn(""),
        TextColumn(unit),
        TimeElapsedColumn(),
        TimeRemainingColumn() if total is not None else TextColumn(""),
        console=_console,
        transient=True,
    )
    with progress:
        bar = progress.add_task(label, total=total)

        def update(completed: int) -> None:
            nonlocal done
            done = completed
            progress.update(bar, completed=completed)

        yield update
    report()
