"""Parquet reader (``.parquet``): one row per document.

The file is checked when the reader is created (a missing or non-string text column, or an id
column of another type than string or number, raises :class:`InputError`); an unreadable file or
row group is one error. Batches are read ``batch_docs`` rows at a time and split so that their
text stays under ``batch_bytes``; each part is a compact copy, so that a batch sent to a worker
does not carry the whole Arrow batch it was cut from. ``bytes_read`` is a pro-rata estimate by rows.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from corpusclean.io.batching import Batcher, make_table
from corpusclean.io.records import ErrorRecord, InputBatch, InputError

_STRING_TYPES = (pa.string(), pa.large_string(), pa.string_view())


_OpenedParquet = tuple[pq.ParquetFile, list[str]] | ErrorRecord


def _open_parquet(path: Path, source: str, text_field: str, id_field: str) -> _OpenedParquet:
    """Open and check a Parquet file: (ParquetFile, columns to read) or an ErrorRecord."""
    try:
        pf = pq.ParquetFile(path)
    except (OSError, pa.ArrowException) as exc:
        return ErrorRecord(source, None, None, f"unreadable parquet file: {exc}", "")
    schema = pf.schema_arrow
    if text_field not in schema.names:
        raise InputError(
            f"{source}: missing text column {text_field!r} (columns: {', '.join(schema.names)})"
        )
    ttype = schema.field(text_field).type
    if ttype not in _STRING_TYPES:
        raise InputError(f"{source}: text column {text_field!r} has type {ttype}, not string")
    columns = [text_field]
    if id_field in schema.names and id_field != text_field:
        itype = schema.field(id_field).type
        if not (
            itype in _STRING_TYPES or pa.types.is_integer(itype) or pa.types.is_floating(itype)
        ):
            raise InputError(f"{source}: id column {id_field!r} has type {itype}")
        columns.append(id_field)
    if "url" in schema.names and schema.field("url").type in _STRING_TYPES:
        if "url" not in columns:
            columns.append("url")
    return pf, columns


def _parquet_batches(
    path: Path,
    source: str,
    opened: _OpenedParquet,
    text_field: str,
    id_field: str,
    batch_docs: int,
    batch_bytes: int,
) -> Iterator[InputBatch]:
    batcher = Batcher(source)
    size = path.stat().st_size
    if isinstance(opened, ErrorRecord):
        yield batcher.make(None, [opened], size)
        return
    pf, columns = opened
    total_rows = max(pf.metadata.num_rows, 1)
    row = 0  # rows consumed so far
    try:
        for rb in pf.iter_batches(batch_size=batch_docs, columns=columns, use_threads=True):
            text_col = rb.column(text_field)
            if text_col.type not in (pa.string(), pa.large_string()):
                text_col = text_col.cast(pa.large_string())
            lengths = pc.binary_length(text_col).fill_null(0).to_numpy()
            ends = np.cumsum(lengths, dtype=np.int64)
            start = 0
            while start < rb.num_rows:
                done = int(ends[start - 1]) if start else 0
                stop = int(np.searchsorted(ends, done + batch_bytes, side="right"))
                stop = min(max(stop, start + 1), rb.num_rows)
                part = rb if stop - start == rb.num_rows else _copy_batch(rb, start, stop)
                row0 = row + start + 1
                table, errors = _parquet_part(part, row0, path, source, text_field, id_field)
                raw_pos = size if row + stop >= total_rows else size * (row + stop) // total_rows
                yield batcher.make(table, errors, raw_pos)
                start = stop
            row += rb.num_rows
    except (OSError, pa.ArrowException) as exc:
        err = ErrorRecord(source, row + 1, None, f"unreadable parquet data: {exc}", "")
        yield batcher.make(None, [err], size)
        return
    if size > batcher.reported:
        yield batcher.make(None, [], size)


def _copy_batch(rb: pa.RecordBatch, start: int, stop: int) -> pa.RecordBatch:
    """A compact copy of rows [start, stop): a slice would pin (and pickle) the whole batch."""
    columns = [pa.concat_arrays([col.slice(start, stop - start)]) for col in rb.columns]
    return pa.RecordBatch.from_arrays(columns, schema=rb.schema)


def _parquet_part(
    part: pa.RecordBatch, row0: int, path: Path, source: str, text_field: str, id_field: str
) -> tuple[pa.Table, list[ErrorRecord]]:
    n = part.num_rows
    texts = part.column(text_field).cast(pa.string())
    rows = pa.array(np.arange(row0, row0 + n, dtype=np.int64))
    names = part.schema.names
    if id_field in names and id_field != text_field:
        ids = part.column(id_field).cast(pa.string())
    else:
        ids = pa.nulls(n, pa.string())
    if ids.null_count:
        id_list = ids.to_pylist()
        ids = pa.array(
            [v if v is not None else f"{path.name}:{row0 + i}" for i, v in enumerate(id_list)],
            pa.string(),
        )
    urls = part.column("url").cast(pa.string()) if "url" in names else None
    errors: list[ErrorRecord] = []
    if texts.null_count:
        null_rows = np.flatnonzero(texts.is_null().to_numpy(zero_copy_only=False))
        for i in null_rows.tolist():
            errors.append(
                ErrorRecord(source, row0 + i, None, f"text field {text_field!r} is null", "")
            )
        keep = texts.is_valid()
        texts, ids, rows = texts.filter(keep), ids.filter(keep), rows.filter(keep)
        urls = urls.filter(keep) if urls is not None else None
    return make_table(ids, texts, rows, urls), errors


def read_parquet(
    path: Path,
    source: str,
    *,
    text_field: str,
    id_field: str,
    batch_docs: int,
    batch_bytes: int,
) -> Iterator[InputBatch]:
    """The batches of a Parquet file; a file without a usable text column raises at once."""
    opened = _open_parquet(path, source, text_field, id_field)
    return _parquet_batches(path, source, opened, text_field, id_field, batch_docs, batch_bytes)
