"""``seqflow run lesson``: the vanishing-gradient lesson once, and its table."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from flows.cli.options import (
    EXIT_FAILED,
    ConfigOpt,
    Flow,
    JsonOpt,
    VerboseOpt,
    check_environment,
    console,
    fail,
    load,
    print_json,
    print_where,
    set_option,
)
from flows.cli.startup import start_tensorflow_flow

if TYPE_CHECKING:
    from rich.console import Console

    from tasks.lesson.records import LessonSummary

LessonSetOpt = set_option("--set sweep.lengths=10,50 --set model.cells=rnn,lstm --set train.epochs=5", Flow.lesson)


def run_lesson(
    config: ConfigOpt = None, set_: LessonSetOpt = None, as_json: JsonOpt = False, verbose: VerboseOpt = False
) -> None:
    """The vanishing-gradient lesson: every cell on a long-memory task at several lengths, one budget.

    Every setting, its default and its meaning: `seqflow config show lesson`; presets
    flows/configs/lesson.toml (the full sweep, also the defaults) and flows/configs/lesson_demo.toml
    (about a minute).
    """
    from flows import ephemeral
    from tasks.errors import EnvironmentFault, InputError

    cfg = load(Flow.lesson, config, set_)
    check_environment()
    start_tensorflow_flow("flows.lesson", verbose)
    from flows.lesson import AllTrialsFailed, memory_lesson

    try:
        ephemeral.wait()
        summary = memory_lesson(cfg)
    except InputError as exc:
        fail(str(exc))
    except (AllTrialsFailed, EnvironmentFault) as exc:
        fail(str(exc), EXIT_FAILED)
    if as_json:
        print_json(summary.to_dict())
    else:
        print_lesson(summary, console())
    ephemeral.stop_without_waiting()


def _mse(value: float) -> str:
    return "failed" if not math.isfinite(value) else f"{value:.4f}" if value >= 1e-3 else f"{value:.1e}"


def _ratio(value: float) -> str:
    # Exactly 0: the first step's gradient was too small for float32 to hold.
    return "underflow" if value == 0 else "n/a" if not math.isfinite(value) else f"{value:.1e}"


def print_lesson(summary: LessonSummary, out: Console) -> None:
    """Print one row per length and cell: test MSE per seed, how many seeds solved it, gradient ratios."""
    from rich.table import Table

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
    print_where(out, summary)
