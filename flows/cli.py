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
    from tasks.embeddings.config import EmbedConfig
    from tasks.embeddings.records import EmbedSummary
    from tasks.forecasting.config import ForecastConfig
    from tasks.forecasting.records import ForecastSummary
    from tasks.lesson.config import LessonConfig

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
        "  seqflow run forecast --source csv --path data/monthly-milk.csv --horizon 12\n"
        "  seqflow run forecast --config flows/configs/sales.toml   US alcohol sales, last 12 months\n"
        "  seqflow predict --model models:/seqflow-forecaster@candidate --input history.csv\n"
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
config_app = typer.Typer(help="Inspect configuration.", no_args_is_help=True, rich_markup_mode=None)
app.add_typer(run_app, name="run")
app.add_typer(config_app, name="config")


def _console(stderr: bool = False):
    from rich.console import Console  # imported on use: --help never needs it

    stream = sys.stderr if stderr else sys.stdout
    # Piped output (CI logs, `| tee`) gets Rich's 80 columns by default, which crushes the table.
    return Console(stderr=stderr, width=None if stream.isatty() else 110)


class Flow(str, Enum):
    """The flows whose settings ``seqflow config show FLOW`` lists."""

    forecast = "forecast"
    embed = "embed"
    lesson = "lesson"


def _listing(flow: Flow) -> str:
    """The command that lists ``flow``'s settings: the one its config errors name."""
    return f"seqflow config show {flow.value}"


class Source(str, Enum):
    """Series sources ``run forecast`` knows."""

    sine = "sine"
    csv = "csv"
    m4 = "m4"


