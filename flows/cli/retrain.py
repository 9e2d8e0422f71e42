"""``seqflow run retrain``: validate fresh data, train a challenger, gate it against the champion; the decision."""

from __future__ import annotations

from typing import TYPE_CHECKING

from flows.cli.options import (
    ConfigOpt,
    Flow,
    JsonOpt,
    VerboseOpt,
    console,
    load,
    set_option,
)
from flows.cli.startup import run_tensorflow_flow

if TYPE_CHECKING:
    from flows.retrain import RetrainSummary

RetrainSetOpt = set_option("--set gate.margin=0.05 --set validation.max_level_ratio=2", Flow.retrain)


def run_retrain(
    config: ConfigOpt = None, set_: RetrainSetOpt = None, as_json: JsonOpt = False, verbose: VerboseOpt = False
) -> None:
    """Retrain a registered forecaster on fresh data; promote the challenger only if it beats the champion.

    Reads the preset's source again, checks it against the data the champion was trained on (schema,
    rows, missing values, new steps, drift per series), trains a challenger with the preset's recipe,
    scores challenger and champion on the same fresh holdout (every series' newest window.horizon
    steps) and moves the alias `champion` only when the challenger wins by gate.margin. The alias
    `challenger` always points at the newest challenger. No new data or failed validation: the
    champion stays, and the report is on the MLflow run and the Prefect flow run. Every setting:
    `seqflow config show retrain`.
    """
    cfg = load(Flow.retrain, config, set_)
    run_tensorflow_flow("flows.retrain", "retrain", cfg, verbose, as_json, _report, "AllModelsFailed")


def _report(summary: RetrainSummary) -> None:
    """The decision in one table: each model compared, its fresh-holdout scores, the verdict."""
    from rich.table import Table

    out = console()
    said = {"promoted": "[bold green]promoted[/]", "kept_champion": "[bold]kept the champion[/]",
            "validation_failed": "[bold red]validation failed[/]", "no_new_data": "[bold]no new data[/]"}
    out.print(f"{summary.registered_model}: {said.get(summary.status, summary.status)}: {summary.reason}",
              highlight=False)
    if summary.scores:
        table = Table(title="the same fresh holdout: every series' newest horizon (means over series)")
        for col in ("model", "version", "MASE", "sMAPE", "coverage", "MSIS"):
            table.add_column(col, justify="left" if col in ("model", "version") else "right")
        versions = {"challenger": summary.challenger, "champion": summary.champion_before}
        for label, m in summary.scores.items():
            table.add_row(label, str(versions.get(label) or ""), *(f"{m.get(k, float('nan')):.4f}"
                                                                   for k in ("mase", "smape", "coverage", "msis")))
        out.print(table)
    failed = [row for row in summary.validation if not row["ok"]]
    for row in failed[:10]:
        out.print(f"  {row['series_id']}: {row['check']} {row['value']} (limit {row['limit']})", highlight=False)
    after = summary.champion_after or "none"
    out.print(f"champion: version {summary.champion_before or 'none'} → {after}; challenger: "
              f"{summary.challenger or 'none'}. Serve it with: seqflow predict --model "
              f"models:/{summary.registered_model}@champion --input HISTORY.csv", highlight=False)
    out.print(f"MLflow: retrain run '{summary.parent_run_name}' {summary.parent_run_id}", highlight=False)
