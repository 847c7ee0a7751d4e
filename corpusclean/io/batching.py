"""From parsed records to :class:`~corpusclean.io.records.InputBatch` es.

:func:`make_table` builds a table of exactly :data:`~corpusclean.io.records.BATCH_SCHEMA`;
:class:`Batcher` accounts ``bytes_read`` per batch so that it sums to the file size over a
file's batches; :class:`RecordBatcher` accumulates the rows and errors of a record-oriented
format (WET) into batches of at most ``batch_docs`` records and ``batch_bytes`` of input.
"""

from __future__ import annotations

import pyarrow as pa

from corpusclean.io.records import BATCH_SCHEMA, WEB_SCHEMA, ErrorRecord, InputBatch


def make_table(
    ids: pa.Array | pa.ChunkedArray | list[str],
    texts: pa.Array | pa.ChunkedArray | list[str],
    lines: pa.Array | list[int],
    urls: pa.Array | pa.ChunkedArray | list[str | None] | None,
) -> pa.Table:
    """A table of exactly ``BATCH_SCHEMA`` from Arrow arrays or lists (no urls: all null)."""
    arrow = (pa.Array, pa.ChunkedArray)
    ids_a = ids if isinstance(ids, arrow) else pa.array(ids, pa.string())
    texts_a = texts if isinstance(texts, arrow) else pa.array(texts, pa.string())
    lines_a = lines if isinstance(lines, arrow) else pa.array(lines, pa.int64())
    if urls is None:
        urls_a = pa.nulls(len(ids_a), pa.string())
    else:
        urls_a = urls if isinstance(urls, arrow) else pa.array(urls, pa.string())
    return pa.Table.from_arrays([ids_a, texts_a, lines_a, urls_a], schema=BATCH_SCHEMA)


class Batcher:
    """Turns tables + errors into InputBatches, accounting bytes_read per batch."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.reported = 0

    def make(self, table: pa.Table | None, errors: list[ErrorRecord], raw_pos: int) -> InputBatch:
        consumed = max(raw_pos - self.reported, 0)
        self.reported = max(raw_pos, self.reported)
        return InputBatch(
            table=table if table is not None else BATCH_SCHEMA.empty_table(),
            errors=errors,
            source=self.source,
            bytes_read=consumed,
        )


class RecordBatcher:
    """Accumulates rows and errors of a record-oriented format into bounded batches."""

    def __init__(self, batch_docs: int, batch_bytes: int) -> None:
        self.batch_docs = batch_docs
        self.batch_bytes = batch_bytes
        self.reset()

    def reset(self) -> None:
        self.ids: list[str] = []
        self.texts: list[str] = []
        self.lines: list[int] = []
        self.urls: list[str | None] = []
        self.errors: list[ErrorRecord] = []
        self.size = 0

    def count(self) -> int:
        return len(self.ids) + len(self.errors)

    def would_overflow(self, nbytes: int) -> bool:
        return self.count() > 0 and (
            self.count() >= self.batch_docs or self.size + nbytes > self.batch_bytes
        )

    def add(self, doc_id: str, text: str, line: int, url: str | None, nbytes: int) -> None:
        self.ids.append(doc_id)
        self.texts.append(text)
        self.lines.append(line)
        self.urls.append(url)
        self.size += nbytes

    def take(self) -> tuple[pa.Table, list[ErrorRecord]]:
        table = make_table(self.ids, self.texts, self.lines, self.urls)
        errors = self.errors
        self.reset()
        return table, errors


def make_web_table(
    ids: list[str],
    texts: list[str],
    lines: list[int],
    urls: list[str | None],
    record_ids: list[str | None],
    dates: list[str | None],
    reasons: list[str | None],
    details: list[str | None],
) -> pa.Table:
    """A table of exactly ``WEB_SCHEMA``: ``host`` and ``domain`` are computed from the urls
    over the whole column at once (:func:`corpusclean.domains.hosts_and_domains`)."""
    import polars as pl  # here: the JSONL and Parquet readers never need Polars

    from corpusclean.domains import hosts_and_domains

    hd = hosts_and_domains(pl.Series("url", urls, dtype=pl.String)).to_arrow()
    columns = {
        "id": pa.array(ids, pa.string()),
        "text": pa.array(texts, pa.string()),
        "line": pa.array(lines, pa.int64()),
        "url": pa.array(urls, pa.string()),
        "host": hd.column("host").combine_chunks().cast(pa.string()),
        "domain": hd.column("domain").combine_chunks().cast(pa.string()),
        "warc_record_id": pa.array(record_ids, pa.string()),
        "warc_date": pa.array(dates, pa.string()),
        "_reject_reason": pa.array(reasons, pa.string()),
        "_reject_detail": pa.array(details, pa.string()),
    }
    return pa.Table.from_arrays(list(columns.values()), schema=WEB_SCHEMA)


def to_web_schema(table: pa.Table) -> pa.Table:
    """A ``BATCH_SCHEMA`` table given ``WEB_SCHEMA``'s extra columns (a JSONL, WET, text or
    Parquet batch of a run that also reads WARC or HTML): ``host`` and ``domain`` from its
    urls, the WARC columns and the reader-rejection columns null."""
    if table.schema.equals(WEB_SCHEMA):
        return table
    import polars as pl

    from corpusclean.domains import hosts_and_domains

    n = table.num_rows
    hd = hosts_and_domains(pl.from_arrow(table.column("url"))).to_arrow()  # type: ignore[arg-type]
    derived = {
        name: hd.column(name).combine_chunks().cast(pa.string()) for name in ("host", "domain")
    }
    arrays = [
        table.column(f.name)
        if f.name in table.column_names
        else derived.get(f.name, pa.nulls(n, f.type))
        for f in WEB_SCHEMA
    ]
    return pa.Table.from_arrays(arrays, schema=WEB_SCHEMA)
