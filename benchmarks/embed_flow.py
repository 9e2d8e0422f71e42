"""The gensim backend *through the flow* on IMDB, beside plain gensim measured in the same bench run.

``seqflow bench embed`` first runs :mod:`benchmarks.embed` (plain gensim beside seqflow's training
function, ingestion memory, t-SNE), then this: the ``train-embeddings`` flow with the very settings of
the plain runs (2 workers, vector_size 100, context window 5, negative 5, 5 epochs, min_count 5, the
bench's seed), once per architecture, and a table that sets the flow's training words/s and scores
against plain gensim's and splits the flow's own time (tokenization, Parquet, MLflow, evaluation,
exports) by step. The first flow run tokenizes IMDB (unless an earlier run left the tokens cached,
which the table says); the second reuses the tokens, as any re-run with a new model setting does.
"""

from __future__ import annotations

import json
import time

from benchmarks import embed as bench_embed

# The flow's step names (flows/embed.py laps), grouped as the table reports them.
OVERHEAD_STEPS = {
    "hash the corpus": ("hash-corpus",),
    "tokenize → token Parquet": ("tokenize-corpus",),
    "vocabulary + token-id Parquet": ("build-vocabulary",),
    "corpus figures on the run": ("record-corpus",),
    "evaluate (analogies, pairs, neighbours)": ("evaluate-vectors",),
    "exports (word2vec, projector, t-SNE, PNG)": ("export-vectors",),
}


def flow_settings(architecture: str, max_docs: int | None) -> list[str]:
    """The ``--set`` overrides that make the flow train exactly what the plain runs train."""
    s = bench_embed.SETTINGS
    overrides = [
        f"corpus.path={json.dumps(str(bench_embed.IMDB))}", "corpus.text_column=text",
        f"tokenize.min_count={bench_embed.MIN_COUNT}", f"tokenize.sample={bench_embed.SAMPLE}",
        f"model.architecture={architecture}", f"model.vector_size={s['vector_size']}",
        f"model.context_window={s['context_window']}", f"model.negative={s['negative']}",
        f"model.epochs={s['epochs']}", f"model.workers={s['workers']}", f"seed={bench_embed.SEED}",
        "tracking.experiment=seqflow-embed-bench",
    ]
    if max_docs:
        overrides.append(f"corpus.max_documents={max_docs}")
    return overrides


def run_flow_bench(max_docs: int | None, plain: dict | None, console,
                   architectures: tuple[str, ...] = ("skipgram", "cbow")) -> dict:
    """Run the flow once per architecture and print the comparison; return the figures."""
    from flows import ephemeral
    from flows.tracked import task_seconds
    from tasks import paths
    from tasks.config import load_config
    from tasks.embeddings.config import EmbedConfig

    ephemeral.start_in_background()
    from flows.embed import train_embeddings

    ephemeral.wait()
    figures: dict = {}
    for architecture in architectures:
        cfg = load_config(EmbedConfig, None, flow_settings(architecture, max_docs))
        console.print(f"{architecture}: the train-embeddings flow ...")
        began = time.perf_counter()
        summary = train_embeddings(cfg)
        process_seconds = time.perf_counter() - began
        steps, wall = task_seconds(summary.flow_run_id)  # Prefect's record of each task run
        figures[architecture] = {"summary": {**summary.to_dict(), "step_seconds": steps, "wall_seconds": wall},
                                 "process_seconds": process_seconds}
    ephemeral.stop_without_waiting()
    _print_table(console, figures, plain)
    out = paths.bench_dir() / "embed"
    out.mkdir(parents=True, exist_ok=True)
    (out / "flow_summary.json").write_text(json.dumps(figures, indent=2, default=str))
    return figures


def _print_table(console, figures: dict, plain: dict | None) -> None:
    from rich.table import Table

    table = Table(title="bench embed: the gensim backend through the train-embeddings flow (one run)")
    for col in ("measure", "plain gensim", "through the flow", "flow / plain", "aim"):
        table.add_column(col, justify="left" if col == "measure" else "right")
    for architecture, entry in figures.items():
        s = entry["summary"]
        m = s["metrics"]
        base = (plain or {}).get("models", {}).get(architecture, {}).get("plain")
        wps = s["words_per_second"]
        table.add_row(f"[bold]{architecture}[/] effective words/s", f"{base['words_per_second'] / 1e6:.3f} M" if base else "",
                      f"{wps / 1e6:.3f} M", f"{wps / base['words_per_second']:.2f}x" if base else "", "≥ 0.95x")
        eps = [e["words_per_second"] for e in s["epochs"]]
        table.add_row("  per epoch", "", f"{min(eps) / 1e6:.3f}–{max(eps) / 1e6:.3f} M", "", "")
        for key, label, fmt, aim in (("analogy_30000_accuracy", "analogy", "{:.1%}", "± 1.5 pt"),
                                     ("wordsim353_spearman", "WS353 ρ", "{:.3f}", "± 0.02"),
                                     ("simlex999_spearman", "SimLex ρ", "{:.3f}", "± 0.02")):
            plain_key = {"analogy_30000_accuracy": "analogy", "wordsim353_spearman": "ws353",
                         "simlex999_spearman": "simlex"}[key]
            ours = m[key]
            diff = ""
            if base:
                delta = ours - base[plain_key]
                diff = f"{delta * 100:+.1f} pt" if key.startswith("analogy") else f"{delta:+.3f}"
            table.add_row(f"  {label}", fmt.format(base[plain_key]) if base else "", fmt.format(ours), diff, aim)
        steps_ = s["step_seconds"]
        cached = " (tokens reused: Cached)" if s["tokenize_cached"] else ""
        table.add_row(f"  flow wall / of which training{cached}", "",
                      f"{s['wall_seconds']:.0f} s / {s['train_seconds']:.0f} s", "", "")
        table.add_row("  flow's own time (wall − training)", "", f"{s['wall_seconds'] - s['train_seconds']:.1f} s", "", "")
        for label, names in OVERHEAD_STEPS.items():
            table.add_row(f"    {label}", "", f"{sum(steps_.get(n, 0.0) for n in names):.1f} s", "", "")
        table.add_row("    train step beyond gensim's train()", "",
                      f"{steps_.get('train-vectors', 0.0) - s['train_seconds']:.1f} s", "", "")
        if not s["tokenize_cached"]:
            table.add_row("  tokenization throughput (token Parquet written)", "",
                          f"{s['tokens_per_second'] / 1e6:.2f} M tokens/s", "", "")
        ex = s["exports"]
        table.add_row(f"  t-SNE of the top {ex['tsne_words']:,}: fit / trustworthiness", "",
                      f"{ex['tsne_seconds']:.1f} s / {ex['tsne_trustworthiness']:.3f}", "", "< 15 s")
    console.print(table)
    console.print("plain = plain gensim in the same bench run (its table above); flow = `seqflow run embed` with "
                  "the same settings, its words/s from gensim's train() inside the train-vectors step.")

