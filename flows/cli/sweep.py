"""``seqflow run sweep``: a grid (or a seeded sample) over a forecast preset's keys, each point a nested run, ranked."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from flows.cli.options import (
    AddressOpt,
    Flow,
    JsonOpt,
    RunnerOpt,
    VerboseOpt,
    WorkersOpt,
    console,
    fail,
    listing,
    print_json,
    runner_for,
)
from flows.cli.startup import run_tensorflow_flow

if TYPE_CHECKING:
    from flows.runners import Runner
    from flows.sweep import SweepPlan, SweepSummary


def run_sweep(
    config: Annotated[Path, typer.Option("--config", "-c", metavar="SWEEP.toml",
                                         help="The sweep: base (a forecast preset), [grid] of dotted keys and their "
                                              "values, optional sample (N points, seeded by seed) and metric.")],
    best: Annotated[Path, typer.Option("--best", metavar="BEST.toml",
                                       help="Where the best point's preset is written.")] = Path("best.toml"),
    runner: RunnerOpt = "serial",
    address: AddressOpt = None,
    workers: WorkersOpt = 2,
    as_json: JsonOpt = False,
    verbose: VerboseOpt = False,
) -> None:
    """Train every point of a grid over a forecast preset's settings, serially or on Dask, and rank them.

    Each point is a forecast run nested under one sweep run, all on the same held-out steps (the grid
    cannot change source, window.horizon, evaluate.folds, evaluate.fold_step or tracking.experiment),
    ranked by the best model's metric (default mase). Every point is checked before anything starts;
    a bad key or value is refused naming the point and the key. The best point's preset is written to
    --best: `seqflow run forecast --config BEST.toml` runs it again. Points are not registered as models.
    The same sweep run again (after a kill) reuses the points whose runs finished and trains the rest.
    With --runner dask each point runs on a Dask worker (a local cluster of --workers processes, or the
    cluster at --address), with one TensorFlow thread unless the preset sets train.threads.
    """
    plan = plan_sweep(config, runner_for(runner, address, workers))
    if best.exists() and not best.is_file():
        fail(f"--best {best}: not a file")

    def report(summary: SweepSummary) -> None:
        _write_best(summary, best)
        if as_json:
            print_json(summary.to_dict())
        else:
            _report(summary, best)

    # On Dask the points train on the workers: this process needs no TensorFlow of its own.
    run_tensorflow_flow("flows.sweep", "run_sweep", plan, verbose, False, report,
                        tensorflow=plan.runner.kind != "dask", cluster=plan.runner)


def plan_sweep(config: Path, runner: Runner | None = None) -> SweepPlan:
    """Read and check the sweep file and every point of it; exit 2 naming what is wrong."""
    from pydantic import ValidationError

    from flows.runners import Runner
    from flows.sweep import FIXED_KEYS, METRICS, SweepPlan
    from tasks.config import ConfigError, describe_validation_error, read_preset
    from tasks.forecasting.config import ForecastConfig
    from tasks.sweeps.grid import SweepConfig, apply_point, expand, fixed_keys_in, point_configs

    try:
        data = read_preset(config)
        sweep = SweepConfig.model_validate(data, strict=True)
    except ConfigError as exc:
        fail(f"config: {exc}")
    except ValidationError as exc:
        fail(f"config: {config}: {describe_validation_error(exc, data, SweepConfig)}")
    if sweep.metric not in METRICS:
        fail(f"config: {config}: metric = {sweep.metric!r}: not one of {', '.join(METRICS)}")
    fixed = fixed_keys_in(sweep.grid, FIXED_KEYS)
    if fixed:
        fail(f"config: {config}: grid key {fixed[0]!r}: every point must share it (the same split and experiment)")
    try:
        base = read_preset(Path(sweep.base))
        points = expand(sweep.grid, sweep.sample, sweep.seed)
        point_configs(ForecastConfig, base, points, listing(Flow.forecast))  # what the user's best.toml will be
        runs = point_configs(ForecastConfig, base, [{**p, "tracking.registered_model": "off"} for p in points])
    except ConfigError as exc:
        fail(f"config: {config}: {exc}")
    return SweepPlan(sweep, tuple(points), tuple(apply_point(base, p) for p in points), tuple(runs),
                     runner or Runner())


def _write_best(summary: SweepSummary, best: Path) -> None:
    """Write the best point's preset (temp name, then rename); say so when no point could be ranked."""
    from tasks.sweeps.preset import to_toml

    if summary.best_preset is None:
        fail("every point of the sweep failed: nothing to rank, no preset written", 1)
    top = next(p for p in summary.points if p["number"] == summary.ranked[0])
    header = (f"Best point of a sweep ({summary.metric} {top['score']:.6g}; MLflow run {top['run_id']}, "
              f"sweep run {summary.sweep_run_id}):\n{top['label']}")
    best.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=best.parent, suffix=".tmp", delete=False, encoding="utf-8") as tmp:
        tmp.write(to_toml(summary.best_preset, header))
    os.replace(tmp.name, best)


def _report(summary: SweepSummary, best: Path) -> None:
    from rich.table import Table

    table = Table(title=f"sweep ranked by {summary.metric} (best model of each point; {summary.runner})")
    for column in ("rank", "point", "settings", summary.metric, "run"):
        table.add_column(column)
    for row in sorted(summary.points, key=lambda r: (r["rank"] is None, r["rank"] or 0, r["number"])):
        score = "failed" if row["score"] is None else f"{row['score']:.4f}"
        run = (row["run_id"] or "") + (" (reused)" if row.get("reused") else "")
        table.add_row(str(row["rank"] or ""), str(row["number"]), row["label"], score, run)
    out = console()
    out.print(table)
    out.print(f"best preset: {best}  (`seqflow run forecast --config {best}` runs it again); "
              f"sweep run {summary.sweep_run_id} in experiment {summary.experiment_id}", highlight=False)
