"""Typed records the embeddings steps pass to each other and the flow returns: paths and facts, never vectors.

Words used here: a *document* is one line, file or table row of the corpus; a *chunk* is at most
10,000 consecutive tokens of one document (gensim's "sentence"); the *word counts* hold every word
the corpus has, the *vocabulary* only those kept by ``min_count`` and ``max_vocab_size``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class CorpusRef:
    """The corpus as read: which files, and the content hash that identifies them together.

    Attributes:
        name: a short name for run names and tables (the file or directory name).
        path: the corpus path as configured (gensim's ``lee_background.cor`` by default).
        files: ``(path relative to the corpus, sha256)`` per file, in reading order.
        content_hash: sha256 over ``files``: the same bytes under the same names give the same hash.
    """

    name: str
    path: str
    files: tuple[tuple[str, str], ...]
    content_hash: str


@dataclass(frozen=True)
class TokensRef:
    """The tokenized corpus: ``doc_id, tokens`` Parquet (one row per chunk) and every word's count.

    Attributes:
        tokens_path: the token Parquet, one row group per 2,048 chunks or about 500,000 tokens.
        counts_path: ``word, count`` Parquet of every word seen, most frequent first.
        content_hash: sha256 of the token Parquet.
        corpus: the corpus it was made from.
        n_documents: documents with at least one token.
        n_chunks: rows of the token Parquet (one pass of the training feed).
        n_tokens: tokens in all chunks.
        n_distinct: distinct words (rows of the word counts).
        n_phrases: distinct joined phrases among them (``tokenize.phrases``; 0 when off).
        seconds: wall time of tokenizing (all passes) and writing both files.
        dropped_runs: runs of word characters too long to be words, dropped by the reader
            (:class:`tasks.embeddings.corpus.ReadStats`).
        dropped_chars: their characters, in total.
    """

    tokens_path: str
    counts_path: str
    content_hash: str
    corpus: CorpusRef
    n_documents: int
    n_chunks: int
    n_tokens: int
    n_distinct: int
    n_phrases: int
    seconds: float
    dropped_runs: int = 0
    dropped_chars: int = 0

    @property
    def tokens_per_second(self) -> float:
        """Tokenization throughput, writing included."""
        return self.n_tokens / self.seconds if self.seconds > 0 else 0.0


@dataclass(frozen=True)
class VocabularyRef:
    """The vocabulary (``word, count``, most frequent first) and the token-id Parquet that feeds training.

    Attributes:
        vocabulary_path: ``word, count`` Parquet; a word's row is its id.
        ids_path: ``doc_id, ids`` Parquet, one row per chunk of the token Parquet, out-of-vocabulary
            tokens dropped.
        content_hash: sha256 of the vocabulary Parquet.
        tokens: the tokens it was cut from.
        n_words: words in the vocabulary.
        n_tokens: tokens one pass of the id feed yields (the vocabulary's counts summed).
    """

    vocabulary_path: str
    ids_path: str
    content_hash: str
    tokens: TokensRef
    n_words: int
    n_tokens: int


@dataclass(frozen=True)
class EpochFigures:
    """One training epoch as logged to MLflow."""

    epoch: int
    loss: float
    words_per_second: float
    effective_words: int
    seconds: float


@dataclass(frozen=True)
class TrainedVectors:
    """One trained model: its MLflow child run (open until exported) and its vectors' Parquet.

    Attributes:
        backend: the trainer that made it (``model.backend``).
        run_id: the MLflow child run.
        run_name: its name, e.g. ``gensim-skipgram · lee_background.cor``.
        export_dir: the local folder of this model's files (``artifacts/models/<run id>/``).
        vectors_path: ``word, count, vector`` Parquet in that folder.
        epochs: one entry per epoch.
        train_seconds: wall time of training (all epochs).
        vocab_seconds: wall time of setting up the model (vocabulary, weights).
        effective_words: words trained on over all epochs.
    """

    backend: str
    run_id: str
    run_name: str
    export_dir: str
    vectors_path: str
    epochs: tuple[EpochFigures, ...]
    train_seconds: float
    vocab_seconds: float
    effective_words: int

    @property
    def words_per_second(self) -> float:
        """Effective words per second over the whole of training."""
        return self.effective_words / self.train_seconds if self.train_seconds > 0 else 0.0


@dataclass(frozen=True)
class Neighbour:
    """One row of the nearest-neighbour table (``rank`` 0: the probe word is not in the vocabulary)."""

    probe: str
    rank: int
    neighbour: str | None
    similarity: float
    count: int


@dataclass(frozen=True)
class EvaluatedVectors:
    """Scores of one trained model (the metrics it logged) and its neighbour table."""

    trained: TrainedVectors
    metrics: dict[str, float] = field(hash=False)
    analogy_sections: tuple[dict[str, Any], ...] = field(hash=False, default=())
    neighbours: tuple[Neighbour, ...] = field(hash=False, default=())


@dataclass(frozen=True)
class ExportedFiles:
    """Where the exports of one model are, locally and as MLflow artifacts (paths relative to the run)."""

    local: dict[str, str] = field(hash=False)  # name → file under artifacts/models/<run id>/
    logged: dict[str, str] = field(hash=False)  # name → artifact path in the run
    tsne_words: int = 0
    tsne_trustworthiness: float = float("nan")
    tsne_seconds: float = 0.0


@dataclass(frozen=True)
class RegisteredVectors:
    """The first backend's vectors as a servable model, and where the registry keeps them."""

    model_uri: str  # the logged model (models:/<model id>)
    model_id: str
    registered_model: str  # the Model Registry name (embed-<corpus>)
    version: str
    alias: str  # candidate
    uri: str  # models:/NAME@ALIAS: what mlflow.pyfunc.load_model and `mlflow models serve -m` take
    scores: dict[str, float] = field(hash=False, default_factory=dict)  # the benchmark scores tagged on the version


@dataclass(frozen=True)
class ChampionScores:
    """The champion's benchmark scores for a retrain's gate, and where they came from."""

    scores: dict[str, float] = field(hash=False)  # score name to value; empty when it could not be scored
    source: str  # recorded | re-evaluated | not comparable
    why: str  # a sentence: which tags matched, or why it was scored again, or what failed


@dataclass(frozen=True)
class EmbedSummary:
    """What one run of the embeddings flow produced; ``--json``, the table and the bench read this."""

    flow: str
    flow_run_id: str
    tracking_uri: str
    experiment_id: str
    parent_run_id: str
    parent_run_name: str
    run_id: str  # the model's child run (the first backend's when model.backend lists several)
    run_name: str
    run_artifacts: str  # root URI of the child run's artifacts
    backend: str
    architecture: str
    corpus: CorpusRef
    tokens_path: str
    counts_path: str
    vocabulary_path: str
    ids_path: str
    tokenize_cached: bool  # the token Parquet was reused from an earlier run (Prefect state Cached)
    n_documents: int
    n_chunks: int
    n_tokens: int
    n_distinct: int
    n_phrases: int  # distinct phrases joined by tokenize.phrases (0 when off)
    n_words: int  # vocabulary size
    n_vocabulary_tokens: int  # tokens of one training pass
    tokenize_seconds: float  # when the tokens were made (an earlier run's figure when cached)
    tokens_per_second: float
    epochs: tuple[EpochFigures, ...]
    train_seconds: float
    words_per_second: float
    metrics: dict[str, float]
    analogy_sections: tuple[dict[str, Any], ...]  # restrict_vocab, section, kind, correct, answered, total
    neighbours: tuple[Neighbour, ...]
    exports: ExportedFiles
    reconciled_runs: tuple[str, ...] = ()  # runs of killed processes closed as KILLED at start
    comparison: tuple[dict[str, Any], ...] = ()  # with several backends: one row per backend (tables.COMPARED)
    registered: RegisteredVectors | None = None  # the first backend's vectors in the Model Registry (@candidate)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (what ``--json`` prints)."""
        return dataclasses.asdict(self)
