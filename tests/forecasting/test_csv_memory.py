"""A long CSV is read in chunks: the reader's peak memory does not grow with the file's rows.

The reading runs in a child process, whose peak resident memory (``VmHWM`` in ``/proc/self/status``) is
taken after its imports and after the read; the difference is what reading the file cost. Not
``ru_maxrss``: Linux carries it over from the parent through fork and exec, so a child of a large
test process (a pytest-xdist worker) starts at its parent's peak and shows no growth at all. Memory bounds are not
timings: they do not move with the machine's load.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
ROWS, SERIES = 300_000, 1_000

CHILD = """
import json, sys
from tasks.forecasting.sources import tabular
tabular.CHUNK_ROWS = 20_000  # a fifteenth of the file (where the reader has such a setting)
tabular.read_series_csv(sys.argv[2], id_column="series_id")  # the same code on a small file: libraries loaded
before = int(next(l for l in open('/proc/self/status') if l.startswith('VmHWM')).split()[1])
table = tabular.read_series_csv(sys.argv[1], id_column="series_id")
after = int(next(l for l in open('/proc/self/status') if l.startswith('VmHWM')).split()[1])
print(json.dumps({"grown_mb": (after - before) / 1024, "rows": len(table.frame), "series": table.n_series,
                  "dtype": str(table.frame["series_id"].dtype), "last": str(table.frame["series_id"].iloc[-1])}))
"""


def _write(path: Path) -> None:
    steps = ROWS // SERIES
    dates = np.datetime_as_string(np.datetime64("2000-01-01") + np.arange(steps), unit="D")
    values = np.round(100 + np.cumsum(np.random.default_rng(0).normal(size=(SERIES, steps)), axis=1), 3)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("series_id,date,value\n")
        for k in range(SERIES):
            handle.write("".join(f"s{k:04d},{d},{x}\n" for d, x in zip(dates, values[k])))


def test_reading_a_long_csv_grows_memory_by_its_columns_not_its_text(tmp_path):
    path = tmp_path / "long.csv"
    _write(path)
    small = tmp_path / "small.csv"
    small.write_text("".join(path.read_text().splitlines(keepends=True)[: ROWS // SERIES * 3 + 1]))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", CHILD, str(path), str(small)], capture_output=True, text=True, env=env,
                         timeout=120, check=True).stdout
    figures = json.loads(out)
    assert (figures["rows"], figures["series"]) == (ROWS, SERIES)
    assert figures["last"] == f"s{SERIES - 1:04d}"
    # 300,000 rows (8 MB of text): the whole-file reader grew by ~210 MB (the text, a list of cells per row,
    # object columns); chunks of 20,000 rows' cells plus typed columns (~45 bytes a row) grew by ~70 MB.
    assert figures["grown_mb"] < 120, figures
