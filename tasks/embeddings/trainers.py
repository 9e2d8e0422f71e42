"""Which function trains word vectors for each ``model.backend``: gensim's word2vec or the TensorFlow skip-gram.

TensorFlow is imported only when its backend is asked for (it takes seconds to import).
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

from tasks.embeddings import gensim_w2v, text
from tasks.embeddings.config import EmbedConfig
from tasks.embeddings.records import VocabularyRef

EpochHook = Callable[[int, dict[str, float]], None]
# A backend trains on the restartable id stream with the given vocabulary and reports per epoch. It
# returns gensim's record (KeyedVectors + per-epoch reports) so that every backend is scored and
# exported alike; a backend with its own vectors builds them with WordVectors.to_keyed_vectors().
Trainer = Callable[[text.RestartableTokens, pd.DataFrame, VocabularyRef, EmbedConfig, EpochHook],
                   gensim_w2v.TrainedWord2Vec]


def _train_gensim(stream: text.RestartableTokens, vocabulary: pd.DataFrame, ref: VocabularyRef, cfg: EmbedConfig,
                  on_epoch_end: EpochHook) -> gensim_w2v.TrainedWord2Vec:
    return gensim_w2v.train_word2vec(
        stream, vocabulary, ref.tokens.n_chunks, ref.n_tokens, cfg.model,
        sample=cfg.tokenize.sample, seed=cfg.seed, on_epoch_end=on_epoch_end,
    )


def _train_tf(stream: text.RestartableTokens, vocabulary: pd.DataFrame, ref: VocabularyRef, cfg: EmbedConfig,
              on_epoch_end: EpochHook) -> gensim_w2v.TrainedWord2Vec:
    from tasks.embeddings import tf_w2v  # TensorFlow takes seconds to import: only when asked for

    return tf_w2v.train_skipgram(stream.batches, vocabulary, ref.n_tokens, cfg.model, sample=cfg.tokenize.sample,
                                 seed=cfg.seed, on_epoch_end=on_epoch_end)


# model.backend → the function that trains; the keys are exactly config.BACKENDS.
TRAINERS: dict[str, Trainer] = {"gensim": _train_gensim, "tf": _train_tf}
