"""``seqflow run forecast``: the forecasting flow once (the last horizon of every series held out), and its tables."""

from __future__ import annotations

import json
import math
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from flows.cli.options import (
    AddressOpt,
    ConfigOpt,
    Flow,
    JsonOpt,
    RunnerOpt,
    SetOpt,
    VerboseOpt,
    WorkersOpt,
    console,
    fail,
    load,
    print_where,
    runner_for,
)
from flows.cli.startup import run_tensorflow_flow

if TYPE_CHECKING:
    from flows.runners import Runner
    from tasks.forecasting.config import ForecastConfig
    from tasks.forecasting.records import ForecastSummary


class Source(str, Enum):
    """Series sources ``run forecast`` knows."""

    csv = "csv"
    m4 = "m4"


def run_forecast(
    source: Annotated[
        Source | None, typer.Option(help="What the file is: csv (one series, or many in long format) or m4 (M4's wide "
                                        "files); default: the preset's, else csv.")
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
    runner: RunnerOpt = "serial",
    address: AddressOpt = None,
    workers: WorkersOpt = 2,
    as_json: JsonOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Train every configured cell on a file's series, score it beside baselines, log all to MLflow.

    Holds out the last --horizon steps of every series and scores every model and baseline on them
    with the M4 metrics (sMAPE, MASE, OWA); the best model is registered as a servable forecaster.
    Without --path the shipped US alcohol sales series (data/alcohol-sales.csv) is forecast. Every
    setting, its default and its meaning: `seqflow config show forecast`. With --runner dask every
    network's training units (cell x ensemble member x backtest origin) train at once on a Dask
    cluster (--address, or a local one of --workers processes); the results are those of a serial run.
    """
    chosen = runner_for(runner, address, workers)
    cfg = load(Flow.forecast, config, set_, _shorthands(config, source, path, test, horizon))
    _run(cfg, as_json, verbose, chosen)


def _shorthands(
    config: Path | None, source: Source | None, path: str | None, test: str | None, horizon: int | None
) -> list[str]:
    """``--source/--path/--test/--horizon`` as the config overrides they stand for (before any --set)."""
    extra = []
    kind = source.value if source is not None else None
    if kind is not None:
        extra.append(f"source.kind={kind}")
    if test is not None and kind not in (None, "m4"):
        fail(f"config: --test {test}: a test file goes with --source m4 (M4's wide files); a CSV holds out its "
             "last --horizon steps")
    # JSON strings are TOML strings: a path such as 2020.csv or true stays text.
    if path is not None:
        extra.append(f"source.path={json.dumps(path)}")
    if test is not None:
        extra.append(f"source.test_path={json.dumps(test)}")
    if horizon is not None:
        extra.append(f"window.horizon={horizon}")
    return extra


def preflight(cfg: ForecastConfig) -> None:
    """Read and check a file source before Prefect or MLflow start, so bad input writes nothing.

    The reading is kept for the flow's own ingest in this process (:func:`load_source`'s ``keep``),
    which takes it instead of reading the file a second time.
    """
    from tasks.errors import InputError
    from tasks.forecasting.ingest import check_loaded, load_source

    try:
        check_loaded(cfg, load_source(cfg.source, keep=True))
    except InputError as exc:
        fail(str(exc))


def _run(cfg: ForecastConfig, as_json: bool, verbose: bool, runner: Runner | None = None) -> None:
    preflight(cfg)
    run_tensorflow_flow("flows.forecast", "run_forecast", cfg, verbose, as_json, _report, "AllModelsFailed",
                        (runner,), cluster=runner)


def _fmt(value: float | None, digits: int = 3) -> str:
    return "" if value is None or not math.isfinite(value) else f"{value:.{digits}f}"


def _report(summary: ForecastSummary) -> None:
    """The held-out horizon's tables: M4 metrics and intervals, the backtest's folds, what was served."""
    from rich.table import Table

    out = console()
    series = "1 series" if summary.n_series == 1 else f"{summary.n_series} series"
    table = Table(title=f"test scores: last {summary.horizon} steps of {series} held out ({summary.frequency}, "
                        f"season {summary.season_length}); means over series, best MASE first")
    for col in ("#", "forecaster", "kind", "chosen", "MASE", "sMAPE", "OWA", "RMSE", "MAE", "coverage", "MSIS"):
        table.add_column(col, justify="left" if col in ("forecaster", "kind") else "right", no_wrap=True)
    models = {m.cell: m.metrics for m in summary.models if m.ok}
    for row in summary.ranking:
        m = models.get(row.forecaster, {}) if row.kind == "model" else {}
        table.add_row(str(row.rank), row.forecaster, row.kind, "before test" if row.chosen else "", _fmt(row.mase), _fmt(row.smape), _fmt(row.owa),
                      _fmt(row.test_rmse, 2), _fmt(row.test_mae, 2), _fmt(m.get("coverage"), 2), _fmt(m.get("msis"), 2))
    out.print(table)
    if summary.recipe == "auto":
        out.print("chosen: model.recipe = auto chose and combined its candidates on backtests inside the training part "
                  "only (evaluate.inner_folds origins before each held-out horizon); every row's scores are the test "
                  "part's, seen after the choice. "
                  + ("Served: auto itself, the rule and each series' members and weights it chose (a new series: "
                     "the shared ranking's)." if summary.served_network else "Nothing served."),
                  highlight=False, style="dim")
    elif not any(row.chosen for row in summary.ranking) and len(models) > 1:
        out.print("chosen: none before the test; the best of several models by these test scores is an optimistic "
                  "pick (model.recipe = auto chooses on the training part only)", highlight=False, style="dim")
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
    for record in summary.unscaled_series:
        out.print(f"not scaled: {record.message}", highlight=False, markup=False, soft_wrap=True)
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
    print_where(out, summary)
