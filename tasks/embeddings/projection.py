"""Export word vectors and look at them: word2vec files, a Parquet frame, TensorBoard projector, t-SNE.

Every file is written under a temporary name beside its target and renamed over it once complete, so
a crash leaves the old file or none, never half of one. The t-SNE plot is a matplotlib ``Figure``
drawn on the Agg canvas directly (no pyplot, no global backend switch), ready for ``savefig`` or
MLflow's ``log_figure``.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib import patheffects
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from sklearn.manifold import TSNE, trustworthiness

from tasks.embeddings.evaluation import WordVectors

PROJECTOR_CONFIG = "projector_config.pbtxt"
PROJECTOR_VECTORS = "vectors.tsv"
PROJECTOR_METADATA = "metadata.tsv"


@contextlib.contextmanager
def _atomic(path: Path) -> Iterator[Path]:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_word2vec(wv: WordVectors, path: Path, binary: bool = False) -> Path:
    """Write the vectors in the original word2vec format, text or binary, most frequent word first.

    Both load back with ``KeyedVectors.load_word2vec_format(path, binary=binary)``.
    """
    with _atomic(path) as tmp:
        wv.to_keyed_vectors().save_word2vec_format(str(tmp), binary=binary, write_header=True)
    return Path(path)


def vectors_frame(wv: WordVectors) -> pd.DataFrame:
    """Return ``word, count, vector`` rows (``vector`` a float32 array of ``vector_size``) for Parquet."""
    return pd.DataFrame(
        {
            "word": pd.Series(wv.words, dtype=object),
            "count": np.asarray(wv.counts, dtype=np.int64),
            "vector": pd.Series(list(np.asarray(wv.vectors, dtype=np.float32)), dtype=object),
        }
    )


@dataclass(frozen=True)
class ProjectorFiles:
    """The TensorBoard Embedding Projector files written by :func:`write_projector`."""

    config: Path
    vectors: Path
    metadata: Path
    n_words: int


def write_projector(
    wv: WordVectors, directory: Path, top_n: int | None = None, tensor_name: str = "word2vec"
) -> ProjectorFiles:
    """Write ``vectors.tsv``, ``metadata.tsv`` (``word<TAB>count`` header) and ``projector_config.pbtxt``.

    ``tensorboard --logdir DIRECTORY`` then shows the vectors in its Projector tab (with no event
    files in the directory, TensorBoard takes the log directory itself as the one run). Paths in the
    config are relative to ``directory``, so the folder can be moved or logged as an artifact whole.

    Args:
        wv: the vectors, most frequent word first.
        directory: where the three files go (created if missing).
        top_n: write only the ``top_n`` most frequent words; ``None`` = all.
        tensor_name: the name the projector shows for this embedding.

    Raises:
        ValueError: a word contains a tab or newline, which the TSV files cannot hold.
    """
    directory = Path(directory)
    n = len(wv.words) if top_n is None else min(top_n, len(wv.words))
    bad = next((w for w in wv.words[:n] if "\t" in w or "\n" in w or "\r" in w), None)
    if bad is not None:
        raise ValueError(f"write_projector: the word {bad!r} contains a tab or newline; TSV cannot hold it")
    vectors_path, metadata_path, config_path = (
        directory / PROJECTOR_VECTORS,
        directory / PROJECTOR_METADATA,
        directory / PROJECTOR_CONFIG,
    )
    with _atomic(vectors_path) as tmp:
        with open(tmp, "w", encoding="utf-8", newline="\n") as handle:
            for start in range(0, n, 4096):
                block = np.asarray(wv.vectors[start : min(n, start + 4096)], dtype=np.float32)
                handle.write("".join("\t".join(f"{v:.6g}" for v in row) + "\n" for row in block.tolist()))
    with _atomic(metadata_path) as tmp:
        with open(tmp, "w", encoding="utf-8", newline="\n") as handle:
            handle.write("word\tcount\n")  # with two columns the projector needs the header row
            for word, count in zip(wv.words[:n], np.asarray(wv.counts[:n]).tolist()):
                handle.write(f"{word}\t{count}\n")
    config = (
        "embeddings {\n"
        f'  tensor_name: "{_pbtxt_escape(tensor_name)}"\n'
        f"  tensor_shape: {n}\n"
        f"  tensor_shape: {wv.vector_size}\n"
        f'  tensor_path: "{PROJECTOR_VECTORS}"\n'
        f'  metadata_path: "{PROJECTOR_METADATA}"\n'
        "}\n"
    )
    with _atomic(config_path) as tmp:
        tmp.write_text(config, encoding="utf-8")
    return ProjectorFiles(config_path, vectors_path, metadata_path, n)


def _pbtxt_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


@dataclass(frozen=True)
class TsneProjection:
    """A 2-d t-SNE map of the most frequent words.

    Attributes:
        frame: ``word, count, x, y``, most frequent word first.
        trustworthiness: sklearn's trustworthiness of the map (1 = every 5-nearest neighbour on the
            map is a near neighbour in the vectors; 0.5 ≈ random).
        seconds: wall time of fitting t-SNE (trustworthiness not included).
        perplexity: the perplexity used.
    """

    frame: pd.DataFrame
    trustworthiness: float
    seconds: float
    perplexity: float


class _TsneLog(io.TextIOBase):
    """A text sink for scikit-learn's verbose t-SNE log that passes each reported iteration on.

    ``TSNE(verbose=2)`` prints ``[t-SNE] Iteration 50: error = …`` every 50 gradient steps (its
    ``n_iter_check``); TSNE has no callback, so its log is the only honest measure of progress.
    """

    _ITERATION = re.compile(r"\[t-SNE\] Iteration (\d+):")

    def __init__(self, on_iteration: Callable[[int], None]):
        self._on_iteration = on_iteration

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        for match in self._ITERATION.finditer(text):
            self._on_iteration(int(match.group(1)))
        return len(text)


def tsne_projection(
    wv: WordVectors,
    top_n: int = 2_000,
    perplexity: float = 30.0,
    seed: int = 0,
    n_jobs: int | None = None,
    max_iter: int = 1000,
    on_iteration: Callable[[int], None] | None = None,
) -> TsneProjection:
    """Project the ``top_n`` most frequent words to 2-d with Barnes-Hut t-SNE (PCA init, seeded).

    Vectors are scaled to unit length first, so Euclidean distance on the map's input ranks
    neighbours exactly as cosine similarity does (the measure word vectors are read with).

    Args:
        wv: the vectors.
        top_n: how many of the most frequent words to project.
        perplexity: t-SNE's effective number of neighbours; must be less than the number of words.
        seed: t-SNE's random state.
        n_jobs: threads for the neighbour search; ``None`` = every CPU this process may use.
        max_iter: gradient steps (sklearn's default 1,000; at least 250).
        on_iteration: called with the number of gradient steps done, every 50 steps (scikit-learn's
            verbose log, read while the map is fitted; standard output is borrowed for that time).
            The optimisation may stop early when it no longer improves: then the last count is below
            ``max_iter``.

    Raises:
        ValueError: fewer words than ``perplexity`` + 1.
    """
    order = np.argsort(-np.asarray(wv.counts), kind="stable")[:top_n]
    if len(order) <= perplexity:
        raise ValueError(
            f"tsne_projection: {len(order)} words is too few for perplexity = {perplexity:g}; "
            "lower evaluate.perplexity or train on a larger corpus"
        )
    points = wv.unit_vectors()[order]  # (n_words, vector_size)
    if n_jobs is None:
        n_jobs = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    tsne = TSNE(
        n_components=2,
        perplexity=perplexity,
        init="pca",
        method="barnes_hut",
        learning_rate="auto",
        random_state=seed,
        n_jobs=n_jobs,
        max_iter=max_iter,
        verbose=2 if on_iteration is not None else 0,
    )
    watching = contextlib.redirect_stdout(_TsneLog(on_iteration)) if on_iteration else contextlib.nullcontext()
    began = time.perf_counter()
    with watching:
        xy = tsne.fit_transform(points)  # (n_words, 2)
    seconds = time.perf_counter() - began
    trust = float(trustworthiness(points, xy, n_neighbors=min(5, max(1, len(order) // 2 - 1))))
    frame = pd.DataFrame(
        {
            "word": pd.Series([wv.words[i] for i in order.tolist()], dtype=object),
            "count": np.asarray(wv.counts, dtype=np.int64)[order],
            "x": xy[:, 0].astype(np.float64),
            "y": xy[:, 1].astype(np.float64),
        }
    )
    return TsneProjection(frame, trust, seconds, float(perplexity))


def tsne_figure(frame: pd.DataFrame, label_top: int = 100, title: str | None = None) -> Figure:
    """Draw a t-SNE map: every word a dot coloured by log10 frequency, the most frequent labelled.

    Labels are placed most frequent first and a label that would overlap one already placed is left
    out, so the words that are shown can be read.

    Args:
        frame: ``word, count, x, y`` rows (from :func:`tsne_projection`).
        label_top: label at most this many of the most frequent words.
        title: the plot's title; a default names the number of words.
    """
    fig = Figure(figsize=(12, 10), dpi=110)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    shade = np.log10(np.maximum(frame["count"].to_numpy(dtype=np.float64), 1))
    order = np.argsort(shade, kind="stable")  # frequent words drawn last, on top
    points = ax.scatter(
        frame["x"].to_numpy()[order], frame["y"].to_numpy()[order], c=shade[order],
        s=7, cmap="viridis", alpha=0.75, linewidths=0,
    )
    fig.colorbar(points, ax=ax, label="log10 count in the corpus", shrink=0.8)
    ax.set_title(title or f"t-SNE of the {len(frame):,} most frequent words (labels: the most frequent)")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.margins(0.02)
    _place_labels(fig, ax, frame.nlargest(label_top, "count", keep="first"))
    return fig


def _place_labels(fig: Figure, ax, top: pd.DataFrame) -> int:
    """Label words greedily (most frequent first), skipping any whose box overlaps a placed one."""
    fig.canvas.draw()  # fixes the axes limits so data → pixel positions are final
    to_pixels = ax.transData.transform
    font_px = 7 * fig.dpi / 72
    placed: list[tuple[float, float, float, float]] = []
    for word, x, y in zip(top["word"].tolist(), top["x"].tolist(), top["y"].tolist()):
        px, py = to_pixels((x, y))
        box = (px + 2, py + 2, px + 2 + 0.6 * font_px * len(word), py + 2 + font_px)
        if any(box[0] < b[2] and b[0] < box[2] and box[1] < b[3] and b[1] < box[3] for b in placed):
            continue
        placed.append(box)
        ax.annotate(
            word, (x, y), xytext=(2, 2), textcoords="offset points", fontsize=7,
            path_effects=[patheffects.withStroke(linewidth=2, foreground="white")],
        )
    return len(placed)
