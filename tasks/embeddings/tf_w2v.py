"""Train skip-gram word vectors in TensorFlow with negative sampling or noise-contrastive estimation.

The course's word2vec: each (centre ``c``, context ``o``) pair is told apart from ``k`` noise words
``n_1..n_k`` drawn from ``Pn(w) ∝ count(w)^0.75``, maximising
``log Q(D=1 | o, c) + Σ_i log Q(D=0 | n_i, c)`` with ``Q(D=1 | w, c) = σ(s(w, c))``.

**Negative sampling vs NCE.** Both use that objective and differ only in the score ``s``. Negative
sampling (word2vec, gensim) takes the raw dot product ``s = u_c · v_w``: simple and good for
vectors, but it is not a density estimator, since what it fits, ``σ(u·v)``, says nothing about
``P(w | c)``. NCE (Gutmann & Hyvärinen; Mnih & Teh for language models) scores
``s = u_c · v_w + b_w − log(k · Pn(w))``: subtracting the log of the expected number of noise draws
of ``w`` makes the classifier's optimum ``exp(u_c · v_w + b_w) = P(w | c)``, a self-normalised
model of the context distribution, which needs a per-word output bias ``b_w`` to absorb each word's
frequency. As ``k`` grows NCE's gradient approaches the full softmax's; negative sampling's does not.
For word similarity the two score alike (Mikolov et al. found negative sampling slightly better on
analogies), and ``tf.nn.nce_loss`` computes the same NCE loss (checked in the tests).

How it is made fast on a CPU (the brief was ≥ 0.25x gensim's words/s; see docs/results/2026-11-27-embeddings.md):

* The pairs come vectorised from :mod:`tasks.embeddings.skipgram`, made by a background thread
  while TensorFlow trains on the previous block.
* One ``tf.function`` call trains a whole block of batches (a ``tf.range`` loop in the graph), so
  Python is entered once per ~500 batches, not once per batch.
* Plain SGD with word2vec's linearly decaying rate, applied as *sparse* updates: the rows a batch
  uses are gathered, the gradient is written in closed form and added back with
  ``Variable.scatter_add(tf.IndexedSlices(...))`` (duplicates sum); no dense gradient over the
  vocabulary is ever formed.
* The noise words are drawn in the graph (a stateless uniform, ``searchsorted`` in the noise CDF)
  and shared by ``noise_group`` consecutive pairs of a shuffled batch. Each pair still meets ``k``
  independent draws from ``Pn``, so every pair's expected gradient is word2vec's; what changes is
  that pairs of a group see the same draws. It turns the ``(batch, k, d)`` gathers and products
  into ``(groups, k, d)`` gathers and batched matrix products (the trick of Ji et al., 2016,
  "Parallelizing Word2Vec in shared and distributed memory"); ``noise_group = 1`` is word2vec's
  one draw per pair.

Determinism: the pairs come from a NumPy generator seeded with ``seed``, the noise from stateless
draws keyed on ``(seed, step)`` and the initial vectors from the same generator, all in stream order
(the prefetch thread does not change the order), so the *data* of every step repeats exactly. The
arithmetic repeats exactly with one TensorFlow thread: same seed, same machine, ``model.workers = 1``
→ bit-identical vectors and per-epoch losses, in one process and across processes (measured on the
Lee corpus, 3 epochs: the same SHA-256 of the vectors in separate processes, with and without
``model.deterministic``). With two threads the kernels' summation order varies and two processes
differed in the last digits of the second epoch's loss and in the vectors' bits. ``model.deterministic``
(which needs ``model.workers = 1``) also turns on ``tf.config.experimental.enable_op_determinism``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import tensorflow as tf

from tasks.embeddings import skipgram
from tasks.embeddings.config import ModelConfig
from tasks.embeddings.evaluation import WordVectors
from tasks.embeddings.gensim_w2v import EpochReport, TrainedWord2Vec
from tasks.runtime import configure_tf_threads

EpochHook = Callable[[int, dict[str, float]], None]


@dataclass
class SkipGramWeights:
    """The trained parameters: input vectors (the word vectors), output vectors and output biases.

    Attributes:
        inputs: ``(n_words, vector_size)``, word2vec's ``syn0``: uniform in ±0.5 / vector_size.
        outputs: ``(n_words, vector_size)``, word2vec's ``syn1neg``: zeros.
        biases: ``(n_words,)``, NCE's output bias ``b_w`` (zeros; negative sampling leaves them at 0).
    """

    inputs: tf.Variable
    outputs: tf.Variable
    biases: tf.Variable

    @classmethod
    def initial(cls, n_words: int, vector_size: int, rng: np.random.Generator) -> SkipGramWeights:
        """word2vec's initialisation, drawn from ``rng``."""
        inputs = (rng.random((n_words, vector_size), dtype=np.float32) - 0.5) / vector_size
        return cls(tf.Variable(inputs, name="inputs"),
                   tf.Variable(tf.zeros((n_words, vector_size)), name="outputs"),
                   tf.Variable(tf.zeros((n_words,)), name="biases"))


