"""Typed settings of the embeddings flow: corpus → tokens → word2vec → evaluation → exports.

:class:`EmbedConfig` is a :class:`tasks.config.RunConfig` loaded by ``tasks.config.load_config`` like
every flow's config; its sections are :class:`tasks.config.Frozen`: frozen, no unknown keys, no NaN/inf,
``off`` for an optional setting, so a typo or a nonsense number in a preset or an override is an error
that names the key. Loading is strict, so the few fields a preset or ``--set`` can only write as text
(a path, a comma-separated list of words) are converted before they are checked. Rules that can be
checked from the config alone live here as validators; rules that need the data (the file exists, the
column is there) are checked when the corpus is read and raise :class:`tasks.errors.InputError`. The
trailing comment of each field is its documentation (``seqflow config show embed`` prints it).
"""

from __future__ import annotations

import codecs
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from tasks.config import (
    COUNT_MAX,
    OFF_WORDS,
    SEED_MAX,
    Frozen,
    RunConfig,
    TrackingConfig,
    check_registry_name,
    registry_slug,
)

# gensim's Cython routines silently truncate a sentence at this many tokens (MAX_WORDS_IN_BATCH);
# documents are split into chunks of at most this length instead, so no token is lost.
MAX_SENTENCE_TOKENS = 10_000

# Runs of letters in any script: digits, underscores, punctuation and apostrophes separate tokens
# ("don't" → "don", "t"; "r2-d2" → "r", "d"). Matches the token counts the benchmarks were quoted with.
DEFAULT_TOKEN_PATTERN = r"[^\W\d_]+"

TABLE_SUFFIXES: tuple[str, ...] = (".tsv", ".tab", ".csv")
COMPRESSED_SUFFIXES: tuple[str, ...] = (".gz", ".bz2")


def is_table(path: Path) -> bool:
    """Whether ``path`` names a TSV/CSV table (optionally ``.gz``/``.bz2``), judged by its name."""
    suffixes = [s.lower() for s in Path(path).suffixes]
    if suffixes and suffixes[-1] in COMPRESSED_SUFFIXES:
        suffixes = suffixes[:-1]
    return bool(suffixes) and suffixes[-1] in TABLE_SUFFIXES


# The default corpus: the first 12.5 % of text8 (Wikipedia, 2.1 M tokens) shipped in data/ (see
# data/README.md), a path relative to the working directory as the forecasting flow's default CSV is:
# large enough that neighbours and WordSim-353 make sense, small enough to train in about a minute.
DEFAULT_CORPUS = Path("data/text8-prefix.gz")
LEE_CORPUS = "lee_background.cor"  # 300 Australian news stories shipped inside gensim's test data: corpus.path = off
NAME_SUFFIXES: tuple[str, ...] = (".txt", ".cor", *TABLE_SUFFIXES)  # left off a corpus name


def corpus_stem(path: Path | None) -> str:
    """A corpus' name less its compression and text suffixes (``reviews.tsv.gz`` → ``reviews``; off → ``lee_background``)."""
    name = Path(path).name if path is not None else LEE_CORPUS
    for suffixes in (COMPRESSED_SUFFIXES, NAME_SUFFIXES):
        stem, suffix = Path(name).stem, Path(name).suffix.lower()
        if suffix in suffixes and stem:
            name = stem
    return name


def _as_words(value: Any) -> Any:
    """``"a,b"`` (``--set`` writes lists so) and TOML lists become tuples; ``off``/``none`` is no words."""
    if isinstance(value, str):
        if value.strip().lower() in OFF_WORDS:
            return ()
        value = [part.strip() for part in value.split(",") if part.strip()]
    return tuple(value) if isinstance(value, list) else value


