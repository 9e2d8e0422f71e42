"""``seqflow``: run flows once, open the MLflow UI, measure speed.

Heavy imports (Prefect, MLflow, TensorFlow) happen inside the commands, so ``seqflow --help``
answers at once.
"""

from __future__ import annotations

import json
import os
import sys
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from tasks import paths

if TYPE_CHECKING:
    from tasks.config import ForecastConfig

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
        "  seqflow ui                            review runs at http://127.0.0.1:5000\n"
        "  seqflow bench                         speed figures, side by side\n"
        "\b\nMLFLOW_TRACKING_URI and PREFECT_API_URL point seqflow at real servers;\n"
        "SEQFLOW_ARTIFACTS moves everything it writes (default: ./artifacts)."
    ),
)
run_app = typer.Typer(
    help="Run a flow once, now, and print what it produced.", no_args_is_help=True, rich_markup_mode=None
)
app.add_typer(run_app, name="run")



def _console(stderr: bool = False):
    from rich.console import Console  # imported on use: --help never needs it

    stream = sys.stderr if stderr else sys.stdout
    # Piped output (CI logs, `| tee`) gets Rich's 80 columns by default, which crushes the table.
    return Console(stderr=stderr, width=None if stream.isatty() else 110)

EXIT_BAD_INPUT = 2


class Source(str, Enum):
    """Series sources ``run forecast`` knows."""

    sine = "sine"


ConfigOpt = Annotated[
    Path | None, typer.Option("--config", "-c", metavar="PRESET.toml", help="TOML preset (see flows/configs/); defaults apply where it is silent.")
]
SetOpt = Annotated[
    list[str] | None,
    typer.Option("--set", "-s", metavar="KEY=VALUE", help="Override one setting, e.g. --set window.lookback=24 --set model.cells=lstm,gru."),
]
JsonOpt = Annotated[
    bool, typer.Option("--json", help="Print a machine-readable summary (run ids, artifact paths, metrics) on stdout.")
]


def _fail(message: str, code: int = EXIT_BAD_INPUT) -> NoReturn:
    _console(stderr=True).print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def _load(config: Path | None, overrides: list[str] | None, extra: list[str] = ()) -> ForecastConfig:
    from tasks.config import ConfigError, load_config  # pydantic: not needed for --help

    try:
        return load_config(config, [*extra, *(overrides or [])])
    except ConfigError as exc:
        _fail(f"config: {exc}")


def _run_forecast(cfg: ForecastConfig, as_json: bool) -> None:
    from flows.forecast import train_forecasters

    try:
        summary = train_forecasters(cfg)
    except (ValueError, FileNotFoundError) as exc:
        _fail(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
    _report(summary, as_json)


def _report(summary: dict[str, Any], as_json: bool) -> None:
    if as_json:
        sys.stdout.write(json.dumps(summary, indent=2, default=str) + "\n")
        return
    from rich.table import Table

    table = Table(title="test-set one-step forecasts, best first", show_lines=False)
    for col in ("#", "name", "kind", "test RMSE", "test MAE", "gen. RMSE", "grad 1st/last"):
        table.add_column(col, justify="left" if col in ("name", "kind") else "right", no_wrap=True)
    models = summary["models"]
    for row in summary["ranking"]:
        m = models.get(row["name"], {}).get("metrics", {})
        table.add_row(
            str(row["rank"]), row["name"], row["kind"], f"{row['test_rmse']:.4f}", f"{row['test_mae']:.4f}",
            f"{m['generated_rmse']:.4f}" if m else "", f"{m['gradient_first_to_last']:.2e}" if m else "",
        )
    out = _console()
    out.print(table)
    out.print(f"MLflow: {summary['tracking_uri']}  experiment {summary['experiment_id']}, "
              f"parent run {summary['parent_run_id']}  (review with: seqflow ui)")


@run_app.command("forecast")
def run_forecast(
    source: Annotated[Source, typer.Option(help="Where the series comes from.")] = Source.sine,
    config: ConfigOpt = None,
    set_: SetOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Train every configured cell on one series, evaluate against baselines, log all to MLflow."""
    cfg = _load(config, set_, [f"source.kind={source.value}"])
    _run_forecast(cfg, as_json)


@run_app.command("demo")
def run_demo(set_: SetOpt = None, as_json: JsonOpt = False) -> None:
    """The main job on embedded defaults: all five cells on a sine wave (flows/configs/demo.toml)."""
    cfg = _load(paths.configs_dir() / "demo.toml", set_)
    _run_forecast(cfg, as_json)


@app.command("ui")
def ui(
    host: Annotated[str, typer.Option(help="Interface to bind; keep 127.0.0.1 unless you mean to share it.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port for the MLflow UI.")] = 5000,
) -> None:
    """Open the MLflow UI on this project's tracking store."""
    from tasks import tracking

    cmd = tracking.ui_command(host, port)
    mlflow_bin = Path(sys.executable).with_name("mlflow")
    if mlflow_bin.exists():
        cmd[0] = str(mlflow_bin)
    _console(stderr=True).print(f"MLflow UI on http://{host}:{port}  (store: {tracking.tracking_uri()}); Ctrl+C stops it")
    os.execvp(cmd[0], cmd)


@app.command("bench")
def bench(
    set_: SetOpt = None,
    repeats: Annotated[int, typer.Option(min=1, help="Timings of `seqflow --help` to take the median of.")] = 5,
) -> None:
    """Measure: `seqflow --help` time, the flow vs the same training run bare, training samples/s per cell."""
    from flows.bench import run_bench

    run_bench(list(set_ or []), repeats, _console())


def main() -> None:
    """Entry point for ``python -m flows.cli``."""
    app()


if __name__ == "__main__":
    main()