def scores(u, v_pos, v_neg, b_pos=None, b_neg=None, logq_pos=None, logq_neg=None):
    """The classifier's logits ``s`` for the true contexts and the noise words.

    Args:
        u: centre vectors, ``(groups, group, vector_size)``.
        v_pos: output vectors of the true contexts, ``(groups, group, vector_size)``.
        v_neg: output vectors of each group's noise words, ``(groups, k, vector_size)``.
        b_pos, b_neg: NCE's output biases, ``(groups, group)`` and ``(groups, k)``; ``None`` for
            negative sampling (as the two log-noise terms).
        logq_pos, logq_neg: ``log(k · Pn(w))`` of the true contexts and of the noise words, same shapes.

    Returns:
        ``(pos, neg)``: ``(groups, group)`` and ``(groups, group, k)`` logits.
    """
    pos = tf.reduce_sum(u * v_pos, axis=-1)
    neg = tf.matmul(u, v_neg, transpose_b=True)
    if b_pos is not None:
        pos = pos + b_pos - logq_pos
        neg = neg + (b_neg - logq_neg)[:, None, :]
    return pos, neg


def objective(pos, neg):
    """The loss to minimise, summed over pairs: ``−log σ(pos) − Σ_k log σ(−neg)``, a scalar."""
    return tf.reduce_sum(tf.math.softplus(-pos)) + tf.reduce_sum(tf.math.softplus(neg))


def sgd_step(weights: SkipGramWeights, centres, contexts, noise, lr, *, nce: bool, logq=None):
    """One SGD step on a batch: gather the rows it uses, update only those rows, return the batch's loss.

    The gradient is written in closed form (``d loss / d pos = σ(pos) − 1``,
    ``d loss / d neg = σ(neg)``) from the rows' values before the step, and every row's updates are
    summed (``scatter_add`` adds duplicates), as one SGD step on the batch's summed loss does.

    Args:
        weights: the variables, updated in place.
        centres: ``(batch,)`` int32 centre ids.
        contexts: ``(batch,)`` int32 context ids.
        noise: ``(groups, k)`` int32 noise ids; ``batch`` is ``groups × group``.
        lr: the learning rate, a scalar.
        nce: NCE (biases and the log-noise correction) instead of negative sampling.
        logq: ``(n_words,)`` ``log(k · Pn(w))``, needed for NCE.
    """
    groups = tf.shape(noise)[0]
    dim = tf.shape(weights.inputs)[1]
    flat_noise = tf.reshape(noise, [-1])
    u = tf.reshape(tf.gather(weights.inputs, centres), [groups, -1, dim])
    v_pos = tf.reshape(tf.gather(weights.outputs, contexts), [groups, -1, dim])
    v_neg = tf.reshape(tf.gather(weights.outputs, flat_noise), [groups, -1, dim])
    if nce:
        shape = tf.shape(u)[:2]
        b_pos = tf.reshape(tf.gather(weights.biases, contexts), shape)
        b_neg = tf.gather(weights.biases, noise)
        pos, neg = scores(u, v_pos, v_neg, b_pos, b_neg, tf.reshape(tf.gather(logq, contexts), shape),
                          tf.gather(logq, noise))
    else:
        pos, neg = scores(u, v_pos, v_neg)
    loss = objective(pos, neg)
    g_pos = lr * (1.0 - tf.sigmoid(pos))  # −lr · d loss / d pos: the step along the ascent of log σ(pos)
    g_neg = -lr * tf.sigmoid(neg)  # (groups, group, k)
    d_u = g_pos[..., None] * v_pos + tf.matmul(g_neg, v_neg)  # (groups, group, dim)
    d_pos = g_pos[..., None] * u
    d_neg = tf.matmul(g_neg, u, transpose_a=True)  # (groups, k, dim): each noise row's sum over its group
    weights.inputs.scatter_add(tf.IndexedSlices(tf.reshape(d_u, [-1, dim]), centres))
    weights.outputs.scatter_add(tf.IndexedSlices(
        tf.concat([tf.reshape(d_pos, [-1, dim]), tf.reshape(d_neg, [-1, dim])], 0),
        tf.concat([contexts, flat_noise], 0)))
    if nce:
        weights.biases.scatter_add(tf.IndexedSlices(
            tf.concat([tf.reshape(g_pos, [-1]), tf.reshape(tf.reduce_sum(g_neg, axis=1), [-1])], 0),
            tf.concat([contexts, flat_noise], 0)))
    return loss