class CorpusConfig(Frozen):
    """Where the text comes from and how it is cut into documents."""

    path: Path | None = DEFAULT_CORPUS  # text, .gz, .bz2, a directory of .txt files, or a .tsv/.csv; default: the shipped text8 prefix (Wikipedia, 2.1 M tokens); off = gensim's small lee_background.cor
    text_column: str = Field("text", min_length=1)  # the column holding the text when path is a .tsv/.csv table
    encoding: str = "utf-8"  # any Python codec name (utf-8, latin-1, cp1252, utf-16, ...)
    errors: Literal["strict", "replace"] = "strict"  # strict: undecodable bytes are an error; replace: they become U+FFFD
    document: Literal["line", "file"] = "line"  # one document per line, or one per file (table rows are always one each)
    max_documents: int | None = Field(None, ge=1, le=COUNT_MAX * 10)  # read only the first N documents (smoke runs); off = all

    @field_validator("path", mode="before")
    @classmethod
    def _text_is_a_path(cls, value: Any) -> Any:
        # Presets and --set give text; strict validation would refuse it as "not a Path".
        if isinstance(value, str):
            if not value.strip():
                raise ValueError("an empty path names no corpus; give a file or directory, or off for the default")
            return Path(value)
        return value

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str) -> str:
        try:
            codecs.lookup(value)
        except LookupError:
            raise ValueError(
                f"unknown encoding {value!r}; use a Python codec name such as utf-8, latin-1, cp1252 or utf-16"
            ) from None
        return value

    @model_validator(mode="after")
    def _document_fits_the_source(self) -> CorpusConfig:
        if self.document == "file" and self.path is not None and is_table(self.path):
            raise ValueError(
                f"corpus.document = 'file' does not apply to the table {str(self.path)!r}: "
                "each row is one document; use corpus.document = 'line'"
            )
        return self


class TokenizeConfig(Frozen):
    """How text becomes tokens and which tokens make the vocabulary."""

    lowercase: bool = True  # lowercase before matching (the evaluation sets are lowercase-insensitive anyway)
    token_pattern: str = DEFAULT_TOKEN_PATTERN  # regex whose every match is a token; default: runs of letters (see module)
    stop_words: tuple[str, ...] = ()  # words dropped after lowercasing (subsampling usually makes this unnecessary)
    english_stop_words: bool = False  # also drop gensim's built-in English stop-word list (337 words)
    min_count: int = Field(5, ge=1, le=COUNT_MAX * 10)  # words seen fewer times are left out of the vocabulary
    max_vocab_size: int | None = Field(None, ge=1, le=COUNT_MAX)  # keep at most this many of the most frequent words; off = all
    sample: float = Field(1e-3, ge=0, lt=1)  # word2vec's frequent-word subsampling threshold (0 = off); applied in training
    phrases: bool = False  # join frequent bigrams ("new york" → "new_york") with gensim Phrases (one extra corpus pass)
    phrases_min_count: int = Field(5, ge=1, le=COUNT_MAX * 10)  # a bigram needs at least this many occurrences to become a phrase
    phrases_threshold: float = Field(10.0, gt=0)  # gensim's default scorer threshold; higher = fewer phrases

    @field_validator("stop_words", mode="before")
    @classmethod
    def _split_stop_words(cls, value: Any) -> Any:
        return _as_words(value)

    @field_validator("token_pattern")
    @classmethod
    def _usable_pattern(cls, value: str) -> str:
        try:
            compiled = re.compile(value)
        except re.error as exc:
            raise ValueError(f"{value!r} is not a valid regular expression ({exc})") from None
        if compiled.groups:
            raise ValueError(
                f"{value!r} has a capturing group, so findall would return the group, not the token; "
                "use a non-capturing group (?:...)"
            )
        if compiled.fullmatch("") is not None:
            raise ValueError(f"{value!r} matches the empty string; a token needs at least one character")
        return value

    @model_validator(mode="after")
    def _stop_words_can_match(self) -> TokenizeConfig:
        if self.lowercase:
            upper = [w for w in self.stop_words if w != w.lower()]
            if upper:
                raise ValueError(
                    f"tokenize.stop_words contains {upper[0]!r}, which can never match while "
                    "tokenize.lowercase = true; write stop words in lowercase"
                )
        return self


BACKENDS: tuple[str, ...] = ("gensim", "tf")  # model.backend's choices, in the order a comparison lists them


def _as_backends(value: Any) -> Any:
    """``"gensim, tf"`` or ``["gensim", "tf"]`` → ``"gensim,tf"``: each name checked, none twice."""
    if isinstance(value, (list, tuple)):
        value = ",".join(str(v) for v in value)
    if not isinstance(value, str):
        return value
    names = [part.strip().lower() for part in value.split(",")]
    unknown = [n for n in names if n not in BACKENDS]
    if unknown or not names:
        raise ValueError(
            f"{unknown[0] if unknown else value!r} is not a backend; choose from {', '.join(BACKENDS)}, "
            "or several as a comma list such as gensim,tf"
        )
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ValueError(f"model.backend names {twice[0]!r} twice; list each backend once")
    return ",".join(names)


