"""``seqflow``: run flows once, show the resolved config, open the MLflow UI, measure speed.

Heavy imports (Prefect, MLflow, TensorFlow) happen inside the commands, so ``seqflow --help``
answers at once. Exit codes: 0 success; 2 bad input (one line naming the file, row, column or key,
the value and the rule); 1 a crash (with its traceback) or a flow whose every model failed.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import json
import os
import sys
import threading
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from tasks import paths

if TYPE_CHECKING:
    from tasks.forecasting.config import ForecastConfig
    from tasks.forecasting.records import ForecastSummary

EXIT_BAD_INPUT = 2
# MLflow 3's UI opens experiments on its GenAI view unless asked for the training view; it remembers
# the choice after the first visit. (The experiment tag mlflow.experimentKind alone does not switch it.)
TRAINING_VIEW = "workflowType=machine_learning"
EXIT_FAILED = 1


def _version(value: bool) -> None:
    if value:
        try:
            version = importlib.metadata.version("seqflow")
        except importlib.metadata.PackageNotFoundError:
            version = "unknown"
        typer.echo(f"seqflow {version}")
        raise typer.Exit()


app = typer.Typer(
    help="seqflow: train and review sequence models (Prefect flows, Keras cells, MLflow tracking).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Plain Click help: Typer's Rich help pulls in rich.markdown and markdown-it, which alone take
    # about 0.4 s here, and `seqflow --help` should answer at once.
    rich_markup_mode=None,
    epilog=(
        "\b\nExamples:\n"
        "  seqflow run demo                      all five cells on a clean sine wave\n"
        "  seqflow run forecast --config flows/configs/sine.toml --set model.cells=lstm,gru --json\n"
        "  seqflow config show                   every setting with its value, default and meaning\n"
        "  seqflow ui                            review runs at http://127.0.0.1:5000\n"
        "  seqflow bench                         speed figures, side by side\n"
        "\b\nMLFLOW_TRACKING_URI and PREFECT_API_URL point seqflow at real servers;\n"
        "SEQFLOW_ARTIFACTS moves everything it writes (default: ./artifacts)."
    ),
)


@app.callback()
def _main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """seqflow: train and review sequence models (Prefect flows, Keras cells, MLflow tracking)."""


run_app = typer.Typer(
    help="Run a flow once, now, and print what it produced.", no_args_is_help=True, rich_markup_mode=None
)
config_app = typer.Typer(help="Inspect configuration.", no_args_is_help=True, rich_markup_mode=None)
app.add_typer(run_app, name="run")
app.add_typer(config_app, name="config")


def _console(stderr: bool = False):
    from rich.console import Console  # imported on use: --help never needs it

    stream = sys.stderr if stderr else sys.stdout
    # Piped output (CI logs, `| tee`) gets Rich's 80 columns by default, which crushes the table.
    return Console(stderr=stderr, width=None if stream.isatty() else 110)


class Source(str, Enum):
    """Series sources ``run forecast`` knows."""

    sine = "sine"


ConfigOpt = Annotated[
    Path | None,
    typer.Option("--config", "-c", metavar="PRESET.toml",
                 help="TOML preset (see flows/configs/); defaults apply where it is silent."),
]
SetOpt = Annotated[
    list[str] | None,
    typer.Option("--set", "-s", metavar="KEY=VALUE",
                 help="Override one setting, e.g. --set window.lookback=24 --set model.cells=lstm,gru "
                      "--set train.clipnorm=off. Every key: `seqflow config show`."),
]
JsonOpt = Annotated[
    bool, typer.Option("--json", help="Print a machine-readable summary (run ids, artifact paths, metrics) on stdout.")
]
VerboseOpt = Annotated[bool, typer.Option("--verbose", "-v", help="Show TensorFlow's start-up messages too.")]


def _fail(message: str, code: int = EXIT_BAD_INPUT) -> NoReturn:
    _console(stderr=True).print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True, markup=True)
    raise typer.Exit(code)


def _load(config: Path | None, overrides: list[str] | None, extra: list[str] = ()) -> ForecastConfig:
    from tasks.config import load_config
    from tasks.errors import InputError
    from tasks.forecasting.config import ForecastConfig

    try:
        return load_config(ForecastConfig, config, [*extra, *(overrides or [])])
    except InputError as exc:
        _fail(f"config: {exc}")


def _run_forecast(cfg: ForecastConfig, as_json: bool, verbose: bool) -> None:
    from flows import ephemeral
    from tasks.errors import InputError
    from tasks.runtime import import_tensorflow

    # Three start-up costs overlap instead of adding up: the temporary Prefect server starts (its own
    # process), the flow's modules (Prefect, MLflow) import in a thread, TensorFlow imports here.
    # TensorFlow's import releases the GIL for much of its time, so the two imports share it well.
    ephemeral.start_in_background()
    preload = threading.Thread(target=importlib.import_module, args=("flows.forecast",), daemon=True)
    preload.start()
    import_tensorflow(verbose)
    preload.join()
    from flows.forecast import AllModelsFailed, train_forecasters

    try:
        ephemeral.wait()
        summary = train_forecasters(cfg)
    except InputError as exc:
        _fail(str(exc))
    except AllModelsFailed as exc:
        _fail(str(exc), EXIT_FAILED)
    _report(summary, as_json)
    ephemeral.stop_without_waiting()


def _report(summary: ForecastSummary, as_json: bool) -> None:
    if as_json:
        sys.stdout.write(json.dumps(summary.to_dict(), indent=2, default=str) + "\n")
        return
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
    out = _console()
    out.print(table)
    for failed in summary.failed:
        out.print(f"[bold red]failed:[/] {failed.cell}: {failed.failure}", highlight=False)
    out.print(f"MLflow: {summary.tracking_uri}  experiment {summary.experiment_id}, "
              f"parent run '{summary.parent_run_name}' {summary.parent_run_id}", highlight=False)
    out.print("review with `seqflow ui`, then open "
              f"http://127.0.0.1:5000/#/experiments/{summary.experiment_id}?{TRAINING_VIEW}", highlight=False)


@run_app.command("forecast")
def run_forecast(
    source: Annotated[Source, typer.Option(help="Where the series comes from.")] = Source.sine,
    config: ConfigOpt = None,
    set_: SetOpt = None,
    as_json: JsonOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Train every configured cell on one series, evaluate against baselines, log all to MLflow.

    Every setting, its default and its meaning: `seqflow config show`.
    """
    cfg = _load(config, set_, [f"source.kind={source.value}"])
    _run_forecast(cfg, as_json, verbose)


