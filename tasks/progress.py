"""Progress bars for long work, drawn with Rich on stderr so ``--json`` output on stdout stays clean."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

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
