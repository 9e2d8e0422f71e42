"""``seqflow bench``: speed, forecast accuracy and word2vec figures, measured side by side.

The benchmarks live in the top-level ``benchmarks`` package of a source checkout, not in the
installed product; each command imports it when it runs, and says so in one line where it is absent.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer

from flows.cli.options import JsonOpt, SetOpt, console, fail, print_json

app = typer.Typer(
    help="Measure: `seqflow bench` for speed; `seqflow bench forecast` for forecast accuracy; `seqflow bench sweep` "
         "for a sweep serially and on Dask; `seqflow bench ensemble` for one forecast run's ensemble likewise; "
         "`seqflow bench onednn` for TensorFlow's oneDNN kernels on and off.",
    invoke_without_command=True, rich_markup_mode=None,
)

NOT_IN_A_CHECKOUT = ("seqflow bench: the benchmarks run from a source checkout (the benchmarks/ folder beside flows/ "
                     "and tasks/); an installed seqflow does not include them")


@contextmanager
def _from_a_checkout() -> Iterator[None]:
    """Turn a missing ``benchmarks`` package into one line and exit code 2; re-raise any other missing module."""
    try:
        yield
    except ModuleNotFoundError as exc:
        if exc.name != "benchmarks" and not (exc.name or "").startswith("benchmarks."):
            raise
        fail(NOT_IN_A_CHECKOUT)


@app.callback()
def speed(
    ctx: typer.Context,
    set_: SetOpt = None,
    repeats: Annotated[int, typer.Option(min=1, help="Timings of `seqflow --help` to take the median of.")] = 5,
) -> None:
    """Measure: `seqflow --help` time, the flow (cold and warm) vs the same training bare, samples/s per cell.

    `seqflow bench forecast` measures forecast accuracy instead (M4 baselines, milk through the flow).
    """
    if ctx.invoked_subcommand is not None:
        return
    with _from_a_checkout():
        from benchmarks.speed import run_bench

    run_bench(list(set_ or []), repeats, console())


@app.command("forecast")
def forecast(
    m4: Annotated[bool, typer.Option("--m4/--no-m4", help="Backtest the baselines on M4 Hourly and Weekly "
                                                         "(../shared/data/m4; minutes).")] = True,
    datasets: Annotated[
        list[str] | None, typer.Option("--dataset", metavar="NAME", help="An M4 set to run: Hourly or Weekly (repeat "
                                                                         "for both; default both).")
    ] = None,
    workers: Annotated[int, typer.Option(min=1, help="Processes for the M4 backtests.")] = 2,
    flow: Annotated[bool, typer.Option("--flow/--no-flow", help="Run the flow on milk (last 12 months held out, 3 "
                                                             "seeds, the course recipe) and the 4-origin "
                                                             "backtests on milk and alcohol sales.")] = True,
    m4_flow: Annotated[bool, typer.Option("--m4-flow/--no-m4-flow", help="Also run the flow's M4 presets "
                                                                       "(flows/configs/m4_hourly.toml, m4_weekly.toml) "
                                                                       "for each --dataset, the model beside the "
                                                                       "baselines of the same run (minutes each).")] = False,
    generalise: Annotated[bool, typer.Option("--generalise", help="Instead: model.recipe = auto on series nobody "
                                                                  "tuned for (the shared monthly series, 10 M4 Monthly, "
                                                                  "50 M4 Weekly and 50 M4 Hourly), win counts against "
                                                                  "seasonal naive, Holt-Winters (damped) and Theta "
                                                                  "(tens of minutes).")] = False,
    reuse: Annotated[bool, typer.Option("--reuse", help="With --generalise: reuse each set's kept summary "
                                                        "(artifacts/bench/generalise/) instead of running it.")] = False,
    seed: Annotated[int, typer.Option(help="With --generalise: the seed of the M4 Weekly and Hourly samples; "
                                           "another seed than the default is a second opinion on what was "
                                           "tuned on the default sample.")] = 2026,
    as_json: JsonOpt = False,
) -> None:
    """Forecast accuracy: M4 baselines beside the official scores; milk through the flow beside the baselines."""
    if generalise:
        with _from_a_checkout():
            from benchmarks.generalise import run_generalise_bench

        figures = run_generalise_bench(console(stderr=as_json), reuse=reuse, seed=seed)
        if as_json:
            print_json(figures)
        return
    with _from_a_checkout():
        from benchmarks.forecast import run_forecast_bench

    figures = run_forecast_bench(console(stderr=as_json), workers=workers,
                                 datasets=tuple(datasets or ("Hourly", "Weekly")), m4=m4, flow=flow, m4_flow=m4_flow)
    if as_json:
        print_json(figures)


@app.command("embed")
def embed(
    max_docs: Annotated[int | None, typer.Option(min=1, help="Read only the first N IMDB reviews (a smoke run).")] = None,
    skip_corpus_file: Annotated[bool, typer.Option(help="Leave out gensim's corpus_file mode.")] = False,
    flow: Annotated[bool, typer.Option(help="Also run the train-embeddings flow with the same settings.")] = True,
    architectures: Annotated[str, typer.Option(help="Comma list of skipgram, cbow.")] = "skipgram,cbow",
    tf_loss: Annotated[str, typer.Option(
        help="The TF backend's objectives measured beside skip-gram: negative_sampling, nce, a comma list, or off.",
    )] = "negative_sampling",
) -> None:
    """Measure word2vec on IMDB: plain gensim beside seqflow's training and beside the whole flow, in one run.

    Reads ../shared/data/text/imdb-reviews.tsv.gz. Full size it takes tens of minutes on 2 cores.
    """
    with _from_a_checkout():
        from benchmarks import embed as plain_bench

    if not plain_bench.IMDB.is_file():
        fail(f"{plain_bench.IMDB}: no such file (the benchmark reads the shared IMDB corpus)")
    archs = plain_bench.split_names(architectures)
    unknown = [a for a in archs if a not in ("skipgram", "cbow")] or [
        loss for loss in plain_bench.split_names(tf_loss) if loss not in ("negative_sampling", "nce")]
    if unknown or not archs:
        fail(f"bench embed: {unknown[0] if unknown else architectures!r} is not one of skipgram, cbow "
             "(--architectures) or negative_sampling, nce, off (--tf-loss)")
    figures = plain_bench.run(max_docs, skip_corpus_file, archs, plain_bench.split_names(tf_loss))
    if flow:
        from benchmarks.embed_flow import run_flow_bench

        run_flow_bench(max_docs, figures, console(), archs)


@app.command("corpus")
def corpus(
    megabytes: Annotated[int, typer.Option(min=1, max=10_000, help="Size of the one-line corpora, in MB.")] = 200,
    scaling: Annotated[bool, typer.Option(help="Also measure a quarter of the size, to show the scaling.")] = True,
    as_json: JsonOpt = False,
) -> None:
    """Measure the embed flow's ingest (read, tokenize, count, Parquet) on one-line corpora: peak RSS and seconds.

    The shipped text8 prefix repeated to --megabytes as one line: with spaces, with commas (no whitespace) and
    as letters alone (dropped as a non-word). Each runs in a child process; written under artifacts/bench/.
    """
    with _from_a_checkout():
        from benchmarks.embed_corpus import run_corpus_bench

    rows = run_corpus_bench(megabytes, scaling, console(stderr=as_json))
    if as_json:
        print_json(rows)


@app.command("csv")
def csv(
    rows: Annotated[int, typer.Option(min=20_000, max=100_000_000, help="Rows of the long CSV.")] = 1_000_000,
    series: Annotated[int, typer.Option(min=1, help="Daily series in it, of equal length.")] = 10_000,
    horizon: Annotated[int, typer.Option(min=1, help="Steps held out per series (window.horizon).")] = 7,
    stage: Annotated[list[str] | None, typer.Option(
        metavar="STAGE", help="Stages to measure, in order (repeatable): preflight, ingest, windowing, training; training needs "
             "ingest. Default: all.")] = None,
    set_: SetOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Measure the forecast flow on a long CSV: peak RSS of pre-flight, ingest, windowing and training.

    A synthetic series_id,date,value file of --rows rows is written under artifacts/bench/ and each stage runs
    in its own child process (its peak RSS from os.wait4); the file is removed afterwards. The training stage
    trains the first planned network, tiny and for one epoch, with the --set settings (e.g.
    train.max_window_mb=64 to stream its windows).
    """
    with _from_a_checkout():
        from benchmarks.csv_memory import STAGES, run_csv_bench

    stages = tuple(stage or STAGES)
    unknown = [s for s in stages if s not in STAGES]
    if unknown or ("training" in stages and "ingest" not in stages):
        fail(f"--stage {', '.join(stages)}: each one of {', '.join(STAGES)}, and training needs ingest")
    results = run_csv_bench(rows, series, horizon, console(stderr=as_json), stages, list(set_ or []))
    if as_json:
        print_json(results)


