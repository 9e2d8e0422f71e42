"""TensorFlow's oneDNN kernels on and off, on the trainings seqflow runs: wall times and results side by side.

TensorFlow's x86 wheels run many CPU ops through oneDNN unless ``TF_ENABLE_ONEDNN_OPTS=0`` is set
before TensorFlow is imported. Each case below is a whole ``seqflow run`` command in a fresh process on
a store of its own, ``--repeats`` times with ``TF_ENABLE_ONEDNN_OPTS=1`` and as often with ``0`` (the
order alternates, so a slow spell of the machine does not always fall on one side). The table gives
every wall time and every training time (as the runs recorded them: the first network's fit, the
skip-gram's training) of each side, the ratios of the bests, whether the two sides score the same to
every bit (oneDNN's kernels sum in another order: they may differ in the last digits) and whether
every repeat of a side scored the same; then the scores in full.

Cases: the milk preset (five 8-unit GRUs on one thread, early stop: seqflow's small-network case);
one of those GRUs trained 300 epochs (a sweep point's work in ``seqflow bench sweep``), alone and two
runs at once (what two Dask workers on a 2-core machine do); the M4 Hourly preset cut to one member
and a few epochs (a 64-unit GRU over 168 hours, batches of 512, TensorFlow's own thread count); the
embed flow's TensorFlow skip-gram on the shipped text8 prefix.

Usage: ``python -m benchmarks.onednn [--epochs N]`` (``seqflow bench onednn``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from tasks import paths


@dataclass(frozen=True)
class Case:
    name: str
    args: tuple[str, ...]  # after ``seqflow run``
    at_once: int = 1  # copies of the command started together; the wall time is until the last ends


def cases(epochs: int) -> list[Case]:
    """The commands measured; ``epochs`` cuts the M4 Hourly case (its preset trains up to 20)."""
    configs = paths.configs_dir()
    milk = ("forecast", "--config", str(configs / "milk.toml"), "--set", "train.progress=false")
    # A sweep point's work: one network trained 300 epochs, no early stop.
    point = (*milk, "--set", "model.ensemble=1", "--set", "train.patience=300")
    return [
        Case("milk preset: 5 GRUs (8 units, 1 thread), early stop", milk),
        Case("milk: 1 GRU, 300 epochs", point),
        Case("milk: 1 GRU, 300 epochs, two runs at once", point, at_once=2),
        Case(f"M4 Hourly: 1 GRU, 64 units, {epochs} epochs", (
            "forecast", "--config", str(configs / "m4_hourly.toml"), "--set", "model.ensemble=1",
            "--set", f"train.epochs={epochs}", "--set", "train.progress=false")),
        Case("embed: TF skip-gram, text8 prefix", ("embed", "--set", "model.backend=tf")),
    ]


def score(summary: dict) -> str:
    """What a run scored, as text: the forecast ranking's best network, or the embedding's analogy scores."""
    if "ranking" in summary:
        first = next(row for row in summary["ranking"] if row["kind"] == "model")
        figure = first["owa"] if first["owa"] == first["owa"] else first["mase"]  # OWA unless NaN
        return f"{first['forecaster']} {'OWA' if figure == first['owa'] else 'MASE'} {figure!r}"
    metrics = summary.get("metrics", {})
    return " ".join(f"{k} {metrics[k]!r}" for k in sorted(metrics) if k.startswith("analogy"))


def training_seconds(summary: dict) -> float:
    """Seconds a run spent training, as it recorded them: each forecaster's first network's fit (its
    ``fit_seconds``), or the embedding's training."""
    if "ranking" in summary:
        return sum(model["metrics"].get("fit_seconds", 0.0) for model in summary["models"])
    return summary["train_seconds"]