def draw_noise(cdf, seed, step, groups, k):
    """Draw ``(groups, k)`` noise ids from the noise CDF, keyed on ``(seed, step)`` (stateless: repeatable).

    Args:
        cdf: ``(n_words,)`` float64 cumulative noise distribution, ending at 1.
        seed: an int64 scalar.
        step: an int64 scalar, distinct for every batch of a training run.
        groups, k: the shape.
    """
    u = tf.random.stateless_uniform([groups * k], seed=tf.stack([seed, step]), dtype=tf.float64)
    ids = tf.searchsorted(cdf, u, side="right")
    return tf.reshape(tf.minimum(ids, tf.shape(cdf, out_type=ids.dtype)[0] - 1), [groups, k])


class SkipGramTrainer:
    """The compiled training loop of one model: ``train_batches`` runs many SGD steps in one call.

    Args:
        counts: corpus count of each vocabulary word, ``(n_words,)``, most frequent first.
        cfg: vector size, noise words, noise group, objective, exponent.
        seed: seeds the initial vectors (through ``rng``) and the noise draws.
        rng: the generator the initial vectors are drawn from.
    """

    def __init__(self, counts: np.ndarray, cfg: ModelConfig, seed: int, rng: np.random.Generator):
        self.k = cfg.negative
        self.group = cfg.noise_group
        self.nce = cfg.loss == "nce"
        noise = skipgram.noise_distribution(counts, cfg.ns_exponent)
        cdf = np.cumsum(noise)
        cdf[-1] = 1.0
        self.cdf = tf.constant(cdf, dtype=tf.float64)
        self.logq = tf.constant(np.log(self.k * noise), dtype=tf.float32)
        self.seed = tf.constant(seed, dtype=tf.int64)
        self.weights = SkipGramWeights.initial(len(counts), cfg.vector_size, rng)
        self.step = 0
        spec = tf.TensorSpec([None, None], tf.int32)
        self._train = tf.function(
            self._train_graph,
            input_signature=[spec, spec, tf.TensorSpec([None], tf.float32), tf.TensorSpec([], tf.int64)],
        )

    def _train_graph(self, centres, contexts, lrs, first_step):
        total = tf.constant(0.0, tf.float32)
        groups = tf.shape(centres)[1] // self.group
        for i in tf.range(tf.shape(centres)[0]):
            noise = draw_noise(self.cdf, self.seed, first_step + tf.cast(i, tf.int64), groups, self.k)
            total += sgd_step(self.weights, centres[i], contexts[i], tf.cast(noise, tf.int32), lrs[i],
                              nce=self.nce, logq=self.logq)
        return total

    def train_batches(self, centres: np.ndarray, contexts: np.ndarray, lrs: np.ndarray) -> float:
        """Run one SGD step per row of ``centres``/``contexts`` (``(n_batches, batch)`` int32); return the summed loss."""
        if centres.shape[0] == 0:
            return 0.0
        loss = self._train(centres, contexts, lrs, tf.constant(self.step, tf.int64))
        self.step += int(centres.shape[0])
        return float(loss)

    def vectors(self) -> np.ndarray:
        """The input vectors (word2vec's word vectors), ``(n_words, vector_size)`` float32."""
        return self.weights.inputs.numpy()


