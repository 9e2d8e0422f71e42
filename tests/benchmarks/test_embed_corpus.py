"""The one-line corpora of `seqflow bench corpus`: the size asked for, one line, whitespace only where meant."""

from __future__ import annotations

import pytest

from benchmarks import embed_corpus


@pytest.mark.parametrize("form", embed_corpus.FORMS)
def test_a_one_line_corpus_of_the_size_asked_for(tmp_path, form):
    path = tmp_path / f"{form}.txt"
    written = embed_corpus.write_corpus(path, 3, form)
    data = path.read_bytes()
    assert written == len(data) and 3_000_000 <= len(data) <= 3_000_002
    assert data.count(b"\n") == 1 and data.endswith(b"\n")
    body = data[:-1]
    assert (b" " in body) == (form == "spaces") and (b"," in body) == (form == "commas")
    assert body.startswith(b"anarchism")
    if form == "letters":
        assert body.isalpha()


def test_an_unknown_form_is_refused(tmp_path):
    with pytest.raises(ValueError, match=r"write_corpus: form 'tabs' is not one of spaces, commas, letters"):
        embed_corpus.write_corpus(tmp_path / "x.txt", 1, "tabs")