def _run(case: Case, onednn: str, folder: Path) -> tuple[list[str], float, float]:
    """``case`` in fresh processes with ``TF_ENABLE_ONEDNN_OPTS=onednn``: each copy's score, the wall seconds
    and the training seconds (the slowest copy's)."""
    env = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_TRACKING_URI", "PREFECT_HOME",
                                                             "PREFECT_LOCAL_STORAGE_PATH")}
    env["TF_ENABLE_ONEDNN_OPTS"] = onednn
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(paths.PROJECT_ROOT), env.get("PYTHONPATH")]))
    line = [sys.executable, "-m", "flows.cli", "run", *case.args, "--json"]
    began = time.perf_counter()
    procs = []
    for copy in range(case.at_once):
        store = folder / f"{onednn}-{copy}"
        procs.append(subprocess.Popen(line, env={**env, "SEQFLOW_ARTIFACTS": str(store)}, cwd=paths.PROJECT_ROOT,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    outs = [p.communicate(timeout=7200) for p in procs]
    seconds = time.perf_counter() - began
    for p, (out, err) in zip(procs, outs):
        if p.returncode != 0:
            raise RuntimeError(f"`seqflow run {' '.join(case.args)}` (TF_ENABLE_ONEDNN_OPTS={onednn}) failed:\n"
                               f"{err[-3000:]}")
    summaries = [json.loads(out) for out, _ in outs]
    return [score(summary) for summary in summaries], seconds, max(training_seconds(summary) for summary in summaries)


def run_bench(epochs: int, repeats: int, console) -> dict:
    """Run every case ``repeats`` times with oneDNN on and off, print the table, return the figures.

    The sides alternate (on, off, off, on, ...); each side's best time is compared.
    """
    from rich.table import Table

    work = paths.bench_dir() / "onednn"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    load = os.getloadavg()[0]
    rows = []
    for number, case in enumerate(cases(epochs)):
        got: dict[str, list[tuple[list[str], float, float]]] = {"1": [], "0": []}
        for repeat in range(repeats):
            order = ("1", "0") if (number + repeat) % 2 == 0 else ("0", "1")
            for onednn in order:
                console.print(f"[dim]{case.name}: TF_ENABLE_ONEDNN_OPTS={onednn} ({repeat + 1} of {repeats})[/dim]")
                got[onednn].append(_run(case, onednn, work / f"case{number}-{repeat}"))
        on_scores = {score for scores, _, _ in got["1"] for score in scores}
        off_scores = {score for scores, _, _ in got["0"] for score in scores}
        on_times, off_times = [t for _, t, _ in got["1"]], [t for _, t, _ in got["0"]]
        on_fit, off_fit = [t for _, _, t in got["1"]], [t for _, _, t in got["0"]]
        rows.append({"case": case.name, "on_s": min(on_times), "off_s": min(off_times),
                     "on_times": on_times, "off_times": off_times, "on_over_off": min(on_times) / min(off_times),
                     "on_fit": on_fit, "off_fit": off_fit, "fit_on_over_off": min(on_fit) / min(off_fit),
                     "on": sorted(on_scores)[0], "off": sorted(off_scores)[0], "equal": on_scores == off_scores,
                     "repeatable": len(on_scores) == 1 and len(off_scores) == 1})
    table = Table(title="bench onednn: seqflow runs with TensorFlow's oneDNN kernels on and off, fresh processes")
    for col in ("case", "wall on", "wall off", "on / off", "training on", "training off", "on / off ",
                "same bits", "repeats agree"):
        table.add_column(col, justify="left" if col == "case" else "right")

    def times(values: list[float]) -> str:
        return ", ".join(f"{t:.1f}" for t in values)

    for r in rows:
        table.add_row(r["case"], times(r["on_times"]), times(r["off_times"]), f"{r['on_over_off']:.2f}x",
                      times(r["on_fit"]), times(r["off_fit"]), f"{r['fit_on_over_off']:.2f}x",
                      "yes" if r["equal"] else "no", "yes" if r["repeatable"] else "no")
    console.print(table)
    for r in rows:  # the scores in full: where they differ, it is in the last digits
        console.print(f"{r['case']}\n  on:  {r['on']}\n  off: {r['off']}")
    console.print(f"load average (1 min): {load:.2f} before, {os.getloadavg()[0]:.2f} after")
    return {"epochs": epochs, "repeats": repeats, "rows": rows, "load_before": load, "load_after": os.getloadavg()[0]}


def main() -> None:
    import argparse

    from rich.console import Console

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3, help="epochs of the M4 Hourly case")
    parser.add_argument("--repeats", type=int, default=2, help="runs of each case on each side")
    args = parser.parse_args()
    run_bench(args.epochs, args.repeats, Console(width=160))


if __name__ == "__main__":
    main()
