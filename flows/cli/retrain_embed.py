"""``seqflow run retrain-embed``: new word vectors, gated against the champion on one benchmark; the decision."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from flows.cli.options import ConfigOpt, Flow, JsonOpt, console, fail, load, print_json, set_option

if TYPE_CHECKING:
    from flows.retrain_embed import RetrainEmbedSummary

RetrainEmbedSetOpt = set_option("--set gate.metric=simlex999_spearman --set gate.margin=0.05 "
                                "--set corpus.path=reviews.txt", Flow.retrain_embed)


def run_retrain_embed(config: ConfigOpt = None, set_: RetrainEmbedSetOpt = None, as_json: JsonOpt = False) -> None:
    """Retrain word vectors on the corpus; promote them only if they beat the champion on the benchmark.

    Trains new vectors with the preset's recipe (the embed flow, registered as a new version of
    embed-<corpus> with the alias `candidate`), scores the champion on the same benchmark (the score
    recorded on its version when the benchmark file and the evaluation code are the same, else its
    vectors scored again) and moves the alias `champion` only when the new vectors' gate.metric is
    higher by gate.margin. The alias `challenger` always points at the newest vectors. The decision is
    on the MLflow run, the version and the Prefect flow run. Every setting: `seqflow config show
    retrain-embed`.
    """
    from flows.cli.embed import hide_input_errors_from_prefect_console, preflight

    cfg = load(Flow.retrain_embed, config, set_)
    preflight(cfg)
    from flows import ephemeral
    from tasks.errors import InputError

    ephemeral.start_in_background()  # no TensorFlow unless model.backend names tf
    from flows.cli.startup import environment_faults_in_one_line
    from flows.retrain_embed import retrain_embed

    hide_input_errors_from_prefect_console()
    try:
        ephemeral.wait()
        with environment_faults_in_one_line():  # a dead Prefect server, a full disk: one line, exit 1
            summary = retrain_embed(cfg)
    except InputError as exc:
        ephemeral.stop_without_waiting()
        fail(str(exc))
    if as_json:
        from flows.cli.embed import finite_or_null

        print_json(finite_or_null(summary.to_dict()), allow_nan=False)  # a NaN score is written as null
    else:
        _report(summary)
    ephemeral.stop_without_waiting()


def _shown(value: float | None) -> str:
    return "n/a" if value is None or not math.isfinite(value) else f"{value:+.4f}"


def _report(summary: RetrainEmbedSummary) -> None:
    """The decision in one table: each version compared, its benchmark scores, the verdict."""
    from rich.table import Table

    out = console()
    said = {"promoted": "[bold green]promoted[/]", "kept_champion": "[bold]kept the champion[/]",
            "validation_failed": "[bold red]corpus refused[/]"}
    out.print(f"{summary.registered_model}: {said.get(summary.status, summary.status)}: {summary.reason}",
              highlight=False)
    if summary.scores:
        table = Table(title=f"the same benchmark (gate: {summary.metric}, higher is better)")
        names = list(dict.fromkeys((summary.metric, "wordsim353_spearman", "simlex999_spearman")))
        for col in ("model", "version", *names):
            table.add_column(col, justify="left" if col in ("model", "version") else "right")
        versions = {"challenger": summary.challenger, "champion": summary.champion_before}
        for label, scores in summary.scores.items():
            table.add_row(label, str(versions.get(label) or ""), *(_shown(scores.get(k)) for k in names))
        out.print(table)
    if summary.champion_scores:
        out.print(f"champion's scores: {summary.champion_scores}", highlight=False)
    out.print(f"champion: version {summary.champion_before or 'none'} → {summary.champion_after or 'none'}; "
              f"challenger: {summary.challenger or 'none'}. Load it with: mlflow.pyfunc.load_model("
              f"\"models:/{summary.registered_model}@champion\") (a `word` table in, its vector out)", highlight=False)
    out.print(f"MLflow: retrain run '{summary.parent_run_name}' {summary.parent_run_id}", highlight=False)
