"""Exports load back with the readers that consume them; t-SNE and its plot."""

from __future__ import annotations

import numpy as np
import pytest
from gensim.models import KeyedVectors
from google.protobuf import text_format
from matplotlib.figure import Figure
from tensorboard.plugins.projector import ProjectorConfig
from tensorboard.plugins.projector.projector_plugin import _read_tensor_tsv_file

from tasks.embeddings import projection
from tasks.embeddings.evaluation import WordVectors


def test_word2vec_text_and_binary_load_back(lee_vectors, tmp_path):
    for binary in (False, True):
        path = projection.write_word2vec(lee_vectors, tmp_path / f"vectors.{'bin' if binary else 'txt'}", binary)
        loaded = KeyedVectors.load_word2vec_format(str(path), binary=binary)
        assert loaded.index_to_key == list(lee_vectors.words)
        np.testing.assert_allclose(loaded.vectors, lee_vectors.vectors, rtol=0, atol=1e-6)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["vectors.bin", "vectors.txt"]  # no temp files left


def test_vectors_frame_for_parquet(lee_vectors):
    frame = projection.vectors_frame(lee_vectors)
    assert list(frame.columns) == ["word", "count", "vector"] and len(frame) == len(lee_vectors.words)
    np.testing.assert_array_equal(np.stack(frame["vector"].to_list()), lee_vectors.vectors)
    assert frame["count"].is_monotonic_decreasing


def test_projector_files_parse_with_tensorboards_reader(lee_vectors, tmp_path):
    files = projection.write_projector(lee_vectors, tmp_path / "projector", top_n=500)
    # TensorBoard (a dev dependency) reads them: its projector plugin parses the config with
    # text_format into its own ProjectorConfig and the tensor with _read_tensor_tsv_file.
    config = ProjectorConfig()
    text_format.Parse(files.config.read_text(encoding="utf-8"), config)  # as the projector plugin reads it
    (embedding,) = config.embeddings
    assert embedding.tensor_name == "word2vec" and list(embedding.tensor_shape) == [500, lee_vectors.vector_size]
    tensor_path = files.config.parent / embedding.tensor_path
    metadata_path = files.config.parent / embedding.metadata_path
    np.testing.assert_allclose(_read_tensor_tsv_file(str(tensor_path)), lee_vectors.vectors[:500], rtol=1e-5, atol=1e-6)
    metadata = metadata_path.read_text(encoding="utf-8").splitlines()
    assert metadata[0] == "word\tcount" and len(metadata) == 501
    assert metadata[1] == f"{lee_vectors.words[0]}\t{lee_vectors.counts[0]}"


def test_projector_refuses_a_word_with_a_tab(tmp_path):
    wv = WordVectors(("ok", "bad\tword"), np.array([2, 1]), np.ones((2, 3), dtype=np.float32))
    with pytest.raises(ValueError, match=r"the word 'bad\\tword' contains a tab or newline; TSV cannot hold it"):
        projection.write_projector(wv, tmp_path)


def test_tsne_of_the_most_frequent_words_and_its_plot(lee_vectors, tmp_path):
    result = projection.tsne_projection(lee_vectors, top_n=300, perplexity=10, seed=0, max_iter=250)
    assert list(result.frame.columns) == ["word", "count", "x", "y"] and len(result.frame) == 300
    assert result.frame["word"].tolist() == list(lee_vectors.words[:300])
    assert 0.5 < result.trustworthiness <= 1.0 and result.seconds > 0
    fig = projection.tsne_figure(result.frame, label_top=40)
    assert isinstance(fig, Figure)
    labels = [t.get_text() for t in fig.axes[0].texts]
    assert 0 < len(labels) <= 40 and labels[0] == lee_vectors.words[0]
    fig.savefig(tmp_path / "tsne.png")
    assert (tmp_path / "tsne.png").read_bytes()[:4] == b"\x89PNG"


def test_tsne_reports_its_iterations_as_it_goes_and_prints_nothing(lee_vectors, capsys):
    """scikit-learn's TSNE has no callback: its verbose log is read for the iteration count instead."""
    seen: list[int] = []
    quiet = projection.tsne_projection(lee_vectors, top_n=200, perplexity=10, seed=0, max_iter=300)
    watched = projection.tsne_projection(lee_vectors, top_n=200, perplexity=10, seed=0, max_iter=300,
                                         on_iteration=seen.append)
    assert seen and seen == sorted(seen) and seen[0] == 50 and seen[-1] <= 300, seen
    assert capsys.readouterr().out == ""  # the log was read, not shown
    assert np.array_equal(quiet.frame[["x", "y"]].to_numpy(), watched.frame[["x", "y"]].to_numpy())


def test_tsne_needs_more_words_than_perplexity():
    wv = WordVectors(tuple("abcde"), np.arange(5, 0, -1), np.eye(5, dtype=np.float32))
    with pytest.raises(ValueError, match=r"5 words is too few for perplexity = 30; lower evaluate.perplexity"):
        projection.tsne_projection(wv, perplexity=30)
