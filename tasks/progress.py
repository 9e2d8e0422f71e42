"""Progress bars for long work, drawn with Rich on stderr so ``--json`` output on stdout stays clean."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator

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


@contextlib.contextmanager
def epoch_bar(label: str, total: int, enabled: bool = True) -> Iterator[Callable[[int, dict[str, float]], None]]:
    """Yield an ``(epoch, logs)`` hook that advances a bar of ``total`` epochs showing the losses.

    Early stopping may end training before ``total``; the bar then stops where training did.
    """
    if not enabled:
        yield lambda epoch, logs: None
        return
    progress = Progress(
        TextColumn("[bold]{task.description:<14}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("epochs  {task.fields[losses]}"),
        TimeElapsedColumn(),
        console=_console,
        transient=False,
    )
    with progress:
        bar = progress.add_task(label, total=total, losses="")

        def hook(epoch: int, logs: dict[str, float]) -> None:
            losses = "  ".join(f"{k} {logs[k]:.2e}" for k in ("loss", "val_loss") if k in logs)
            progress.update(bar, completed=epoch + 1, losses=losses)

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
