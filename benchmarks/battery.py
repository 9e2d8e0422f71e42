"""The bad-input battery as commands: each input of ``tests/flows/test_bad_input_battery.py`` run as
``python -m flows.cli ...`` in a fresh process, timed, and tabled in Markdown.

Each input gets its own folder and its own ``SEQFLOW_ARTIFACTS`` (unless the input sets it), so what
a refusal leaves behind is seen: any file or folder written under the artifacts folder or beside the
input's files, and any MLflow or Prefect run (there is none without a store). The table gives the
input, the exit code, the first line of stderr, the wall and CPU seconds (the machine is shared:
CPU seconds show the command's own cost) and what was written.

Usage::

    python -m benchmarks.battery docs/results/2026-12-03-bad-input-battery.md
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.flows.test_bad_input_battery import BATTERY, INPUTS, environment, materialise

CLEARED = ("PREFECT_HOME", "PREFECT_LOCAL_STORAGE_PATH", "MLFLOW_TRACKING_URI", "PREFECT_API_URL")


def _tree(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*")} if root.exists() else set()


def run_one(argv: list[str], files: dict, env: dict[str, str]) -> dict:
    """Run one input in a fresh process; its exit code, first stderr line, seconds and what it wrote."""
    with tempfile.TemporaryDirectory(prefix="battery-") as scratch:
        folder = Path(scratch)
        materialise(folder, files)
        (folder / "bad.toml").write_text("seed = 3\n[window\n")
        base = {k: v for k, v in os.environ.items() if k not in CLEARED}
        artifacts = folder / "artifacts"
        settings = {"SEQFLOW_ARTIFACTS": str(artifacts), "SEQFLOW_SERVER_IDLE_SECONDS": "0",
                    **environment(folder, env)}
        args = [a.replace("{tmp}", str(folder)) for a in argv]
        before = _tree(folder)
        start_cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
        began = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "flows.cli", *args], env={**base, **settings},
                              capture_output=True, text=True, timeout=600)
        wall = time.perf_counter() - began
        end_cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
        written = sorted(_tree(folder) - before)
        lines = [line for line in proc.stderr.splitlines() if line.strip()]
        return {
            "code": proc.returncode,
            "first": (lines[0] if lines else "").replace(str(folder), "{tmp}"),
            "lines": len(lines),
            "wall": wall,
            "cpu": (end_cpu.ru_utime - start_cpu.ru_utime) + (end_cpu.ru_stime - start_cpu.ru_stime),
            "written": written,
        }


def cases() -> list[tuple[str, str, list[str], dict, dict, int]]:
    """Every input: (kind, name, argv, files, environment, expected exit code)."""
    out = [("config", " ".join(args), ["run", command, *args], {}, {}, 2) for command, args, _ in BATTERY]
    out += [(kind, name, list(argv), files, env, code) for kind, name, argv, files, env, code, _ in INPUTS]
    return out


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def table(rows: list[tuple[tuple, dict]]) -> str:
    """The Markdown table of the runs."""
    head = ("| # | kind | input | exit | lines | first line of stderr | wall s | CPU s | written or left open |\n"
            "|---|---|---|---|---|---|---|---|---|\n")
    body = []
    for k, ((kind, name, *_), got) in enumerate(rows, 1):
        written = ", ".join(got["written"]) or "nothing"
        body.append(f"| {k} | {kind} | `{_cell(name)}` | {got['code']} | {got['lines']} | {_cell(got['first'])} | "
                    f"{got['wall']:.2f} | {got['cpu']:.2f} | {_cell(written)} |")
    return head + "\n".join(body) + "\n"


def main(out: str | None = None) -> None:
    """Run the battery and print (or write) the table with its summary."""
    rows = []
    for case in cases():
        got = run_one(case[2], case[3], case[4])
        rows.append((case, got))
        print(f"{got['code']} {got['wall']:5.2f}s {got['cpu']:5.2f} cpu  {case[0]}: {case[1]}", file=sys.stderr)
    wrong = [(c, g) for c, g in rows if g["code"] != c[5] or g["lines"] != 1 or g["written"]]
    walls = sorted(g["wall"] for _, g in rows)
    cpus = sorted(g["cpu"] for _, g in rows)
    load = os.getloadavg()
    summary = (f"{len(rows)} inputs; {len(rows) - len(wrong)} refused as expected (exit code, one line, nothing "
               f"written); wall seconds median {walls[len(walls) // 2]:.2f}, max {walls[-1]:.2f}; CPU seconds median "
               f"{cpus[len(cpus) // 2]:.2f}, max {cpus[-1]:.2f}; {sum(w < 3 for w in walls)} of {len(rows)} under 3 s "
               f"wall, {sum(c < 3 for c in cpus)} under 3 s CPU; load average at the end {load[0]:.1f} on "
               f"{os.cpu_count()} cores.\n")
    text = summary + "\n" + table(rows)
    if out:
        Path(out).write_text(Path(out).read_text() + text if Path(out).exists() else text)
    print(text)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else None)
