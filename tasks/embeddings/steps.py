"""Prefect ``@task`` wrappers of the embeddings flow: read the corpus, call the pure modules, write, log.

The only module of the embeddings package that meets Prefect, storage, paths and tracking. The
order of work (see :mod:`tasks.embeddings.text`):

1. ``hash-corpus``: list the corpus files and hash their bytes (the identity every cache keys on).
2. ``tokenize-corpus``: one streamed pass (two with ``tokenize.phrases``) → the token Parquet
   (``doc_id, tokens``, a row group per 2,048 chunks) and every word's count (``word, count``, with
   ``n_chunks``, ``n_tokens``, ``n_documents`` in its metadata). Cached on the corpus files' hashes
   and names, the corpus settings and the tokenize settings *except* ``sample``, ``min_count`` and
   ``max_vocab_size``, which only change the vocabulary or training: a re-run that changes those or
   any model setting reuses the tokens (Prefect shows the step as ``Cached``).
3. ``build-vocabulary``: cut the counts by ``min_count``/``max_vocab_size`` → the vocabulary Parquet,
   and re-encode the tokens as ids → the token-id Parquet that feeds every training epoch. Cached on
   the token Parquet's hash and those two settings.
4. ``train-vectors``: one MLflow child run per model; ``model.backend`` picks the trainer from
   :data:`tasks.embeddings.trainers.TRAINERS`; per-epoch loss and words/s are logged as the epochs end.
5. ``evaluate-vectors`` and ``export-vectors``: the same for every backend, reading the vectors'
   Parquet; the run is closed after the exports are logged.
6. ``register-vectors``: the first backend's vectors as a servable pyfunc on the parent run,
   registered as a new version of ``embed-<corpus>`` with the alias ``candidate``, its tags saying
   what they were trained on and how they scored (:mod:`tasks.embeddings.versions`). A retrain's
   ``score-champion-vectors`` scores the champion as the challenger was scored.

Every check that needs the data (an unreadable corpus, no word reaching ``min_count``, fewer words
than the t-SNE perplexity) raises :class:`tasks.errors.InputError` in steps 1–3, before the flow opens
any MLflow run (the CLI reads the corpus up to its first document even before Prefect starts). Training, evaluation and export are neither cached nor persisted (``NO_CACHE``).
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.context import TaskRunContext

from tasks import caching, paths, storage
from tasks.config import flatten, registry_slug
from tasks.embeddings import config as embed_config
from tasks.embeddings import corpus as corpus_source
from tasks.embeddings import evaluation, gensim_w2v, projection, text, versions
from tasks.embeddings.versions import gated_scores, unknown_word
from tasks.embeddings.config import CorpusConfig, EmbedConfig, TokenizeConfig
from tasks.embeddings.records import (
    ChampionScores,
    CorpusRef,
    EpochFigures,
    EvaluatedVectors,
    ExportedFiles,
    Neighbour,
    RegisteredVectors,
    TokensRef,
    TrainedVectors,
    VocabularyRef,
)
from tasks.embeddings.tables import COMPARED, comparison_markdown, comparison_rows, neighbours_markdown
from tasks.embeddings.trainers import TRAINERS
from tasks.errors import InputError
from tasks.progress import epoch_bar, work_bar
from tasks.tracking import runs
from tasks.tracking.runs import RunContext

# Tokenize settings that shape only the vocabulary or training, never the stored tokens.
VOCABULARY_SETTINGS: tuple[str, ...] = ("sample", "min_count", "max_vocab_size")
# Rows per batch when the token and token-id Parquet are streamed back (the token row groups' size).
# Storage's default, 65,536 rows, held two thirds of IMDB at once: re-encoding the tokens peaked at
# 2.1 GB and took 8.2 s, against 0.45 GB and 5.8 s with 2,048 (the id stream: 0.72 GB → 0.34 GB).
STREAM_ROWS = 2_048


def check_settings(cfg: EmbedConfig) -> None:
    """Refuse settings that cannot be honoured in this process (exact repeats without their conditions).

    Raises:
        InputError: ``model.deterministic`` is set but ``PYTHONHASHSEED`` is not fixed.
    """
    problem = gensim_w2v.determinism_problem(cfg.model)
    if problem is not None:
        raise InputError(problem)


def corpus_name(cfg: CorpusConfig) -> str:
    """The corpus' file or directory name, for run names and tables."""
    return corpus_source.corpus_path(cfg).name or str(corpus_source.corpus_path(cfg))


