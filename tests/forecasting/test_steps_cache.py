"""The cache key of the Parquet-writing steps: reuse, unless the cached output file has gone."""

import os
from pathlib import Path

from tasks.forecasting.steps import _reuse_or_rebuild


def test_a_cached_record_whose_file_was_deleted_forces_a_rebuild(tmp_path, monkeypatch):
    store = tmp_path / "results"
    store.mkdir()
    monkeypatch.setenv("PREFECT_LOCAL_STORAGE_PATH", str(store))
    output = tmp_path / "windows.parquet"

    assert _reuse_or_rebuild("k1", output) == "k1"  # first run: no record yet, compute under k1
    (store / "k1").write_text("cached result")
    output.write_bytes(b"parquet")
    assert _reuse_or_rebuild("k1", output) == "k1"  # record and file: reuse
    os.remove(output)
    rebuilt = _reuse_or_rebuild("k1", output)
    assert rebuilt.startswith("k1-rebuild-")  # record but no file: recompute under a new key
    assert rebuilt != _reuse_or_rebuild("k1", Path(output))
