"""What every reader yields: bounded Arrow batches of documents, and the records it could not read.

Every record of an input file ends up either as a row of an :class:`InputBatch` table (columns
:data:`BATCH_SCHEMA`) or as an :class:`ErrorRecord` naming the file and the line (or record
ordinal) and/or byte offset; usage problems raise :class:`InputError`. The column and error
semantics of each format are in :mod:`corpusclean.io`.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

#: Columns of every :attr:`InputBatch.table`.
BATCH_SCHEMA = pa.schema(
    [
        pa.field("id", pa.string(), nullable=False),
        pa.field("text", pa.string(), nullable=False),
        pa.field("line", pa.int64(), nullable=False),
        pa.field("url", pa.string(), nullable=True),
    ]
)

#: Columns a WARC or HTML batch has after BATCH_SCHEMA's (docs/contract.md): the URL's host and
#: registered domain, the WARC record's id and date (null for ``.html`` files). A run with any
#: WARC or HTML input gives every batch these columns (null where a format has none), so that
#: every part of the run has one schema; a run without one never has them.
WEB_COLUMNS: tuple[str, ...] = ("host", "domain", "warc_record_id", "warc_date")
#: A reader's own rejections (a WARC record that is no HTML page): rows whose ``_reject_reason``
#: is set go to ``rejected/`` with that reason and ``_reject_detail`` before any step runs.
READ_REJECT_COLUMNS: tuple[str, ...] = ("_reject_reason", "_reject_detail")
#: Columns of every batch of a run with web input.
WEB_SCHEMA = pa.schema(
    [*BATCH_SCHEMA, *(pa.field(c, pa.string(), nullable=True) for c in WEB_COLUMNS)]
    + [pa.field(c, pa.string(), nullable=True) for c in READ_REJECT_COLUMNS]
)

RAW_MAX = 1000  # characters kept in ErrorRecord.raw
#: The bytes a blank line may consist of (JSONL) or that may separate records (WET).
WHITESPACE = b" \t\r\n\x0b\x0c"


class InputError(Exception):
    """Bad usage of the readers (missing file, unsupported file type, empty glob...).

    ``str(exc)`` names the offending path or pattern.
    """


@dataclass(frozen=True)
class ErrorRecord:
    """A record that could not be read; it is counted, never silently dropped."""

    file: str
    line: int | None
    offset: int | None
    error: str
    raw: str  # at most 1000 characters of the offending input


@dataclass
class InputBatch:
    """A bounded slice of one input file."""

    table: pa.Table  # exactly BATCH_SCHEMA (id, text, line, url), or WEB_SCHEMA for WARC/HTML
    errors: list[ErrorRecord]
    source: str  # the file path as given
    bytes_read: int  # file bytes (compressed when compressed) consumed since the last batch;
    # summed over a file's batches it is the file size


def raw_text(data: bytes) -> str:
    """The ``raw`` of an :class:`ErrorRecord`: at most ``RAW_MAX`` characters of the input."""
    return data[: 4 * RAW_MAX].decode("utf-8", errors="replace").rstrip("\r\n")[:RAW_MAX]