@task(name="hash-corpus", cache_policy=NO_CACHE, persist_result=False)
def hash_corpus(cfg: CorpusConfig) -> CorpusRef:
    """List the corpus files and hash their bytes; the hashes and names identify the corpus in caches."""
    root = corpus_source.corpus_path(cfg)
    files = corpus_source.corpus_files(cfg)
    named = tuple(
        ((f.relative_to(root).as_posix() if root.is_dir() else f.name), storage.content_hash(f)) for f in files
    )
    digest = hashlib.sha256()
    for name, sha in named:
        digest.update(f"{name}\0{sha}\n".encode())
    return CorpusRef(corpus_name(cfg), str(root), named, digest.hexdigest())


def _tokens_key(corpus: CorpusRef, corpus_cfg: CorpusConfig, tokenize_cfg: TokenizeConfig) -> str:
    # The path itself is left out: the same bytes under the same file names tokenize the same,
    # wherever they lie. The file names stay in (a .tsv suffix makes a table).
    return caching.content_key(
        corpus.files,
        corpus_cfg.model_dump(mode="json", exclude={"path"}),
        tokenize_cfg.model_dump(mode="json", exclude=set(VOCABULARY_SETTINGS)),
        caching.code_fingerprint(corpus_source, text, embed_config),
    )


def _reuse_or_rebuild(key: str, *outputs: Path) -> str:
    for output in outputs:
        checked = caching.reuse_or_rebuild(key, output)
        if checked != key:
            return checked
    return key


def _tokens_cache_key(context: TaskRunContext, parameters: dict[str, Any]) -> str:
    key = _tokens_key(parameters["corpus"], parameters["corpus_cfg"], parameters["tokenize_cfg"])
    return _reuse_or_rebuild(
        f"tokens-{key}", paths.intermediate_path("tokens", key), paths.intermediate_path("word-counts", key)
    )


@task(name="tokenize-corpus", cache_key_fn=_tokens_cache_key, persist_result=True)
def tokenize_corpus(corpus: CorpusRef, corpus_cfg: CorpusConfig, tokenize_cfg: TokenizeConfig) -> TokensRef:
    """Stream the corpus into the token Parquet and count every word; nothing is held whole in memory.

    Raises:
        InputError: the corpus cannot be read or decoded (named file and byte offset), or holds no token.
    """
    key = _tokens_key(corpus, corpus_cfg, tokenize_cfg)
    began = time.perf_counter()
    phraser = None
    if tokenize_cfg.phrases:
        first_pass = text.tokenize_documents(corpus_source.iter_documents(corpus_cfg), tokenize_cfg)
        phraser = text.learn_phrases((chunk.tokens for chunk in first_pass), tokenize_cfg)
    read = corpus_source.ReadStats()
    chunks = text.tokenize_documents(corpus_source.iter_documents(corpus_cfg, stats=read), tokenize_cfg)
    if phraser is not None:
        chunks = text.apply_phrases(chunks, phraser)
    counter = text.VocabularyCounter()
    tokens_path = paths.intermediate_path("tokens", key)
    with storage.frame_writer(tokens_path) as write, \
            work_bar(f"tokenize {corpus.name}", corpus_source.corpus_bytes(corpus_cfg), "bytes read") as bar:
        for frame in text.token_frames(counter.observe(chunks)):
            write(frame)
            bar(read.bytes_read)
        if counter.n_chunks == 0:
            raise InputError(
                f"no document has a token matching tokenize.token_pattern = {tokenize_cfg.token_pattern!r}",
                file=corpus.path,
            )
    counts = text.vocabulary_frame(counter.counts, 1)
    metadata = {"n_documents": counter.n_documents, "n_chunks": counter.n_chunks, "n_tokens": counter.n_tokens,
                "corpus_content_hash": corpus.content_hash}
    counts_path = storage.write_frame(counts, paths.intermediate_path("word-counts", key), metadata)
    seconds = time.perf_counter() - began
    n_phrases = len(phraser.phrasegrams) if phraser is not None else 0
    logger = get_run_logger()
    logger.info(
        "tokenized %s: %d documents, %d tokens, %d distinct words in %.1f s (%.0f tokens/s)",
        corpus.name, counter.n_documents, counter.n_tokens, len(counts), seconds,
        counter.n_tokens / seconds if seconds > 0 else 0.0,
    )
    if read.dropped_runs:
        logger.warning(
            "%s: dropped %d run(s) of word characters at least %d long as non-words (%d characters in all)",
            corpus.name, read.dropped_runs, read.piece_chars, read.dropped_chars,
        )
    return TokensRef(str(tokens_path), str(counts_path), storage.content_hash(tokens_path), corpus,
                     counter.n_documents, counter.n_chunks, counter.n_tokens, len(counts), n_phrases, seconds,
                     read.dropped_runs, read.dropped_chars)


