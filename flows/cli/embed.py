"""``seqflow run embed``: word2vec on a corpus once, and the table of what came out."""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from flows.cli.options import (
    EXIT_FAILED,
    TRAINING_VIEW,
    ConfigOpt,
    Flow,
    JsonOpt,
    check_environment,
    console,
    fail,
    load,
    print_json,
    set_option,
)

if TYPE_CHECKING:
    from tasks.embeddings.config import EmbedConfig
    from tasks.embeddings.records import EmbedSummary

EmbedSetOpt = set_option("--set model.architecture=cbow --set tokenize.min_count=2 "
                         "--set evaluate.probe_words=king,queen", Flow.embed)


def run_embed(
    corpus: Annotated[
        str | None,
        typer.Option("--corpus", metavar="PATH",
                     help="A text file (.gz/.bz2 too), a directory of .txt files, or a .tsv/.csv with a text column "
                          "(corpus.text_column). Default: the shipped text8 prefix, data/text8-prefix.gz (Wikipedia, 2.1 M tokens); --set corpus.path=off for gensim's small lee_background.cor."),
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
    cfg = load(Flow.embed, config, set_, extra)
    from tasks.errors import EnvironmentFault, InputError

    preflight(cfg)
    check_environment()
    from flows import ephemeral

    # No TensorFlow here: Prefect, MLflow and gensim import while the temporary server starts.
    ephemeral.start_in_background()
    from flows.cli.startup import environment_faults_in_one_line
    from flows.embed import train_embeddings

    hide_input_errors_from_prefect_console()
    try:
        ephemeral.wait()
        began = time.perf_counter()
        with environment_faults_in_one_line():  # a dead Prefect server, a full disk: one line, exit 1
            summary = train_embeddings(cfg)
        seconds = time.perf_counter() - began
    except InputError as exc:
        ephemeral.stop_without_waiting()
        fail(str(exc))
    except EnvironmentFault as exc:
        ephemeral.stop_without_waiting()
        fail(str(exc), EXIT_FAILED)
    _report(summary, cfg, as_json, seconds)
    ephemeral.stop_without_waiting()


def preflight(cfg: EmbedConfig) -> None:
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
        fail(str(exc))


class HideInputErrors(logging.Filter):
    """Drop the log records of a refused input: its traceback, and the failed states that quote it."""

    def filter(self, record: logging.LogRecord) -> bool:
        from tasks.errors import InputError

        if record.exc_info and isinstance(record.exc_info[1], InputError):
            return False
        return "InputError" not in record.getMessage()


def hide_input_errors_from_prefect_console() -> None:
    """Keep Prefect's console from printing a refused input's traceback and failed states.

    A problem found while the corpus streams (a binary file deep in a directory, no word reaching
    min_count) is raised inside a Prefect task; the CLI says it in one line, so Prefect's own lines
    about it (a traceback per task and flow) are dropped from the console. They still reach the
    Prefect server, whose UI shows the failed task with its message. Calling it again adds nothing.
    """
    from prefect.logging.handlers import PrefectConsoleHandler

    for handler in logging.getLogger().handlers:
        if isinstance(handler, PrefectConsoleHandler) and not any(isinstance(f, HideInputErrors) for f in handler.filters):
            handler.addFilter(HideInputErrors())


def finite_or_null(value):
    if isinstance(value, float):
        return value if value == value and abs(value) != float("inf") else None
    if isinstance(value, dict):
        return {k: finite_or_null(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite_or_null(v) for v in value]
    return value


def _percent(value: float) -> str:
    return "n/a" if value != value else f"{value:.1%}"  # NaN: nothing answered


def _rho(value: float) -> str:
    return "n/a" if value != value else f"{value:+.3f}"


def _report(summary: EmbedSummary, cfg: EmbedConfig, as_json: bool, seconds: float) -> None:
    """Print the summary: what each step made, the backends side by side, the probes' neighbours."""
    if as_json:
        # NaN (a score with nothing to score on a tiny corpus) is not JSON: it is written as null.
        print_json(finite_or_null(summary.to_dict()), allow_nan=False)
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
    table.add_row("flow", f"{seconds:.1f} s from the call to the summary")
    out = console()
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
