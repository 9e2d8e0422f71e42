"""What every ``seqflow`` command shares: exit codes, the consoles, the one-line error, the options.

Only Typer and the standard library are imported here: ``seqflow --help`` imports every command
module, so anything heavy (Rich's consoles, the config schemas) is imported on use.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import sys
from collections.abc import Iterator
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

if TYPE_CHECKING:
    from rich.console import Console

    from tasks.config import RunConfig

EXIT_BAD_INPUT = 2
EXIT_FAILED = 1
# MLflow 3's UI opens experiments on its GenAI view unless asked for the training view; it remembers
# the choice after the first visit. (The experiment tag mlflow.experimentKind alone does not switch it.)
TRAINING_VIEW = "workflowType=machine_learning"


class Flow(str, Enum):
    """The flows whose settings ``seqflow config show FLOW`` lists."""

    forecast = "forecast"
    study = "study"
    retrain = "retrain"
    embed = "embed"
    lesson = "lesson"
    retrain_embed = "retrain-embed"


# Each flow's config class, imported only when a command loads it (pydantic schemas import the domain).
SCHEMAS = {
    Flow.forecast: ("tasks.forecasting.config", "ForecastConfig"),
    Flow.study: ("tasks.study.config", "StudyConfig"),
    Flow.retrain: ("flows.retrain", "RetrainConfig"),
    Flow.embed: ("tasks.embeddings.config", "EmbedConfig"),
    Flow.lesson: ("tasks.lesson.config", "LessonConfig"),
    Flow.retrain_embed: ("flows.retrain_embed", "RetrainEmbedConfig"),
}


def listing(flow: Flow) -> str:
    """The command that lists ``flow``'s settings: the one its config errors name."""
    return f"seqflow config show {flow.value}"


def schema(flow: Flow) -> type[RunConfig]:
    """``flow``'s config class."""
    module, name = SCHEMAS[flow]
    return getattr(importlib.import_module(module), name)


def console(stderr: bool = False) -> Console:
    """A Rich console on stdout (or stderr), as wide as the terminal, 110 columns when piped."""
    from rich.console import Console  # imported on use: --help never needs it

    stream = sys.stderr if stderr else sys.stdout
    # Piped output (CI logs, `| tee`) gets Rich's 80 columns by default, which crushes the table.
    return Console(stderr=stderr, width=None if stream.isatty() else 110)


def fail(message: str, code: int = EXIT_BAD_INPUT) -> NoReturn:
    """Say ``error: message`` in one line on stderr and exit with ``code`` (2: bad input)."""
    console(stderr=True).print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True, markup=True)
    raise typer.Exit(code)


def check_environment(prefect: bool = True) -> None:
    """Refuse, in one line and before anything starts, an environment no command can work in.

    ``SEQFLOW_ARTIFACTS`` must be (or be able to become) a folder and ``SEQFLOW_SERVER_IDLE_SECONDS``
    a number of seconds: else exit 2, the user's to fix. A local MLflow store that exists must be
    whole, and with ``prefect`` (a command that runs flows) so must Prefect's database: a 0-byte,
    foreign or damaged ``mlflow.db`` or ``prefect.db`` is a fault, exit 1, and is never re-created
    empty. Nothing is written.
    """
    from flows import ephemeral
    from tasks import databases, paths
    from tasks.errors import EnvironmentFault, InputError
    from tasks.tracking import store  # imports MLflow only on first use of a client

    try:
        paths.check_artifacts_dir()
        if prefect:
            ephemeral.idle_seconds()
        store.check_store()
        if prefect:
            databases.check_prefect_store()
    except InputError as exc:
        fail(str(exc))
    except EnvironmentFault as exc:
        fail(str(exc), EXIT_FAILED)


@contextlib.contextmanager
def one_line_errors() -> Iterator[None]:
    """Say the errors that carry a one-line message in one line: bad input exit 2, a fault of the environment exit 1."""
    from tasks.errors import EnvironmentFault, InputError

    try:
        yield
    except InputError as exc:
        fail(str(exc))
    except EnvironmentFault as exc:
        fail(str(exc), EXIT_FAILED)