@dataclass(frozen=True)
class Profile:
    """Where the training time went (seconds, all epochs).

    Attributes:
        pairs: making pair blocks (subsampling, windows, shuffle), in the background thread.
        feed: the main thread outside TensorFlow: waiting for a block (pair generation not hidden
            behind training), cutting it into batches, learning rates.
        steps: inside TensorFlow's compiled training calls.
        pairs_trained: (centre, context) pairs trained on.
    """

    pairs: float
    feed: float
    steps: float
    pairs_trained: int

    def as_metrics(self) -> dict[str, float]:
        """The figures as MLflow metrics (``profile.*``)."""
        return {"profile.pair_seconds": self.pairs, "profile.feed_seconds": self.feed,
                "profile.step_seconds": self.steps, "profile.pairs_trained": float(self.pairs_trained),
                "profile.pairs_per_second": self.pairs_trained / self.steps if self.steps > 0 else 0.0}


def enable_determinism() -> None:
    """Ask TensorFlow for deterministic ops (process-wide; ops without a deterministic kernel raise)."""
    tf.config.experimental.enable_op_determinism()


def train_skipgram(
    batches: Callable[[], Iterable[Sequence[np.ndarray]]],
    vocabulary: pd.DataFrame,
    n_tokens: int,
    cfg: ModelConfig,
    *,
    sample: float,
    seed: int,
    on_epoch_end: EpochHook | None = None,
) -> TrainedWord2Vec:
    """Train skip-gram vectors on a restartable stream of id batches; report each epoch as gensim's backend does.

    Args:
        batches: returns a fresh iterator over batches of chunks (each an int array of ids into
            ``vocabulary``) for every epoch, e.g. the token-id Parquet's row groups.
        vocabulary: ``word, count``, most frequent first; a word's row is its id.
        n_tokens: tokens one pass yields (drives the learning-rate decay).
        cfg: sizes, window, noise words, objective, epochs, learning rates, batch size, threads.
        sample: subsampling threshold (``tokenize.sample``; 0 = off).
        seed: seeds everything random (see the module notes).
        on_epoch_end: called after each epoch with ``(epoch, {"loss", "words_per_second"})``.

    Returns:
        The vectors as gensim ``KeyedVectors`` (with counts) and per-epoch reports, so that the
        steps evaluate and export them exactly as gensim's; ``profile`` holds :class:`Profile`'s figures.
    """
    if len(vocabulary) == 0:
        raise ValueError("train_skipgram: the vocabulary is empty")
    configure_tf_threads(cfg.workers)
    if cfg.deterministic:
        enable_determinism()
    began = time.perf_counter()
    counts = vocabulary["count"].to_numpy(np.int64)
    rng = np.random.default_rng(seed)
    trainer = SkipGramTrainer(counts, cfg, seed, rng)
    keep = skipgram.keep_probabilities(counts, sample) if sample > 0 else None
    vocab_seconds = time.perf_counter() - began
    reports: list[EpochReport] = []
    pair_s = feed_s = step_s = 0.0
    pairs_trained = 0
    train_began = time.perf_counter()
    for epoch in range(cfg.epochs):
        epoch_began = time.perf_counter()
        loss, effective, raw = 0.0, 0, 0
        blocks = skipgram.prefetch(skipgram.iter_pair_blocks(batches(), cfg.context_window, keep, rng))
        cut = skipgram.batched(blocks, cfg.batch_size, n_tokens, cfg.noise_group)
        while True:
            t0 = time.perf_counter()
            part = next(cut, None)  # waits for the background thread when it is behind
            if part is None:
                break
            lrs = skipgram.learning_rates(part.progress, epoch, cfg.epochs, cfg.learning_rate, cfg.min_learning_rate)
            t2 = time.perf_counter()
            loss += trainer.train_batches(part.centres, part.contexts, lrs)
            step_s += time.perf_counter() - t2
            feed_s += t2 - t0
            pair_s += part.pair_seconds
            effective += part.effective_words
            raw += part.raw_words
            pairs_trained += part.n_pairs
        report = EpochReport(epoch, loss, effective, raw, time.perf_counter() - epoch_began)
        reports.append(report)
        if on_epoch_end is not None:
            on_epoch_end(epoch, {"loss": report.loss, "words_per_second": report.words_per_second})
    train_seconds = time.perf_counter() - train_began
    words = WordVectors(tuple(vocabulary["word"].tolist()), counts, trainer.vectors())
    profile = Profile(pair_s, feed_s, step_s, pairs_trained)
    return TrainedWord2Vec(words.to_keyed_vectors(), tuple(reports), train_seconds, vocab_seconds,
                           profile.as_metrics())