class ModelConfig(Frozen):
    """The word2vec model; ``backend`` picks the function(s) that train it."""

    backend: str = "gensim"  # which trainer: gensim, tf (TensorFlow skip-gram), or a comma list such as gensim,tf (each trained on the same tokens, compared on the parent run)
    architecture: Literal["skipgram", "cbow"] = "skipgram"  # skipgram: predict context from word; cbow: word from context
    negative: int = Field(5, ge=0, le=1_000)  # noise words per positive example (negative sampling); 0 = off
    hs: bool = False  # hierarchical softmax (a Huffman tree over the vocabulary) instead of / beside negative sampling
    ns_exponent: float = 0.75  # noise distribution ∝ count**ns_exponent (word2vec's 3/4)
    vector_size: int = Field(100, ge=1, le=10_000)  # dimensions of each word vector
    context_window: int = Field(5, ge=1, le=1_000)  # max distance between centre and context word (gensim's `window`)
    epochs: int = Field(5, ge=1, le=100_000)  # passes over the corpus
    learning_rate: float = Field(0.025, gt=0)  # start learning rate (gensim's alpha); decays linearly
    min_learning_rate: float = Field(0.0001, gt=0)  # learning rate reached at the end of the last epoch (min_alpha)
    workers: int = Field(2, ge=1, le=1_024)  # training threads (tf: TensorFlow's intra- and inter-op threads); exact repeats need 1
    deterministic: bool = False  # demand exact repeats: needs workers = 1 and a fixed PYTHONHASHSEED
    loss: Literal["negative_sampling", "nce"] = "negative_sampling"  # tf only: negative sampling (word2vec's, as gensim) or noise-contrastive estimation (logits corrected by log(k·Pn(w)), an output bias per word)
    batch_size: int = Field(4_096, ge=1, le=10_000_000)  # tf only: (centre, context) pairs per SGD step; rows a batch touches get the sum of its updates
    noise_group: int = Field(32, ge=1, le=10_000_000)  # tf only: consecutive pairs of a shuffled batch that share one draw of `negative` noise words (1 = a fresh draw per pair, about 3x slower; each pair still meets k draws from Pn)

    @field_validator("backend", mode="before")
    @classmethod
    def _known_backends(cls, value: Any) -> Any:
        return _as_backends(value)

    @model_validator(mode="after")
    def _has_an_objective(self) -> ModelConfig:
        if self.negative == 0 and not self.hs:
            raise ValueError(
                "model.negative = 0 and model.hs = false leave no training objective; "
                "set model.negative > 0 (negative sampling) or model.hs = true (hierarchical softmax)"
            )
        if self.min_learning_rate > self.learning_rate:
            raise ValueError(
                f"model.min_learning_rate = {self.min_learning_rate:g} must not exceed "
                f"model.learning_rate = {self.learning_rate:g}: the rate decays from one to the other"
            )
        if "tf" in self.backends:
            if self.architecture != "skipgram" or self.hs or self.negative == 0:
                raise ValueError(
                    "model.backend = tf trains skip-gram with noise words only: it needs model.architecture = "
                    f"skipgram (got {self.architecture}), model.hs = false (got {str(self.hs).lower()}) and "
                    f"model.negative > 0 (got {self.negative})"
                )
            if self.batch_size % self.noise_group:
                raise ValueError(
                    f"model.batch_size = {self.batch_size} must be a multiple of model.noise_group = "
                    f"{self.noise_group}: a batch is cut into groups that share their noise words"
                )
        if self.deterministic and self.workers != 1:
            raise ValueError(
                f"model.deterministic = true needs model.workers = 1 (got {self.workers}): with more threads "
                "the order of updates depends on OS scheduling"
            )
        return self

    @property
    def backends(self) -> tuple[str, ...]:
        """The backends to train, in the order given (``"gensim,tf"`` → ``("gensim", "tf")``)."""
        return tuple(self.backend.split(","))

    @property
    def sg(self) -> int:
        """gensim's ``sg`` flag: 1 for skip-gram, 0 for CBOW."""
        return int(self.architecture == "skipgram")