def print_where(out: Console, summary: Any) -> None:
    """Say where a flow's run is recorded and how to open it in the MLflow UI's training view."""
    out.print(f"MLflow: {summary.tracking_uri}  experiment {summary.experiment_id}, "
              f"parent run '{summary.parent_run_name}' {summary.parent_run_id}", highlight=False)
    from tasks.tracking.store import server_url

    view = f"#/experiments/{summary.experiment_id}?{TRAINING_VIEW}"
    server = server_url(summary.tracking_uri)
    if server is not None:
        out.print(f"review at {server}/{view}", highlight=False)
        return
    out.print(f"review with `seqflow ui`, then open http://127.0.0.1:5000/{view}", highlight=False)


def print_json(data: Any, **dumps: Any) -> None:
    """Write ``data`` to stdout as indented JSON (what ``--json`` prints); ``dumps`` go to :func:`json.dumps`."""
    sys.stdout.write(json.dumps(data, indent=2, default=str, **dumps) + "\n")


def load(flow: Flow, preset: Path | None, overrides: list[str] | None, extra: list[str] = ()) -> RunConfig:
    """``flow``'s config from its defaults, a preset, ``extra`` then ``--set`` overrides; exit 2 if refused.

    Args:
        flow: whose config to load; its errors name ``seqflow config show FLOW``.
        preset: the ``--config`` TOML file, if any.
        overrides: the ``--set`` strings, applied last.
        extra: overrides that a command's shorthand options stand for (applied before ``--set``).
    """
    from tasks.config import load_config
    from tasks.errors import InputError

    try:
        return load_config(schema(flow), preset, [*extra, *(overrides or [])], listing=listing(flow))
    except InputError as exc:
        fail(f"config: {exc}")


ConfigOpt = Annotated[
    Path | None,
    typer.Option("--config", "-c", metavar="PRESET.toml",
                 help="TOML preset (see flows/configs/); defaults apply where it is silent."),
]


def set_option(examples: str, flow: Flow) -> Any:
    """A ``--set KEY=VALUE`` option whose help shows ``examples`` and names ``flow``'s listing."""
    return Annotated[
        list[str] | None,
        typer.Option("--set", "-s", metavar="KEY=VALUE",
                     help=f"Override one setting, e.g. {examples}. Every key: `{listing(flow)}`."),
    ]


SetOpt = set_option("--set window.lookback=24 --set model.cells=lstm,gru --set train.clipnorm=off", Flow.forecast)
JsonOpt = Annotated[
    bool, typer.Option("--json", help="Print a machine-readable summary (run ids, artifact paths, metrics) on stdout.")
]
VerboseOpt = Annotated[bool, typer.Option("--verbose", "-v", help="Show TensorFlow's start-up messages too.")]
RunnerOpt = Annotated[str, typer.Option("--runner", metavar="serial|dask",
                                        help="serial: the independent parts one after another in this process; dask: "
                                             "fanned out to a Dask cluster (--address), or to a local one.")]
AddressOpt = Annotated[str | None, typer.Option("--address", metavar="tcp://HOST:PORT",
                                                help="The scheduler of a running Dask cluster (with --runner dask); "
                                                     "without it, a local cluster of --workers processes.")]
WorkersOpt = Annotated[int, typer.Option("--workers", metavar="N",
                                         help="Processes of the local Dask cluster, one thread each.")]


def runner_for(runner: str, address: str | None, workers: int) -> Any:
    """The checked ``--runner``, ``--address`` and ``--workers`` as a :class:`flows.runners.Runner`; exit 2
    naming what is wrong."""
    from urllib.parse import urlsplit

    from flows.runners import RUNNERS, Runner

    if runner not in RUNNERS:
        fail(f"--runner {runner}: not one of {', '.join(RUNNERS)}")
    if address is not None and runner != "dask":
        fail(f"--address {address}: only with --runner dask")
    if address is not None:
        parts = urlsplit(address)
        try:
            port = parts.port
        except ValueError:
            port = None
        if parts.scheme != "tcp" or not parts.hostname or port is None or parts.path not in ("", "/"):
            fail(f"--address {address}: must be a Dask scheduler's tcp://HOST:PORT")
    if workers < 1:
        fail(f"--workers {workers}: must be at least 1")
    return Runner(runner, address, workers)
