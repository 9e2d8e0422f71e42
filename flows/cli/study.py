"""``seqflow run study`` and ``seqflow run demo``: the course's sine study once, and its table."""

from __future__ import annotations

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
    one_line_errors,
    print_json,
    print_where,
    set_option,
)
from flows.cli.startup import start_tensorflow_flow
from tasks import paths

if TYPE_CHECKING:
    from tasks.study.config import StudyConfig
    from tasks.study.records import StudySummary

StudySetOpt = set_option("--set window.lookback=24 --set model.cells=lstm,gru --set source.noise_std=0.1", Flow.study)


def run_study(
    config: ConfigOpt = None, set_: StudySetOpt = None, as_json: JsonOpt = False, verbose: VerboseOpt = False
) -> None:
    """The sine study: every cell learns a sine wave one step ahead, generates a continuation, shows its gradients.

    Each cell is scored on the test part beside naive, seasonal-naive and AutoReg baselines, then
    generates from the seed window before it; the gradient of its loss by input step shows how far
    back it remembers. Every setting, its default and its meaning: `seqflow config show study`;
    presets flows/configs/demo.toml (the demo) and flows/configs/sine.toml (a noisy wave).
    """
    _run(load(Flow.study, config, set_), as_json, verbose)


def run_demo(set_: StudySetOpt = None, as_json: JsonOpt = False, verbose: VerboseOpt = False) -> None:
    """The main job on embedded defaults: all five cells on a clean sine wave (flows/configs/demo.toml)."""
    _run(load(Flow.study, paths.configs_dir() / "demo.toml", set_), as_json, verbose)


def _run(cfg: StudyConfig, as_json: bool, verbose: bool) -> None:
    from flows import ephemeral

    check_environment()
    start_tensorflow_flow("flows.study", verbose)
    from flows.study import AllModelsFailed, sine_study

    try:
        with one_line_errors():
            ephemeral.wait()
            summary = sine_study(cfg)
    except AllModelsFailed as exc:
        fail(str(exc), EXIT_FAILED)
    if as_json:
        print_json(summary.to_dict())
    else:
        _report(summary)
    ephemeral.stop_without_waiting()


def _report(summary: StudySummary) -> None:
    """The one-step table: test errors, the generated continuation's, the gradient ratio."""
    from rich.table import Table

    table = Table(title="test-set one-step forecasts, best first", show_lines=False)
    for col in ("#", "forecaster", "kind", "test RMSE", "test MAE", "gen. RMSE", "grad 1st/last"):
        table.add_column(col, justify="left" if col in ("forecaster", "kind") else "right", no_wrap=True)
    models = {m.cell: m for m in summary.models if m.ok}
    for row in summary.ranking:
        m = models[row.forecaster].metrics if row.kind == "model" else None
        table.add_row(
            str(row.rank), row.forecaster, row.kind, f"{row.test_rmse:.4f}", f"{row.test_mae:.4f}",
            f"{m['generated_rmse']:.4f}" if m else "", f"{m['gradient_first_to_last']:.2e}" if m else "",
        )
    out = console()
    out.print(table)
    for failed in summary.failed:
        out.print(f"[bold red]failed:[/] {failed.cell}: {failed.failure}", highlight=False)
    print_where(out, summary)