def _vocabulary_key(tokens: TokensRef, tokenize_cfg: TokenizeConfig) -> str:
    return caching.content_key(
        tokens.content_hash, tokenize_cfg.min_count, tokenize_cfg.max_vocab_size, caching.code_fingerprint(text)
    )


def _vocabulary_cache_key(context: TaskRunContext, parameters: dict[str, Any]) -> str:
    key = _vocabulary_key(parameters["tokens"], parameters["tokenize_cfg"])
    return _reuse_or_rebuild(
        f"vocabulary-{key}", paths.intermediate_path("vocabulary", key), paths.intermediate_path("token-ids", key)
    )


@task(name="build-vocabulary", cache_key_fn=_vocabulary_cache_key, persist_result=True)
def build_vocabulary(tokens: TokensRef, tokenize_cfg: TokenizeConfig) -> VocabularyRef:
    """Keep the words that reach ``min_count`` (at most ``max_vocab_size``); encode the tokens as their ids.

    Raises:
        InputError: no word occurs ``tokenize.min_count`` times.
    """
    key = _vocabulary_key(tokens, tokenize_cfg)
    counts = storage.read_frame(Path(tokens.counts_path))
    vocabulary = text.vocabulary_frame(
        dict(zip(counts["word"].tolist(), counts["count"].tolist())), tokenize_cfg.min_count,
        tokenize_cfg.max_vocab_size,
    )
    n_tokens = int(vocabulary["count"].sum())
    vocabulary_path = storage.write_frame(
        vocabulary, paths.intermediate_path("vocabulary", key),
        {"n_tokens": n_tokens, "tokens_content_hash": tokens.content_hash},
    )
    ids_path = paths.intermediate_path("token-ids", key)
    with storage.frame_writer(ids_path) as write:
        rows = text.batch_rows(tokens.n_tokens, tokens.n_chunks, STREAM_ROWS)
        frames = storage.iter_frames(Path(tokens.tokens_path), batch_rows=rows)
        for frame in text.encode_token_frames(frames, vocabulary["word"]):
            write(frame)
    return VocabularyRef(str(vocabulary_path), str(ids_path), storage.content_hash(vocabulary_path), tokens,
                         len(vocabulary), n_tokens)


def check_vocabulary(vocabulary: VocabularyRef, cfg: EmbedConfig) -> None:
    """Refuse a vocabulary too small for the configured t-SNE, before any run opens.

    Raises:
        InputError: the vocabulary has no more words than ``evaluate.perplexity``.
    """
    if vocabulary.n_words <= cfg.evaluate.perplexity:
        raise InputError(
            f"needs more words than that for t-SNE, but the vocabulary has {vocabulary.n_words} "
            f"(tokenize.min_count = {cfg.tokenize.min_count}); lower evaluate.perplexity or tokenize.min_count, "
            "or use a larger corpus",
            key="evaluate.perplexity", value=cfg.evaluate.perplexity,
        )


