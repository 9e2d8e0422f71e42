"""The embeddings flow's tables for review: each probe's neighbours, and the backends side by side (pure)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from tasks.embeddings.records import EvaluatedVectors, ExportedFiles


def neighbours_markdown(neighbours: pd.DataFrame) -> str:
    """One Markdown row per probe word: its neighbours, nearest first, with their cosine similarity."""
    lines = ["| probe | nearest neighbours (cosine similarity) |", "|---|---|"]
    for probe, rows in neighbours.groupby("probe", sort=False):
        found = rows[rows["rank"] > 0]
        shown = ", ".join(f"{w} ({s:.2f})" for w, s in zip(found["neighbour"], found["similarity"]))
        lines.append(f"| {probe} | {shown or 'not in the vocabulary'} |")
    return "\n".join(lines) + "\n"


# The columns of the backend comparison: (row key, metric or figure, header).
COMPARED: tuple[tuple[str, str], ...] = (
    ("words_per_second", "effective words/s"),
    ("train_seconds", "train s"),
    ("analogy_30000_accuracy", "analogy (30k)"),
    ("wordsim353_spearman", "WS353 ρ"),
    ("simlex999_spearman", "SimLex ρ"),
    ("tsne_trustworthiness", "t-SNE trust."),
)


def comparison_rows(models: list[tuple[EvaluatedVectors, ExportedFiles]]) -> tuple[dict[str, Any], ...]:
    """One row per trained backend: its run, speed and scores (the keys of :data:`COMPARED`)."""
    rows = []
    for evaluated, exported in models:
        trained = evaluated.trained
        rows.append({
            "backend": trained.backend, "run_id": trained.run_id, "run_name": trained.run_name,
            "words_per_second": trained.words_per_second, "train_seconds": trained.train_seconds,
            **{key: float(evaluated.metrics.get(key, float("nan"))) for key, _ in COMPARED[2:5]},
            "tsne_trustworthiness": exported.tsne_trustworthiness,
        })
    return tuple(rows)


def comparison_markdown(rows: tuple[dict[str, Any], ...]) -> str:
    """The comparison as a Markdown table, with each backend's words/s relative to the first's."""
    header = ["backend", *(label for _, label in COMPARED), "words/s vs first"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    first = rows[0]["words_per_second"] if rows else 0.0
    for row in rows:
        cells = [row["backend"], f"{row['words_per_second']:,.0f}", f"{row['train_seconds']:.1f}",
                 f"{row['analogy_30000_accuracy']:.1%}", f"{row['wordsim353_spearman']:.3f}",
                 f"{row['simlex999_spearman']:.3f}", f"{row['tsne_trustworthiness']:.3f}",
                 f"{row['words_per_second'] / first:.2f}x" if first > 0 else "n/a"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