ConfigOpt = Annotated[
    Path | None,
    typer.Option("--config", "-c", metavar="PRESET.toml",
                 help="TOML preset (see flows/configs/); defaults apply where it is silent."),
]
SetOpt = Annotated[
    list[str] | None,
    typer.Option("--set", "-s", metavar="KEY=VALUE",
                 help="Override one setting, e.g. --set window.lookback=24 --set model.cells=lstm,gru "
                      "--set train.clipnorm=off. Every key: `seqflow config show forecast`."),
]
JsonOpt = Annotated[
    bool, typer.Option("--json", help="Print a machine-readable summary (run ids, artifact paths, metrics) on stdout.")
]
LessonSetOpt = Annotated[
    list[str] | None,
    typer.Option("--set", "-s", metavar="KEY=VALUE",
                 help="Override one setting, e.g. --set sweep.lengths=10,50 --set model.cells=rnn,lstm "
                      "--set train.epochs=5. Every key: `seqflow config show lesson`."),
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
        return load_config(ForecastConfig, config, [*extra, *(overrides or [])], listing=_listing(Flow.forecast))
    except InputError as exc:
        _fail(f"config: {exc}")


def _shorthands(
    config: Path | None, source: Source | None, path: str | None, test: str | None, horizon: int | None
) -> list[str]:
    """``--source/--path/--test/--horizon`` as the config overrides they stand for (before any --set)."""
    extra = []
    kind = source.value if source is not None else None
    if kind is None and (path is not None or test is not None):
        from tasks.config import read_preset
        from tasks.errors import InputError

        try:
            preset = read_preset(config) if config is not None else {}
        except InputError as exc:
            _fail(f"config: {exc}")
        section = preset.get("source")
        if not (isinstance(section, dict) and section.get("kind") in ("csv", "m4")):
            _fail("config: --path FILE: say what the file is with --source csv or --source m4")
    if kind is not None:
        extra.append(f"source.kind={kind}")
    if test is not None and kind not in (None, "m4"):
        _fail(f"config: --test {test}: a test file goes with --source m4 (M4's wide files); a CSV holds out its "
              "last --horizon steps")
    # JSON strings are TOML strings: a path such as 2020.csv or true stays text.
    if path is not None:
        extra.append(f"source.path={json.dumps(path)}")
    if test is not None:
        extra.append(f"source.test_path={json.dumps(test)}")
    if horizon is not None:
        extra.append(f"window.horizon={horizon}")
    return extra


def _preflight(cfg: ForecastConfig) -> None:
    """Read and check a file source before Prefect or MLflow start, so bad input writes nothing.

    The flow's own ingest reads it again (the flow can be called without the CLI); the files this
    is for are small next to training.
    """
    if cfg.source.kind == "sine" and not cfg.holdout:
        return
    from tasks.errors import InputError
    from tasks.forecasting.ingest import check_loaded, load_source

    try:
        check_loaded(cfg, load_source(cfg.source, cfg.seed))
    except InputError as exc:
        _fail(str(exc))


def _start_tensorflow_flow(module: str, verbose: bool) -> None:
    """Get a flow that trains Keras models ready to run, its start-up costs overlapped.

    Three costs overlap instead of adding up: the local Prefect server is found or started (its
    own process), the flow's module (Prefect, MLflow) imports in a thread and opens the MLflow
    store, TensorFlow imports here.
    TensorFlow's import releases the GIL for much of its time, so the two imports share it well.
    """
    from flows import ephemeral
    from tasks.runtime import import_tensorflow

    ephemeral.start_in_background()
    preload = threading.Thread(target=_preload, args=(module,), daemon=True)
    preload.start()
    import_tensorflow(verbose)
    preload.join()


def _preload(module: str) -> None:
    """Import the flow's module, then open (or create) the MLflow store: 0.6 s warm, 1.5 s on a new one."""
    importlib.import_module(module)
    try:
        from tasks.tracking import store

        store.client()
    except Exception:  # the flow opens the store again and reports what is wrong there
        pass


def _run_forecast(cfg: ForecastConfig, as_json: bool, verbose: bool) -> None:
    from flows import ephemeral
    from tasks.errors import InputError

    _preflight(cfg)
    _start_tensorflow_flow("flows.forecast", verbose)
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
    if summary.split_mode == "horizon":
        _report_horizon(summary)
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


def _fmt(value: float, digits: int = 3) -> str:
    import math

    return "" if value is None or not math.isfinite(value) else f"{value:.{digits}f}"


def _report_horizon(summary: ForecastSummary) -> None:
    from rich.table import Table

    out = _console()
    series = "1 series" if summary.n_series == 1 else f"{summary.n_series} series"
    table = Table(title=f"last {summary.horizon} steps of {series} held out ({summary.frequency}, season "
                        f"{summary.season_length}); means over series, best MASE first")
    for col in ("#", "forecaster", "kind", "MASE", "sMAPE", "OWA", "RMSE", "MAE", "coverage", "MSIS"):
        table.add_column(col, justify="left" if col in ("forecaster", "kind") else "right", no_wrap=True)
    models = {m.cell: m.metrics for m in summary.models if m.ok}
    for row in summary.ranking:
        m = models.get(row.forecaster, {}) if row.kind == "model" else {}
        table.add_row(str(row.rank), row.forecaster, row.kind, _fmt(row.mase), _fmt(row.smape), _fmt(row.owa),
                      _fmt(row.test_rmse, 2), _fmt(row.test_mae, 2), _fmt(m.get("coverage"), 2), _fmt(m.get("msis"), 2))
    out.print(table)
    if models:
        out.print("coverage: share of held-out values inside the models' prediction intervals (split-conformal, "
                  "nominal evaluate.interval_level); MSIS: M4's scaled interval score", highlight=False, style="dim")
    if summary.folds > 1:
        folds = Table(title=f"rolling-origin backtest: {summary.folds} origins, everything refit per origin (MASE)")
        folds.add_column("forecaster", no_wrap=True)
        for k in range(summary.folds):
            folds.add_column(f"fold {k}", justify="right")
        folds.add_column("mean", justify="right")
        for row in summary.ranking:
            values = [f.mase for f in sorted(summary.backtest, key=lambda f: f.fold) if f.forecaster == row.forecaster]
            folds.add_row(row.forecaster, *(_fmt(v) for v in values), _fmt(sum(values) / len(values)))
        out.print(folds)
    for failed in summary.failed:
        out.print(f"[bold red]failed:[/] {failed.cell}: {failed.failure}", highlight=False)
    for line in summary.skipped_rows:
        out.print(f"skipped {line}", highlight=False, style="dim")
    out.print(f"forecasts: {summary.forecasts_path}", highlight=False)
    served = summary.served
    if served is not None and served.uri:
        out.print(f"served: {served.cell} registered as {served.registered_model} version {served.version}, alias "
                  f"{served.alias}: seqflow predict --model {served.uri} --input HISTORY.csv", highlight=False)
    elif served is not None:
        out.print(f"served: {served.cell} logged as {served.model_uri} (not registered: tracking.registered_model "
                  "is off)", highlight=False)
    elif summary.not_served:
        out.print(summary.not_served, highlight=False)
    out.print(f"MLflow: {summary.tracking_uri}  experiment {summary.experiment_id}, "
              f"parent run '{summary.parent_run_name}' {summary.parent_run_id}", highlight=False)
    out.print("review with `seqflow ui`, then open "
              f"http://127.0.0.1:5000/#/experiments/{summary.experiment_id}?{TRAINING_VIEW}", highlight=False)


@run_app.command("forecast")
def run_forecast(
    source: Annotated[
        Source | None, typer.Option(help="Where the series comes from (default: the preset's, else sine).")
    ] = None,
    path: Annotated[
        str | None, typer.Option("--path", metavar="FILE", help="The CSV or M4 train file (source.path).")
    ] = None,
    test: Annotated[
        str | None, typer.Option("--test", metavar="FILE", help="An M4 test file: the held-out horizon (source.test_path).")
    ] = None,
    horizon: Annotated[
        int | None, typer.Option("--horizon", help="Steps held out at the end of each series and forecast "
                                                         "(window.horizon).")
    ] = None,
    config: ConfigOpt = None,
    set_: SetOpt = None,
    as_json: JsonOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Train every configured cell on the source's series, score it beside baselines, log all to MLflow.

    A CSV or M4 source holds out the last --horizon steps of every series and scores every model and
    baseline on them with the M4 metrics (sMAPE, MASE, OWA). Every setting, its default and its
    meaning: `seqflow config show forecast`.
    """
    cfg = _load(config, set_, _shorthands(config, source, path, test, horizon))
    _run_forecast(cfg, as_json, verbose)


@run_app.command("demo")
def run_demo(set_: SetOpt = None, as_json: JsonOpt = False, verbose: VerboseOpt = False) -> None:
    """The main job on embedded defaults: all five cells on a sine wave (flows/configs/demo.toml)."""
    cfg = _load(paths.configs_dir() / "demo.toml", set_)
    _run_forecast(cfg, as_json, verbose)


@run_app.command("lesson")
def run_lesson(
    config: ConfigOpt = None, set_: LessonSetOpt = None, as_json: JsonOpt = False, verbose: VerboseOpt = False
) -> None:
    """The vanishing-gradient lesson: every cell on a long-memory task at several lengths, one budget.

    Every setting, its default and its meaning: `seqflow config show lesson`; presets
    flows/configs/lesson.toml (the full sweep, also the defaults) and flows/configs/lesson_demo.toml
    (about a minute).
    """
    from flows import ephemeral
    from tasks.errors import InputError

    cfg = _load_lesson(config, set_)
    _start_tensorflow_flow("flows.lesson", verbose)
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


def _load_lesson(config: Path | None, overrides: list[str] | None) -> LessonConfig:
    from tasks.config import load_config
    from tasks.errors import InputError
    from tasks.lesson.config import LessonConfig

    try:
        return load_config(LessonConfig, config, overrides or [], listing=_listing(Flow.lesson))
    except InputError as exc:
        _fail(f"config: {exc}")


@config_app.command("show")
def config_show(
    flow: Annotated[Flow, typer.Argument(metavar="FLOW", help="The flow whose settings to list.")] = Flow.forecast,
    config: ConfigOpt = None,
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", "-s", metavar="KEY=VALUE", help="Override one setting as the flow's run command "
                                                               "would, to see the value it resolves to."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the rows as JSON: key, value, default, comment.")] = False,
) -> None:
    """Print a flow's resolved config (forecast, embed or lesson): every key, its value, default and meaning."""
    from tasks.config import describe_schema

    cfg = {Flow.forecast: _load, Flow.embed: _load_embed, Flow.lesson: _load_lesson}[flow](config, set_)
    _print_settings(flow.value, describe_schema(type(cfg), cfg), as_json)


def _print_settings(flow: str, rows: list[tuple[str, str, str, str]], as_json: bool) -> None:
    """Print ``config show``/``config embed``: every key, its value, default and meaning (JSON or a table)."""
    if as_json:
        sys.stdout.write(json.dumps([dict(zip(("key", "value", "default", "comment"), r)) for r in rows], indent=2) + "\n")
        return
    from rich.table import Table

    table = Table(title=f"seqflow run {flow}: settings (set with --set KEY=VALUE or a TOML preset)")
    for col in ("key", "value", "default", "meaning"):
        table.add_column(col, overflow="fold")
    for key, value, default, comment in rows:
        table.add_row(key, value if value == default else f"[bold]{value}[/]", default, comment)
    _console().print(table)


server_app = typer.Typer(
    help="The local Prefect server that runs share: started by the first run, stopped after "
    "SEQFLOW_SERVER_IDLE_SECONDS (300) without a request.",
    no_args_is_help=True, rich_markup_mode=None,
)
app.add_typer(server_app, name="server")


def _prefect_home() -> Path:
    from tasks.runtime import apply_defaults

    apply_defaults()
    return Path(os.environ["PREFECT_HOME"])


@server_app.command("status")
def server_status() -> None:
    """Say whether a local Prefect server stands for this project, and where."""
    from flows import ephemeral

    home = _prefect_home()
    state = ephemeral.standing_server(home)
    if state is None:
        typer.echo(f"no local Prefect server stands for {home}; the next run starts one")
    else:
        typer.echo(f"local Prefect server at {state['url']} (pid {state['pid']}) for {home}")


@server_app.command("stop")
def server_stop() -> None:
    """Stop this project's local Prefect server now (runs start another when they need one)."""
    from flows import ephemeral

    home = _prefect_home()
    stopped = ephemeral.stop_standing_server(home)
    typer.echo(f"stopped the local Prefect server for {home}" if stopped else f"no local Prefect server stands for {home}")


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


@app.command("predict")
def predict(
    model: Annotated[str, typer.Option(
        "--model", "-m", metavar="MODEL_URI",
        help="The forecaster: models:/NAME@ALIAS (e.g. models:/seqflow-forecaster@candidate, registered by "
             "`seqflow run forecast` on a CSV or M4 source) or a logged model's models:/m-... URI.")],
    input_: Annotated[Path, typer.Option(
        "--input", "-i", metavar="HISTORY.csv",
        help="The history: a CSV of series_id,timestamp,value (or date,value for one series), checked as "
             "`run forecast` checks its files; at least as long as the model's lookback needs, no gaps.")],
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", metavar="FORECAST.parquet|.csv",
        help="Write the forecast there (Parquet or CSV, by the suffix) instead of printing a table.")] = None,
) -> None:
    """Forecast the next horizon of every series in a history with a registered model, with prediction intervals.

    Prints (or writes) series_id, timestamp, yhat, lower, upper: the timestamps continue each series'
    calendar; lower/upper is the model's split-conformal interval at the level it was trained with
    (evaluate.interval_level). A bad history is one line naming the file, row, column and rule, exit
    code 2. The store is this project's (MLFLOW_TRACKING_URI, else artifacts/mlflow); the same model
    serves over HTTP with `mlflow models serve -m MODEL_URI --env-manager local`.
    """
    from flows.predict import check_output, predict as forecast, read_history, write_forecast
    from tasks.errors import InputError

    try:
        check_output(output)
        read_history(input_)  # a bad file is refused before MLflow and TensorFlow load
        from tasks.runtime import import_tensorflow

        import_tensorflow(False)
        made = forecast(model, input_)
        if output is not None:
            write_forecast(made.forecast, output)
    except InputError as exc:
        _fail(str(exc))
    bundle = made.bundle
    if output is not None:
        _console(stderr=True).print(f"wrote {len(made.forecast)} rows to {output}", highlight=False)
        return
    from rich.table import Table

    n_series = made.forecast["series_id"].nunique()
    level = bundle["interval"]["level"]
    series = "1 series" if n_series == 1 else f"{n_series} series"
    table = Table(title=f"{bundle['cell']}: next {bundle['horizon']} {bundle['frequency']} steps, {level:.0%} interval",
                  caption=f"{series}; {model}")
    for col in ("series_id", "timestamp", "yhat", "lower", "upper"):
        table.add_column(col, justify="left" if col in ("series_id", "timestamp") else "right", no_wrap=True)
    stamps = made.forecast["timestamp"].dt
    fmt = "%Y-%m-%d" if ((stamps.hour == 0) & (stamps.minute == 0)).all() else "%Y-%m-%d %H:%M"
    for row in made.forecast.itertuples(index=False):
        table.add_row(str(row.series_id), row.timestamp.strftime(fmt), f"{row.yhat:.2f}", f"{row.lower:.2f}",
                      f"{row.upper:.2f}")
    _console().print(table)


