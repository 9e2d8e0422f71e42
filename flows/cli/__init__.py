"""``seqflow``: run flows once, show the resolved config, open the MLflow UI, measure speed.

One module per command group, each with the renderer of what it prints: ``forecast`` (``run
forecast``), ``study`` (``run study``, ``run demo``), ``embed`` (``run embed``), ``retrain`` (``run
retrain``), ``retrain_embed`` (``run retrain-embed``), ``sweep`` (``run sweep``), ``lesson`` (``run lesson``),
``predict``, ``models``, ``serve``, ``serve_model`` (``serve-model``), ``config``, ``server``, ``ui``, ``bench``;
``options`` holds what they share. This module only
wires them into one app.

Heavy imports (Prefect, MLflow, TensorFlow) happen inside the commands, so ``seqflow --help``
answers at once. Exit codes: 0 success; 2 bad input (one line naming the file, row, column or key,
the value and the rule); 1 a crash (with its traceback) or a flow whose every model failed.
"""

from __future__ import annotations

import importlib.metadata
import sys
from typing import Annotated

import typer

from flows.cli import (
    bench,
    config,
    embed,
    forecast,
    lesson,
    models,
    predict,
    retrain,
    retrain_embed,
    serve,
    serve_model,
    server,
    study,
    sweep,
    ui,
)


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
        "  seqflow run study --config flows/configs/sine.toml --set model.cells=lstm,gru --json\n"
        "  seqflow run forecast --path data/monthly-milk.csv --horizon 12\n"
        "  seqflow run forecast --config flows/configs/sales.toml   US alcohol sales, last 12 months\n"
        "  seqflow predict --model models:/forecast-alcohol-sales@candidate --input history.csv\n"
        "  seqflow run retrain --config flows/configs/sales.toml   validate, challenge, gate the champion\n"
        "  seqflow run retrain-embed             new word vectors, kept only if they beat the champion's\n"
        "  seqflow serve-model --model models:/forecast-alcohol-sales@champion --port 5001   the model over HTTP\n"
        "  seqflow models list                   registered models, aliases, versions and their scores\n"
        "  seqflow config show embed             every setting of a flow with its value, default and meaning\n"
        "  seqflow ui                            review runs at http://127.0.0.1:5000\n"
        "  seqflow bench                         speed figures, side by side\n"
        "  seqflow bench forecast                M4 baselines vs the official scores; milk, every cell\n"
        "  seqflow server stop                   stop the local Prefect server runs leave standing\n"
        "\b\nMLFLOW_TRACKING_URI and PREFECT_API_URL point seqflow at real servers;\n"
        "SEQFLOW_ARTIFACTS moves everything it writes (default: ./artifacts);\n"
        "SEQFLOW_SERVER_IDLE_SECONDS: how long the local Prefect server waits for the next run (300; 0 = none)."
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
run_app.command("demo")(study.run_demo)
run_app.command("forecast")(forecast.run_forecast)
run_app.command("study")(study.run_study)
run_app.command("retrain")(retrain.run_retrain)
run_app.command("lesson")(lesson.run_lesson)
run_app.command("embed")(embed.run_embed)
run_app.command("retrain-embed")(retrain_embed.run_retrain_embed)
run_app.command("sweep")(sweep.run_sweep)

# Top-level commands first, then the groups: the order `seqflow --help` lists them in.
app.command("ui")(ui.ui)
app.command("predict")(predict.predict)
app.command("promote")(models.promote)
app.command("serve")(serve.serve)
app.command("serve-model")(serve_model.serve_model)
app.add_typer(run_app, name="run")
app.add_typer(models.app, name="models")
app.add_typer(config.app, name="config")
app.add_typer(server.app, name="server")
app.add_typer(bench.app, name="bench")


def main() -> None:
    """Entry point for ``python -m flows.cli`` and the ``seqflow`` script."""
    try:
        app()
    except SystemExit as exc:
        code = exc.code
    else:
        code = 0
    if "tensorflow" in sys.modules:
        # A flow ran (or TensorFlow was imported for one): everything is written and every run is
        # closed; the interpreter's teardown of TensorFlow and MLflow would only add seconds.
        from tasks.runtime import exit_without_teardown

        exit_without_teardown(code)
    sys.exit(code)
