"""Generalisation: ``model.recipe = auto`` on series nobody tuned for, beside the statistical forecasters.

Each set is run through the forecasting flow once, as a user would run it (``seqflow run forecast
--json``), with nothing set but the source and its horizon: the three shared monthly series (last 12
months held out), the ten M4 Monthly series in ``../shared/data/m4`` (18), and a seeded random sample
of 50 M4 Weekly (13) and 50 M4 Hourly (48) series, each a panel. Every series is scored on its last
horizon; the table gives each series' MASE for auto, seasonal naive, Holt-Winters, damped
Holt-Winters and Theta, and the win counts of auto against each. Nothing is tuned per series.

Run: ``seqflow bench forecast --generalise`` (tens of minutes on 2 cores) or
``python -m benchmarks.generalise --sets milk alcohol``.
"""

from __future__ import annotations

import argparse
import json
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from rich.console import Console
from rich.table import Table

from benchmarks.forecast import run_forecast_command

PROJECT = Path(__file__).resolve().parents[1]
SHARED = PROJECT.parent / "shared" / "data"
OUT = PROJECT / "artifacts" / "bench" / "generalise"
RIVALS: tuple[str, ...] = ("seasonal_naive", "holt_winters", "holt_winters_damped", "theta")
SAMPLE_SEED = 2026


@dataclass(frozen=True)
class BenchSet:
    """One set of series run as one flow."""

    name: str
    kind: str  # csv | m4
    train: Path
    test: Path | None
    horizon: int
    sample: int | None = None  # M4 rows drawn at random (seeded); None = every row


SETS: tuple[BenchSet, ...] = (
    BenchSet("alcohol", "csv", SHARED / "series" / "alcohol-sales.csv", None, 12),
    BenchSet("champagne", "csv", SHARED / "series" / "champagne-sales.csv", None, 12),
    BenchSet("milk", "csv", SHARED / "series" / "monthly-milk.csv", None, 12),
    BenchSet("m4-monthly", "m4", SHARED / "m4" / "Monthly-first10-train.csv", SHARED / "m4" / "Monthly-first10-test.csv", 18),
    BenchSet("m4-weekly", "m4", SHARED / "m4" / "Weekly-train.csv", SHARED / "m4" / "Weekly-test.csv", 13, 50),
    BenchSet("m4-hourly", "m4", SHARED / "m4" / "Hourly-train.csv", SHARED / "m4" / "Hourly-test.csv", 48, 50),
)


def sample_m4(train: Path, test: Path, n: int, seed: int, out_dir: Path) -> tuple[Path, Path]:
    """Write ``n`` rows of an M4 train file, drawn with ``seed``, and their test rows, as a smaller M4 pair.

    Returns:
        The new train and test files (header kept; rows verbatim, in the original order).
    """
    train_lines = train.read_text().splitlines()
    test_lines = {line.split(",", 1)[0]: line for line in test.read_text().splitlines()[1:]}
    rows = train_lines[1:]
    picked = sorted(random.Random(seed).sample(range(len(rows)), n))
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = train.stem.removesuffix("-train") + str(n) + ("" if seed == SAMPLE_SEED else f"-seed{seed}")
    train_out, test_out = out_dir / f"{stem}-train.csv", out_dir / f"{stem}-test.csv"
    train_out.write_text("\n".join([train_lines[0]] + [rows[i] for i in picked]) + "\n")
    test_header = test.read_text().splitlines()[0]
    test_out.write_text("\n".join([test_header] + [test_lines[rows[i].split(",", 1)[0]] for i in picked]) + "\n")
    return train_out, test_out


def run_set(bench: BenchSet, sets: list[str] = (), seed: int = SAMPLE_SEED) -> tuple[dict, float]:
    """Run the flow on one set with ``model.recipe = auto`` (the default); return its summary and wall time."""
    train, test = bench.train, bench.test
    if bench.sample is not None:
        train, test = sample_m4(bench.train, bench.test, bench.sample, seed, OUT)
    args = ["--source", bench.kind, "--path", str(train), "--horizon", str(bench.horizon),
            "--set", "tracking.experiment=seqflow-generalise", "--set", "tracking.log_models=false"]
    if test is not None:
        args += ["--test", str(test)]
    return run_forecast_command(args, list(sets))


def series_table(scores: pd.DataFrame, set_name: str) -> pd.DataFrame:
    """One row per series at the latest origin: the MASE of auto, its rivals and the best network by test."""
    latest = scores[scores["fold"] == 0]
    wide = latest.pivot_table(index="series_id", columns="model", values="mase", aggfunc="first")
    networks = [c for c in wide.columns if c not in RIVALS and c not in ("auto", "naive", "naive2")]
    out = pd.DataFrame({"set": set_name, "series_id": wide.index})
    for name in ("auto", *RIVALS):
        out[name] = wide[name].to_numpy() if name in wide.columns else np.nan
    out["best_network_by_test"] = wide[networks].min(axis=1).to_numpy() if networks else np.nan
    return out.reset_index(drop=True)