bench_app = typer.Typer(
    help="Measure: `seqflow bench` for speed; `seqflow bench forecast` for forecast accuracy.",
    invoke_without_command=True, rich_markup_mode=None,
)
app.add_typer(bench_app, name="bench")


@bench_app.callback()
def bench(
    ctx: typer.Context,
    set_: SetOpt = None,
    repeats: Annotated[int, typer.Option(min=1, help="Timings of `seqflow --help` to take the median of.")] = 5,
) -> None:
    """Measure: `seqflow --help` time, the flow (cold and warm) vs the same training bare, samples/s per cell.

    `seqflow bench forecast` measures forecast accuracy instead (M4 baselines, milk through the flow).
    """
    if ctx.invoked_subcommand is not None:
        return
    from flows.bench import run_bench

    run_bench(list(set_ or []), repeats, _console())


@bench_app.command("forecast")
def bench_forecast(
    m4: Annotated[bool, typer.Option("--m4/--no-m4", help="Backtest the baselines on M4 Hourly and Weekly "
                                                         "(../shared/data/m4; minutes).")] = True,
    datasets: Annotated[
        list[str] | None, typer.Option("--dataset", metavar="NAME", help="An M4 set to run: Hourly or Weekly (repeat "
                                                                         "for both; default both).")
    ] = None,
    workers: Annotated[int, typer.Option(min=1, help="Processes for the M4 backtests.")] = 2,
    flow: Annotated[bool, typer.Option("--flow/--no-flow", help="Run the flow on milk (last 12 months held out, 3 "
                                                             "seeds, the course recipe) and the 4-origin "
                                                             "backtests on milk and alcohol sales.")] = True,
    m4_flow: Annotated[bool, typer.Option("--m4-flow/--no-m4-flow", help="Also run the flow's M4 presets "
                                                                       "(flows/configs/m4_hourly.toml, m4_weekly.toml) "
                                                                       "for each --dataset, the model beside the "
                                                                       "baselines of the same run (minutes each).")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Forecast accuracy: M4 baselines beside the official scores; milk through the flow beside the baselines."""
    from flows.bench_forecast import run_forecast_bench

    figures = run_forecast_bench(_console(stderr=as_json), workers=workers,
                                 datasets=tuple(datasets or ("Hourly", "Weekly")), m4=m4, flow=flow, m4_flow=m4_flow)
    if as_json:
        sys.stdout.write(json.dumps(figures, indent=2, default=str) + "\n")


# --- embeddings: `seqflow run embed`, `seqflow config embed`, `seqflow bench-embed` -----------------


EmbedSetOpt = Annotated[
    list[str] | None,
    typer.Option("--set", "-s", metavar="KEY=VALUE",
                 help="Override one setting, e.g. --set model.architecture=cbow --set tokenize.min_count=2 "
                      "--set evaluate.probe_words=king,queen. Every key: `seqflow config show embed`."),
]


def _load_embed(config: Path | None, overrides: list[str] | None, extra: list[str] = ()) -> EmbedConfig:
    from tasks.config import load_config
    from tasks.embeddings.config import EmbedConfig
    from tasks.errors import InputError

    try:
        return load_config(EmbedConfig, config, [*extra, *(overrides or [])], listing=_listing(Flow.embed))
    except InputError as exc:
        _fail(f"config: {exc}")


def _preflight_embed(cfg: EmbedConfig) -> None:
    """Refuse what can be refused before Prefect or MLflow start, so that bad input writes nothing.

    Only pure modules are imported here (importing Prefect creates its home folder). The corpus is
    read up to its first document: a missing path, a binary or corrupt file, a table without its text
    column, an empty corpus. The flow checks the rest of the corpus as it tokenizes it, still before
    any run opens.
    """
    from tasks.embeddings import corpus, gensim_w2v
    from tasks.errors import InputError

    try:
        problem = gensim_w2v.determinism_problem(cfg.model)
        if problem is not None:
            raise InputError(problem)
        documents = corpus.iter_documents(cfg.corpus)
        next(documents, None)
        documents.close()
    except InputError as exc:
        _fail(str(exc))


def _hide_input_errors_from_prefect_console() -> None:
    """Keep Prefect's console from printing a refused input's traceback and failed states.

    A problem found while the corpus streams (a binary file deep in a directory, no word reaching
    min_count) is raised inside a Prefect task; the CLI says it in one line, so Prefect's own lines
    about it (a traceback per task and flow) are dropped from the console. They still reach the
    Prefect server, whose UI shows the failed task with its message.
    """
    import logging

    from tasks.errors import InputError

    class HideInputErrors(logging.Filter):
        def filter(self, record: logging.LogRecord) -> bool:
            if record.exc_info and isinstance(record.exc_info[1], InputError):
                return False
            return "InputError" not in record.getMessage()

    for handler in logging.getLogger().handlers:
        if type(handler).__name__ == "PrefectConsoleHandler" and not any(
            type(f).__name__ == "HideInputErrors" for f in handler.filters
        ):
            handler.addFilter(HideInputErrors())


def _run_embed(cfg: EmbedConfig, as_json: bool) -> None:
    from tasks.errors import InputError

    _preflight_embed(cfg)
    from flows import ephemeral

    # No TensorFlow here: Prefect, MLflow and gensim import while the temporary server starts.
    ephemeral.start_in_background()
    from flows.embed import train_embeddings

    _hide_input_errors_from_prefect_console()
    try:
        ephemeral.wait()
        summary = train_embeddings(cfg)
    except InputError as exc:
        ephemeral.stop_without_waiting()
        _fail(str(exc))
    _report_embed(summary, cfg, as_json)
    ephemeral.stop_without_waiting()


def _finite_or_null(value):
    if isinstance(value, float):
        return value if value == value and abs(value) != float("inf") else None
    if isinstance(value, dict):
        return {k: _finite_or_null(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite_or_null(v) for v in value]
    return value


def _percent(value: float) -> str:
    return "n/a" if value != value else f"{value:.1%}"  # NaN: nothing answered


def _rho(value: float) -> str:
    return "n/a" if value != value else f"{value:+.3f}"


def _report_embed(summary: EmbedSummary, cfg: EmbedConfig, as_json: bool) -> None:
    if as_json:
        # NaN (a score with nothing to score on a tiny corpus) is not JSON: it is written as null.
        sys.stdout.write(json.dumps(_finite_or_null(summary.to_dict()), indent=2, default=str, allow_nan=False) + "\n")
        return
    from rich.table import Table

    m, model = summary.metrics, cfg.model
    nce = summary.backend == "tf" and model.loss == "nce"
    objective = f"{'NCE' if nce else 'negative'} {model.negative}" if model.negative else ""
    objective = " + ".join(p for p in (objective, "hierarchical softmax" if model.hs else "") if p)
    table = Table(
        title=f"{summary.run_name}: {model.vector_size} dims, context window {model.context_window}, "
              f"{objective}, {model.epochs} epochs",
        show_header=True,
    )
    table.add_column("step", no_wrap=True)
    table.add_column("what came out", overflow="fold")
    phrases = f" ({summary.n_phrases:,} phrases joined)" if cfg.tokenize.phrases else ""
    table.add_row("corpus", f"{summary.corpus.name}: {summary.n_documents:,} documents, {summary.n_tokens:,} tokens, "
                            f"{summary.n_distinct:,} distinct words{phrases}")
    reused = "reused from an earlier run (Cached)" if summary.tokenize_cached else "tokenized now"
    table.add_row("tokens", f"{reused}: {summary.tokenize_seconds:.1f} s, "
                            f"{summary.tokens_per_second / 1e6:.2f} M tokens/s when made")
    table.add_row("vocabulary", f"{summary.n_words:,} words (min_count {cfg.tokenize.min_count}), "
                                f"{summary.n_vocabulary_tokens:,} tokens a pass")
    losses = [e.loss for e in summary.epochs]
    table.add_row("train", f"{len(summary.epochs)} epochs in {summary.train_seconds:.1f} s, "
                           f"{summary.words_per_second / 1e6:.3f} M effective words/s; "
                           f"loss per epoch {losses[0]:.3g} → {losses[-1]:.3g}")
    restrictions = sorted({cfg.evaluate.restrict_vocab, 300_000})
    if summary.n_words <= restrictions[0]:  # a smaller vocabulary scores the same under every restriction
        restrictions = restrictions[:1]
    for restrict in restrictions:
        rows = [r for r in summary.analogy_sections if r["restrict_vocab"] == restrict]
        answered, total = sum(r["answered"] for r in rows), sum(r["total"] for r in rows)
        tag = f"analogy_{restrict}"
        label = f"analogies ({restrict:,})" if len(restrictions) > 1 else "analogies"
        table.add_row(label,
                      f"{_percent(m[f'{tag}_accuracy'])} of {answered:,} answered "
                      f"(semantic {_percent(m[f'{tag}_semantic'])}, syntactic {_percent(m[f'{tag}_syntactic'])}); "
                      f"{total - answered:,} of {total:,} skipped for an unknown word")
    for name, label in (("wordsim353", "WordSim-353"), ("simlex999", "SimLex-999")):
        table.add_row(label, f"Spearman ρ {_rho(m[f'{name}_spearman'])}; "
                             f"{m[f'{name}_oov_share']:.0%} of the pairs have an unknown word")
    ex = summary.exports
    table.add_row("t-SNE", f"{ex.tsne_words:,} most frequent words in {ex.tsne_seconds:.1f} s, "
                           f"trustworthiness {ex.tsne_trustworthiness:.3f}")
    table.add_row("flow", f"{summary.wall_seconds:.1f} s from the first step to the summary")
    out = _console()
    out.print(table)
    if len(summary.comparison) > 1:
        compared = Table(title="backends side by side (same tokens; also on the parent run: comparison/backends.md)")
        for col in ("backend", "effective words/s", "vs first", "train s", "analogies (30k)", "WS353 ρ", "SimLex ρ"):
            compared.add_column(col, justify="left" if col == "backend" else "right")
        first = summary.comparison[0]["words_per_second"]
        for row in summary.comparison:
            compared.add_row(row["backend"], f"{row['words_per_second'] / 1e6:.3f} M",
                             f"{row['words_per_second'] / first:.2f}x" if first > 0 else "n/a",
                             f"{row['train_seconds']:.1f}", _percent(row["analogy_30000_accuracy"]),
                             _rho(row["wordsim353_spearman"]), _rho(row["simlex999_spearman"]))
        out.print(compared)
    probes = Table(title=f"nearest neighbours (cosine similarity), {len(summary.neighbours)} rows in "
                         "evaluation/neighbours.csv", show_header=True)
    probes.add_column("probe", no_wrap=True)
    probes.add_column("neighbours, nearest first", overflow="fold")
    shown: dict[str, list[str]] = {}
    for row in summary.neighbours:
        cells = shown.setdefault(row.probe, [])
        if row.rank == 0:
            cells.append("not in the vocabulary")
        elif row.rank <= 6:
            cells.append(f"{row.neighbour} {row.similarity:.2f}")
    for probe, cells in shown.items():
        probes.add_row(probe, ", ".join(cells))
    out.print(probes)
    folder = Path(ex.local["tsne_png"]).parent
    out.print(f"files: {folder}/ (vectors.txt and vectors.bin in word2vec format, vectors.parquet, "
              "projector/ for TensorBoard, tsne.parquet, tsne.png)", highlight=False)
    out.print(f"MLflow: {summary.tracking_uri}  experiment {summary.experiment_id}, "
              f"parent run '{summary.parent_run_name}' {summary.parent_run_id}, "
              f"model run '{summary.run_name}' {summary.run_id}", highlight=False)
    out.print("review with `seqflow ui`, then open "
              f"http://127.0.0.1:5000/#/experiments/{summary.experiment_id}?{TRAINING_VIEW}", highlight=False)


@run_app.command("embed")
def run_embed(
    corpus: Annotated[
        str | None,
        typer.Option("--corpus", metavar="PATH",
                     help="A text file (.gz/.bz2 too), a directory of .txt files, or a .tsv/.csv with a text column "
                          "(corpus.text_column). Default: gensim's lee_background.cor."),
    ] = None,
    backend: Annotated[
        str | None,
        typer.Option("--backend", metavar="NAMES",
                     help="gensim, tf (TensorFlow skip-gram), or a comma list such as gensim,tf: each trains on the "
                          "same tokens and the parent run gets a comparison table (model.backend)."),
    ] = None,
    config: ConfigOpt = None,
    set_: EmbedSetOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Train word2vec on a corpus, score analogies and word similarity, export vectors, projector files and t-SNE.

    Every setting, its default and its meaning: `seqflow config show embed`.
    """
    # A JSON string is a TOML string: a path such as 2020.txt or true stays text.
    extra = [f"corpus.path={json.dumps(os.path.abspath(corpus), ensure_ascii=False)}"] if corpus else []
    if backend is not None:
        extra.append(f"model.backend={json.dumps(backend)}")
    _run_embed(_load_embed(config, set_, extra), as_json)


@config_app.command("embed")
def config_embed(config: ConfigOpt = None, set_: EmbedSetOpt = None, as_json: JsonOpt = False) -> None:
    """The same as `seqflow config show embed` (this spelling came first)."""
    from tasks.config import describe_schema
    from tasks.embeddings.config import EmbedConfig

    _print_settings("embed", describe_schema(EmbedConfig, _load_embed(config, set_)), as_json)


@bench_app.command("embed")
def bench_embed(
    max_docs: Annotated[int | None, typer.Option(min=1, help="Read only the first N IMDB reviews (a smoke run).")] = None,
    skip_corpus_file: Annotated[bool, typer.Option(help="Leave out gensim's corpus_file mode.")] = False,
    flow: Annotated[bool, typer.Option(help="Also run the train-embeddings flow with the same settings.")] = True,
    architectures: Annotated[str, typer.Option(help="Comma list of skipgram, cbow.")] = "skipgram,cbow",
    tf_loss: Annotated[str, typer.Option(
        help="The TF backend's objectives measured beside skip-gram: negative_sampling, nce, a comma list, or off.",
    )] = "negative_sampling",
) -> None:
    """Measure word2vec on IMDB: plain gensim beside seqflow's training and beside the whole flow, in one run.

    Reads ../shared/data/text/imdb-reviews.tsv.gz. Full size it takes tens of minutes on 2 cores.
    """
    from flows import bench_embed as plain_bench

    if not plain_bench.IMDB.is_file():
        _fail(f"{plain_bench.IMDB}: no such file (the benchmark reads the shared IMDB corpus)")
    console = _console()
    archs = plain_bench.split_names(architectures)
    unknown = [a for a in archs if a not in ("skipgram", "cbow")] or [
        loss for loss in plain_bench.split_names(tf_loss) if loss not in ("negative_sampling", "nce")]
    if unknown or not archs:
        _fail(f"bench embed: {unknown[0] if unknown else architectures!r} is not one of skipgram, cbow "
              "(--architectures) or negative_sampling, nce, off (--tf-loss)")
    figures = plain_bench.run(max_docs, skip_corpus_file, archs, plain_bench.split_names(tf_loss))
    if flow:
        from flows.bench_embed_flow import run_flow_bench

        run_flow_bench(max_docs, figures, console, archs)


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


if __name__ == "__main__":
    main()
