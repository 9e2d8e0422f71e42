"""The lesson's table on the terminal, read from its typed summary."""

from __future__ import annotations

import math

from rich.console import Console
from rich.table import Table

from tasks.lesson.records import LessonSummary


def _mse(value: float) -> str:
    return "failed" if not math.isfinite(value) else f"{value:.4f}" if value >= 1e-3 else f"{value:.1e}"


def _ratio(value: float) -> str:
    # Exactly 0: the first step's gradient was too small for float32 to hold.
    return "underflow" if value == 0 else "n/a" if not math.isfinite(value) else f"{value:.1e}"


def print_lesson(summary: LessonSummary, out: Console, training_view: str) -> None:
    """Print one row per length and cell: test MSE per seed, how many seeds solved it, gradient ratios."""
    closed = summary.baselines[0].closed_form
    table = Table(
        title=f"{summary.task} problem: test MSE and first-to-last gradient ratio ‖∂loss/∂x_first‖ / ‖∂loss/∂x_last‖",
        caption=f"no memory (predict the mean): {closed:.4f} in closed form; on each length's test data "
                + ", ".join(f"L{b.length} {b.measured:.4f}" for b in summary.baselines)
                + f". Solved: test MSE below {summary.solved_mse:g}. Ratios: geometric mean over seeds; "
                "underflow: 0 in float32 for at least one seed.",
    )
    for col in ("length", "cell", "test MSE by seed", "solved", "grad ratio at init", "grad ratio trained"):
        table.add_column(col, justify="left" if col in ("cell", "test MSE by seed") else "right", no_wrap=True)
    previous = None
    for row in summary.rows:
        if previous is not None and row.length != previous:
            table.add_section()
        previous = row.length
        style = "green" if row.solved == row.seeds else "red" if row.solved == 0 else "yellow"
        table.add_row(
            str(row.length), row.cell, " / ".join(_mse(m) for m in row.test_mse),
            f"[{style}]{row.solved}/{row.seeds}[/]", _ratio(row.ratio_init), _ratio(row.ratio_trained),
        )
    out.print(table)
    for trial in summary.failed:
        out.print(f"[bold red]failed:[/] {trial.cell} L{trial.length} seed {trial.seed}: {trial.failure}", highlight=False)
    out.print(f"{len(summary.trials)} models in {summary.seconds:.0f} s; figures on the parent run: "
              f"{', '.join(summary.figures)}", highlight=False)
    out.print(f"MLflow: {summary.tracking_uri}  experiment {summary.experiment_id}, "
              f"parent run '{summary.parent_run_name}' {summary.parent_run_id}", highlight=False)
    out.print("review with `seqflow ui`, then open "
              f"http://127.0.0.1:5000/#/experiments/{summary.experiment_id}?{training_view}", highlight=False)