@task(name="record-corpus", cache_policy=NO_CACHE, persist_result=False)
def record_corpus(vocabulary: VocabularyRef, tokenize_cached: bool, ctx: RunContext) -> None:
    """Log the corpus as the run's dataset, its and the vocabulary's sizes and where their Parquet files are."""
    tokens = vocabulary.tokens
    runs.log_dataset(ctx.parent_run_id, tokens.corpus.name, tokens.corpus.path, tokens.corpus.content_hash,
                     storage.read_frame(Path(vocabulary.vocabulary_path)).head(5),
                     {"num_documents": tokens.n_documents, "num_tokens": tokens.n_tokens,
                      "num_distinct_words": tokens.n_distinct, "vocabulary_words": vocabulary.n_words})
    runs.set_tags(ctx.parent_run_id, {"corpus": tokens.corpus.path, "tokenize_cached": str(tokenize_cached).lower(), **runs.internal({
        "tokens_path": tokens.tokens_path, "vocabulary_path": vocabulary.vocabulary_path, "token_ids_path": vocabulary.ids_path})})
    runs.log_metrics(ctx.parent_run_id, {
        "corpus.documents": tokens.n_documents, "corpus.chunks": tokens.n_chunks, "corpus.tokens": tokens.n_tokens,
        "corpus.distinct_words": tokens.n_distinct, "corpus.phrases": tokens.n_phrases,
        "corpus.dropped_runs": tokens.dropped_runs, "corpus.dropped_chars": tokens.dropped_chars,
        "vocabulary.words": vocabulary.n_words, "vocabulary.tokens": vocabulary.n_tokens,
        "tokenize.seconds": tokens.seconds, "tokenize.tokens_per_second": tokens.tokens_per_second,
    })


def model_run_name(cfg: EmbedConfig, corpus: str) -> str:
    """The child run's name, e.g. ``gensim-skipgram · lee_background.cor``."""
    return f"{cfg.model.backend}-{cfg.model.architecture} · {corpus}"


@task(name="train-vectors", cache_policy=NO_CACHE, persist_result=False)
def train_vectors(vocabulary: VocabularyRef, cfg: EmbedConfig, ctx: RunContext) -> TrainedVectors:
    """Train one model in its own MLflow child run (left open for evaluation and export).

    The training feed streams the token-id Parquet afresh every epoch; loss and effective words/s
    are logged to MLflow as each epoch ends, and shown on a progress bar.
    """
    name = model_run_name(cfg, vocabulary.tokens.corpus.name)
    run_id = runs.start_run(
        ctx.experiment_id, name,
        {**ctx.tag_dict, "backend": cfg.model.backend, "architecture": cfg.model.architecture},
        parent_run_id=ctx.parent_run_id,
    )
    try:
        runs.log_params(run_id, flatten(cfg))
        words = storage.read_frame(Path(vocabulary.vocabulary_path))
        ids_path = Path(vocabulary.ids_path)
        rows = text.batch_rows(vocabulary.tokens.n_tokens, vocabulary.tokens.n_chunks, STREAM_ROWS)
        stream = text.RestartableTokens(
            lambda: (f["ids"] for f in storage.iter_frames(ids_path, columns=["ids"], batch_rows=rows)),
            words=words["word"],
        )
        with epoch_bar(cfg.model.architecture, cfg.model.epochs) as bar:

            def on_epoch_end(epoch: int, logs: dict[str, float]) -> None:
                bar(epoch, logs)
                runs.log_metrics(run_id, logs, step=epoch)  # an epoch takes seconds: log as it ends

            trained = TRAINERS[cfg.model.backend](stream, words, vocabulary, cfg, on_epoch_end)
        wv = evaluation.WordVectors.from_keyed_vectors(trained.vectors)
        export_dir = paths.model_dir(run_id)
        vectors_path = storage.write_frame(projection.vectors_frame(wv), export_dir / "vectors.parquet")
        epochs = tuple(EpochFigures(e.epoch, e.loss, e.words_per_second, e.effective_words, e.seconds)
                       for e in trained.epochs)
        runs.log_metrics(run_id, {
            "train_seconds": trained.train_seconds, "vocab_seconds": trained.vocab_seconds,
            "effective_words": trained.effective_words, "effective_words_per_second": trained.words_per_second,
            "vocabulary_words": len(wv.words), **trained.profile,
        })
    except BaseException as exc:
        runs.end_run(run_id, failed=True, reason=f"{type(exc).__name__}: {exc}")
        raise
    return TrainedVectors(cfg.model.backend, run_id, name, str(export_dir), str(vectors_path), epochs,
                          trained.train_seconds, trained.vocab_seconds, trained.effective_words)


