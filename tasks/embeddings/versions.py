"""What a registered version of word vectors says about itself, and when two versions' scores compare: pure.

The embeddings flow registers its first backend's vectors as a new version of ``embed-<corpus>``
(``register-vectors`` in :mod:`tasks.embeddings.steps`) with the tags and description made here. A
retrain compares the challenger's benchmark score with the champion's: the score recorded on the
champion's version is the same measurement only when both versions were scored on the same
benchmark file (its SHA-256) by the same evaluation code (:func:`recorded_scores`); otherwise the
champion's vectors are scored again.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from pathlib import Path

from tasks.embeddings import evaluation
from tasks.embeddings.config import EmbedConfig
from tasks.embeddings.evaluation import benchmark_file

EVALUATION_CODE_TAG = "evaluation_code_sha256"


def benchmark_tag(path: Path | str) -> str:
    """The version tag holding a benchmark file's SHA-256 (``wordsim353.tsv`` → ``benchmark_wordsim353_sha256``)."""
    return f"benchmark_{Path(path).stem}_sha256"


def version_tags(*, corpus: str, corpus_hash: str, config_hash: str, git_commit: str, vocabulary_size: int,
                 backend: str, architecture: str, vector_size: int, scores: Mapping[str, float],
                 benchmark_hashes: Mapping[str, str], evaluation_code: str, parent_run_id: str,
                 model_run_id: str) -> dict[str, str]:
    """The tags of one registered version: its corpus, config, code, size and benchmark scores.

    Args:
        corpus: the corpus' name (``topics.txt``).
        corpus_hash: the corpus' content hash (its files' bytes and names).
        config_hash: the flow config's hash.
        git_commit: the code's commit.
        vocabulary_size: words with a vector.
        backend: the trainer (``gensim`` | ``tf``); ``architecture``, ``vector_size`` likewise from the config.
        scores: benchmark score name (``wordsim353_spearman``, ``analogy_30000_accuracy``, ...) to value.
        benchmark_hashes: benchmark file (path or name) to its SHA-256: what the scores were measured on.
        evaluation_code: SHA-256 of the code that scored them.
        parent_run_id: the flow's parent run; ``model_run_id``: the backend's child run.
    """
    return {
        "subject": corpus, "corpus_content_hash": corpus_hash, "data_content_hash": corpus_hash,
        "config_hash": config_hash, "git_commit": git_commit, "vocabulary_size": str(vocabulary_size),
        "backend": backend, "architecture": architecture, "vector_size": str(vector_size),
        "parent_run_id": parent_run_id, "model_run_id": model_run_id, EVALUATION_CODE_TAG: evaluation_code,
        **{benchmark_tag(path): sha for path, sha in benchmark_hashes.items()},
        **{name: f"{value:.6g}" for name, value in scores.items()},
    }


def version_description(*, corpus: str, backend: str, architecture: str, vocabulary_size: int, vector_size: int,
                        epochs: int, scores: Mapping[str, float], restrict_vocab: int) -> str:
    """One sentence: what the vectors are and how they scored."""
    def shown(name: str, percent: bool = False) -> str:
        value = scores.get(name, math.nan)
        return "n/a" if not math.isfinite(value) else (f"{value:.1%}" if percent else f"{value:+.3f}")

    return (f"{backend} {architecture} word vectors of {corpus}: {vocabulary_size:,} words × {vector_size} dims, "
            f"{epochs} epochs; WordSim-353 ρ {shown('wordsim353_spearman')}, SimLex-999 ρ "
            f"{shown('simlex999_spearman')}, analogies {shown(f'analogy_{restrict_vocab}_accuracy', True)} "
            f"(first {restrict_vocab:,} words)")


def recorded_scores(champion_tags: Mapping[str, str], challenger_tags: Mapping[str, str], metric: str,
                    scores: Iterable[str]) -> tuple[dict[str, float] | None, str]:
    """The champion's scores as recorded on its version, when they measure what the challenger's do.

    A recorded score counts only when its benchmark file's SHA-256 and the evaluation code's are
    recorded on both versions and equal.

    Args:
        champion_tags: the champion version's tags; ``challenger_tags``: the challenger's.
        metric: the gate's score: if it does not compare, nothing is taken from the tags.
        scores: every benchmark score to take (those that compare).

    Returns:
        ``(scores, why)``: the comparable recorded scores, or None when the gate's score is not
        comparable (the champion must be scored again); ``why`` says which.
    """
    def same(name: str) -> bool:
        keys = (benchmark_tag(benchmark_file(name)), EVALUATION_CODE_TAG)
        return all(champion_tags.get(k) is not None and champion_tags.get(k) == challenger_tags.get(k) for k in keys)

    if metric not in champion_tags:
        return None, f"its version records no {metric}"
    if not same(metric):
        return None, (f"its {metric} was measured on another {benchmark_file(metric).name} or by other evaluation "
                      "code than the challenger's")
    found = {name: float(champion_tags[name]) for name in (*scores, metric) if name in champion_tags and same(name)}
    return found, f"from its version's tags: the same {benchmark_file(metric).name} and evaluation code"


def gated_scores(metrics: dict[str, float], cfg: EmbedConfig) -> dict[str, float]:
    """The benchmark scores among a model's metrics (what a gate may compare, higher is better)."""
    return {k: float(metrics[k]) for k in evaluation.benchmark_scores(cfg.evaluate.restrict_vocab) if k in metrics}


def unknown_word(words: tuple[str, ...]) -> str:
    """A token that is not in ``words``: the input example's unknown word."""
    known, word = set(words), "<unknown>"
    while word in known:  # a custom token pattern could make even this a word
        word += "_"
    return word
