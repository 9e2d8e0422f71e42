"""The only module that reads or writes Parquet; it knows frames and arrays, no domain types.

Every write is atomic: rows go to a temporary name beside the target, which is renamed over it only
once complete, so a reader (or a re-run after a crash) sees the old file or the new one, never half.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

_META_PREFIX = "seqflow."
_SHAPE_PREFIX = "seqflow.shape."


@contextlib.contextmanager
def _atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it over ``path`` if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        yield tmp
        os.replace(tmp, path)  # atomic on POSIX: readers see the old file or the new, never half
    finally:
        tmp.unlink(missing_ok=True)


def _with_metadata(table: pa.Table, metadata: Mapping[str, str] | None) -> pa.Table:
    if not metadata:
        return table
    merged = dict(table.schema.metadata or {})
    merged.update({f"{_META_PREFIX}{k}".encode(): str(v).encode() for k, v in metadata.items()})
    return table.replace_schema_metadata(merged)


def _write_table(table: pa.Table, path: Path) -> Path:
    with _atomic_path(path) as tmp:
        pq.write_table(table, tmp)
    return Path(path)


def write_frame(frame: pd.DataFrame, path: Path, metadata: Mapping[str, str] | None = None) -> Path:
    """Write a DataFrame (index dropped) to Parquet atomically, with optional string metadata."""
    return _write_table(_with_metadata(pa.Table.from_pandas(frame, preserve_index=False), metadata), path)


def read_frame(path: Path, columns: list[str] | None = None, filters: list[tuple] | None = None) -> pd.DataFrame:
    """Read a Parquet file written by :func:`write_frame` (or any Parquet file) as a DataFrame, only the
    rows that pass ``filters`` (pyarrow's form, e.g. ``[("series_id", "==", "a")]``) when given."""
    return pq.read_table(path, columns=columns, filters=filters).to_pandas()


def read_series_arrays(path: Path, batch_rows: int = 1 << 20) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Read a long ``series_id, timestamp, value`` file as per-series arrays, without a frame.

    The same arrays as ``tasks.forecasting.backtest.series_arrays`` of the file's frame (ids in
    sorted order, each series in time order), but read ``batch_rows`` at a time into three arrays
    (the ids as integer codes: never one Python string a row, which is most of a 10-million-row
    frame's memory), every series a slice of them. The rows are sorted (stably, by id then time)
    only when they are not in that order already, as a stored series file is.
    """
    columns = ["series_id", "timestamp", "value"]
    with pq.ParquetFile(path, read_dictionary=["series_id"]) as handle:
        n = handle.metadata.num_rows
        codes, values = np.empty(n, dtype=np.int32), np.empty(n, dtype=np.float64)
        stamps = handle.schema_arrow.empty_table().column("timestamp").to_pandas().to_numpy()
        names: dict[str, int] = {}
        at = 0
        for batch in handle.iter_batches(batch_size=batch_rows, columns=columns):
            ids = batch.column("series_id")
            ids = ids if pa.types.is_dictionary(ids.type) else pc.dictionary_encode(ids)
            local = np.array([names.setdefault(str(v), len(names)) for v in ids.dictionary.to_pylist()], dtype=np.int32)
            end = at + batch.num_rows
            codes[at:end] = local[ids.indices.to_numpy(zero_copy_only=False)]
            part = batch.column("timestamp").to_pandas().to_numpy()
            if at == 0:
                stamps = np.empty(n, dtype=part.dtype)
            stamps[at:end] = part
            values[at:end] = batch.column("value").to_pandas().to_numpy(dtype=np.float64)
            at = end
    ordered = sorted(names)
    rank = np.empty(len(names), dtype=np.int32)
    rank[[names[name] for name in ordered]] = np.arange(len(names), dtype=np.int32)
    keys = rank[codes]
    del codes
    step = np.diff(keys)
    in_order = bool((step >= 0).all() and (stamps[1:] >= stamps[:-1])[step == 0].all())
    del step
    if not in_order:
        order = np.lexsort((stamps, keys))  # stable, as the frame's sort
        keys, stamps, values = keys[order], stamps[order], values[order]
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]]) if keys.size else np.empty(0, np.int64)
    ends = np.r_[starts[1:], keys.size]
    return {ordered[keys[a]]: (stamps[a:b], values[a:b]) for a, b in zip(starts, ends)}


def read_head(path: Path, rows: int) -> pd.DataFrame:
    """The first ``rows`` rows of a Parquet file, reading no more than its first batch."""
    with pq.ParquetFile(path) as handle:
        batch = next(handle.iter_batches(batch_size=rows), None)
        return (batch.to_pandas() if batch is not None else handle.schema_arrow.empty_table().to_pandas()).head(rows)


def _raw_metadata(path: Path) -> dict[bytes, bytes]:
    """The schema's metadata and the file's key-value metadata (:func:`arrays_writer` adds its own at the end)."""
    with pq.ParquetFile(path) as handle:
        return {**(handle.schema_arrow.metadata or {}), **(handle.metadata.metadata or {})}


def read_metadata(path: Path) -> dict[str, str]:
    """The string metadata stored with :func:`write_frame` or :func:`write_arrays`."""
    raw = _raw_metadata(path)
    return {
        k.decode().removeprefix(_META_PREFIX): v.decode()
        for k, v in raw.items()
        if k.startswith(_META_PREFIX.encode()) and not k.startswith(_SHAPE_PREFIX.encode())
    }


def iter_frames(path: Path, columns: list[str] | None = None, batch_rows: int = 65_536) -> Iterator[pd.DataFrame]:
    """Stream a Parquet file as DataFrames of at most ``batch_rows`` rows: memory stays flat."""
    with pq.ParquetFile(path) as handle:
        for batch in handle.iter_batches(batch_size=batch_rows, columns=columns):
            yield batch.to_pandas()


@contextlib.contextmanager
def frame_writer(path: Path, metadata: Mapping[str, str] | None = None) -> Iterator[Callable[[pd.DataFrame], None]]:
    """Stream DataFrames into one Parquet file, one row group per call; atomic on exit.

    For data larger than memory: the caller writes chunk after chunk, and nothing is visible at
    ``path`` until the block ends without an error. Every chunk must have the first chunk's columns
    and types. Metadata, if given, is stored in the schema.
    """
    with _atomic_path(path) as tmp:
        writer: pq.ParquetWriter | None = None
        try:

            def write(frame: pd.DataFrame) -> None:
                nonlocal writer
                table = _with_metadata(pa.Table.from_pandas(frame, preserve_index=False), metadata)
                if writer is None:
                    writer = pq.ParquetWriter(tmp, table.schema)
                writer.write_table(table.cast(writer.schema))

            yield write
            if writer is None:  # nothing written: still leave a valid, empty file
                raise ValueError(f"frame_writer({path}): no rows were written")
        finally:
            if writer is not None:
                writer.close()


@dataclass(frozen=True)
class StoredArrays:
    """Arrays read back by :func:`read_arrays`, each with its first axis as rows."""

    arrays: dict[str, np.ndarray]
    metadata: dict[str, str]


def _arrays_table(arrays: Mapping[str, np.ndarray]) -> tuple[pa.Table, dict[str, str]]:
    """Equal-length arrays as an Arrow table, and the n-d shapes to keep in the file's metadata."""
    lengths = {name: len(a) for name, a in arrays.items()}
    if len(set(lengths.values())) > 1:
        raise ValueError(f"write_arrays: arrays differ in length {lengths}")
    columns: dict[str, pa.Array] = {}
    shapes: dict[str, str] = {}
    for name, array in arrays.items():
        array = np.asarray(array)
        if array.ndim == 1:
            columns[name] = pa.array(array.astype(str) if array.dtype == object else array)
        else:
            width = int(np.prod(array.shape[1:]))
            columns[name] = pa.FixedSizeListArray.from_arrays(pa.array(np.ascontiguousarray(array).reshape(-1)), width)
            shapes[f"{_SHAPE_PREFIX}{name}"] = ",".join(str(d) for d in array.shape[1:])
    return pa.table(columns), shapes


def write_arrays(arrays: Mapping[str, np.ndarray], path: Path, metadata: Mapping[str, str] | None = None) -> Path:
    """Store equal-length arrays as Parquet columns, one row per index of their first axis.

    An n-d numeric array ``(rows, *shape)`` becomes a fixed-size list column of ``prod(shape)``
    values with ``shape`` kept in the file's metadata, so :func:`read_arrays` restores it exactly.
    1-d arrays (numbers or strings) are plain columns.
    """
    table, shapes = _arrays_table(arrays)
    table = _with_metadata(table, metadata)
    table = table.replace_schema_metadata({**(table.schema.metadata or {}), **{k.encode(): v.encode() for k, v in shapes.items()}})
    return _write_table(table, path)


class ArraysWriter:
    """Arrays written part after part into one file (:func:`arrays_writer`); what :func:`read_arrays` reads."""

    def __init__(self, tmp: Path) -> None:
        self._tmp = tmp
        self._writer: pq.ParquetWriter | None = None
        self._shapes: dict[str, str] = {}
        self.metadata: dict[str, str] = {}  # string metadata, stored when the file closes

    def write(self, arrays: Mapping[str, np.ndarray]) -> None:
        """Append rows: the same names, types and trailing shapes as the first part, as one row group."""
        table, shapes = _arrays_table(arrays)
        if self._writer is None:
            self._writer, self._shapes = pq.ParquetWriter(self._tmp, table.schema), shapes
        elif shapes != self._shapes:
            raise ValueError(f"arrays_writer: shapes {shapes} differ from the first part's {self._shapes}")
        self._writer.write_table(table.cast(self._writer.schema))

    def _close(self) -> None:
        if self._writer is None:
            raise ValueError("arrays_writer: no rows were written")
        meta = {f"{_META_PREFIX}{k}": str(v) for k, v in self.metadata.items()}
        self._writer.add_key_value_metadata({**meta, **self._shapes})
        self._writer.close()
        self._writer = None


@contextlib.contextmanager
def arrays_writer(path: Path) -> Iterator[ArraysWriter]:
    """Stream arrays into one Parquet file part by part (one row group each), atomic on exit.

    For arrays larger than memory: memory holds one part at a time. Set ``writer.metadata`` before
    the block ends; nothing is visible at ``path`` unless the block ends without an error.
    """
    with _atomic_path(path) as tmp:
        writer = ArraysWriter(tmp)
        try:
            yield writer
            writer._close()
        finally:
            if writer._writer is not None:
                writer._writer.close()


def _shapes(raw: Mapping[bytes, bytes]) -> dict[str, tuple[int, ...]]:
    return {
        k.decode().removeprefix(_SHAPE_PREFIX): tuple(int(d) for d in v.decode().split(","))
        for k, v in raw.items()
        if k.startswith(_SHAPE_PREFIX.encode())
    }


def _table_arrays(table: pa.Table, shapes: Mapping[str, tuple[int, ...]]) -> dict[str, np.ndarray]:
    n = table.num_rows
    arrays: dict[str, np.ndarray] = {}
    for name in table.column_names:
        column = table.column(name).combine_chunks()
        if name in shapes:
            arrays[name] = column.flatten().to_numpy(zero_copy_only=False).reshape((n, *shapes[name]))
        elif pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            arrays[name] = np.asarray(column.to_pylist(), dtype=object)
        else:
            arrays[name] = column.to_numpy(zero_copy_only=False)
    return arrays


def read_arrays(path: Path, where: tuple[str, str] | None = None) -> StoredArrays:
    """Read arrays written by :func:`write_arrays`, restoring every n-d shape.

    ``where = (column, value)`` keeps only the rows whose string ``column`` equals ``value``, in file
    order, filtered one row group at a time: memory holds the rows kept and one row group.
    """
    raw = _raw_metadata(path)
    if where is None:
        table = pq.read_table(path)
    else:
        column, value = where
        with pq.ParquetFile(path) as handle:
            kept = []
            for i in range(handle.num_row_groups):
                group = handle.read_row_group(i)
                kept.append(group.filter(pc.equal(group.column(column), value)))
        table = pa.concat_tables(kept)
    return StoredArrays(_table_arrays(table, _shapes(raw)), read_metadata(path))


@dataclass(frozen=True)
class ArraysLayout:
    """How a file of :func:`write_arrays` or :func:`arrays_writer` is laid out, from its footer alone."""

    rows: int
    part_rows: tuple[int, ...]  # rows per row group (a part of arrays_writer), in file order
    shapes: dict[str, tuple[int, ...]]  # trailing shape of every n-d column

    def values(self, columns: tuple[str, ...]) -> int:
        """Numbers in ``columns`` (n-d ones) over every row: their float32 bytes are four times this."""
        return self.rows * sum(int(np.prod(self.shapes[c])) for c in columns if c in self.shapes)


def arrays_layout(path: Path) -> ArraysLayout:
    """The rows, row groups and n-d shapes of an arrays file, without reading its data."""
    with pq.ParquetFile(path) as handle:
        meta = handle.metadata
        parts = tuple(meta.row_group(i).num_rows for i in range(meta.num_row_groups))
        return ArraysLayout(meta.num_rows, parts, _shapes(_raw_metadata(path)))


def read_arrays_part(path: Path, part: int, columns: list[str]) -> dict[str, np.ndarray]:
    """``columns`` of one row group of an arrays file, shapes restored: what streams a file larger than memory."""
    with pq.ParquetFile(path) as handle:
        table = handle.read_row_group(part, columns=columns)
    return _table_arrays(table, _shapes(_raw_metadata(path)))


def content_hash(path: Path) -> str:
    """SHA-256 of a file's bytes: the data's identity in cache keys and MLflow tags."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