def read_vectors(path: Path) -> evaluation.WordVectors:
    """Read a ``word, count, vector`` Parquet (:func:`tasks.embeddings.projection.vectors_frame`) back."""
    frame = storage.read_frame(Path(path))
    vectors = np.stack(frame["vector"].to_numpy()).astype(np.float32, copy=False)  # (n_words, vector_size)
    return evaluation.WordVectors(tuple(frame["word"].tolist()), frame["count"].to_numpy(np.int64), vectors)


@task(name="evaluate-vectors", cache_policy=NO_CACHE, persist_result=False)
def evaluate_vectors(trained: TrainedVectors, cfg: EmbedConfig) -> EvaluatedVectors:
    """Score analogies, word-pair similarity and neighbours; log the metrics and the tables."""
    run_id = trained.run_id
    try:
        with work_bar("evaluate", evaluation.evaluation_steps(cfg.evaluate), "measurements") as bar:
            report = evaluation.evaluate_vectors(read_vectors(Path(trained.vectors_path)), cfg.evaluate,
                                                 on_step=lambda done, name: bar(done))
        metrics = report.metrics()
        runs.log_metrics(run_id, metrics)  # a NaN (no known word pair on a tiny corpus) becomes a tag
        sections = report.analogy_sections()
        pairs = pd.DataFrame([vars(p) for p in report.pairs])
        runs.log_text(run_id, sections.to_csv(index=False), "evaluation/analogy_sections.csv")
        runs.log_text(run_id, pairs.to_csv(index=False), "evaluation/word_pairs.csv")
        runs.log_text(run_id, report.neighbours.to_csv(index=False), "evaluation/neighbours.csv")
        runs.log_text(run_id, neighbours_markdown(report.neighbours), "evaluation/neighbours.md")
        runs.log_table(run_id, report.neighbours, "neighbours_table.json")
    except BaseException as exc:
        runs.end_run(run_id, failed=True, reason=f"{type(exc).__name__}: {exc}")
        raise
    neighbours = tuple(
        Neighbour(r.probe, int(r.rank), r.neighbour if isinstance(r.neighbour, str) else None,
                  float(r.similarity), int(r.count))
        for r in report.neighbours.itertuples(index=False)
    )
    return EvaluatedVectors(trained, metrics, tuple(sections.to_dict("records")), neighbours)


@task(name="record-comparison", cache_policy=NO_CACHE, persist_result=False)
def record_comparison(models: list[tuple[EvaluatedVectors, ExportedFiles]], ctx: RunContext) -> tuple[dict[str, Any], ...]:
    """Log the backends side by side on the parent run: ``<backend>.<figure>`` metrics and a table."""
    rows = comparison_rows(models)
    per_backend = {row["backend"]: {key: row[key] for key, _ in COMPARED} for row in rows}
    # The first backend's vectors are the ones registered: its scores are the parent's own.
    runs.log_ranked(ctx.parent_run_id, per_backend[rows[0]["backend"]] if rows else {}, per_backend)
    runs.log_text(ctx.parent_run_id, comparison_markdown(rows), "comparison/backends.md")
    runs.log_text(ctx.parent_run_id, pd.DataFrame(rows).to_csv(index=False), "comparison/backends.csv")
    runs.log_table(ctx.parent_run_id, pd.DataFrame(rows), "comparison_table.json")
    return rows