@run_app.command("demo")
def run_demo(set_: SetOpt = None, as_json: JsonOpt = False, verbose: VerboseOpt = False) -> None:
    """The main job on embedded defaults: all five cells on a sine wave (flows/configs/demo.toml)."""
    cfg = _load(paths.configs_dir() / "demo.toml", set_)
    _run_forecast(cfg, as_json, verbose)


@run_app.command("lesson")
def run_lesson(config: ConfigOpt = None, set_: SetOpt = None, as_json: JsonOpt = False, verbose: VerboseOpt = False) -> None:
    """The vanishing-gradient lesson: every cell on a long-memory task at several lengths, one budget.

    Settings: tasks/lesson/config.py (one comment each); presets flows/configs/lesson.toml (the full
    sweep, also the defaults) and flows/configs/lesson_demo.toml (about a minute).
    """
    from flows import ephemeral
    from tasks.config import load_config
    from tasks.errors import InputError
    from tasks.lesson.config import LessonConfig
    from tasks.runtime import import_tensorflow

    try:
        cfg = load_config(LessonConfig, config, set_ or [])
    except InputError as exc:
        _fail(f"config: {exc}")
    ephemeral.start_in_background()  # the same overlapped start-up as `run forecast`
    preload = threading.Thread(target=importlib.import_module, args=("flows.lesson",), daemon=True)
    preload.start()
    import_tensorflow(verbose)
    preload.join()
    from flows.lesson import AllTrialsFailed, memory_lesson
    from flows.lesson_report import print_lesson

    try:
        ephemeral.wait()
        summary = memory_lesson(cfg)
    except InputError as exc:
        _fail(str(exc))
    except AllTrialsFailed as exc:
        _fail(str(exc), EXIT_FAILED)
    if as_json:
        sys.stdout.write(json.dumps(summary.to_dict(), indent=2, default=str) + "\n")
    else:
        print_lesson(summary, _console(), TRAINING_VIEW)
    ephemeral.stop_without_waiting()


@config_app.command("show")
def config_show(config: ConfigOpt = None, set_: SetOpt = None, as_json: JsonOpt = False) -> None:
    """Print the resolved config: every key with its value, its default and what it means."""
    from tasks.config import describe_schema
    from tasks.forecasting.config import ForecastConfig

    cfg = _load(config, set_)
    rows = describe_schema(ForecastConfig, cfg)
    if as_json:
        sys.stdout.write(json.dumps([dict(zip(("key", "value", "default", "comment"), r)) for r in rows], indent=2) + "\n")
        return
    from rich.table import Table

    table = Table(title="seqflow run forecast: settings (set with --set KEY=VALUE or a TOML preset)")
    for col in ("key", "value", "default", "meaning"):
        table.add_column(col, overflow="fold")
    for key, value, default, comment in rows:
        table.add_row(key, value if value == default else f"[bold]{value}[/]", default, comment)
    _console().print(table)


@app.command("ui")
def ui(
    host: Annotated[str, typer.Option(help="Interface to bind; keep 127.0.0.1 unless you mean to share it.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port for the MLflow UI.")] = 5000,
    workers: Annotated[int, typer.Option(min=1, help="Server worker processes (one answers fastest on a small machine).")] = 1,
) -> None:
    """Open the MLflow UI on this project's tracking store."""
    from tasks.tracking import store

    cmd = store.ui_command(host, port, workers)
    mlflow_bin = Path(sys.executable).with_name("mlflow")
    if mlflow_bin.exists():
        cmd[0] = str(mlflow_bin)
    _console(stderr=True).print(
        f"MLflow UI on http://{host}:{port}/#/experiments?{TRAINING_VIEW}  (store: {store.tracking_uri()}); "
        "Ctrl+C stops it", highlight=False)
    os.execvp(cmd[0], cmd)


@app.command("bench")
def bench(
    set_: SetOpt = None,
    repeats: Annotated[int, typer.Option(min=1, help="Timings of `seqflow --help` to take the median of.")] = 5,
) -> None:
    """Measure: `seqflow --help` time, the flow (cold and warm) vs the same training bare, samples/s per cell."""
    from flows.bench import run_bench

    run_bench(list(set_ or []), repeats, _console())


def main() -> None:
    """Entry point for ``python -m flows.cli``."""
    app()


if __name__ == "__main__":
    main()