class EvaluateConfig(Frozen):
    """What is measured on the trained vectors and how they are projected."""

    restrict_vocab: int = Field(30_000, ge=1, le=COUNT_MAX)  # analogies also scored over only the N most frequent words (besides gensim's 300,000)
    probe_words: tuple[str, ...] = ("man", "woman", "day", "city", "music", "france", "red", "two")  # words whose nearest neighbours are tabled (common words of several kinds: people, time, places, arts, colours, numbers)
    neighbours: int = Field(10, ge=1, le=10_000)  # neighbours listed per probe word
    tsne_top_n: int = Field(2_000, ge=10, le=1_000_000)  # the N most frequent words projected with t-SNE (on the default corpus under a load average of about 10: 5,000 words 170 s, 2,000 words 64 s)
    tsne_label_top: int = Field(100, ge=0, le=1_000_000)  # only the N most frequent of them are labelled in the PNG
    perplexity: float = Field(30.0, gt=0)  # t-SNE's effective number of neighbours
    tsne_max_iter: int = Field(1_000, ge=250, le=1_000_000)  # t-SNE gradient steps (scikit-learn's default; fewer = faster, rougher)
    projector_top_n: int | None = Field(None, ge=1, le=COUNT_MAX)  # words written to the TensorBoard projector files; off = all

    @field_validator("probe_words", mode="before")
    @classmethod
    def _split_probe_words(cls, value: Any) -> Any:
        return _as_words(value)

    @model_validator(mode="after")
    def _projection_fits(self) -> EvaluateConfig:
        if self.tsne_label_top > self.tsne_top_n:
            raise ValueError(
                f"evaluate.tsne_label_top = {self.tsne_label_top} must not exceed evaluate.tsne_top_n = "
                f"{self.tsne_top_n}: only projected words can be labelled"
            )
        if self.perplexity >= self.tsne_top_n:
            raise ValueError(
                f"evaluate.perplexity = {self.perplexity:g} must be less than evaluate.tsne_top_n = "
                f"{self.tsne_top_n}: t-SNE needs more points than neighbours"
            )
        return self


class EmbedTracking(TrackingConfig):
    """MLflow settings of the embeddings flow (the URI comes from MLFLOW_TRACKING_URI or the default store)."""

    experiment: str = Field("seqflow-embed", min_length=1)  # the MLflow experiment the runs go to
    log_models: bool = True  # log the vectors (word2vec text/binary, Parquet, projector files) as MLflow artifacts; off = they stay under artifacts/models/<run id>/ only
    # "auto": one lineage per corpus, named after it (embed-lee_background, embed-reviews), so vectors
    # of two corpora never share a registered model and an alias never serves another corpus' vectors.
    registered_model: str | None = Field("auto", min_length=1, max_length=200)  # Model Registry name the first backend's vectors are registered under (alias candidate; needs log_models); auto = embed-<corpus>; off = not registered

    @field_validator("registered_model")
    @classmethod
    def _registry_name(cls, value: str | None) -> str | None:
        return check_registry_name(value)


class EmbedConfig(RunConfig):
    """Everything the embeddings flow needs; this object is the flow's only parameter."""

    seed: int = Field(42, ge=0, le=SEED_MAX)  # drives gensim's initialisation and sampling, t-SNE and any shuffling
    corpus: CorpusConfig = CorpusConfig()  # where the text comes from
    tokenize: TokenizeConfig = TokenizeConfig()  # text → tokens → vocabulary
    model: ModelConfig = ModelConfig()  # the word2vec model and its trainer
    evaluate: EvaluateConfig = EvaluateConfig()  # scores, neighbours, t-SNE and projector exports
    tracking: EmbedTracking = EmbedTracking()  # where runs are logged and which files go with them

    @property
    def registered_name(self) -> str | None:
        """The Model Registry name this corpus' vectors are registered under (None: not registered)."""
        name = self.tracking.registered_model
        if name != "auto":
            return name
        return f"embed-{registry_slug(corpus_stem(self.corpus.path), 'corpus')}"[:200]

    def for_backend(self, backend: str) -> EmbedConfig:
        """This config with ``model.backend`` set to one of its backends (what one child run trains)."""
        if backend not in self.model.backends:
            raise ValueError(f"for_backend: {backend!r} is not among model.backend = {self.model.backend!r}")
        return self.model_copy(update={"model": self.model.model_copy(update={"backend": backend})})