@task(name="export-vectors", cache_policy=NO_CACHE, persist_result=False)
def export_vectors(evaluated: EvaluatedVectors, cfg: EmbedConfig) -> ExportedFiles:
    """Write word2vec text/binary, projector files and the t-SNE map; log them and close the run.

    The files stay under ``artifacts/models/<run id>/``; with ``tracking.log_models`` the vector files
    are logged to the run too (the t-SNE Parquet and PNG always are).
    """
    trained = evaluated.trained
    run_id, out = trained.run_id, Path(trained.export_dir)
    try:
        wv = read_vectors(Path(trained.vectors_path))
        local = {
            "vectors_parquet": Path(trained.vectors_path),
            "word2vec_text": projection.write_word2vec(wv, out / "vectors.txt", binary=False),
            "word2vec_binary": projection.write_word2vec(wv, out / "vectors.bin", binary=True),
        }
        projector = projection.write_projector(
            wv, out / "projector", cfg.evaluate.projector_top_n, f"{trained.backend}-{cfg.model.architecture}"
        )
        local.update(projector_config=projector.config, projector_vectors=projector.vectors,
                     projector_metadata=projector.metadata)
        n_words = min(cfg.evaluate.tsne_top_n, len(wv.words))
        with work_bar(f"t-SNE of {n_words:,} words", cfg.evaluate.tsne_max_iter, "iterations") as bar:
            tsne = projection.tsne_projection(wv, cfg.evaluate.tsne_top_n, cfg.evaluate.perplexity, cfg.seed,
                                              max_iter=cfg.evaluate.tsne_max_iter, on_iteration=bar)
        local["tsne_parquet"] = storage.write_frame(tsne.frame, out / "tsne.parquet")
        fig = projection.tsne_figure(
            tsne.frame, cfg.evaluate.tsne_label_top,
            f"{trained.run_name}: t-SNE of the {len(tsne.frame):,} most frequent words "
            f"(trustworthiness {tsne.trustworthiness:.3f})",
        )
        local["tsne_png"] = out / "tsne.png"
        fig.savefig(local["tsne_png"])
        runs.log_metrics(run_id, {"tsne_trustworthiness": tsne.trustworthiness, "tsne_seconds": tsne.seconds,
                                  "tsne_words": len(tsne.frame)})
        folders = {"tsne_parquet": "tsne", "tsne_png": "tsne"}
        if cfg.tracking.log_models:
            folders.update(vectors_parquet="vectors", word2vec_text="vectors", word2vec_binary="vectors",
                           projector_config="projector", projector_vectors="projector",
                           projector_metadata="projector")
        logged = {}
        for name, folder in folders.items():
            runs.log_file(run_id, local[name], folder)
            logged[name] = f"{folder}/{local[name].name}"
    except BaseException as exc:
        runs.end_run(run_id, failed=True, reason=f"{type(exc).__name__}: {exc}")
        raise
    runs.end_run(run_id)
    return ExportedFiles({k: str(v) for k, v in local.items()}, logged, len(tsne.frame), tsne.trustworthiness,
                         tsne.seconds)


CANDIDATE = "candidate"  # the alias every new version gets; only a retrain's gate moves champion


