"""train_embeddings: corpus → tokens → vocabulary → word2vec → evaluate → export, tracked in MLflow."""

from __future__ import annotations

from prefect import flow

from flows.artifacts import published
from flows.tracked import reconcile, tracked_run
from tasks.embeddings import steps
from tasks.embeddings.config import EmbedConfig
from tasks.embeddings.records import EmbedSummary
from tasks.tracking import runs, store


@flow(name="train-embeddings", log_prints=False)
@published
def train_embeddings(cfg: EmbedConfig) -> EmbedSummary:
    """Train word vectors on a streamed corpus, score them and export them for people and tools.

    Everything the data can refuse (an unreadable corpus, a vocabulary too small) is refused before
    the parent run opens; the tokens and the vocabulary are reused from earlier runs when their
    inputs are unchanged. With several backends (``model.backend = gensim,tf``) each trains on the
    same token ids in its own child run, is scored and exported alike, and the parent run gets a
    comparison table; the summary's model fields describe the first backend, ``comparison`` all.
    The first backend's vectors are registered as a new version of ``tracking.registered_model``
    (``embed-<corpus>`` by default) with the alias ``candidate``; only a retrain's gate moves ``champion``.
    """
    steps.check_settings(cfg)
    reconciled = reconcile()
    corpus = steps.hash_corpus(cfg.corpus)
    tokenized = steps.tokenize_corpus(corpus, cfg.corpus, cfg.tokenize, return_state=True)
    tokens = tokenized.result()
    vocabulary = steps.build_vocabulary(tokens, cfg.tokenize)
    steps.check_vocabulary(vocabulary, cfg)
    tags = {"data_content_hash": corpus.content_hash, "tokens_content_hash": tokens.content_hash}
    with tracked_run(cfg, "embed", corpus.name, tags) as ctx:
        steps.record_corpus(vocabulary, tokenized.name == "Cached", ctx)
        models = []
        for backend in cfg.model.backends:
            one = cfg.for_backend(backend)
            trained = steps.train_vectors(vocabulary, one, ctx)
            evaluated = steps.evaluate_vectors(trained, one)
            exported = steps.export_vectors(evaluated, one)
            models.append((evaluated, exported))
        compared = steps.record_comparison(models, ctx)  # one backend too: the parent's own scores
        comparison = compared if len(models) > 1 else ()
        registered = steps.register_vectors(models[0][0], vocabulary, cfg, ctx)
    (evaluated, exported), trained = models[0], models[0][0].trained
    return EmbedSummary(
        flow="train-embeddings",
        flow_run_id=ctx.flow_run_id,
        tracking_uri=store.tracking_uri(),
        experiment_id=ctx.experiment_id,
        parent_run_id=ctx.parent_run_id,
        parent_run_name=ctx.name,
        run_id=trained.run_id,
        run_name=trained.run_name,
        run_artifacts=runs.artifact_uri(trained.run_id),
        backend=trained.backend,
        architecture=cfg.model.architecture,
        corpus=corpus,
        tokens_path=tokens.tokens_path,
        counts_path=tokens.counts_path,
        vocabulary_path=vocabulary.vocabulary_path,
        ids_path=vocabulary.ids_path,
        tokenize_cached=tokenized.name == "Cached",
        n_documents=tokens.n_documents,
        n_chunks=tokens.n_chunks,
        n_tokens=tokens.n_tokens,
        n_distinct=tokens.n_distinct,
        n_phrases=tokens.n_phrases,
        n_words=vocabulary.n_words,
        n_vocabulary_tokens=vocabulary.n_tokens,
        tokenize_seconds=tokens.seconds,
        tokens_per_second=tokens.tokens_per_second,
        epochs=trained.epochs,
        train_seconds=trained.train_seconds,
        words_per_second=trained.words_per_second,
        metrics={**evaluated.metrics, "tsne_trustworthiness": exported.tsne_trustworthiness},
        analogy_sections=evaluated.analogy_sections,
        neighbours=evaluated.neighbours,
        exports=exported,
        reconciled_runs=reconciled,
        comparison=comparison,
        registered=registered,
    )