@app.command("retrain")
def retrain(set_: SetOpt = None) -> None:
    """Measure one scheduled retrain's cost beyond its training, on Prefect's own server (the sales preset, twice)."""
    with _from_a_checkout():
        from benchmarks.retrain import run_bench

    run_bench(list(set_ or []), console())


@app.command("sweep")
def sweep(
    workers: Annotated[int, typer.Option(min=1, help="Processes of the local Dask cluster, one thread each.")] = 2,
    epochs: Annotated[int, typer.Option(min=1, help="Epochs per point (no early stop before them ends it).")] = 20,
    ensemble: Annotated[int, typer.Option(min=1, help="Networks per point (milk.toml's own: 5).")] = 1,
    as_json: JsonOpt = False,
) -> None:
    """Run one 8-point sweep on milk (cell x units x lookback) serially and on a local Dask cluster; compare.

    Prints both commands' wall times, the speed-up and each point's MASE on both runners side by side;
    exits 1 when a point scores differently. Each runner gets a store of its own under artifacts/bench/sweep/.
    """
    with _from_a_checkout():
        from benchmarks.sweep import run_bench

    figures = run_bench(workers, epochs, console(stderr=as_json), ensemble)
    if as_json:
        print_json(figures)
    if not figures["equal"]:
        fail("bench sweep: a point scored differently on Dask than serially (see the table)", 1)


