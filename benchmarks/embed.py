"""``python -m benchmarks.embed [--max-docs N]``: word2vec on IMDB, plain gensim beside seqflow's modules.

Measured in one run, printed as one Rich table (and saved as JSON under ``artifacts/bench/embed``):

1. Ingestion: corpus → tokens → vocabulary → token Parquet, streamed, in fresh processes: tokens/s,
   and peak memory (RSS) of the same pass over the corpus once and twice (one stream reading the
   file twice), to show the peak does not grow with the corpus.
2. Training, skip-gram and CBOW (2 workers, vector_size 100, window 5, negative 5, 5 epochs,
   min_count 5): plain gensim fed an in-memory list of token lists (``build_vocab`` + ``train``)
   beside :func:`tasks.embeddings.gensim_w2v.train_word2vec` fed a
   :class:`~tasks.embeddings.text.RestartableTokens` that streams the token-id Parquet each epoch
   (:func:`~tasks.embeddings.text.encode_token_frames`), and beside ``corpus_file`` mode (a
   LineSentence file written from the Parquet). Effective words/s,
   analogy accuracy (restrict_vocab 30k), WordSim-353 and SimLex-999 for each.
   Beside skip-gram, the TensorFlow backend (:func:`tasks.embeddings.tf_w2v.train_skipgram`, plain
   SGD, the same settings, its default batch and noise group) on the same token-id Parquet: its
   words/s as a ratio of plain gensim's, its scores, and where its time went (pair generation in the
   background thread, the feed on the main thread, TensorFlow's steps).
3. Exports of one model: t-SNE of the 5,000 most frequent words (wall time, trustworthiness), the
   PNG, word2vec text/binary, the projector files and the vectors Parquet.

The machine is shared: the load average before and after is printed with the table.
"""

from __future__ import annotations

import os

# OpenMP threads that spin while waiting make t-SNE's Barnes-Hut gradient 10x slower on a machine
# whose cores are busy with other work; it must be set before scikit-learn loads its runtime.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse  # noqa: E402
import csv  # noqa: E402
import gc  # noqa: E402
import itertools  # noqa: E402
import json  # noqa: E402
import re  # noqa: E402
import resource  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

TEXT_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "text"
IMDB = TEXT_DIR / "imdb-reviews.tsv.gz"
ROOT = Path(__file__).resolve().parents[1]

# The settings the reference figures were quoted with.
SETTINGS = {"vector_size": 100, "context_window": 5, "negative": 5, "epochs": 5, "workers": 2}
MIN_COUNT = 5
SAMPLE = 1e-3  # gensim's default, used by the plain runs too
SEED = 1
REFERENCE = {
    "skipgram": {"wps": "0.28–0.39 M", "analogy": 0.313, "ws353": 0.50, "simlex": 0.33},
    "cbow": {"wps": "1.21–1.41 M", "analogy": 0.276, "ws353": 0.40, "simlex": 0.26},
}


