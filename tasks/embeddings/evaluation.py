"""Score word vectors the same way whatever trained them: analogies, word similarity, neighbours.

Everything here is a function of the vectors and the vocabulary only (:class:`WordVectors`), so the
gensim and TensorFlow backends are scored alike. The test sets are the ones gensim ships:
``questions-words.txt`` (Mikolov's 19,544 analogies in 14 sections), ``wordsim353.tsv`` and
``simlex999.txt``. The rules follow gensim's ``evaluate_word_analogies`` / ``evaluate_word_pairs``
exactly (case-insensitive; a question or pair with a word outside the first ``restrict_vocab``
words is skipped and counted as out of vocabulary; 3CosAdd excluding the three question words), but
analogies are solved as matrix products in batches instead of one ``most_similar`` call per question.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from gensim.models import KeyedVectors
from gensim.test.utils import datapath
from scipy import stats

from tasks.embeddings.config import EvaluateConfig

GENSIM_RESTRICT_VOCAB = 300_000  # gensim's default restrict_vocab for analogies and word pairs
ANALOGIES = "questions-words.txt"
WORDSIM353 = "wordsim353.tsv"
SIMLEX999 = "simlex999.txt"
_QUERY_BATCH = 1024  # questions scored per matrix product: (1024, restrict_vocab) float32 scores


@dataclass(frozen=True, eq=False)  # arrays have no single truth value: compare by identity
class WordVectors:
    """Trained vectors with their vocabulary, most frequent word first: what every backend produces.

    Attributes:
        words: the vocabulary, ``(n_words,)``.
        counts: corpus frequency of each word, ``(n_words,)``.
        vectors: one row per word, ``(n_words, vector_size)``, float32.
    """

    words: tuple[str, ...]
    counts: np.ndarray
    vectors: np.ndarray
    _index: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not (len(self.words) == len(self.counts) == len(self.vectors)):
            raise ValueError(
                f"WordVectors: words ({len(self.words)}), counts ({len(self.counts)}) and vectors "
                f"({len(self.vectors)}) must have one entry per word"
            )
        object.__setattr__(self, "_index", {w: i for i, w in enumerate(self.words)})

    @classmethod
    def from_keyed_vectors(cls, kv: KeyedVectors) -> WordVectors:
        """Take words, counts and vectors from gensim ``KeyedVectors`` (counts 0 where unknown)."""
        if "count" in kv.expandos:
            counts = np.asarray(kv.expandos["count"], dtype=np.int64)
        else:
            counts = np.zeros(len(kv.index_to_key), dtype=np.int64)
        return cls(tuple(kv.index_to_key), counts, np.asarray(kv.vectors, dtype=np.float32))

    def to_keyed_vectors(self) -> KeyedVectors:
        """Return gensim ``KeyedVectors`` holding the same words (with counts) and vectors."""
        kv = KeyedVectors(self.vectors.shape[1], dtype=np.float32)
        kv.add_vectors(list(self.words), self.vectors)
        for word, count in zip(self.words, self.counts.tolist()):
            kv.set_vecattr(word, "count", int(count))
        return kv

    @property
    def vector_size(self) -> int:
        """Dimensions of each vector."""
        return int(self.vectors.shape[1])

    def index(self, word: str) -> int | None:
        """Row of ``word``, or ``None`` when it is not in the vocabulary."""
        return self._index.get(word)

    def unit_vectors(self) -> np.ndarray:
        """Vectors scaled to length 1 (zero vectors stay zero), ``(n_words, vector_size)``."""
        norms = np.linalg.norm(self.vectors, axis=1, keepdims=True)
        return (self.vectors / np.where(norms > 0, norms, 1)).astype(np.float32)


@dataclass(frozen=True)
class AnalogyScore:
    """Analogy accuracy, as gensim computes it (questions with an unknown word are skipped).

    Attributes:
        restrict_vocab: only the first N words could appear in, or answer, a question.
        sections: one row per section: ``section, kind (semantic|syntactic), correct, answered, total``.
    """

    restrict_vocab: int
    sections: pd.DataFrame

    def _accuracy(self, rows: pd.DataFrame) -> float:
        answered = int(rows["answered"].sum())
        return float(rows["correct"].sum()) / answered if answered else float("nan")

    @property
    def accuracy(self) -> float:
        """Correct answers over answered questions, all sections."""
        return self._accuracy(self.sections)

    @property
    def semantic(self) -> float:
        """Accuracy over the five semantic sections (capitals, currency, city-in-state, family)."""
        return self._accuracy(self.sections[self.sections["kind"] == "semantic"])

    @property
    def syntactic(self) -> float:
        """Accuracy over the nine ``gram*`` sections."""
        return self._accuracy(self.sections[self.sections["kind"] == "syntactic"])

    @property
    def oov_share(self) -> float:
        """Share of questions skipped because a word is outside the first ``restrict_vocab`` words."""
        total = int(self.sections["total"].sum())
        return 1 - int(self.sections["answered"].sum()) / total if total else float("nan")


@dataclass(frozen=True)
class PairScore:
    """Correlation with human similarity judgements.

    Attributes:
        dataset: file name of the judgement set.
        spearman: Spearman's rho between the judgements and the cosine similarities.
        pearson: Pearson's r between the same.
        pairs: pairs scored (both words known).
        oov_share: share of pairs skipped because a word is unknown.
    """

    dataset: str
    spearman: float
    pearson: float
    pairs: int
    oov_share: float


@dataclass(frozen=True)
class EvaluationReport:
    """Everything :func:`evaluate_vectors` measures.

    Attributes:
        analogies: scores at ``evaluate.restrict_vocab`` and at gensim's default (300,000).
        pairs: WordSim-353 and SimLex-999.
        neighbours: nearest neighbours of the probe words (:func:`nearest_neighbours`).
    """

    analogies: tuple[AnalogyScore, ...]
    pairs: tuple[PairScore, ...]
    neighbours: pd.DataFrame

    def metrics(self) -> dict[str, float]:
        """Flat ``name → value`` pairs, the form MLflow metrics take."""
        out: dict[str, float] = {}
        for score in self.analogies:
            tag = f"analogy_{score.restrict_vocab}"
            out[f"{tag}_accuracy"] = score.accuracy
            out[f"{tag}_semantic"] = score.semantic
            out[f"{tag}_syntactic"] = score.syntactic
            out[f"{tag}_oov_share"] = score.oov_share
        for pair in self.pairs:
            tag = Path(pair.dataset).stem
            out[f"{tag}_spearman"] = pair.spearman
            out[f"{tag}_pearson"] = pair.pearson
            out[f"{tag}_oov_share"] = pair.oov_share
        return out

    def analogy_sections(self) -> pd.DataFrame:
        """All analogy sections of all restrictions in one table (``restrict_vocab`` first)."""
        return pd.concat(
            [s.sections.assign(restrict_vocab=s.restrict_vocab) for s in self.analogies], ignore_index=True
        )[["restrict_vocab", "section", "kind", "correct", "answered", "total"]]


def _read_analogies(path: Path) -> list[tuple[str, list[tuple[str, str, str, str]]]]:
    sections: list[tuple[str, list[tuple[str, str, str, str]]]] = []
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            if line.startswith(": "):
                sections.append((line[2:].strip(), []))
                continue
            words = line.lower().split()
            if len(words) == 4 and sections:
                sections[-1][1].append((words[0], words[1], words[2], words[3]))
    return sections


def analogy_accuracy(
    wv: WordVectors, restrict_vocab: int = GENSIM_RESTRICT_VOCAB, questions: Path | None = None
) -> AnalogyScore:
    """Score "a is to b as c is to ?" questions with 3CosAdd over the first ``restrict_vocab`` words.

    The answer is the word ``w`` among the first ``restrict_vocab`` (not ``a``, ``b`` or ``c``)
    maximising ``cos(w, b̂ + ĉ − â)``; a question with any word outside them is skipped, as gensim does.

    Args:
        wv: the vectors, most frequent word first; words are compared lowercased.
        restrict_vocab: how many of the most frequent words take part.
        questions: an analogy file in ``questions-words.txt`` format; gensim's copy by default.
    """
    path = Path(questions) if questions is not None else Path(datapath(ANALOGIES))
    limit = min(restrict_vocab, len(wv.words))
    lookup: dict[str, int] = {}
    for i in range(limit - 1, -1, -1):  # the most frequent case-variant wins, as in gensim
        lookup[wv.words[i].lower()] = i
    unit = wv.unit_vectors()[:limit]  # (limit, vector_size)
    rows = []
    for name, questions_ in _read_analogies(path):
        known = [q for q in questions_ if all(w in lookup for w in q)]
        correct = 0
        if known:
            ids = np.asarray([[lookup[w] for w in q] for q in known], dtype=np.int64)  # (n_questions, 4)
            for start in range(0, len(ids), _QUERY_BATCH):
                part = ids[start : start + _QUERY_BATCH]
                queries = unit[part[:, 1]] + unit[part[:, 2]] - unit[part[:, 0]]  # (batch, vector_size)
                scores = queries @ unit.T  # (batch, limit); the query's norm does not change the argmax
                rows_ = np.arange(len(part))
                for column in range(3):
                    scores[rows_, part[:, column]] = -np.inf
                correct += int((scores.argmax(axis=1) == part[:, 3]).sum())
        kind = "syntactic" if name.startswith("gram") else "semantic"
        rows.append({"section": name, "kind": kind, "correct": correct, "answered": len(known), "total": len(questions_)})
    return AnalogyScore(restrict_vocab, pd.DataFrame(rows, columns=["section", "kind", "correct", "answered", "total"]))


def pair_correlation(wv: WordVectors, pairs: Path | str, restrict_vocab: int = GENSIM_RESTRICT_VOCAB) -> PairScore:
    """Correlate cosine similarities with human judgements (``word1<TAB>word2<TAB>score`` lines).

    Args:
        wv: the vectors, most frequent word first; words are compared lowercased.
        pairs: a judgement file, or the name of one gensim ships (``wordsim353.tsv``, ``simlex999.txt``).
        restrict_vocab: words past the first N count as unknown.

    Returns:
        The score; ``spearman`` and ``pearson`` are NaN when fewer than two pairs are known.
    """
    path = Path(pairs) if Path(pairs).is_file() else Path(datapath(str(pairs)))
    limit = min(restrict_vocab, len(wv.words))
    lookup: dict[str, int] = {}
    for i in range(limit - 1, -1, -1):
        lookup[wv.words[i].lower()] = i
    unit = wv.unit_vectors()
    gold, model, unknown = [], [], 0
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            if not line.strip() or line.startswith("#"):
                continue
            parts = line.rstrip("\n").split("\t")
            if len(parts) != 3:
                continue
            try:
                judged = float(parts[2])
            except ValueError:
                continue
            a, b = lookup.get(parts[0].lower()), lookup.get(parts[1].lower())
            if a is None or b is None:
                unknown += 1
                continue
            gold.append(judged)
            model.append(float(unit[a] @ unit[b]))
    if len(gold) < 2:  # a correlation needs two points; a tiny corpus may know no pair at all
        return PairScore(path.name, float("nan"), float("nan"), len(gold), unknown / (len(gold) + unknown))
    return PairScore(
        dataset=path.name,
        spearman=float(stats.spearmanr(gold, model).statistic),
        pearson=float(stats.pearsonr(gold, model).statistic),
        pairs=len(gold),
        oov_share=unknown / (len(gold) + unknown),
    )


def nearest_neighbours(wv: WordVectors, probe_words: Sequence[str], topn: int = 10) -> pd.DataFrame:
    """Return the ``topn`` most cosine-similar words of each probe word.

    Probe words outside the vocabulary get one row with ``rank`` 0 and no neighbour, so the table
    says they were asked for.

    Returns:
        A frame ``probe, rank (1 = nearest), neighbour, similarity, count``.
    """
    unit = wv.unit_vectors()
    rows = []
    for probe in probe_words:
        i = wv.index(probe)
        if i is None:
            rows.append({"probe": probe, "rank": 0, "neighbour": None, "similarity": float("nan"), "count": 0})
            continue
        sims = unit @ unit[i]  # (n_words,)
        sims[i] = -np.inf
        k = min(topn, len(sims) - 1)
        best = np.argpartition(-sims, k - 1)[:k] if k > 0 else np.array([], dtype=np.int64)
        best = best[np.argsort(-sims[best], kind="stable")]
        for rank, j in enumerate(best.tolist(), start=1):
            rows.append({"probe": probe, "rank": rank, "neighbour": wv.words[j], "similarity": float(sims[j]),
                         "count": int(wv.counts[j])})
    return pd.DataFrame(rows, columns=["probe", "rank", "neighbour", "similarity", "count"])


def benchmark_scores(restrict_vocab: int) -> tuple[str, ...]:
    """The scores :meth:`EvaluationReport.metrics` reports that a gate may compare (higher is better for each).

    Args:
        restrict_vocab: ``evaluate.restrict_vocab``; analogies are also scored at gensim's 300,000.
    """
    names: list[str] = []
    for restrict in sorted({restrict_vocab, GENSIM_RESTRICT_VOCAB}):
        names += [f"analogy_{restrict}_accuracy", f"analogy_{restrict}_semantic", f"analogy_{restrict}_syntactic"]
    for dataset in (WORDSIM353, SIMLEX999):
        names += [f"{Path(dataset).stem}_spearman", f"{Path(dataset).stem}_pearson"]
    return tuple(names)


def benchmark_file(score: str) -> Path:
    """The test set ``score`` (a name :func:`benchmark_scores` gives) is measured on: gensim's copy.

    Raises:
        ValueError: ``score`` names no benchmark of this module.
    """
    if score.startswith("analogy_"):
        return Path(datapath(ANALOGIES))
    for dataset in (WORDSIM353, SIMLEX999):
        if score.startswith(f"{Path(dataset).stem}_"):
            return Path(datapath(dataset))
    raise ValueError(f"{score!r} is measured on no benchmark; scores start with analogy_, wordsim353_ or simlex999_")


def evaluation_steps(cfg: EvaluateConfig) -> int:
    """How many measurements :func:`evaluate_vectors` makes (the total of its ``on_step`` count)."""
    return len({cfg.restrict_vocab, GENSIM_RESTRICT_VOCAB}) + 3  # analogies, two pair sets, neighbours


def evaluate_vectors(
    wv: WordVectors, cfg: EvaluateConfig, on_step: Callable[[int, str], None] | None = None
) -> EvaluationReport:
    """Run every measurement: analogies at ``cfg.restrict_vocab`` and at 300,000, both pair sets, neighbours.

    Args:
        wv: the vectors.
        cfg: the vocabulary restriction and the probe words.
        on_step: called after each measurement with how many are done and its name (progress).
    """
    report = on_step if on_step is not None else (lambda done, name: None)
    restrictions = sorted({cfg.restrict_vocab, GENSIM_RESTRICT_VOCAB})
    analogies = []
    for r in restrictions:
        analogies.append(analogy_accuracy(wv, r))
        report(len(analogies), f"analogies ({r:,} words)")
    pairs = []
    for name, label in ((WORDSIM353, "WordSim-353"), (SIMLEX999, "SimLex-999")):
        pairs.append(pair_correlation(wv, name))
        report(len(analogies) + len(pairs), label)
    neighbours = nearest_neighbours(wv, cfg.probe_words, cfg.neighbours)
    report(len(analogies) + len(pairs) + 1, "neighbours")
    return EvaluationReport(tuple(analogies), tuple(pairs), neighbours)
