"""End to end: `seqflow run embed` on a tiny corpus written here, under a temporary Prefect server and MLflow store."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from flows.cli import app

pytestmark = pytest.mark.slow

ANIMALS = "cat dog mouse horse cow sheep goat pig duck goose rabbit fox wolf bear deer".split()
MONEY = "bank money stock bond price market loan cash credit trade fund share debt tax profit".split()
GLUE = "the a and of in on with".split()

SMALL = [
    "--set", "model.vector_size=16",
    "--set", "model.epochs=4",
    "--set", "model.workers=1",
    "--set", "tokenize.min_count=2",
    "--set", "evaluate.probe_words=cat,bank,unicorn",
    "--set", "evaluate.neighbours=5",
    "--set", "evaluate.tsne_top_n=40",
    "--set", "evaluate.tsne_label_top=10",
    "--set", "evaluate.perplexity=5",
    "--set", "evaluate.tsne_max_iter=250",
    "--set", "tracking.experiment=e2e-embed",
]


def _write_corpus(path: Path, lines: int = 400) -> Path:
    """Sentences about animals or about money, never both: words of a topic share their contexts."""
    rng = random.Random(3)
    with open(path, "w", encoding="utf-8") as handle:
        for _ in range(lines):
            topic = ANIMALS if rng.random() < 0.5 else MONEY
            words = [rng.choice(topic) if rng.random() < 0.7 else rng.choice(GLUE) for _ in range(12)]
            handle.write(" ".join(words).capitalize() + ".\n")
    return path


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    return _write_corpus(tmp_path_factory.mktemp("corpus") / "topics.txt")


def _run(args):
    return CliRunner().invoke(app, args)


def _task_states(flow_run_id: str) -> dict[str, str]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    with get_client(sync_client=True) as client:
        task_runs = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])))
    return {run.name.rsplit("-", 1)[0]: run.state.name for run in task_runs}


@pytest.fixture(scope="module")
def first_run(prefect_harness, corpus):
    result = _run(["run", "embed", "--corpus", str(corpus), *SMALL, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _artifact_dir(run_id: str) -> Path:
    from tasks.tracking import runs

    uri = runs.artifact_uri(run_id)
    assert uri.startswith("file://"), uri
    return Path(uri.removeprefix("file://"))


def test_summary_counts_the_corpus_and_scores_the_vectors(first_run, corpus):
    assert first_run["corpus"]["name"] == "topics.txt"
    assert first_run["corpus"]["path"] == str(corpus)
    assert first_run["n_documents"] == 400
    assert first_run["n_tokens"] == 400 * 12
    assert first_run["tokenize_cached"] is False
    assert first_run["n_words"] == len(set(ANIMALS + MONEY + GLUE))
    assert [e["epoch"] for e in first_run["epochs"]] == [0, 1, 2, 3]
    assert all(e["words_per_second"] > 0 and np.isfinite(e["loss"]) for e in first_run["epochs"])
    for key in ("analogy_30000_accuracy", "wordsim353_spearman", "simlex999_oov_share", "tsne_trustworthiness"):
        assert key in first_run["metrics"]
    assert 0.5 < first_run["metrics"]["tsne_trustworthiness"] <= 1
    assert first_run["parent_run_name"].startswith("embed · topics.txt · ")
    assert first_run["run_name"] == "gensim-skipgram · topics.txt"


def test_the_vectors_are_registered_as_a_candidate_of_the_corpus_model(first_run):
    from tasks.tracking import registry, store

    registered = first_run["registered"]
    assert (registered["registered_model"], registered["alias"]) == ("embed-topics", "candidate")
    assert registered["uri"] == "models:/embed-topics@candidate"
    assert registry.version_by_alias("embed-topics", "candidate") == registered["version"]
    assert registry.version_by_alias("embed-topics", "champion") is None  # only a retrain's gate moves it
    tags = registry.version_info("embed-topics", registered["version"])["tags"]
    assert tags["corpus_content_hash"] == first_run["corpus"]["content_hash"]
    assert tags["vocabulary_size"] == str(first_run["n_words"]) and tags["model_run_id"] == first_run["run_id"]
    assert "wordsim353_spearman" in tags and "analogy_30000_accuracy" in tags
    parent = store.client().get_run(first_run["parent_run_id"])
    assert parent.data.tags["registered_version"] == registered["version"]


def test_related_words_end_nearer_than_unrelated_ones(first_run):
    neighbours = {}
    for row in first_run["neighbours"]:
        neighbours.setdefault(row["probe"], []).append(row)
    assert [r["neighbour"] for r in neighbours["unicorn"]] == [None]  # asked for, not in the vocabulary
    cat = [r["neighbour"] for r in neighbours["cat"]]
    bank = [r["neighbour"] for r in neighbours["bank"]]
    assert sum(w in ANIMALS for w in cat) > sum(w in MONEY for w in cat)
    assert sum(w in MONEY for w in bank) > sum(w in ANIMALS for w in bank)


def test_mlflow_holds_the_parent_and_the_model_run_with_metrics_per_epoch(first_run):
    from tasks.tracking import store

    client = store.client()
    parent = client.get_run(first_run["parent_run_id"])
    assert parent.info.status == "FINISHED"
    assert parent.info.run_name == first_run["parent_run_name"]
    assert parent.data.params["model.vector_size"] == "16"
    assert parent.data.tags["data_content_hash"] == first_run["corpus"]["content_hash"]
    assert parent.data.tags["prefect_flow_run_id"] == first_run["flow_run_id"]
    assert parent.data.tags["tokenize_cached"] == "false"
    assert parent.data.metrics["corpus.tokens"] == 4800
    assert parent.data.metrics["vocabulary.words"] == first_run["n_words"]
    child = client.get_run(first_run["run_id"])
    assert child.info.status == "FINISHED"
    assert child.info.run_name == "gensim-skipgram · topics.txt"
    assert child.data.tags["mlflow.parentRunId"] == parent.info.run_id
    assert child.data.params["model.architecture"] == "skipgram"
    for key in ("loss", "words_per_second"):
        assert [m.step for m in client.get_metric_history(child.info.run_id, key)] == [0, 1, 2, 3]
    for key in ("analogy_30000_oov_share", "tsne_trustworthiness", "effective_words_per_second"):
        assert key in child.data.metrics


def test_artifacts_load_back(first_run):
    from gensim.models import KeyedVectors

    root = _artifact_dir(first_run["run_id"])
    logged = {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}
    assert {
        "vectors/vectors.txt", "vectors/vectors.bin", "vectors/vectors.parquet",
        "projector/vectors.tsv", "projector/metadata.tsv", "projector/projector_config.pbtxt",
        "tsne/tsne.parquet", "tsne/tsne.png",
        "evaluation/analogy_sections.csv", "evaluation/word_pairs.csv", "evaluation/neighbours.csv",
        "evaluation/neighbours.md",
    } <= logged
    text = KeyedVectors.load_word2vec_format(str(root / "vectors/vectors.txt"), binary=False)
    binary = KeyedVectors.load_word2vec_format(str(root / "vectors/vectors.bin"), binary=True)
    assert len(text.index_to_key) == first_run["n_words"] and text.vector_size == 16
    assert text.index_to_key == binary.index_to_key
    np.testing.assert_allclose(text["cat"], binary["cat"], atol=1e-5)
    tsne = pd.read_parquet(root / "tsne/tsne.parquet")
    assert list(tsne.columns) == ["word", "count", "x", "y"]
    assert len(tsne) == first_run["exports"]["tsne_words"] == min(40, first_run["n_words"])
    assert tsne["count"].is_monotonic_decreasing
    assert (root / "tsne/tsne.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    metadata = (root / "projector/metadata.tsv").read_text(encoding="utf-8").splitlines()
    assert metadata[0] == "word\tcount" and len(metadata) == first_run["n_words"] + 1
    assert 'tensor_path: "vectors.tsv"' in (root / "projector/projector_config.pbtxt").read_text()
    local = first_run["exports"]["local"]
    assert Path(local["word2vec_binary"]).read_bytes() == (root / "vectors/vectors.bin").read_bytes()


def test_a_new_model_setting_reuses_the_tokens(first_run, corpus):
    again = _run(["run", "embed", "--corpus", str(corpus), *SMALL, "--set", "model.architecture=cbow",
                  "--set", "tokenize.sample=0", "--json"])
    assert again.exit_code == 0, again.output
    summary = json.loads(again.stdout)
    assert summary["tokenize_cached"] is True
    assert summary["tokens_path"] == first_run["tokens_path"]
    assert summary["run_name"] == "gensim-cbow · topics.txt"
    states = _task_states(summary["flow_run_id"])
    assert states["tokenize-corpus"] == "Cached"
    assert states["build-vocabulary"] == "Cached"
    assert states["train-vectors"] == "Completed"

    fewer = _run(["run", "embed", "--corpus", str(corpus), *SMALL, "--set", "tokenize.min_count=3", "--json"])
    assert fewer.exit_code == 0, fewer.output
    states = _task_states(json.loads(fewer.stdout)["flow_run_id"])
    assert states["tokenize-corpus"] == "Cached"
    assert states["build-vocabulary"] == "Completed"  # a new vocabulary, from the same tokens


def test_phrases_join_frequent_bigrams_into_new_tokens(first_run, corpus):
    result = _run(["run", "embed", "--corpus", str(corpus), *SMALL, "--set", "tokenize.phrases=true",
                   "--set", "tokenize.phrases_min_count=2", "--set", "tokenize.phrases_threshold=0.5", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["tokenize_cached"] is False and summary["tokens_path"] != first_run["tokens_path"]
    assert summary["n_phrases"] > 0 and summary["n_tokens"] < first_run["n_tokens"]
    words = pd.read_parquet(summary["vocabulary_path"])["word"]
    assert words.str.contains("_").any()


def test_deterministic_runs_repeat_exactly(prefect_harness, corpus, monkeypatch):
    monkeypatch.setenv("PYTHONHASHSEED", "0")
    args = ["run", "embed", "--corpus", str(corpus), *SMALL, "--set", "model.deterministic=true", "--json"]
    first, second = (json.loads(_run(args).stdout) for _ in range(2))
    assert first["run_id"] != second["run_id"]
    files = [Path(s["exports"]["local"]["word2vec_binary"]).read_bytes() for s in (first, second)]
    assert files[0] == files[1]
    assert [e["loss"] for e in first["epochs"]] == [e["loss"] for e in second["epochs"]]


def test_the_table_a_user_sees(prefect_harness, corpus):
    result = _run(["run", "embed", "--corpus", str(corpus), *SMALL])
    assert result.exit_code == 0, result.output
    out = result.stdout
    for text in ("gensim-skipgram · topics.txt: 16 dims, context window 5, negative 5, 4 epochs", "reused from an",
                 "WordSim-353", "trustworthiness", "nearest neighbours", "not in the vocabulary", "seqflow ui"):
        assert text in out, out


def _snapshot(root: str) -> dict[str, tuple[int, int]]:
    return {str(p): (p.stat().st_size, p.stat().st_mtime_ns) for p in Path(root).rglob("*")}


def _run_count() -> int:
    from tasks.tracking import store

    client = store.client()
    return len(client.search_runs([e.experiment_id for e in client.search_experiments()]))


@pytest.mark.parametrize(
    ("make", "extra", "message"),
    [
        (lambda d: d / "missing.txt", [], "missing.txt: no such file or directory"),
        (lambda d: (d / "blob.txt").write_bytes(b"abc\x00\x01") and d / "blob.txt", [],
         "blob.txt: looks binary (a NUL byte at byte offset 3); a corpus must be utf-8 text"),
        (lambda d: (d / "reviews.tsv").write_text("id\tbody\n1\tgood\n") and d / "reviews.tsv", [],
         "reviews.tsv: no column 'text' (set corpus.text_column); the columns are: id, body"),
        (lambda d: (d / "empty.txt").write_text("\n \n") and d / "empty.txt", [],
         "empty.txt: the corpus is empty: no document has any text"),
        (lambda d: (d / "latin.txt").write_bytes("café au lait\n".encode("latin-1")) and d / "latin.txt", [],
         "latin.txt: byte 0xe9 at byte offset 3 is not valid utf-8"),
        (lambda d: _write_corpus(d / "ok.txt", 20), ["--set", "model.deterministic=true", "--set", "model.workers=1"],
         "model.deterministic = true needs a fixed PYTHONHASHSEED"),
    ],
)
def test_bad_corpus_is_one_line_exit_2_and_writes_nothing(make, extra, message, prefect_harness, artifacts_root,
                                                          tmp_path, monkeypatch):
    monkeypatch.delenv("PYTHONHASHSEED", raising=False)
    path = make(tmp_path)
    runs_before = _run_count()  # opens the store first: creating it is not what is measured
    before = _snapshot(artifacts_root)
    result = _run(["run", "embed", "--corpus", str(path), *SMALL, *extra])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ") and message in lines[0]
    assert _snapshot(artifacts_root) == before
    assert _run_count() == runs_before


def test_a_problem_deep_in_the_corpus_is_refused_before_any_run_opens(prefect_harness, artifacts_root, tmp_path):
    folder = tmp_path / "docs"
    folder.mkdir()
    _write_corpus(folder / "a.txt", 50)
    (folder / "b.txt").write_bytes(b"fine text\n" + b"\xff" * 3 + b"\n")
    runs_before = _run_count()
    tokens = Path(artifacts_root) / "intermediates" / "tokens"
    tokens_before = set(tokens.glob("*")) if tokens.exists() else set()
    result = _run(["run", "embed", "--corpus", str(folder), *SMALL])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines == [f"error: {folder / 'b.txt'}: byte 0xff at byte offset 10 is not valid utf-8 (set corpus.errors "
                     "= 'replace' to replace undecodable bytes, or corpus.encoding)"], result.stderr
    assert _run_count() == runs_before
    assert (set(tokens.glob("*")) if tokens.exists() else set()) == tokens_before  # no half-written Parquet

    too_rare = _run(["run", "embed", "--corpus", str(folder / "a.txt"), *SMALL, "--set", "tokenize.min_count=10000"])
    assert too_rare.exit_code == 2
    assert too_rare.stderr.startswith("error: tokenize.min_count = 10000: no word occurs at least 10000 times")
    assert _run_count() == runs_before


def test_a_crash_exits_1_with_a_traceback_and_fails_both_runs(prefect_harness, corpus, monkeypatch):
    from tasks.embeddings import gensim_w2v
    from tasks.tracking import store

    def explode(*args, **kwargs):
        raise ZeroDivisionError("training blew up on purpose")

    monkeypatch.setattr(gensim_w2v, "train_word2vec", explode)
    result = _run(["run", "embed", "--corpus", str(corpus), *SMALL, "--set", "tracking.experiment=e2e-embed-fail"])
    assert result.exit_code == 1
    assert isinstance(result.exception, ZeroDivisionError)
    client = store.client()
    found = client.search_runs([client.get_experiment_by_name("e2e-embed-fail").experiment_id])
    assert len(found) == 2 and {r.info.status for r in found} == {"FAILED"}
    assert all("ZeroDivisionError: training blew up on purpose" in r.data.tags["seqflow.failure"] for r in found)


def test_the_embeddings_flow_never_imports_tensorflow():
    code = ("import sys, flows.embed, flows.cli, tasks.embeddings.steps; "
            "print(sorted(m for m in ('tensorflow', 'keras') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])})
    assert out.stdout.strip() == "[]"


def test_gensim_and_tf_side_by_side_on_the_same_tokens(first_run, corpus):
    from gensim.models import KeyedVectors

    from tasks.tracking import store

    result = _run(["run", "embed", "--corpus", str(corpus), *SMALL, "--backend", "gensim,tf",
                   "--set", "model.batch_size=256", "--set", "model.noise_group=16", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["tokenize_cached"] is True  # one tokenization for both
    assert summary["backend"] == "gensim" and summary["run_name"] == "gensim-skipgram · topics.txt"
    rows = {row["backend"]: row for row in summary["comparison"]}
    assert list(rows) == ["gensim", "tf"]
    assert all(row["words_per_second"] > 0 for row in rows.values())
    client = store.client()
    parent = client.get_run(summary["parent_run_id"])
    assert parent.data.params["model.backend"] == "gensim,tf"
    for backend in rows:
        assert f"by_model.{backend}.words_per_second" in parent.data.metrics
        assert f"by_model.{backend}.simlex999_spearman" in parent.data.metrics
    # The parent ranks as its registered (first) backend: its scores under the children's names.
    assert parent.data.metrics["words_per_second"] == parent.data.metrics["by_model.gensim.words_per_second"]
    assert "comparison_table.json" in {a.path for a in client.list_artifacts(parent.info.run_id)}
    table = (_artifact_dir(parent.info.run_id) / "comparison/backends.md").read_text()
    assert table.splitlines()[0].startswith("| backend | effective words/s |") and "| tf |" in table
    tf_run = client.get_run(rows["tf"]["run_id"])
    assert tf_run.info.status == "FINISHED" and tf_run.info.run_name == "tf-skipgram · topics.txt"
    assert tf_run.data.params["model.backend"] == "tf" and tf_run.data.tags["mlflow.parentRunId"] == parent.info.run_id
    assert [m.step for m in client.get_metric_history(tf_run.info.run_id, "loss")] == [0, 1, 2, 3]
    for key in ("profile.step_seconds", "analogy_30000_oov_share", "tsne_trustworthiness"):
        assert key in tf_run.data.metrics
    kv = KeyedVectors.load_word2vec_format(str(_artifact_dir(tf_run.info.run_id) / "vectors/vectors.bin"), binary=True)
    assert len(kv.index_to_key) == summary["n_words"] and kv.vector_size == 16
    within = np.mean([kv.similarity(a, b) for a in ANIMALS[:5] for b in ANIMALS[5:10]])
    across = np.mean([kv.similarity(a, b) for a in ANIMALS[:5] for b in MONEY[:5]])
    assert within > across, (within, across)