def _rss_mb() -> float:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def ingest(max_docs: int | None, repeat: int, out: Path | None) -> dict:
    """Stream IMDB ``repeat`` times in one pass: tokenize, count, and (if ``out``) write token Parquet."""
    from tasks import storage
    from tasks.embeddings import corpus, text
    from tasks.embeddings.config import CorpusConfig, TokenizeConfig

    cfg = CorpusConfig(path=IMDB, text_column="text", max_documents=max_docs)
    tokenize = TokenizeConfig(min_count=MIN_COUNT)
    baseline = _rss_mb()
    began = time.perf_counter()
    counter = text.VocabularyCounter()
    docs = itertools.chain.from_iterable(corpus.iter_documents(cfg) for _ in range(repeat))
    chunks = counter.observe(text.tokenize_documents(docs, tokenize))
    if out is None:
        for _ in chunks:
            pass
    else:
        with storage.frame_writer(out / "tokens.parquet") as write:
            for frame in text.token_frames(chunks):
                write(frame)
        storage.write_frame(text.vocabulary_frame(counter.counts, MIN_COUNT), out / "vocabulary.parquet")
    seconds = time.perf_counter() - began
    return {
        "repeat": repeat,
        "wrote_parquet": out is not None,
        "tokens": counter.n_tokens,
        "chunks": counter.n_chunks,
        "distinct_words": len(counter.counts),
        "seconds": seconds,
        "tokens_per_second": counter.n_tokens / seconds,
        "rss_before_mb": baseline,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def _ingest_in_fresh_process(max_docs: int | None, repeat: int, out: Path | None) -> dict:
    cmd = [sys.executable, "-m", "benchmarks.embed", "--ingest-only", "--repeat", str(repeat)]
    if max_docs:
        cmd += ["--max-docs", str(max_docs)]
    if out is not None:
        cmd += ["--out", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    if proc.returncode != 0:
        raise RuntimeError(f"ingestion failed: {proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _plain_sentences(max_docs: int | None, pattern: str) -> list[list[str]]:
    """Read and tokenize IMDB the plain way: pandas, then one regex per review, all in memory."""
    import pandas as pd

    frame = pd.read_csv(IMDB, sep="\t", quoting=csv.QUOTE_NONE, usecols=["text"], nrows=max_docs,
                        dtype={"text": str}, keep_default_na=False)
    find = re.compile(pattern).findall
    canonical: dict[str, str] = {}  # one str object per word: the list holds 24 M references, not 24 M strings
    intern = canonical.setdefault
    return [[intern(t, t) for t in find(review.lower())] for review in frame["text"].tolist()]


def _plain_gensim(sentences: list[list[str]], architecture: str):
    from gensim.models import Word2Vec

    model = Word2Vec(
        vector_size=SETTINGS["vector_size"], window=SETTINGS["context_window"], negative=SETTINGS["negative"],
        epochs=SETTINGS["epochs"], workers=SETTINGS["workers"], min_count=MIN_COUNT, sample=SAMPLE, seed=SEED,
        sg=int(architecture == "skipgram"),
    )
    began = time.perf_counter()
    model.build_vocab(sentences)
    vocab_seconds = time.perf_counter() - began
    began = time.perf_counter()
    effective, _raw = model.train(sentences, total_examples=model.corpus_count, epochs=model.epochs)
    seconds = time.perf_counter() - began
    return model.wv, {"train_seconds": seconds, "vocab_seconds": vocab_seconds, "effective_words": effective,
                      "words_per_second": effective / seconds}


def _scores(kv) -> dict:
    from tasks.embeddings import evaluation

    wv = evaluation.WordVectors.from_keyed_vectors(kv)
    began = time.perf_counter()
    analogy = evaluation.analogy_accuracy(wv, 30_000)
    ws = evaluation.pair_correlation(wv, evaluation.WORDSIM353)
    simlex = evaluation.pair_correlation(wv, evaluation.SIMLEX999)
    return {"analogy": analogy.accuracy, "analogy_oov_share": analogy.oov_share, "ws353": ws.spearman,
            "simlex": simlex.spearman, "evaluate_seconds": time.perf_counter() - began, "vocabulary": len(wv.words)}


def _tf_skipgram(batches, vocabulary, n_tokens: int, loss: str) -> dict:
    from tasks.embeddings import tf_w2v
    from tasks.embeddings.config import ModelConfig

    cfg = ModelConfig(backend="tf", loss=loss, **SETTINGS)
    trained = tf_w2v.train_skipgram(batches, vocabulary, n_tokens, cfg, sample=SAMPLE, seed=SEED)
    return {"loss": loss, "batch_size": cfg.batch_size, "noise_group": cfg.noise_group,
            "train_seconds": trained.train_seconds, "vocab_seconds": trained.vocab_seconds,
            "effective_words": trained.effective_words, "words_per_second": trained.words_per_second,
            "epoch_words_per_second": [e.words_per_second for e in trained.epochs],
            "epoch_loss": [e.loss for e in trained.epochs], "profile": trained.profile, **_scores(trained.vectors)}


def run(max_docs: int | None, skip_corpus_file: bool, architectures: tuple[str, ...] = ("skipgram", "cbow"),
        tf_losses: tuple[str, ...] = ("negative_sampling",)) -> dict:
    """Run every measurement and print the table; return the figures."""
    from rich.console import Console

    from tasks import paths, storage
    from tasks.embeddings import evaluation, gensim_w2v, projection, text
    from tasks.embeddings.config import DEFAULT_TOKEN_PATTERN, ModelConfig
    from tasks.embeddings.text import RestartableTokens

    console = Console(width=150)
    work = paths.bench_dir() / "embed"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    figures: dict = {"max_docs": max_docs, "load_before": os.getloadavg(), "cpus": os.cpu_count()}
    bench_began = time.perf_counter()
    console.print(f"[bold]bench embed[/]: {IMDB.name}{f' (first {max_docs} reviews)' if max_docs else ''}; "
                  f"work in {work}; load average {figures['load_before'][0]:.1f} on {os.cpu_count()} CPUs")

    console.print("ingestion in fresh processes: 1x with Parquet, 1x without, 2x without ...")
    stored = _ingest_in_fresh_process(max_docs, 1, work)
    once = _ingest_in_fresh_process(max_docs, 1, None)
    twice = _ingest_in_fresh_process(max_docs, 2, None)
    figures["ingest"] = {"parquet": stored, "once": once, "twice": twice}

    tokens_path = work / "tokens.parquet"
    vocabulary = storage.read_frame(work / "vocabulary.parquet")

    ids_path = work / "token_ids.parquet"
    began = time.perf_counter()
    with storage.frame_writer(ids_path) as write:
        for frame in text.encode_token_frames(storage.iter_frames(tokens_path), vocabulary["word"]):
            write(frame)
    figures["encode_ids_seconds"] = time.perf_counter() - began

    def token_batches():
        return (frame["tokens"] for frame in storage.iter_frames(tokens_path, columns=["tokens"]))

    def id_batches():
        return (frame["ids"] for frame in storage.iter_frames(ids_path, columns=["ids"]))

    def id_blocks():  # the flow's feed: row groups of 2,048 chunks, one shuffled pair block each
        return (frame["ids"] for frame in storage.iter_frames(ids_path, columns=["ids"], batch_rows=2_048))

    strings = RestartableTokens(token_batches)
    stream = RestartableTokens(id_batches, words=vocabulary["word"])
    began = time.perf_counter()
    streamed_tokens = sum(len(tokens) for tokens in strings)
    figures["string_pass_seconds"] = time.perf_counter() - began
    assert streamed_tokens == stored["tokens"], (streamed_tokens, stored["tokens"])
    began = time.perf_counter()
    figures["in_vocabulary_tokens"] = sum(len(tokens) for tokens in stream)
    figures["id_pass_seconds"] = time.perf_counter() - began

    console.print("plain tokenization into memory ...")
    began = time.perf_counter()
    sentences = _plain_sentences(max_docs, DEFAULT_TOKEN_PATTERN)
    figures["plain_tokenize_seconds"] = time.perf_counter() - began
    figures["plain_tokens"] = sum(len(s) for s in sentences)

    line_file = None
    if not skip_corpus_file:
        began = time.perf_counter()
        line_file = gensim_w2v.write_line_sentences(stream, work / "tokens.lines.txt")
        figures["line_file_seconds"] = time.perf_counter() - began

    kept_tokens = figures["in_vocabulary_tokens"]  # what one pass of the id stream (and the line file) holds
    models: dict = {}
    keep_vectors = None
    for architecture in architectures:
        cfg = ModelConfig(architecture=architecture, **SETTINGS)
        console.print(f"{architecture}: plain gensim ...")
        kv, plain = _plain_gensim(sentences, architecture)
        plain.update(_scores(kv))
        del kv
        gc.collect()
        console.print(f"{architecture}: seqflow train_word2vec over the token-id Parquet ...")
        trained = gensim_w2v.train_word2vec(stream, vocabulary, stored["chunks"], kept_tokens, cfg,
                                            sample=SAMPLE, seed=SEED)
        ours = {"train_seconds": trained.train_seconds, "vocab_seconds": trained.vocab_seconds,
                "effective_words": trained.effective_words, "words_per_second": trained.words_per_second,
                "epoch_words_per_second": [e.words_per_second for e in trained.epochs],
                "epoch_loss": [e.loss for e in trained.epochs]}
        ours.update(_scores(trained.vectors))
        if architecture == "skipgram":
            keep_vectors = evaluation.WordVectors.from_keyed_vectors(trained.vectors)
        entry = {"plain": plain, "seqflow": ours}
        if line_file is not None:
            console.print(f"{architecture}: seqflow train_word2vec, corpus_file mode ...")
            filed = gensim_w2v.train_word2vec(None, vocabulary, stored["chunks"], kept_tokens, cfg,
                                              sample=SAMPLE, seed=SEED, corpus_file=line_file)
            entry["corpus_file"] = {"train_seconds": filed.train_seconds, "effective_words": filed.effective_words,
                                    "words_per_second": filed.words_per_second, **_scores(filed.vectors)}
        if architecture == "skipgram":
            for loss in tf_losses:
                console.print(f"skipgram: TensorFlow backend ({loss}) over the token-id Parquet ...")
                entry[f"tf_{loss}"] = _tf_skipgram(id_blocks, vocabulary, kept_tokens, loss)
        models[architecture] = entry
    figures["models"] = models
    del sentences
    gc.collect()

    console.print("exports of the skip-gram vectors: t-SNE, PNG, word2vec, projector, Parquet ...")
    exports: dict = {}
    began = time.perf_counter()
    tsne = projection.tsne_projection(keep_vectors, top_n=5_000, perplexity=30, seed=SEED)
    exports["tsne_total_seconds"] = time.perf_counter() - began
    exports["tsne_fit_seconds"] = tsne.seconds
    exports["trustworthiness"] = tsne.trustworthiness
    began = time.perf_counter()
    projection.tsne_figure(tsne.frame, label_top=100).savefig(work / "tsne.png")
    exports["png_seconds"] = time.perf_counter() - began
    began = time.perf_counter()
    projection.write_word2vec(keep_vectors, work / "vectors.txt", binary=False)
    projection.write_word2vec(keep_vectors, work / "vectors.bin", binary=True)
    projection.write_projector(keep_vectors, work / "projector")
    storage.write_frame(projection.vectors_frame(keep_vectors), work / "vectors.parquet")
    storage.write_frame(tsne.frame, work / "tsne.parquet")
    exports["files_seconds"] = time.perf_counter() - began
    figures["exports"] = exports
    figures["load_after"] = os.getloadavg()
    figures["wall_seconds"] = time.perf_counter() - bench_began

    _print_table(console, figures)
    for name in ("tokens.lines.txt", "vectors.txt", "vectors.bin"):
        (work / name).unlink(missing_ok=True)  # large and re-creatable; the summary and plot stay
    (work / "summary.json").write_text(json.dumps(figures, indent=2))
    return figures


def _print_table(console, f: dict) -> None:
    from rich.table import Table

    table = Table(title="bench embed (one run; wall-clock on this machine)")
    for col in ("measure", "plain gensim", "seqflow (id Parquet stream)", "ratio", "seqflow corpus_file", "reference"):
        table.add_column(col, justify="left" if col == "measure" else "right")
    ing = f["ingest"]
    table.add_row("tokens (plain / seqflow)", f"{f['plain_tokens']:,}", f"{ing['once']['tokens']:,}",
                  "same" if f["plain_tokens"] == ing["once"]["tokens"] else "DIFFER", "", "23.6 M")
    table.add_row("tokenize, in memory / streamed (tokens/s)", f"{f['plain_tokens'] / f['plain_tokenize_seconds'] / 1e6:.2f} M",
                  f"{ing['once']['tokens_per_second'] / 1e6:.2f} M", "", "", "")
    table.add_row("  + token Parquet write (tokens/s)", "", f"{ing['parquet']['tokens_per_second'] / 1e6:.2f} M", "", "", "")
    table.add_row("  token ids Parquet from tokens (once)", "", f"{f['encode_ids_seconds']:.1f} s", "", "", "")
    table.add_row("  one training pass: tokens / token ids", "",
                  f"{f['string_pass_seconds']:.1f} s / {f['id_pass_seconds']:.1f} s", "", "", "")
    if "line_file_seconds" in f:
        table.add_row("  LineSentence file from the stream", "", "", "", f"{f['line_file_seconds']:.1f} s", "")
    table.add_row("ingest peak RSS: 1x → 2x corpus (MB)", "",
                  f"{ing['once']['peak_rss_mb']:.0f} → {ing['twice']['peak_rss_mb']:.0f}",
                  f"{ing['twice']['peak_rss_mb'] / ing['once']['peak_rss_mb']:.2f}x", "",
                  f"(RSS after imports {ing['once']['rss_before_mb']:.0f})")
    table.add_row("  with Parquet write, 1x (MB)", "", f"{ing['parquet']['peak_rss_mb']:.0f}", "", "", "")
    for arch, entry in f["models"].items():
        plain, ours, filed, ref = entry["plain"], entry["seqflow"], entry.get("corpus_file"), REFERENCE[arch]
        tf_rows = [v for k, v in entry.items() if k.startswith("tf_")]
        table.add_row(f"[bold]{arch}[/] effective words/s", f"{plain['words_per_second'] / 1e6:.3f} M",
                      f"{ours['words_per_second'] / 1e6:.3f} M", f"{ours['words_per_second'] / plain['words_per_second']:.2f}x",
                      f"{filed['words_per_second'] / 1e6:.3f} M ({filed['words_per_second'] / plain['words_per_second']:.2f}x)" if filed else "",
                      ref["wps"])
        eps = ours["epoch_words_per_second"]
        table.add_row("  per epoch (seqflow)", "", f"{min(eps) / 1e6:.3f}–{max(eps) / 1e6:.3f} M", "", "", "")
        table.add_row("  train seconds", f"{plain['train_seconds']:.0f}", f"{ours['train_seconds']:.0f}", "",
                      f"{filed['train_seconds']:.0f}" if filed else "", "")
        for key, label, ref_value, fmt in (("analogy", "analogy (restrict 30k)", ref["analogy"], "{:.1%}"),
                                           ("ws353", "WS353 ρ", ref["ws353"], "{:.3f}"),
                                           ("simlex", "SimLex ρ", ref["simlex"], "{:.3f}")):
            diff = ours[key] - plain[key]
            table.add_row(f"  {label}", fmt.format(plain[key]), fmt.format(ours[key]),
                          f"{diff * 100:+.1f} pt" if key == "analogy" else f"{diff:+.3f}",
                          fmt.format(filed[key]) if filed else "", fmt.format(ref_value))
        for tf_ in tf_rows:
            ratio = tf_["words_per_second"] / plain["words_per_second"]
            table.add_row(f"  [bold]tf[/] ({tf_['loss']}, batch {tf_['batch_size']:,}, noise group "
                          f"{tf_['noise_group']}) effective words/s", f"{plain['words_per_second'] / 1e6:.3f} M",
                          f"{tf_['words_per_second'] / 1e6:.3f} M", f"{ratio:.2f}x", "", "≥ 0.25x (aim 0.5x)")
            eps = tf_["epoch_words_per_second"]
            table.add_row("    per epoch / train seconds", "",
                          f"{min(eps) / 1e6:.3f}–{max(eps) / 1e6:.3f} M / {tf_['train_seconds']:.0f} s", "", "", "")
            prof = tf_["profile"]
            table.add_row("    time: pairs (bg thread) / feed (main) / TF steps", "",
                          f"{prof['profile.pair_seconds']:.0f} / {prof['profile.feed_seconds']:.0f} / "
                          f"{prof['profile.step_seconds']:.0f} s", f"{prof['profile.pairs_per_second'] / 1e6:.2f} M pairs/s", "", "")
            for key, label, fmt, aim in (("analogy", "analogy (restrict 30k)", "{:.1%}", "≥ 0.9x gensim"),
                                         ("ws353", "WS353 ρ", "{:.3f}", "± 0.03"),
                                         ("simlex", "SimLex ρ", "{:.3f}", "± 0.03")):
                diff = tf_[key] - plain[key]
                shown = f"{tf_[key] / plain[key]:.2f}x" if key == "analogy" else f"{diff:+.3f}"
                table.add_row(f"    {label}", fmt.format(plain[key]), fmt.format(tf_[key]), shown, "", aim)
    ex = f["exports"]
    table.add_row("t-SNE top 5,000: fit / with trustworthiness", "", f"{ex['tsne_fit_seconds']:.1f} s / {ex['tsne_total_seconds']:.1f} s",
                  "", "", "aim < 15 s")
    table.add_row("  trustworthiness (5 neighbours)", "", f"{ex['trustworthiness']:.3f}", "", "", "")
    table.add_row("  PNG / word2vec txt+bin, projector, Parquet", "", f"{ex['png_seconds']:.1f} s / {ex['files_seconds']:.1f} s",
                  "", "", "")
    console.print(table)
    console.print(f"load average before {f['load_before'][0]:.1f}, after {f['load_after'][0]:.1f} on {f['cpus']} CPUs "
                  "(another user shares the machine). ratio = seqflow / plain gensim; analogy diff in points. "
                  f"Bench wall time {f['wall_seconds']:.0f} s.")
    for arch, entry in f["models"].items():
        for key, tf_ in entry.items():
            if key.startswith("tf_"):
                console.print(f"words/s ratio tf ({tf_['loss']}) / plain gensim {arch}: "
                              f"{tf_['words_per_second'] / entry['plain']['words_per_second']:.2f}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.embed", description=__doc__.splitlines()[0])
    parser.add_argument("--max-docs", type=int, default=None, help="read only the first N reviews (development)")
    parser.add_argument("--skip-corpus-file", action="store_true", help="leave out the corpus_file runs")
    parser.add_argument("--architectures", default="skipgram,cbow", help="comma list of skipgram, cbow")
    parser.add_argument("--tf-loss", default="negative_sampling",
                        help="comma list of the TF backend's objectives (negative_sampling, nce); off = no TF rows")
    parser.add_argument("--ingest-only", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--repeat", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if not IMDB.is_file():
        raise SystemExit(f"{IMDB}: no such file (the benchmark reads the shared IMDB corpus)")
    if args.ingest_only:
        print(json.dumps(ingest(args.max_docs, args.repeat, args.out)))
        return
    run(args.max_docs, args.skip_corpus_file, split_names(args.architectures), split_names(args.tf_loss))


def split_names(text: str) -> tuple[str, ...]:
    """``"a,b"`` → ``("a", "b")``; ``off``/``none``/empty → ``()``."""
    if text.strip().lower() in ("off", "none", ""):
        return ()
    return tuple(part.strip() for part in text.split(",") if part.strip())


if __name__ == "__main__":
    main()