@task(name="register-vectors", cache_policy=NO_CACHE, persist_result=False)
def register_vectors(evaluated: EvaluatedVectors, vocabulary: VocabularyRef, cfg: EmbedConfig,
                     ctx: RunContext) -> RegisteredVectors | None:
    """Log the vectors as a servable pyfunc on the parent run; register them as a new version, alias ``candidate``.

    The model maps a ``word`` table to the words' vectors (NaN for an unknown word;
    ``tasks/tracking/vectors_pyfunc.py``). The version is tagged with the corpus' content hash, the
    config hash, the git commit, the vocabulary size, the benchmark scores and the SHA-256 of the
    benchmark files and evaluation code that gave them (so a retrain can tell whether a recorded score
    compares), and described in a sentence. Nothing is logged without ``tracking.log_models`` and
    nothing registered with ``tracking.registered_model = off``.
    """
    from tasks.tracking import models as tracked_models
    from tasks.tracking import registry

    name = cfg.registered_name
    if not cfg.tracking.log_models or name is None:
        return None
    trained = evaluated.trained
    wv = read_vectors(Path(trained.vectors_path))
    words = [*wv.words[:2], unknown_word(wv.words)]
    rows = np.vstack([wv.vectors[:2], np.full((1, wv.vector_size), np.nan, dtype=np.float32)])  # (3, vector_size)
    stem = embed_config.corpus_stem(cfg.corpus.path)
    model_uri, model_id = tracked_models.log_vectors_model(
        ctx.parent_run_id, f"vectors-{registry_slug(stem, 'corpus')}", Path(trained.vectors_path), words, rows)
    scores = gated_scores(evaluated.metrics, cfg)
    files = sorted({evaluation.benchmark_file(score) for score in scores})
    corpus = vocabulary.tokens.corpus
    tags = versions.version_tags(
        corpus=corpus.name, corpus_hash=corpus.content_hash, config_hash=caching.content_key(cfg.model_dump(mode="json")),
        git_commit=ctx.tag_dict.get("git_commit", ""), vocabulary_size=len(wv.words), backend=trained.backend,
        architecture=cfg.model.architecture, vector_size=wv.vector_size, scores=scores,
        benchmark_hashes={f: storage.content_hash(f) for f in files},
        evaluation_code=caching.code_fingerprint(evaluation), parent_run_id=ctx.parent_run_id,
        model_run_id=trained.run_id)
    description = versions.version_description(
        corpus=corpus.name, backend=trained.backend, architecture=cfg.model.architecture, vocabulary_size=len(wv.words),
        vector_size=wv.vector_size, epochs=cfg.model.epochs, scores=scores, restrict_vocab=cfg.evaluate.restrict_vocab)
    version = registry.register(model_uri, name, CANDIDATE, tags, description)
    runs.set_tags(ctx.parent_run_id, {"registered_model": name, "registered_version": version,
                                      "served_model_uri": model_uri})
    return RegisteredVectors(model_uri, model_id, name, version, CANDIDATE, registry.model_version_uri(name, CANDIDATE),
                             scores)


@task(name="score-champion-vectors", cache_policy=NO_CACHE, persist_result=False)
def score_champion_vectors(name: str, champion: str, challenger: str, metric: str, cfg: EmbedConfig,
                           ctx: RunContext) -> ChampionScores:
    """The champion's benchmark scores, measured as the challenger's were.

    From the champion version's tags when they were measured on the same benchmark files by the same
    evaluation code as the challenger's (:func:`tasks.embeddings.versions.recorded_scores`); otherwise
    its vectors are loaded from the registry and scored again now, with this config's ``evaluate``
    settings. Vectors that cannot be loaded are not comparable: no scores, and the reason says why.
    Where the scores came from is tagged on the retrain's run (``champion_scores``, ``champion_scores_why``).
    """
    from tasks.tracking import models as tracked_models
    from tasks.tracking import registry

    names = evaluation.benchmark_scores(cfg.evaluate.restrict_vocab)
    recorded, why = versions.recorded_scores(registry.version_info(name, champion)["tags"],
                                             registry.version_info(name, challenger)["tags"], metric, names)
    if recorded is not None:
        scored = ChampionScores(recorded, "recorded", why)
    else:
        try:
            words, counts, vectors = tracked_models.load_vectors(f"models:/{name}/{champion}")
            report = evaluation.evaluate_vectors(evaluation.WordVectors(words, counts, vectors), cfg.evaluate)
        except InputError as exc:
            scored = ChampionScores({}, "not comparable", f"{why}, and its vectors could not be scored again: {exc}")
        else:
            metrics = report.metrics()
            scored = ChampionScores({k: float(metrics[k]) for k in names if k in metrics}, "re-evaluated",
                                    f"{why}: its vectors were scored again on the challenger's benchmark files")
    runs.set_tags(ctx.parent_run_id, {"champion_scores": scored.source, "champion_scores_why": scored.why[:4000]})
    return scored