def win_counts(table: pd.DataFrame) -> dict[str, dict[str, float]]:
    """Against each rival: series where auto's MASE is lower, equal, higher; the share won; mean MASEs."""
    out = {}
    both = table.dropna(subset=["auto"])
    for rival in RIVALS:
        pair = both.dropna(subset=[rival])
        won, tied = int((pair["auto"] < pair[rival]).sum()), int((pair["auto"] == pair[rival]).sum())
        out[rival] = {"won": won, "tied": tied, "lost": len(pair) - won - tied, "n": len(pair),
                      "share_won": won / len(pair) if len(pair) else float("nan"),
                      "mean_mase_auto": float(pair["auto"].mean()), "mean_mase_rival": float(pair[rival].mean())}
    return out


def _fmt(value: float) -> str:
    return "" if value is None or (isinstance(value, float) and np.isnan(value)) else f"{value:.3f}"


def markdown(table: pd.DataFrame, wins: dict, walls: dict[str, float], summaries: dict[str, dict]) -> str:
    """The figures as Markdown: the win counts, the mean MASEs, the wall times and one row per series."""
    lines = ["| against | auto wins | ties | losses | share won | mean MASE auto | mean MASE rival |",
             "|---|---|---|---|---|---|---|"]
    for rival, w in wins.items():
        lines.append(f"| {rival} | {w['won']} | {w['tied']} | {w['lost']} | {w['share_won']:.0%} | "
                     f"{w['mean_mase_auto']:.3f} | {w['mean_mase_rival']:.3f} |")
    lines += ["", "| set | series | wall (s) | rule chosen at fold 0 | served |", "|---|---|---|---|---|"]
    for name, wall in walls.items():
        s = summaries[name]
        lines.append(f"| {name} | {s['n_series']} | {wall:.0f} | {s.get('rule', '')} | {s.get('served_network')} |")
    cols = ["set", "series_id", "auto", *RIVALS, "best_network_by_test"]
    lines += ["", "| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for row in table[cols].itertuples(index=False):
        lines.append("| " + " | ".join(str(v) if isinstance(v, str) else _fmt(float(v)) for v in row) + " |")
    return "\n".join(lines) + "\n"


def rechoose(summary: dict) -> tuple[pd.DataFrame, str]:
    """Auto's latest-origin scores per series, chosen again by this checkout's ``tasks.forecasting.choice``.

    The candidates' backtest forecasts (every origin, inner ones too) do not depend on the choice, so
    replaying it on a kept run's candidates gives what the flow's ``choose-on-inner-folds`` step
    would give with this code. Returns the per-series scores and the rule chosen at fold 0.
    """
    from tasks.forecasting import choice, panel

    frame = pd.read_parquet(summary["series_path"])
    arrays = {str(sid): (part["timestamp"].to_numpy(), part["value"].to_numpy(dtype=np.float64))
              for sid, part in frame.sort_values(["series_id", "timestamp"]).groupby("series_id")}
    nets = [m for m in summary["models"] if m["cell"] != "auto" and m["failure"] is None]
    base = _baseline_forecasts(summary, set(arrays))
    forecasts = pd.concat([base] + [pd.read_parquet(m["forecasts_path"]) for m in nets], ignore_index=True)
    names = tuple(m["cell"] for m in nets)
    candidates = names + tuple(n for n in choice.STATISTICAL if n in set(base["model"]))
    inner = summary.get("inner_folds") or kept_inner_folds(summary, forecasts)
    chosen = choice.choose(forecasts, arrays, candidates, names, summary["folds"], inner, summary["horizon"],
                           summary["season_length"])
    scores = panel.score_forecasts(chosen.forecasts, arrays, summary["season_length"])
    return scores, chosen.rules[0]


def kept_inner_folds(summary: dict, forecasts: pd.DataFrame) -> int:
    """The inner folds of a kept run whose summary predates ``inner_folds``: its origins less the held-out
    ones (the bench's runs step one horizon between origins)."""
    return int(forecasts["fold"].nunique()) - int(summary["folds"])


def _baseline_forecasts(summary: dict, ids: set[str]) -> pd.DataFrame:
    path = summary.get("baseline_forecasts_path")
    if path:
        return pd.read_parquet(path)
    # A run kept before the summary named the file: the store's baseline forecasts of these series
    # at every origin (the inner ones too), with auto's statistical candidates.
    folder = Path(summary["series_path"]).parents[1] / "baseline-forecasts"
    for file in sorted(folder.glob("*.parquet")):
        frame = pd.read_parquet(file)
        if (set(frame["series_id"].astype(str)) == ids and frame["fold"].max() >= summary["folds"] + 1
                and "theta" in set(frame["model"])):
            return frame
    raise FileNotFoundError(f"no baseline forecasts of these series in {folder}")


def _rule(summary: dict) -> str:
    auto = next((m for m in summary["models"] if m["cell"] == "auto"), None)
    return "" if auto is None else ", ".join(k.removeprefix("inner.").removesuffix(".mase") + f" {v:.3f}"
                                             for k, v in auto["metrics"].items() if k.startswith("inner."))


def run_generalise_bench(console: Console, names: tuple[str, ...] = (), sets: list[str] = (),
                         out: Path | None = None, reuse: bool = False, seed: int = SAMPLE_SEED) -> dict:
    """Run every set (or those named), print the tables, and return the figures.

    Each set's summary is kept in ``artifacts/bench/generalise/<set>.json``; with ``reuse`` a set
    whose summary is there (and whose scores file still exists) is not run again. ``seed`` draws
    another sample of the M4 Weekly and Hourly sets (a second opinion on what was tuned on the
    default sample); a sampled set's summary is then kept as ``<set>-seed<seed>.json``.
    """
    chosen = [b for b in SETS if not names or b.name in names]
    tables, walls, summaries = [], {}, {}
    for bench in chosen:
        own = bench.sample is not None and seed != SAMPLE_SEED
        kept = OUT / (f"{bench.name}-seed{seed}.json" if own else f"{bench.name}.json")
        if reuse and kept.is_file() and Path(json.loads(kept.read_text())["summary"]["scores_path"]).is_file():
            saved = json.loads(kept.read_text())
            summary, wall = saved["summary"], saved["wall"]
            console.print(f"[dim]{bench.name}: reusing {kept}[/]")
        else:
            console.print(f"[dim]{bench.name}: running the flow (model.recipe = auto, horizon {bench.horizon})…[/]")
            summary, wall = run_set(bench, sets, seed)
            OUT.mkdir(parents=True, exist_ok=True)
            kept.write_text(json.dumps({"summary": summary, "wall": wall}))
        summary["rule"] = _rule(summary)
        walls[bench.name], summaries[bench.name] = wall, summary
        scores = pd.read_parquet(summary["scores_path"])
        if reuse:
            # Kept runs may predate this checkout's choice: auto's row is chosen again on their candidates.
            again, rule = rechoose(summary)
            scores = pd.concat([scores[scores["model"] != "auto"], again], ignore_index=True)
            summary["rule"] = f"{rule} (chosen again)"
        tables.append(series_table(scores, bench.name))
        console.print(f"[dim]{bench.name}: {summary['n_series']} series in {wall:.0f} s[/]")
    table = pd.concat(tables, ignore_index=True)
    wins = win_counts(table)
    shown = Table(title="auto against each rival, MASE on the last horizon of every series")
    for col in ("against", "won", "tied", "lost", "share won", "mean MASE auto", "mean MASE rival"):
        shown.add_column(col, justify="right")
    for rival, w in wins.items():
        shown.add_row(rival, str(w["won"]), str(w["tied"]), str(w["lost"]), f"{w['share_won']:.0%}",
                      f"{w['mean_mase_auto']:.3f}", f"{w['mean_mase_rival']:.3f}")
    console.print(shown)
    text = markdown(table, wins, walls, summaries)
    if out is not None:
        out.write_text(text)
        console.print(f"[dim]written: {out}[/]")
    return {"wins": wins, "walls": walls, "series": table.to_dict(orient="records")}


def main(argv: list[str] | None = None) -> None:
    """Parse the command line and run the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", nargs="+", default=[], choices=[b.name for b in SETS])
    parser.add_argument("--set", dest="overrides", action="append", default=[], help="a config override for every set")
    parser.add_argument("--out", type=Path, help="write the Markdown tables here")
    parser.add_argument("--reuse", action="store_true", help="reuse each set's kept summary instead of running it")
    parser.add_argument("--seed", type=int, default=SAMPLE_SEED,
                        help=f"the seed of the M4 Weekly and Hourly samples (default {SAMPLE_SEED}, the sample tuned on)")
    args = parser.parse_args(argv)
    run_generalise_bench(Console(width=160), tuple(args.sets), args.overrides, args.out, args.reuse, args.seed)


if __name__ == "__main__":
    main()