@app.command("ensemble")
def ensemble(
    workers: Annotated[int, typer.Option(min=1, help="Processes of the local Dask cluster, one thread each.")] = 2,
    epochs: Annotated[int | None, typer.Option(min=1, help="train.epochs of every member (default: the "
                                                           "preset's 20, early stop as set).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Run the M4 Hourly preset (three ensemble members) serially and on a local Dask cluster; compare.

    Prints both `seqflow run forecast` commands' wall times, the speed-up and every forecaster's OWA on both
    runners side by side; exits 1 when one differs. Each runner gets a store of its own under
    artifacts/bench/ensemble/. Needs M4 Hourly in ../shared/data/m4 (tens of minutes).
    """
    with _from_a_checkout():
        from benchmarks.ensemble import run_bench

    figures = run_bench(workers, epochs, console(stderr=as_json), ensemble)
    if as_json:
        print_json(figures)
    if not figures["equal"]:
        fail("bench ensemble: an OWA differs on Dask from the serial run's (see the table)", 1)


@app.command("onednn")
def onednn(
    epochs: Annotated[int, typer.Option(min=1, help="Epochs of the M4 Hourly case (its preset trains up to 20).")] = 3,
    repeats: Annotated[int, typer.Option(min=1, help="Runs of each case on each side, alternating; the best "
                                                     "times are compared.")] = 2,
    as_json: JsonOpt = False,
) -> None:
    """Run seqflow's trainings with TensorFlow's oneDNN kernels on and off (TF_ENABLE_ONEDNN_OPTS); compare.

    Five cases, each a whole `seqflow run` in fresh processes on stores of their own under artifacts/bench/onednn/:
    the milk preset; one milk GRU trained 300 epochs (a sweep point), alone and two runs at once; the M4 Hourly
    preset cut to one member; the embed flow's TensorFlow skip-gram. Prints both wall times, their ratio and each
    run's score on both (about 10 minutes a repeat).
    """
    with _from_a_checkout():
        from benchmarks.onednn import run_bench

    figures = run_bench(epochs, repeats, console(stderr=as_json))
    if as_json:
        print_json(figures)
