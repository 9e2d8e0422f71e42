"""The only module that reads or writes Parquet. Every write is atomic: temp name, then rename."""

from __future__ import annotations

import hashlib
import os
import uuid
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from tasks.forecasting.windowing import WindowTable


def _atomic_write(table: pa.Table, path: Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        pq.write_table(table, tmp)
        os.replace(tmp, path)  # atomic on POSIX: readers see the old file or the new, never half
    finally:
        tmp.unlink(missing_ok=True)
    return path


def write_frame(frame: pd.DataFrame, path: Path) -> Path:
    """Write a DataFrame to Parquet atomically and return the path."""
    return _atomic_write(pa.Table.from_pandas(frame, preserve_index=False), path)


def read_frame(path: Path) -> pd.DataFrame:
    """Read a Parquet file written by :func:`write_frame`."""
    return pq.read_table(path).to_pandas()


def content_hash(path: Path) -> str:
    """SHA-256 of a file's bytes: the data's identity in cache keys and MLflow tags."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_windows(table: WindowTable, path: Path) -> Path:
    """Store windows as one row each, ``x`` and ``y`` as fixed-size float32 lists; shapes in metadata."""
    x_flat = pa.FixedSizeListArray.from_arrays(
        pa.array(table.x.reshape(-1).astype(np.float32)), int(np.prod(table.x.shape[1:]))
    )
    y_flat = pa.FixedSizeListArray.from_arrays(
        pa.array(table.y.reshape(-1).astype(np.float32)), int(np.prod(table.y.shape[1:]))
    )
    meta = dict(table.metadata)
    meta["x_shape"] = ",".join(str(d) for d in table.x.shape[1:])
    meta["y_shape"] = ",".join(str(d) for d in table.y.shape[1:])
    arrow = pa.table(
        {
            "split": pa.array(table.split.astype(str)),
            "start": pa.array(table.start.astype(np.int64)),
            "x": x_flat,
            "y": y_flat,
        }
    ).replace_schema_metadata({f"seqflow.{k}": v for k, v in meta.items()})
    return _atomic_write(arrow, path)


def read_windows(path: Path) -> WindowTable:
    """Read windows written by :func:`write_windows`, restoring their 3-D shapes."""
    arrow = pq.read_table(path)
    raw = arrow.schema.metadata or {}
    meta = {k.decode().removeprefix("seqflow."): v.decode() for k, v in raw.items() if k.startswith(b"seqflow.")}
    x_shape = tuple(int(d) for d in meta["x_shape"].split(","))
    y_shape = tuple(int(d) for d in meta["y_shape"].split(","))
    n = arrow.num_rows
    x = arrow.column("x").combine_chunks().flatten().to_numpy(zero_copy_only=False).reshape((n, *x_shape))
    y = arrow.column("y").combine_chunks().flatten().to_numpy(zero_copy_only=False).reshape((n, *y_shape))
    return WindowTable(
        split=np.asarray(arrow.column("split").to_pylist(), dtype=object),
        start=arrow.column("start").to_numpy(),
        x=x.astype(np.float32, copy=False),
        y=y.astype(np.float32, copy=False),
        metadata=meta,
    )
