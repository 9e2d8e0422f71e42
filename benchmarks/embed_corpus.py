"""Memory and time of the embed flow's ingest on a huge one-line corpus, with and without whitespace.

``seqflow bench corpus`` writes single-line corpora of ``--megabytes`` MB (and a quarter of that, to
show the scaling) made of the shipped text8 prefix repeated, in three forms:

- ``spaces``: the text as it is (words between single spaces);
- ``commas``: every space a comma, so the line has no whitespace at all but still has its words;
- ``letters``: the spaces removed, one run of letters: no word at all (dropped as a non-word).

Each is read by the flow's own steps (``hash-corpus``, ``tokenize-corpus``, ``build-vocabulary``: the
corpus read, tokenized, counted, written as token and token-id Parquet) in a child process whose CPU
time comes from ``os.wait4`` and whose peak resident memory is its own ``VmHWM`` (not ``ru_maxrss``,
which Linux carries over from the parent through fork and exec); its wall time is the child's own. The ingest
figures before the bounded reader (a 200 MB line: 3.2 GB, and no output after 400 s without
whitespace) are in docs/results/2026-12-03-corpus-memory.md beside these.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

FORMS = ("spaces", "commas", "letters")
TEXT8 = Path("data/text8-prefix.gz")


def write_corpus(path: Path, megabytes: int, form: str) -> int:
    """Write one line of about ``megabytes`` MB: the text8 prefix repeated, in ``form``; return its bytes."""
    text = gzip.decompress(TEXT8.read_bytes()).strip()
    if form == "commas":
        text = text.replace(b" ", b",")
    elif form == "letters":
        text = text.replace(b" ", b"")
    elif form != "spaces":
        raise ValueError(f"write_corpus: form {form!r} is not one of {', '.join(FORMS)}")
    joiner = {"spaces": b" ", "commas": b",", "letters": b""}[form]
    target, written = megabytes * 1_000_000, 0
    with open(path, "wb") as handle:
        while written < target:
            part = text[: target - written]
            handle.write(part + joiner)
            written += len(part) + len(joiner)
        handle.write(b"\n")
    return written + 1


def _child(path: str) -> None:
    """Run the ingest steps on ``path`` (under SEQFLOW_ARTIFACTS) and print their figures as JSON."""
    import logging
    import resource

    from tasks.embeddings import steps
    from tasks.embeddings.config import EmbedConfig
    from tasks.errors import InputError

    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    steps.get_run_logger = lambda: logging.getLogger("bench-corpus")  # the steps run here without Prefect
    cfg = EmbedConfig.model_validate({"corpus": {"path": path}})
    imported = resource.getrusage(resource.RUSAGE_SELF)
    imported_mb = peak_rss_mb()
    began = time.perf_counter()
    try:
        corpus = steps.hash_corpus.fn(cfg.corpus)
        tokens = steps.tokenize_corpus.fn(corpus, cfg.corpus, cfg.tokenize)
        vocabulary = steps.build_vocabulary.fn(tokens, cfg.tokenize)
    except InputError as exc:
        tokens, vocabulary, refused = None, None, str(exc)
    else:
        refused = None
    done = resource.getrusage(resource.RUSAGE_SELF)
    figures = {"seconds": time.perf_counter() - began,
               "ingest_cpu_seconds": done.ru_utime + done.ru_stime - imported.ru_utime - imported.ru_stime,
               "rss_after_imports_mb": imported_mb}
    figures["peak_rss_mb"] = peak_rss_mb()
    if refused is not None:
        print(json.dumps({**figures, "refused": refused}))
        return
    print(json.dumps({
        **figures, "tokenize_seconds": tokens.seconds, "documents": tokens.n_documents,
        "chunks": tokens.n_chunks, "tokens": tokens.n_tokens, "distinct": tokens.n_distinct,
        "vocabulary": vocabulary.n_words, "dropped_runs": tokens.dropped_runs, "dropped_chars": tokens.dropped_chars,
    }))


def peak_rss_mb() -> float:
    """This process's peak resident memory (``VmHWM``, reset by exec, unlike ``ru_maxrss``), in MB."""
    with open("/proc/self/status") as status:
        return int(next(line for line in status if line.startswith("VmHWM")).split()[1]) / 1024


def measure(path: Path, scratch: Path) -> dict:
    """Run the ingest on ``path`` in a child; add its peak RSS (MB) and CPU seconds from ``os.wait4``."""
    env = {**os.environ, "SEQFLOW_ARTIFACTS": str(scratch), "PYTHONPATH": str(Path.cwd())}
    began = time.perf_counter()
    child = subprocess.Popen([sys.executable, "-m", "benchmarks.embed_corpus", "--child", str(path)],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
    out = child.stdout.read()
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    figures = json.loads(out) if child.returncode == 0 and out.strip() else {"failed": child.returncode}
    figures.update(wall_seconds=time.perf_counter() - began, cpu_seconds=usage.ru_utime + usage.ru_stime)
    figures.setdefault("peak_rss_mb", float("nan"))
    return figures


def run_corpus_bench(megabytes: int, scaling: bool, console, forms: tuple[str, ...] = FORMS) -> list[dict]:
    """Measure every form at ``megabytes`` (and a quarter of it with ``scaling``); print the table."""
    from rich.table import Table

    from tasks import paths

    if not TEXT8.is_file():
        raise FileNotFoundError(f"{TEXT8}: no such file (run from the project's root)")
    work = paths.bench_dir() / "corpus"
    work.mkdir(parents=True, exist_ok=True)
    sizes = sorted({max(1, megabytes // 4), megabytes}) if scaling else [megabytes]
    load = os.getloadavg()
    rows = []
    for form in forms:
        for size in sizes:
            path = work / f"one-line-{form}-{size}mb.txt"
            n_bytes = write_corpus(path, size, form)
            console.print(f"{form}, {size} MB: measuring …", highlight=False)
            figures = measure(path, work / "artifacts")
            rows.append({"form": form, "megabytes": size, "bytes": n_bytes, **figures})
            path.unlink()
    table = Table(title=f"ingest of a one-line corpus (load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f} "
                        f"on {os.cpu_count()} CPUs at the start)")
    for column in ("form", "MB", "ingest s", "ingest CPU s", "peak RSS MB", "RSS at start MB", "tokens", "dropped"):
        table.add_column(column, justify="left" if column == "form" else "right")
    for r in rows:
        table.add_row(r["form"], f"{r['megabytes']:,}", f"{r.get('seconds', float('nan')):.1f}",
                      f"{r.get('ingest_cpu_seconds', float('nan')):.1f}", f"{r['peak_rss_mb']:,.0f}",
                      f"{r.get('rss_after_imports_mb', float('nan')):,.0f}", f"{r.get('tokens', 0):,}",
                      "refused ¹" if "refused" in r else f"{r.get('dropped_runs', 0):,}")
    console.print(table)
    for r in rows:
        if "refused" in r:
            console.print(f"¹ {r['form']}, {r['megabytes']} MB: {r['refused']}", highlight=False)
    shutil.rmtree(work / "artifacts", ignore_errors=True)  # the token Parquet of every run: hundreds of MB
    return rows


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        _child(sys.argv[2])
    else:
        from rich.console import Console

        run_corpus_bench(int(sys.argv[1]) if len(sys.argv) > 1 else 200, True, Console())
