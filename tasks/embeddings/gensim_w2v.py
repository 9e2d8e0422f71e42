"""Train gensim ``Word2Vec`` (skip-gram or CBOW; negative sampling or hierarchical softmax).

The corpus is a restartable iterable of token lists (:class:`tasks.embeddings.text.RestartableTokens`)
or, in ``corpus_file`` mode, a LineSentence text file (one chunk per line, tokens separated by spaces)
that gensim's worker threads read and parse in C without the GIL. The vocabulary is given, counted
during tokenization, so gensim does not scan the corpus an extra time.

Caveats gensim's own docs state and this module keeps:

* gensim's loss (``get_latest_training_loss()``) is one float32 running total over all epochs of a
  ``train()`` call that every job reads at its start and writes back at its end. On IMDB skip-gram
  it reaches ~6.5e7 in the first epoch, where float32 steps are 4–8 and each word pair adds less
  than that, so later epochs add almost nothing (measured: 65.6 M, 2.3 M, 0.78 M, ...); with two
  workers, overlapping jobs also overwrite each other's totals. Here each job's loss is moved into
  a float64 sum right after the job and gensim's total reset to 0, so the Cython code only ever
  adds one job's worth (~10,000 words) in float32; the per-epoch loss is the difference of that
  sum. A job can still be lost when two finish in the same instant (rare). In ``corpus_file``
  mode a worker's whole epoch is one job, so there the float32 saturation remains.
* Exact repeats need ``workers = 1`` (thread scheduling reorders updates otherwise) and, as
  gensim documents, a ``PYTHONHASHSEED`` fixed before the interpreter starts; see
  :func:`determinism_problem`. Measured on gensim 4.4: with one worker and a seed, the vectors are
  bit-identical across different ``PYTHONHASHSEED`` values (gensim 4 seeds its initial vectors
  from ``numpy.random.default_rng(seed)``, not from ``hash(word)`` as gensim 3 did); the guard is
  kept because it is gensim's stated contract and costs one environment variable.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from gensim.models import KeyedVectors, Word2Vec
from gensim.models.callbacks import CallbackAny2Vec

from tasks.embeddings.config import ModelConfig

EpochHook = Callable[[int, dict[str, float]], None]


@dataclass(frozen=True)
class EpochReport:
    """One epoch of training.

    Attributes:
        epoch: 0-based epoch number.
        loss: gensim's training loss accumulated during this epoch alone.
        effective_words: words trained on (in the vocabulary and kept by subsampling).
        raw_words: words read, including those subsampled away (and those outside the vocabulary
            when the feed holds them; the token-id feed has already dropped them).
        seconds: wall time of the epoch.
    """

    epoch: int
    loss: float
    effective_words: int
    raw_words: int
    seconds: float

    @property
    def words_per_second(self) -> float:
        """Effective words trained per second of wall time (gensim's "effective words/s")."""
        return self.effective_words / self.seconds if self.seconds > 0 else 0.0


@dataclass(frozen=True)
class TrainedWord2Vec:
    """The trained vectors and how training went.

    Attributes:
        vectors: the word vectors, most frequent word first.
        epochs: one report per epoch.
        train_seconds: wall time of gensim's ``train()`` (all epochs).
        vocab_seconds: wall time of building the vocabulary, Huffman tree and weights.
        profile: where a backend's training time went, as ``profile.*`` metrics (the TensorFlow
            backend's; empty for gensim, whose threads are not split up).
    """

    vectors: KeyedVectors
    epochs: tuple[EpochReport, ...]
    train_seconds: float
    vocab_seconds: float
    profile: dict[str, float] = field(default_factory=dict, hash=False)

    @property
    def effective_words(self) -> int:
        """Words trained on over all epochs."""
        return sum(e.effective_words for e in self.epochs)

    @property
    def words_per_second(self) -> float:
        """Effective words per second over the whole of ``train()``."""
        return self.effective_words / self.train_seconds if self.train_seconds > 0 else 0.0


class _CountingWord2Vec(Word2Vec):
    """``Word2Vec`` that keeps per-epoch word counts and a float64 loss sum for the epoch callback.

    gensim computes the counts in ``_log_epoch_progress`` but hands callbacks only the model, and
    its loss total saturates in float32 (see the module notes). Overriding these two private
    methods (checked on gensim 4.4; tests fail if an upgrade stops calling them) is the least
    invasive way to get both.
    """

    def _log_epoch_progress(self, *args, **kwargs):
        counts = super()._log_epoch_progress(*args, **kwargs)
        self.seqflow_epoch_counts = (int(counts[0]), int(counts[1]))
        return counts

    def _do_train_job(self, *args, **kwargs):
        result = super()._do_train_job(*args, **kwargs)
        with self.seqflow_loss_lock:
            self.seqflow_loss += float(self.running_training_loss)
            self.running_training_loss = 0.0
        return result


class _EpochReporter(CallbackAny2Vec):
    """Turn gensim's cumulative loss into per-epoch figures and pass them to a hook."""

    def __init__(self, hook: EpochHook | None):
        self.hook = hook
        self.reports: list[EpochReport] = []
        self._began = 0.0
        self._previous_loss = 0.0

    def on_train_begin(self, model):
        model.seqflow_loss = 0.0
        self._previous_loss = 0.0

    def on_epoch_begin(self, model):
        self._began = time.perf_counter()

    def on_epoch_end(self, model):
        seconds = time.perf_counter() - self._began
        # Iterable mode harvests each job's loss into seqflow_loss; corpus_file mode never calls
        # _do_train_job, so there gensim's own running total is what there is.
        cumulative = model.seqflow_loss + float(model.get_latest_training_loss())
        effective, raw = getattr(model, "seqflow_epoch_counts", (0, 0))
        report = EpochReport(len(self.reports), cumulative - self._previous_loss, effective, raw, seconds)
        self._previous_loss = cumulative
        self.reports.append(report)
        if self.hook is not None:
            self.hook(report.epoch, {"loss": report.loss, "words_per_second": report.words_per_second})


def _as_counts(vocabulary: Mapping[str, int] | pd.DataFrame) -> dict[str, int]:
    if isinstance(vocabulary, pd.DataFrame):
        return dict(zip(vocabulary["word"].tolist(), vocabulary["count"].astype("int64").tolist()))
    return {str(w): int(c) for w, c in vocabulary.items()}


def train_word2vec(
    sentences: Iterable[list[str]] | None,
    vocabulary: Mapping[str, int] | pd.DataFrame,
    n_sentences: int,
    n_tokens: int,
    cfg: ModelConfig,
    *,
    sample: float,
    seed: int,
    corpus_file: Path | None = None,
    on_epoch_end: EpochHook | None = None,
) -> TrainedWord2Vec:
    """Train word2vec on a restartable token stream (or a LineSentence file) with a known vocabulary.

    Args:
        sentences: a restartable iterable of token lists (each ≤ 10,000 tokens), iterated once per
            epoch; ``None`` when ``corpus_file`` is given.
        vocabulary: ``word → count`` (or a ``word, count`` frame), already pruned by ``min_count``
            and ``max_vocab_size``: every word in it is trained, words outside it are skipped.
        n_sentences: how many token lists one pass yields (drives the learning-rate decay).
        n_tokens: how many tokens one pass yields, out-of-vocabulary ones included (``corpus_file``
            mode needs it to split the file between threads).
        cfg: architecture, objective, sizes, epochs and threads.
        sample: frequent-word subsampling threshold (``tokenize.sample``; 0 = off).
        seed: seeds the initial vectors and gensim's sampling.
        corpus_file: a LineSentence file of the same tokens; gensim's threads then parse it in C.
        on_epoch_end: called after each epoch with ``(epoch, {"loss", "words_per_second"})``.

    Raises:
        ValueError: neither or both of ``sentences`` and ``corpus_file`` given, or an empty vocabulary.
    """
    if (sentences is None) == (corpus_file is None):
        raise ValueError("train_word2vec: give exactly one of sentences and corpus_file")
    counts = _as_counts(vocabulary)
    if not counts:
        raise ValueError("train_word2vec: the vocabulary is empty")
    began = time.perf_counter()
    model = _CountingWord2Vec(
        vector_size=cfg.vector_size,
        window=cfg.context_window,
        sg=cfg.sg,
        hs=int(cfg.hs),
        negative=cfg.negative,
        ns_exponent=cfg.ns_exponent,
        alpha=cfg.learning_rate,
        min_alpha=cfg.min_learning_rate,
        sample=sample,
        seed=seed,
        workers=cfg.workers,
        epochs=cfg.epochs,
        min_count=1,  # the vocabulary is already pruned; gensim must keep every word of it
        compute_loss=True,
    )
    model.seqflow_loss = 0.0
    model.seqflow_loss_lock = threading.Lock()
    model.build_vocab_from_freq(counts, corpus_count=n_sentences)
    model.corpus_total_words = n_tokens
    vocab_seconds = time.perf_counter() - began
    reporter = _EpochReporter(on_epoch_end)
    began = time.perf_counter()
    model.train(
        corpus_iterable=sentences,
        corpus_file=None if corpus_file is None else str(corpus_file),
        total_examples=n_sentences,
        total_words=n_tokens,
        epochs=cfg.epochs,
        compute_loss=True,
        callbacks=[reporter],
    )
    train_seconds = time.perf_counter() - began
    return TrainedWord2Vec(model.wv, tuple(reporter.reports), train_seconds, vocab_seconds)


def write_line_sentences(sentences: Iterable[list[str]], path: Path) -> Path:
    """Write token lists as a LineSentence file for ``corpus_file`` mode, atomically.

    One token list per line, tokens separated by single spaces (tokens never contain whitespace:
    the token pattern cannot match it).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8", newline="\n") as handle:
            for tokens in sentences:
                handle.write(" ".join(tokens))
                handle.write("\n")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def determinism_problem(cfg: ModelConfig, environ: Mapping[str, str] | None = None) -> str | None:
    """Say what stands between this process and exact repeats, or ``None`` when nothing does.

    Only consulted when ``cfg.deterministic`` is set. Exact repeats need one worker thread (several
    threads apply updates in scheduling order) and ``PYTHONHASHSEED`` fixed when the interpreter
    started (gensim's documented requirement; it cannot be changed from inside a running process,
    so the flow either refuses with this message or re-executes itself with the variable set).

    Args:
        cfg: the model settings.
        environ: the environment to inspect; ``os.environ`` by default.
    """
    if not cfg.deterministic:
        return None
    env = os.environ if environ is None else environ
    needs = []
    if cfg.workers != 1:
        needs.append(f"model.workers = 1 (got {cfg.workers})")
    hashseed = env.get("PYTHONHASHSEED")
    # Only gensim hashes words; the tf backend's exact repeats need the seed and one thread only.
    if "gensim" in cfg.backends and (hashseed is None or hashseed == "random"):
        needs.append(f"a fixed PYTHONHASHSEED (it is {'unset' if hashseed is None else repr(hashseed)})")
    if not needs:
        return None
    return (
        f"model.deterministic = true needs {' and '.join(needs)}; run for example "
        "`PYTHONHASHSEED=0 seqflow run embed --set model.workers=1 --set model.deterministic=true`"
    )
