"""Inputs as bounded Arrow batches, never losing a record; and the files a run writes.

Every record of an input file ends up either as a row of an :class:`InputBatch` table or as an
:class:`ErrorRecord` naming the file and the line (or record ordinal) and/or byte offset.

Formats, chosen by extension (case-insensitive):

======================================================  ==========================================
``.jsonl`` ``.ndjson``                                  JSON Lines, one object per line
``.jsonl.gz`` ``.ndjson.gz`` ``.json.gz``               the same, gzip (multi-member allowed)
``.jsonl.zst`` ``.ndjson.zst`` ``.json.zst``            the same, zstd (multi-frame allowed)
``.parquet``                                            one row per document
``.txt``                                                the whole file is one document
``.wet`` ``.wet.gz`` (so ``.warc.wet.gz``)              Common Crawl WET (WARC/1.0 records)
``.warc`` ``.warc.gz``                                  WARC: HTML responses, main text extracted
``.html`` ``.htm``                                      one HTML page, main text extracted
======================================================  ==========================================

A plain ``.json`` file is not accepted (it may be one JSON array, not JSON Lines). WARC and
HTML (:mod:`corpusclean.io.warc`, :mod:`corpusclean.io.html`) give tables of ``WEB_SCHEMA``:
``BATCH_SCHEMA``'s columns, then ``host``, ``domain``, ``warc_record_id``, ``warc_date`` and the
reader's own rejections (``_reject_reason``, ``_reject_detail``: a WARC record that is no HTML
page); their modules say how every record is accounted for.

Every batch table has exactly the columns of :data:`BATCH_SCHEMA`:

* ``id`` (string, never null): JSONL: the ``id_field`` value (strings kept, numbers converted
  with ``str``); when the field is absent or null a stable derived id ``f"{path.name}:{line}"``.
  Parquet: the ``id_field`` column (cast to string), null or absent -> ``f"{path.name}:{row}"``
  with the 1-based row number. ``.txt``: the path as given. WET: the ``WARC-Record-ID`` header
  (``<urn:uuid:...>``), or ``f"{path.name}:{ordinal}"`` when a record has none.
* ``text`` (string, never null; ``""`` is a valid document that later steps may reject).
* ``line`` (int64): the 1-based line number for JSONL, the 1-based row number for Parquet, the
  1-based ordinal of the WARC record in the file for WET (the ``warcinfo`` record counts), 1
  for ``.txt``.
* ``url`` (string, nullable): a top-level string ``"url"`` field in JSONL, a string ``url``
  column in Parquet, ``WARC-Target-URI`` in WET; null otherwise.

Errors (records that are reported, not yielded):

* JSONL line errors (``offset`` is None): ``invalid UTF-8 at byte N`` (N counts bytes within
  the line; such a line is never decoded lossily), ``invalid JSON: ...``, ``line is not a JSON
  object (got list)``, ``missing text field 'text'``, ``text field 'text' is null``,
  ``text field 'text' is not a string (got int)``, ``... contains an unpaired surrogate
  escape``, ``id field 'id' has unsupported type bool``. Blank (whitespace-only) lines are
  skipped silently. A leading UTF-8 byte-order mark is ignored.
* A truncated or corrupt gzip/zstd stream: everything decoded before the damage is yielded,
  then one ``ErrorRecord(file, line=<first line not yielded>, offset=<decompressed byte offset
  of that line>, error="truncated or corrupt gzip stream: ... (at compressed byte N)",
  raw="")`` and the iterator ends normally. A final line without a trailing newline is a
  record when the stream is intact; when the stream was cut, that partial line is part of the
  error. (Deflate cannot tell damage at once: bytes flipped inside a gzip member may first
  decode to garbage lines, which then show up as ``invalid JSON``/``invalid UTF-8`` errors,
  before zlib reports the stream error; a bad CRC is only seen at the end of the member.)
* ``.txt`` that is not valid UTF-8: one error for the file (``offset`` = the bad byte).
* WET: bodies are declared UTF-8 and decoded with ``errors="replace"`` (never an error).
  Damaged headers, unsupported ``WARC-Type`` values (anything but ``warcinfo``, which is not a
  document, and ``conversion``) and truncated records are errors whose ``offset`` is the
  decompressed byte offset of the record and ``line`` its ordinal.
* Parquet: a null text is an error for that row; a file that cannot be read is one error.

``offset`` is always a byte offset in the decompressed content.  ``raw`` holds at most
1000 characters.

Usage errors raise :class:`InputError` (its message names the path): a missing file or
directory, an unsupported extension, a glob or directory with no supported file, a Parquet file
without the text column (or with a non-string one).

Bounds: a batch holds at most ``batch_docs`` records (rows + errors) and, for JSONL and WET, at
most ``batch_bytes`` of input (JSONL line bytes, which bound the text bytes; WET body bytes)
unless a single record is larger; Parquet batches are split so that their text stays under
``batch_bytes``. A batch may have an empty table (only errors, or only the last
``bytes_read``). Memory is O(batch_bytes + largest record + a few 4 MiB read-ahead chunks)
whatever the file size; a ``.txt`` file is read whole (it is one document). ``bytes_read``
counts file bytes (compressed bytes for compressed files; a pro-rata estimate by rows for
Parquet) and sums, over one file's batches, to the file size. The same file read with the
same arguments gives the same batches.

Speed: compressed input is read and decompressed by a background thread (zlib and zstd release
the GIL) while the caller's thread parses (:mod:`corpusclean.io.streams`); JSONL is parsed a
batch of lines at a time by ``pyarrow.json`` with an explicit schema, falling back to
``json.loads`` only for the lines Arrow rejects (:mod:`corpusclean.io.jsonl`).
``benchmarks/read_throughput.py FILE...`` prints documents/s and MB/s.

Layout (after py-polars' ``io/`` and datatrove's ``readers/`` + ``writers/``): one module per
input format behind one function (:func:`~corpusclean.io.jsonl.read_jsonl`,
:func:`~corpusclean.io.wet.read_wet`, :func:`~corpusclean.io.txt.read_txt`,
:func:`~corpusclean.io.parquet.read_parquet`), dispatched by :func:`read_batches`; the output
side is :mod:`corpusclean.io.parts` (``documents/`` and ``rejected/`` parts),
:mod:`corpusclean.io.errors` (``errors/``) and :mod:`corpusclean.io.shards` (``tokens/``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from corpusclean.io.paths import (
    SUPPORTED_SUFFIXES,
    expand_inputs,
    input_format,
    unsupported_file_error,
)
from corpusclean.io.records import BATCH_SCHEMA, ErrorRecord, InputBatch, InputError

__all__ = [
    "BATCH_SCHEMA",
    "SUPPORTED_SUFFIXES",
    "ErrorRecord",
    "InputBatch",
    "InputError",
    "expand_inputs",
    "input_format",
    "read_batches",
]


def read_batches(
    path: Path,
    *,
    text_field: str = "text",
    id_field: str = "id",
    batch_docs: int = 2000,
    batch_bytes: int = 32 << 20,
    byte_range: tuple[int, int] | None = None,
    first_line: int = 1,
    html_extractor: str = "resiliparse",
) -> Iterator[InputBatch]:
    """Stream one input file as bounded :class:`InputBatch` es (see the module docstring).

    Usage problems raise :class:`InputError` at call time: missing file, unsupported
    extension, Parquet file without a string text column. Damaged data never raises: it
    becomes :class:`ErrorRecord` s and the iterator ends normally. The same file with the same
    arguments always gives the same batches.

    ``byte_range=(start, end)`` (uncompressed ``.jsonl``/``.ndjson`` only, else ValueError)
    reads the lines that start in ``[start, end)``, numbered from ``first_line`` (their
    number in the whole file: :mod:`corpusclean.io.splits`), so that the ranges of any cut,
    read one after another, give the whole file's rows and errors; ``bytes_read`` sums to
    ``end - start`` (``end`` capped at the file size). ``html_extractor`` (WARC and HTML)
    names the main-text extractor (:mod:`corpusclean.extract`).
    """
    if batch_docs < 1 or batch_bytes < 1:
        raise ValueError("batch_docs and batch_bytes must be positive")
    source = os.fspath(path)
    path = Path(path)
    fmt = input_format(path)
    if byte_range is not None and fmt != ("jsonl", None):
        raise ValueError(f"a byte range needs an uncompressed .jsonl/.ndjson file: {source}")
    if first_line < 1 or (first_line != 1 and byte_range is None):
        raise ValueError(f"first_line {first_line} needs a byte range and must be >= 1: {source}")
    if byte_range is not None and not 0 <= byte_range[0] <= byte_range[1]:
        raise ValueError(f"bad byte range {byte_range} for {source}")
    if path.is_dir():
        raise InputError(f"input is a directory, not a file: {source}")
    if not path.is_file():
        raise InputError(f"input not found: {source}")
    if fmt is None:
        raise unsupported_file_error(source)
    try:
        with open(path, "rb"):
            pass
    except OSError as exc:
        raise InputError(f"cannot read input {source}: {exc.strerror}") from None
    # The format modules (pyarrow.compute/json/parquet, zstandard) are imported here, not at
    # the top: the spawned workers import corpusclean.io.parts, hence this package, and never
    # read input; importing them there cost each worker about 14 MB of RSS.
    kind, compression = fmt
    if kind == "jsonl":
        from corpusclean.io.jsonl import read_jsonl

        return read_jsonl(
            path,
            source,
            compression,
            text_field=text_field,
            id_field=id_field,
            batch_docs=batch_docs,
            batch_bytes=batch_bytes,
            byte_range=byte_range,
            first_line=first_line,
        )
    if kind == "wet":
        from corpusclean.io.wet import read_wet

        return read_wet(path, source, compression, batch_docs=batch_docs, batch_bytes=batch_bytes)
    if kind == "warc":
        from corpusclean.io.warc import read_warc

        return read_warc(
            path,
            source,
            compression,
            batch_docs=batch_docs,
            batch_bytes=batch_bytes,
            html_extractor=html_extractor,
        )
    if kind == "html":
        from corpusclean.io.html import read_html

        return read_html(path, source, html_extractor=html_extractor)
    if kind == "txt":
        from corpusclean.io.txt import read_txt

        return read_txt(path, source)
    from corpusclean.io.parquet import read_parquet

    return read_parquet(
        path,
        source,
        text_field=text_field,
        id_field=id_field,
        batch_docs=batch_docs,
        batch_bytes=batch_bytes,
    )
