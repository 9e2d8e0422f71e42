"""Config rules that need no data: each broken rule is an error naming the key, the value and the rule."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from tasks.embeddings.config import (
    CorpusConfig,
    EmbedConfig,
    EvaluateConfig,
    ModelConfig,
    TokenizeConfig,
)


def _message(exc: pytest.ExceptionInfo[ValidationError]) -> str:
    return exc.value.errors()[0]["msg"].removeprefix("Value error, ")


def test_defaults_are_valid_and_frozen():
    cfg = EmbedConfig()
    assert cfg.corpus.path == Path("data/text8-prefix.gz") and cfg.model.backend == "gensim" and cfg.tracking.experiment == "seqflow-embed"
    assert cfg.model.sg == 1 and ModelConfig(architecture="cbow").sg == 0
    with pytest.raises(ValidationError):
        cfg.seed = 1  # type: ignore[misc]


def test_unknown_keys_and_non_finite_numbers_are_rejected():
    with pytest.raises(ValidationError) as exc:
        EmbedConfig.model_validate({"model": {"window": 5}})
    assert exc.value.errors()[0]["type"] == "extra_forbidden"
    with pytest.raises(ValidationError) as exc:
        TokenizeConfig(sample=float("nan"))
    assert exc.value.errors()[0]["type"] == "finite_number"


def test_unknown_encoding():
    with pytest.raises(ValidationError) as exc:
        CorpusConfig(encoding="utf-9")
    assert _message(exc) == (
        "unknown encoding 'utf-9'; use a Python codec name such as utf-8, latin-1, cp1252 or utf-16"
    )


def test_file_documents_do_not_apply_to_a_table():
    with pytest.raises(ValidationError) as exc:
        CorpusConfig(path="reviews.tsv.gz", document="file")
    assert _message(exc) == (
        "corpus.document = 'file' does not apply to the table 'reviews.tsv.gz': each row is one document; "
        "use corpus.document = 'line'"
    )


@pytest.mark.parametrize(
    ("pattern", "rule"),
    [
        ("[a-z", "'[a-z' is not a valid regular expression (unterminated character set at position 0)"),
        (
            "(a)b",
            "'(a)b' has a capturing group, so findall would return the group, not the token; "
            "use a non-capturing group (?:...)",
        ),
        ("[a-z]*", "'[a-z]*' matches the empty string; a token needs at least one character"),
    ],
)
def test_token_pattern_rules(pattern, rule):
    with pytest.raises(ValidationError) as exc:
        TokenizeConfig(token_pattern=pattern)
    assert _message(exc) == rule


def test_uppercase_stop_words_cannot_match_lowercased_tokens():
    with pytest.raises(ValidationError) as exc:
        TokenizeConfig(stop_words=("the", "The"))
    assert _message(exc) == (
        "tokenize.stop_words contains 'The', which can never match while tokenize.lowercase = true; "
        "write stop words in lowercase"
    )
    assert TokenizeConfig(stop_words=("The",), lowercase=False).stop_words == ("The",)


def test_model_needs_an_objective():
    with pytest.raises(ValidationError) as exc:
        ModelConfig(negative=0, hs=False)
    assert _message(exc) == (
        "model.negative = 0 and model.hs = false leave no training objective; set model.negative > 0 "
        "(negative sampling) or model.hs = true (hierarchical softmax)"
    )
    assert ModelConfig(negative=0, hs=True).hs


def test_deterministic_needs_one_worker():
    with pytest.raises(ValidationError) as exc:
        ModelConfig(deterministic=True, workers=2)
    assert _message(exc) == (
        "model.deterministic = true needs model.workers = 1 (got 2): with more threads the order of "
        "updates depends on OS scheduling"
    )


def test_learning_rate_decays_downwards():
    with pytest.raises(ValidationError) as exc:
        ModelConfig(learning_rate=0.01, min_learning_rate=0.1)
    assert _message(exc) == (
        "model.min_learning_rate = 0.1 must not exceed model.learning_rate = 0.01: the rate decays from one to the other"
    )


def test_projection_sizes():
    with pytest.raises(ValidationError) as exc:
        EvaluateConfig(tsne_top_n=50, tsne_label_top=60)
    assert _message(exc) == (
        "evaluate.tsne_label_top = 60 must not exceed evaluate.tsne_top_n = 50: only projected words can be labelled"
    )
    with pytest.raises(ValidationError) as exc:
        EvaluateConfig(tsne_top_n=20, tsne_label_top=10, perplexity=30)
    assert _message(exc) == (
        "evaluate.perplexity = 30 must be less than evaluate.tsne_top_n = 20: t-SNE needs more points than neighbours"
    )


@pytest.mark.parametrize(("given", "stored", "backends"), [
    ("tf", "tf", ("tf",)),
    ("gensim,tf", "gensim,tf", ("gensim", "tf")),
    (" TF , gensim ", "tf,gensim", ("tf", "gensim")),
    (["gensim", "tf"], "gensim,tf", ("gensim", "tf")),  # a TOML list
])
def test_backend_takes_one_name_or_a_comma_list(given, stored, backends):
    cfg = EmbedConfig.model_validate({"model": {"backend": given}})
    assert cfg.model.backend == stored and cfg.model.backends == backends
    assert [cfg.for_backend(b).model.backend for b in backends] == list(backends)


@pytest.mark.parametrize(("given", "rule"), [
    ("torch", "'torch' is not a backend; choose from gensim, tf, or several as a comma list such as gensim,tf"),
    ("gensim,,tf", "'' is not a backend; choose from gensim, tf, or several as a comma list such as gensim,tf"),
    ("tf,gensim,tf", "model.backend names 'tf' twice; list each backend once"),
])
def test_unknown_backends_are_refused_with_the_valid_ones(given, rule):
    with pytest.raises(ValidationError) as exc:
        ModelConfig(backend=given)
    assert _message(exc) == rule


def test_the_tf_backend_trains_skipgram_with_noise_words_in_whole_groups():
    with pytest.raises(ValidationError) as exc:
        ModelConfig(backend="gensim,tf", architecture="cbow")
    assert _message(exc) == (
        "model.backend = tf trains skip-gram with noise words only: it needs model.architecture = skipgram "
        "(got cbow), model.hs = false (got false) and model.negative > 0 (got 5)"
    )
    with pytest.raises(ValidationError) as exc:
        ModelConfig(backend="tf", batch_size=1000, noise_group=32)
    assert _message(exc) == (
        "model.batch_size = 1000 must be a multiple of model.noise_group = 32: a batch is cut into groups that "
        "share their noise words"
    )
    assert ModelConfig(backend="gensim", architecture="cbow", batch_size=1000).batch_size == 1000
    assert ModelConfig(backend="tf", loss="nce").loss == "nce"
