"""Input readers: stream any supported file as bounded Arrow batches, never losing a record.

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
======================================================  ==========================================

A plain ``.json`` file is not accepted (it may be one JSON array, not JSON Lines); full WARC
files (``.warc.gz``, with HTML responses) are not supported either.

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
the GIL) while the caller's thread parses. JSONL is parsed one batch of lines at a time by
``pyarrow.json`` with an explicit schema: only the text, id and url fields are converted, any
other field is ignored whatever its type, so schema inference never comes into it. Arrow is
strict (a text that is not a string, a bad escape, a line that is not an object fails the
parse) and its error names the row; the rows before it are parsed again the fast way, that
line goes through ``json.loads`` (which words the ErrorRecord), and parsing resumes after it.
A block with many failures finishes line by line. Lines whose text is absent or null are the
only ones looked at again in Python on the fast path.

``python -m corpusclean.readers FILE...`` reads files and prints documents/s and MB/s
(``--plain`` adds the ``gzip.open`` + ``json.loads`` loop for comparison).
"""

from __future__ import annotations

import glob
import io
import json
import os
import queue
import re
import threading
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj
import pyarrow.parquet as pq
import zstandard

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

#: Columns of every :attr:`InputBatch.table`.
BATCH_SCHEMA = pa.schema(
    [
        pa.field("id", pa.string(), nullable=False),
        pa.field("text", pa.string(), nullable=False),
        pa.field("line", pa.int64(), nullable=False),
        pa.field("url", pa.string(), nullable=True),
    ]
)

# suffix -> (kind, compression)
_FORMATS: dict[str, tuple[str, str | None]] = {
    ".jsonl": ("jsonl", None),
    ".ndjson": ("jsonl", None),
    ".jsonl.gz": ("jsonl", "gzip"),
    ".ndjson.gz": ("jsonl", "gzip"),
    ".json.gz": ("jsonl", "gzip"),
    ".jsonl.zst": ("jsonl", "zstd"),
    ".ndjson.zst": ("jsonl", "zstd"),
    ".json.zst": ("jsonl", "zstd"),
    ".parquet": ("parquet", None),
    ".txt": ("txt", None),
    ".wet": ("wet", None),
    ".wet.gz": ("wet", "gzip"),
}
#: File name endings accepted by :func:`expand_inputs` and :func:`read_batches`.
SUPPORTED_SUFFIXES: tuple[str, ...] = tuple(sorted(_FORMATS, key=lambda s: (-len(s), s)))

_RAW_MAX = 1000  # characters kept in ErrorRecord.raw
_READ_SIZE = 64 << 10  # compressed bytes fed to the decompressor at a time
_CHUNK_SIZE = 4 << 20  # decompressed bytes handed from the reader thread at a time
_PREFETCH_DEPTH = 3  # chunks queued ahead by the reader thread
_MIN_FAST_ROWS = 8  # fewer lines than this are parsed line by line (json.loads)
_MAX_ATTEMPTS = 16  # pyarrow failures per block before the rest goes line by line
_WS = b" \t\r\n\x0b\x0c"
_BOM = b"\xef\xbb\xbf"


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

    table: pa.Table  # exactly BATCH_SCHEMA: id, text, line, url
    errors: list[ErrorRecord]
    source: str  # the file path as given
    bytes_read: int  # file bytes (compressed when compressed) consumed since the last batch;
    # summed over a file's batches it is the file size


# --------------------------------------------------------------------------------------------
# input discovery


def input_format(path: str | os.PathLike[str]) -> tuple[str, str | None] | None:
    """``(kind, compression)`` for a supported file name, else None.

    kind is ``jsonl``, ``parquet``, ``txt`` or ``wet``; compression ``gzip``, ``zstd`` or None.
    """
    name = os.path.basename(os.fspath(path)).lower()
    for suffix in SUPPORTED_SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix):
            return _FORMATS[suffix]
    return None


def _unsupported(path: str) -> InputError:
    return InputError(
        f"unsupported input file type: {path} (supported: {', '.join(sorted(_FORMATS))})"
    )


def _walk_dir(root: str) -> list[str]:
    """Supported files under ``root``, recursively, skipping hidden files and folders."""
    found: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if not name.startswith(".") and input_format(name) is not None:
                found.append(os.path.join(dirpath, name))
    return found


def expand_inputs(patterns: Sequence[str]) -> list[Path]:
    """Resolve input patterns to a sorted, de-duplicated list of supported files.

    Each pattern is a glob (``*``, ``?``, ``[...]``; ``**`` is recursive), a file or a
    directory (every supported file inside, recursively, hidden entries skipped). Files that a
    glob matches but that have an unsupported extension are skipped; a plain file path with an
    unsupported extension is an error. The result is sorted by path string; the same file
    reached twice (even through a symlink) is listed once.

    Raises :class:`InputError` naming the first missing path, unsupported file, or glob /
    directory that yields no supported file.
    """
    if isinstance(patterns, str | os.PathLike):
        patterns = [os.fspath(patterns)]
    found: list[str] = []
    for raw_pattern in patterns:
        pattern = os.fspath(raw_pattern)
        if any(c in pattern for c in "*?["):
            matches: list[str] = []
            for match in sorted(glob.glob(pattern, recursive=True)):
                if os.path.isdir(match):
                    matches.extend(_walk_dir(match))
                elif os.path.isfile(match) and input_format(match) is not None:
                    matches.append(match)
            if not matches:
                raise InputError(f"no supported input file matches: {pattern}")
            found.extend(matches)
        elif os.path.isdir(pattern):
            files = _walk_dir(pattern)
            if not files:
                raise InputError(f"no supported input file in directory: {pattern}")
            found.extend(files)
        elif os.path.isfile(pattern):
            if input_format(pattern) is None:
                raise _unsupported(pattern)
            found.append(pattern)
        else:
            raise InputError(f"input not found: {pattern}")
    seen: set[str] = set()
    result: list[Path] = []
    for path in sorted((Path(name) for name in found), key=str):
        key = os.path.realpath(path)
        if key not in seen:
            seen.add(key)
            result.append(path)
    return result


# --------------------------------------------------------------------------------------------
# byte sources (decompression in a background thread)


class _StreamError(Exception):
    """The compressed stream is damaged; everything decodable was yielded before this."""

    def __init__(self, message: str, compressed_offset: int) -> None:
        super().__init__(message)
        self.compressed_offset = compressed_offset


def _raw_chunks(f: io.BufferedReader) -> Iterator[tuple[bytes, int]]:
    pos = 0
    while data := f.read(_CHUNK_SIZE):
        pos += len(data)
        yield data, pos


def _gzip_chunks(f: io.BufferedReader) -> Iterator[tuple[bytes, int]]:
    """Inflate a (multi-member) gzip stream; yields ``(data, compressed bytes read)``.

    zlib checks each member's CRC and length. On damage, the failing input is replayed in
    small pieces from a copy of the decompressor to salvage what precedes the damage.
    """
    read_pos = 0  # compressed bytes read from the file
    base = 0  # compressed offset of data[0]
    d = zlib.decompressobj(31)
    in_member = False
    data = b""
    while True:
        if not data:
            base = read_pos
            data = f.read(_READ_SIZE)
            if not data:
                break
            read_pos += len(data)
        if not in_member:
            stripped = data.lstrip(b"\x00")  # zero padding between/after members is tolerated
            base += len(data) - len(stripped)
            data = stripped
            if not data:
                continue
            d = zlib.decompressobj(31)
            in_member = True
        saved = d.copy()
        try:
            out = d.decompress(data, _CHUNK_SIZE)
        except zlib.error as exc:
            salvaged, consumed = _replay_inflate(saved, data)
            if salvaged:
                yield salvaged, read_pos
            raise _StreamError(str(exc), base + consumed) from None
        if out:
            yield out, read_pos
        if d.eof:
            in_member = False
            rest = d.unused_data
        else:
            rest = d.unconsumed_tail
        base += len(data) - len(rest)
        data = rest
    if in_member:
        try:  # output held back by max_length
            out = d.flush()
        except zlib.error as exc:
            raise _StreamError(str(exc), read_pos) from None
        if out:
            yield out, read_pos
        if not d.eof:
            raise _StreamError(
                "compressed file ended before the end-of-stream marker was reached", read_pos
            )
        if d.unused_data.strip(b"\x00"):
            raise _StreamError("trailing data after the last gzip member", read_pos)


def _replay_inflate(d: zlib._Decompress, data: bytes) -> tuple[bytes, int]:
    """Feed ``data`` again in small pieces, then bytes: (output before the error, bytes fed)."""
    out: list[bytes] = []
    step = 256
    for i in range(0, len(data), step):
        saved = d.copy()
        try:
            out.append(d.decompress(data[i : i + step]))
        except zlib.error:
            for j in range(i, min(i + step, len(data))):
                try:
                    out.append(saved.decompress(data[j : j + 1]))
                except zlib.error:
                    return b"".join(out), j
            return b"".join(out), i
    return b"".join(out), len(data)


def _zstd_chunks(f: io.BufferedReader) -> Iterator[tuple[bytes, int]]:
    """Decompress a (multi-frame) zstd stream; yields ``(data, compressed bytes read)``.

    ``decompressobj`` is used rather than ``stream_reader`` because the latter reports a
    truncated frame as a clean end of file.
    """
    dctx = zstandard.ZstdDecompressor()
    read_pos = 0
    d = dctx.decompressobj()
    in_frame = False
    data = b""
    while True:
        if not data:
            data = f.read(_READ_SIZE)
            if not data:
                break
            read_pos += len(data)
        if not in_frame:
            d = dctx.decompressobj()
            in_frame = True
        try:
            out = d.decompress(data)
        except zstandard.ZstdError as exc:
            raise _StreamError(str(exc), read_pos) from None
        if out:
            yield out, read_pos
        if d.eof:
            in_frame = False
            data = d.unused_data
        else:
            data = b""
    if in_frame:
        raise _StreamError("compressed file ended before the end of the frame", read_pos)


def _coalesce(chunks: Iterator[tuple[bytes, int]]) -> Iterator[tuple[bytes, int]]:
    """Group small decompressed pieces into chunks of about ``_CHUNK_SIZE``."""
    parts: list[bytes] = []
    size = 0
    pos = 0
    try:
        for data, pos in chunks:
            parts.append(data)
            size += len(data)
            if size >= _CHUNK_SIZE:
                yield b"".join(parts), pos
                parts, size = [], 0
    except _StreamError:
        if parts:  # what was decoded before the damage goes out first
            yield b"".join(parts), pos
        raise
    if parts:
        yield b"".join(parts), pos


class _ByteSource:
    """Decompressed content of one file, in chunks, read ahead by a daemon thread.

    Iterating yields ``bytes``; afterwards :attr:`error` is set when the stream was damaged.
    :attr:`raw_pos` is the number of file bytes consumed to produce what was yielded so far
    (the file size once the iteration is over, damaged or not) and :attr:`total` the number
    of decompressed bytes yielded.
    """

    _END = object()

    def __init__(self, path: Path, compression: str | None, prefetch: bool = True) -> None:
        self.path = path
        self.compression = compression
        self.prefetch = prefetch
        self.raw_pos = 0
        self.total = 0
        self.error: _StreamError | None = None
        self._stop = threading.Event()
        self._queue: queue.Queue[object] = queue.Queue(maxsize=_PREFETCH_DEPTH)
        self._thread: threading.Thread | None = None
        self._file = open(path, "rb")  # noqa: SIM115 - closed by the producer
        self.size = os.fstat(self._file.fileno()).st_size

    def _chunks(self) -> Iterator[tuple[bytes, int]]:
        if self.compression == "gzip":
            return _coalesce(_gzip_chunks(self._file))
        if self.compression == "zstd":
            return _coalesce(_zstd_chunks(self._file))
        return _raw_chunks(self._file)

    def _put(self, item: object) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _produce(self) -> None:
        try:
            for item in self._chunks():
                if not self._put(item):
                    return
            self._put(self._END)
        except BaseException as exc:  # handed to the consumer, re-raised there
            self._put(exc)
        finally:
            self._file.close()

    def __iter__(self) -> Iterator[bytes]:
        if not self.prefetch:
            try:
                for data, pos in self._chunks():
                    self.raw_pos = pos
                    self.total += len(data)
                    yield data
            except _StreamError as exc:
                self.error = exc
            finally:
                self._file.close()
            self.raw_pos = self.size  # the whole file is accounted for once done
            return
        self._thread = threading.Thread(
            target=self._produce, name=f"corpusclean-read:{self.path.name}", daemon=True
        )
        self._thread.start()
        while True:
            item = self._queue.get()
            if item is self._END:
                self.raw_pos = self.size  # the whole file is accounted for once done
                return
            if isinstance(item, _StreamError):
                self.error = item
                self.raw_pos = self.size
                return
            if isinstance(item, BaseException):
                raise item
            data, pos = item  # type: ignore[misc]
            self.raw_pos = pos
            self.total += len(data)
            yield data

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            while True:  # unblock a producer waiting on a full queue
                try:
                    self._queue.get_nowait()
                except queue.Empty:
                    break
            self._thread.join(timeout=5)
        elif not self._file.closed:
            self._file.close()

    def error_record(self, file: str, line: int | None, offset: int | None) -> ErrorRecord:
        assert self.error is not None
        return ErrorRecord(
            file=file,
            line=line,
            offset=offset,
            error=(
                f"truncated or corrupt {self.compression} stream: {self.error} "
                f"(at compressed byte {self.error.compressed_offset})"
            ),
            raw="",
        )


# --------------------------------------------------------------------------------------------
# helpers


def _raw_text(data: bytes) -> str:
    return data[: 4 * _RAW_MAX].decode("utf-8", errors="replace").rstrip("\r\n")[:_RAW_MAX]


def _type_name(value: object) -> str:
    return type(value).__name__


def _is_encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _make_table(
    ids: pa.Array | pa.ChunkedArray | list[str],
    texts: pa.Array | pa.ChunkedArray | list[str],
    lines: pa.Array | list[int],
    urls: pa.Array | pa.ChunkedArray | list[str | None] | None,
) -> pa.Table:
    arrow = (pa.Array, pa.ChunkedArray)
    ids_a = ids if isinstance(ids, arrow) else pa.array(ids, pa.string())
    texts_a = texts if isinstance(texts, arrow) else pa.array(texts, pa.string())
    lines_a = lines if isinstance(lines, arrow) else pa.array(lines, pa.int64())
    if urls is None:
        urls_a = pa.nulls(len(ids_a), pa.string())
    else:
        urls_a = urls if isinstance(urls, arrow) else pa.array(urls, pa.string())
    return pa.Table.from_arrays([ids_a, texts_a, lines_a, urls_a], schema=BATCH_SCHEMA)


class _Batcher:
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


# --------------------------------------------------------------------------------------------
# JSONL


@dataclass
class _JsonlContext:
    path: Path
    source: str
    text_field: str
    id_field: str
    id_type: pa.DataType = field(default_factory=pa.string)
    with_url: bool = True

    def derived_id(self, line: int) -> str:
        return f"{self.path.name}:{line}"


_Row = tuple[str, str, str | None]  # id, text, url


def _classify_line(raw: bytes, line: int, ctx: _JsonlContext) -> _Row | ErrorRecord:
    """Parse one line with json.loads: a row, or the error that explains why not."""
    try:
        obj = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        return _line_error(ctx, line, raw, f"invalid UTF-8 at byte {exc.start}")
    except ValueError as exc:
        return _line_error(ctx, line, raw, f"invalid JSON: {exc}")
    except RecursionError:
        return _line_error(ctx, line, raw, "invalid JSON: nested too deeply")
    if type(obj) is not dict:
        return _line_error(ctx, line, raw, f"line is not a JSON object (got {_type_name(obj)})")
    tf, idf = ctx.text_field, ctx.id_field
    text = obj.get(tf)
    if type(text) is not str:
        if tf not in obj:
            message = f"missing text field {tf!r}"
        elif text is None:
            message = f"text field {tf!r} is null"
        else:
            message = f"text field {tf!r} is not a string (got {_type_name(text)})"
        return _line_error(ctx, line, raw, message)
    # a lone \\uD800-\\uDFFF escape decodes to a str that is not valid Unicode
    surrogates = b"\\ud" in raw or b"\\uD" in raw
    if surrogates and not _is_encodable(text):
        message = f"text field {tf!r} contains an unpaired surrogate escape"
        return _line_error(ctx, line, raw, message)
    doc_id = obj.get(idf)
    if doc_id is None:
        doc_id = f"{ctx.path.name}:{line}"
    elif type(doc_id) is str:
        if surrogates and not _is_encodable(doc_id):
            message = f"id field {idf!r} contains an unpaired surrogate escape"
            return _line_error(ctx, line, raw, message)
    elif type(doc_id) is int or type(doc_id) is float:
        doc_id = str(doc_id)
    else:
        message = f"id field {idf!r} has unsupported type {_type_name(doc_id)}"
        return _line_error(ctx, line, raw, message)
    url = obj.get("url") if ctx.with_url else None
    if type(url) is not str or (surrogates and not _is_encodable(url)):
        url = None
    return doc_id, text, url


def _line_error(ctx: _JsonlContext, line: int, raw: bytes, message: str) -> ErrorRecord:
    return ErrorRecord(ctx.source, line, None, message, _raw_text(raw))


def _is_valid_utf8(data: bytes | memoryview) -> bool:
    """Vectorised UTF-8 validation (Arrow's validator, several GB/s)."""
    offsets = pa.py_buffer(np.array([0, len(data)], dtype=np.int64))
    arr = pa.Array.from_buffers(pa.large_binary(), 1, [None, offsets, pa.py_buffer(data)])
    try:
        arr.cast(pa.large_string())
    except pa.ArrowInvalid:
        return False
    return True


_ROW_RE = re.compile(r"in row (\d+)")


def _fast_parse(payload: memoryview, nrows: int, ctx: _JsonlContext) -> pa.Table | int | None:
    """Parse ``nrows`` non-blank, valid UTF-8 lines with pyarrow.json.

    Returns the table, or on failure the index of the row pyarrow stopped at (None when the
    error does not say). The explicit schema converts only the text, id and url fields and is
    strict: a text that is not a string fails. A failure naming the id column switches the id
    type between string and int64 for this and later blocks and retries; one naming the url
    column stops reading url for the rest of the file. The payload is parsed as one block,
    so the row in the error message counts from its start.
    """
    bad: int | None = None
    for _attempt in range(3):
        fields: dict[str, pa.DataType] = {}
        if ctx.with_url:
            fields["url"] = pa.string()
        fields[ctx.id_field] = ctx.id_type
        fields[ctx.text_field] = pa.string()
        try:
            table = pj.read_json(
                pa.BufferReader(pa.py_buffer(payload)),
                read_options=pj.ReadOptions(
                    use_threads=False, block_size=min(len(payload) + 1, (1 << 31) - 1)
                ),
                parse_options=pj.ParseOptions(
                    explicit_schema=pa.schema(list(fields.items())),
                    unexpected_field_behavior="ignore",
                    newlines_in_values=False,
                ),
            )
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, UnicodeDecodeError) as exc:
            message = str(exc)
            match = _ROW_RE.search(message)
            bad = int(match.group(1)) if match else None
            if ctx.id_field != ctx.text_field and f"Column(/{ctx.id_field})" in message:
                ctx.id_type = pa.int64() if ctx.id_type == pa.string() else pa.string()
                continue
            if ctx.with_url and "Column(/url)" in message:
                if "url" not in (ctx.text_field, ctx.id_field):
                    ctx.with_url = False
                    continue
            return bad
        return table if table.num_rows == nrows else None
    return bad


_Parsed = tuple[list[pa.Table], list[ErrorRecord]]


def _parse_rows(
    ctx: _JsonlContext, payload: memoryview, starts: np.ndarray, linenos: np.ndarray
) -> _Parsed:
    """Rows and errors for the non-blank, valid UTF-8 lines of ``payload``, in order.

    ``starts[i]`` is the byte offset of row ``i`` in payload (``starts[-1] == len(payload)``;
    every row ends with a newline). The whole payload goes through pyarrow; when it fails at
    row r, rows before r are parsed again the fast way, row r line by line with json.loads
    (which words the error), and the rest continues the same way. After ``_MAX_ATTEMPTS``
    failures, or for tiny ranges, the remaining lines are parsed line by line.
    """
    n = len(linenos)
    tables: list[tuple[int, pa.Table]] = []
    errors: list[ErrorRecord] = []
    slow_ids: list[str] = []
    slow_texts: list[str] = []
    slow_rows: list[int] = []
    slow_urls: list[str | None] = []

    def line(i: int) -> bytes:
        return bytes(payload[int(starts[i]) : int(starts[i + 1]) - 1])

    def slow(lo: int, hi: int) -> None:
        lines = bytes(payload[int(starts[lo]) : int(starts[hi])]).split(b"\n")
        for raw, lineno in zip(lines, linenos[lo:hi].tolist(), strict=False):
            result = _classify_line(raw, lineno, ctx)
            if type(result) is tuple:
                slow_ids.append(result[0])
                slow_texts.append(result[1])
                slow_urls.append(result[2])
                slow_rows.append(lineno)
            else:
                errors.append(result)  # type: ignore[arg-type]

    work: list[tuple[int, int]] = [(0, n)]  # ranges still to parse, next one last
    attempts = 0
    while work:
        lo, hi = work.pop()
        if hi - lo < _MIN_FAST_ROWS or attempts >= _MAX_ATTEMPTS:
            slow(lo, hi)
            continue
        attempts += 1
        result = _fast_parse(payload[int(starts[lo]) : int(starts[hi])], hi - lo, ctx)
        if isinstance(result, pa.Table):
            converted = _convert_fast(result, ctx, linenos[lo:hi], lambda i, lo=lo: line(lo + i))
            if converted is not None:
                table, errs = converted
                if table.num_rows:
                    tables.append((lo, table))
                errors.extend(errs)
                continue
            result = None
        if result is None or not 0 <= result < hi - lo:
            slow(lo, hi)
            continue
        bad = lo + result
        work.extend([(bad + 1, hi), (bad, bad + 1), (lo, bad)])
    errors.sort(key=lambda e: e.line or 0)
    if slow_ids:
        tables.append((-1, _make_table(slow_ids, slow_texts, slow_rows, slow_urls)))
    if not tables:
        return [], errors
    if len(tables) > 1:  # restore line order across fast and slow parts
        table = pa.concat_tables([t for _, t in tables])
        table = table.take(pc.sort_indices(table.column("line")))
        return [table], errors
    return [tables[0][1]], errors


def _convert_fast(
    table: pa.Table,
    ctx: _JsonlContext,
    linenos: np.ndarray,
    line: Callable[[int], bytes],
) -> tuple[pa.Table, list[ErrorRecord]] | None:
    """Turn pyarrow's table into batch columns; None if json.loads disagrees on a null."""
    texts = table.column(ctx.text_field)
    ids = table.column(ctx.id_field)
    errors: list[ErrorRecord] = []
    keep = None
    if texts.null_count:
        # text absent or JSON null: json.loads words the error (and must agree it is one)
        mask = texts.is_null().combine_chunks()
        for i in np.flatnonzero(mask.to_numpy(zero_copy_only=False)).tolist():
            result = _classify_line(line(i), int(linenos[i]), ctx)
            if not isinstance(result, ErrorRecord):
                return None
            errors.append(result)
        keep = pc.invert(mask)
    if ids.type != pa.string():
        ids = ids.cast(pa.string())
    if ids.null_count:
        id_list = ids.to_pylist()
        for i, value in enumerate(id_list):
            if value is None:
                id_list[i] = ctx.derived_id(int(linenos[i]))
        ids = pa.array(id_list, pa.string())
    urls = table.column("url") if ctx.with_url else None
    if urls is not None and urls.null_count == len(urls):
        urls = None
    out = _make_table(ids, texts, pa.array(linenos, pa.int64()), urls)
    if keep is not None:
        out = out.filter(keep)
    return out, errors


_IS_WS = np.zeros(256, dtype=bool)
_IS_WS[list(_WS)] = True


def _parse_block(
    block: memoryview, ends: np.ndarray, first_line: int, ctx: _JsonlContext
) -> tuple[pa.Table, list[ErrorRecord]]:
    """Parse a block of complete lines starting at line ``first_line``.

    ``ends`` holds the position of every line's ``\\n`` in ``block`` (which ends with one).
    """
    n = len(ends)
    starts = np.empty(n + 1, dtype=np.int64)
    starts[0] = 0
    starts[1:] = ends + 1
    # a blank line is empty or starts with whitespace (an empty line "starts" with its \n)
    maybe_blank = _IS_WS[np.frombuffer(block, dtype=np.uint8)[starts[:-1]]]
    valid = _is_valid_utf8(block)
    errors: list[ErrorRecord] = []
    if valid and not maybe_blank.any():
        linenos = np.arange(first_line, first_line + n, dtype=np.int64)
        tables, errors = _parse_rows(ctx, block, starts, linenos)
    else:
        lines: list[bytes] = []
        kept: list[int] = []
        for i, raw in enumerate(bytes(block).split(b"\n")[:-1]):
            if maybe_blank[i] and not raw.strip(_WS):
                continue
            line = first_line + i
            if not valid:
                try:
                    raw.decode("utf-8")
                except UnicodeDecodeError as exc:
                    message = f"invalid UTF-8 at byte {exc.start}"
                    errors.append(ErrorRecord(ctx.source, line, None, message, _raw_text(raw)))
                    continue
            lines.append(raw)
            kept.append(line)
        tables = []
        if lines:
            payload = b"\n".join(lines) + b"\n"
            sub_starts = np.zeros(len(lines) + 1, dtype=np.int64)
            np.cumsum([len(raw) + 1 for raw in lines], out=sub_starts[1:])
            linenos = np.array(kept, dtype=np.int64)
            tables, errs = _parse_rows(ctx, memoryview(payload), sub_starts, linenos)
            errors.extend(errs)
        errors.sort(key=lambda e: e.line or 0)
    if not tables:
        return BATCH_SCHEMA.empty_table(), errors
    return tables[0], errors


def _read_jsonl(
    path: Path,
    source: str,
    compression: str | None,
    text_field: str,
    id_field: str,
    batch_docs: int,
    batch_bytes: int,
) -> Iterator[InputBatch]:
    ctx = _JsonlContext(path, source, text_field, id_field)
    src = _ByteSource(path, compression)
    batcher = _Batcher(source)
    buf = bytearray()  # complete lines not yet batched
    buf_ends: list[np.ndarray] = []  # positions of the newlines in buf
    buf_lines = 0
    next_line = 1  # line number of buf's first line
    offset = 0  # decompressed offset of buf[0]
    tail: list[bytes] = []  # pieces of the incomplete last line

    def cut(final: bool) -> Iterator[tuple[memoryview, np.ndarray, int]]:
        """Take full batches (every remaining line when final) off the front of buf."""
        nonlocal buf_lines, next_line, offset, buf_ends
        if not buf_lines or (not final and buf_lines < batch_docs and len(buf) < batch_bytes):
            return
        ends = np.concatenate(buf_ends) if len(buf_ends) > 1 else buf_ends[0]
        blocks: list[tuple[int, int, int]] = []  # first line index, end line index, start byte
        i, start = 0, 0
        while i < buf_lines:
            if not final and buf_lines - i < batch_docs and int(ends[-1]) + 1 - start < batch_bytes:
                break
            j = int(np.searchsorted(ends, start + batch_bytes - 1, side="right"))
            k = min(i + batch_docs, max(j, i + 1), buf_lines)
            blocks.append((i, k, start))
            i, start = k, int(ends[k - 1]) + 1
        with memoryview(buf) as mv:
            data = memoryview(bytes(mv[:start]))
        del buf[:start]
        buf_ends = [ends[i:] - start] if i < buf_lines else []
        first = next_line
        buf_lines -= i
        next_line += i
        offset += start
        for a, b, s in blocks:
            e = int(ends[b - 1]) + 1
            yield data[s:e], ends[a:b] - s, first + a

    try:
        for chunk in src:
            if offset == 0 and not buf and not tail and chunk.startswith(_BOM):
                chunk = chunk[len(_BOM) :]
                offset = len(_BOM)
            nl = np.flatnonzero(np.frombuffer(chunk, dtype=np.uint8) == 0x0A)
            if not len(nl):
                tail.append(chunk)
                continue
            if tail:
                buf += b"".join(tail)
                tail = []
            buf_ends.append(nl + len(buf))
            last = int(nl[-1])
            buf += memoryview(chunk)[: last + 1]
            buf_lines += len(nl)
            if last + 1 < len(chunk):
                tail.append(chunk[last + 1 :])
            for block, ends, line in cut(final=False):
                table, errors = _parse_block(block, ends, line, ctx)
                yield batcher.make(table, errors, src.raw_pos)
        if src.error is None and tail:
            buf += b"".join(tail)
            buf_ends.append(np.array([len(buf)], dtype=np.int64))
            buf += b"\n"
            buf_lines += 1
            tail = []
        pending: InputBatch | None = None
        for block, ends, line in cut(final=True):
            if pending is not None:
                yield pending
            table, errors = _parse_block(block, ends, line, ctx)
            pending = batcher.make(table, errors, src.raw_pos)
        if src.error is not None:
            error = src.error_record(source, next_line, offset)
            if pending is not None and pending.table.num_rows + len(pending.errors) < batch_docs:
                pending.errors.append(error)
            else:
                if pending is not None:
                    yield pending
                pending = batcher.make(None, [error], src.raw_pos)
        if pending is not None:
            yield pending
        elif src.raw_pos > batcher.reported:
            yield batcher.make(None, [], src.raw_pos)
    finally:
        src.close()


# --------------------------------------------------------------------------------------------
# WET (WARC/1.0 conversion records)

_MAX_HEADER = 1 << 20


class _RecordBatcher:
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
        table = _make_table(self.ids, self.texts, self.lines, self.urls)
        errors = self.errors
        self.reset()
        return table, errors


def _parse_warc_headers(block: bytes) -> tuple[str, dict[str, str]]:
    lines = block.replace(b"\r\n", b"\n").split(b"\n")
    version = lines[0].strip().decode("latin-1")
    headers: dict[str, str] = {}
    last = ""
    for raw in lines[1:]:
        if not raw.strip():
            continue
        if raw[:1] in (b" ", b"\t") and last:  # folded continuation line
            headers[last] += " " + raw.strip().decode("utf-8", errors="replace")
            continue
        name, sep, value = raw.partition(b":")
        if not sep:
            raise ValueError(f"malformed header line {raw[:80]!r}")
        last = name.strip().decode("latin-1").lower()
        headers[last] = value.strip().decode("utf-8", errors="replace")
    return version, headers


def _read_wet(
    path: Path, source: str, compression: str | None, batch_docs: int, batch_bytes: int
) -> Iterator[InputBatch]:
    src = _ByteSource(path, compression)
    batcher = _Batcher(source)
    acc = _RecordBatcher(batch_docs, batch_bytes)
    buf = bytearray()
    pos = 0  # parse position in buf
    base = 0  # decompressed offset of buf[0]
    ordinal = 0  # WARC records seen (warcinfo included)
    skipping = False  # inside damaged data already reported, looking for the next record

    def error(line: int | None, start: int, message: str, raw: bytes) -> Iterator[InputBatch]:
        if acc.would_overflow(0):
            yield batcher.make(*acc.take(), src.raw_pos)
        acc.errors.append(ErrorRecord(source, line, base + start, message, _raw_text(raw)))

    def records(final: bool) -> Iterator[InputBatch]:
        """Consume the complete records in buf; when final, report what is left."""
        nonlocal pos, ordinal, skipping
        while True:
            while pos < len(buf) and buf[pos] in _WS:
                pos += 1
            start = pos
            if start >= len(buf) or (len(buf) - start < 5 and not final):
                return
            if not buf.startswith(b"WARC/", start):
                nxt = buf.find(b"\nWARC/", start)
                if nxt < 0 and not final:  # keep a few bytes: the marker may be split
                    end = max(start, len(buf) - 6)
                else:
                    end = len(buf) if nxt < 0 else nxt + 1
                if not skipping and end > start:
                    yield from error(
                        None,
                        start,
                        "not a WARC record (no 'WARC/' version line)",
                        bytes(buf[start : min(end, start + 4 * _RAW_MAX)]),
                    )
                skipping = True
                pos = end
                if nxt < 0:
                    return
                continue
            limit = start + _MAX_HEADER
            hend = buf.find(b"\n\r\n", start, limit)
            hend2 = buf.find(b"\n\n", start, hend if hend >= 0 else limit)
            hend, sep = (hend2, 2) if hend2 >= 0 else (hend, 3)
            if hend < 0:
                if not final and len(buf) < limit:
                    return  # headers not complete yet
                ordinal += 1
                message = (
                    "truncated WARC record (incomplete headers)"
                    if len(buf) < limit
                    else "WARC header block too long"
                )
                yield from error(ordinal, start, message, bytes(buf[start : start + 4 * _RAW_MAX]))
                skipping = True
                pos = start + 1
                continue
            header_block = bytes(buf[start:hend])
            body_start = hend + sep
            try:
                _version, headers = _parse_warc_headers(header_block)
                length = int(headers["content-length"])
                if length < 0:
                    raise ValueError("negative Content-Length")
            except (ValueError, KeyError) as exc:
                ordinal += 1
                reason = "missing Content-Length" if isinstance(exc, KeyError) else str(exc)
                yield from error(ordinal, start, f"invalid WARC header: {reason}", header_block)
                skipping = True
                pos = body_start  # the body (unknown length) is skipped as damaged data
                continue
            if len(buf) < body_start + length:
                if not final:
                    return
                ordinal += 1
                yield from error(
                    ordinal,
                    start,
                    f"truncated WARC record: Content-Length {length}, "
                    f"{len(buf) - body_start} body bytes present",
                    header_block,
                )
                pos = len(buf)
                return
            ordinal += 1
            skipping = False
            pos = body_start + length
            wtype = headers.get("warc-type", "")
            if wtype == "warcinfo":
                continue
            if wtype != "conversion":
                got = repr(wtype) if wtype else "none"
                yield from error(
                    ordinal,
                    start,
                    f"unsupported WARC-Type {got} (only 'conversion' records are documents)",
                    header_block,
                )
                continue
            doc_id = headers.get("warc-record-id") or f"{path.name}:{ordinal}"
            url = headers.get("warc-target-uri") or None
            if acc.would_overflow(length):
                yield batcher.make(*acc.take(), src.raw_pos)
            text = buf[body_start:pos].decode("utf-8", errors="replace")
            acc.add(doc_id, text, ordinal, url, length)

    def compact() -> None:
        nonlocal pos, base
        if pos:
            del buf[:pos]
            base += pos
            pos = 0

    try:
        for chunk in src:
            buf += chunk
            yield from records(final=False)
            if pos > len(buf) // 2 or pos > _CHUNK_SIZE:
                compact()
        if src.error is None:
            yield from records(final=True)
        else:
            yield from records(final=False)
            while pos < len(buf) and buf[pos] in _WS:
                pos += 1
            if acc.would_overflow(0):
                yield batcher.make(*acc.take(), src.raw_pos)
            acc.errors.append(src.error_record(source, ordinal + 1, base + pos))
        if acc.count() or src.raw_pos > batcher.reported:
            yield batcher.make(*acc.take(), src.raw_pos)
    finally:
        src.close()


# --------------------------------------------------------------------------------------------
# TXT and Parquet


def _read_txt(path: Path, source: str) -> Iterator[InputBatch]:
    data = path.read_bytes()
    batcher = _Batcher(source)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        err = ErrorRecord(
            source,
            1,
            exc.start,
            f"invalid UTF-8 at byte {exc.start} (line {line})",
            _raw_text(data),
        )
        yield batcher.make(None, [err], len(data))
        return
    yield batcher.make(_make_table([source], [text], [1], None), [], len(data))


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


def _read_parquet(
    path: Path,
    source: str,
    opened: _OpenedParquet,
    text_field: str,
    id_field: str,
    batch_docs: int,
    batch_bytes: int,
) -> Iterator[InputBatch]:
    batcher = _Batcher(source)
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
    return _make_table(ids, texts, rows, urls), errors


# --------------------------------------------------------------------------------------------
# entry point


def read_batches(
    path: Path,
    *,
    text_field: str = "text",
    id_field: str = "id",
    batch_docs: int = 2000,
    batch_bytes: int = 32 << 20,
) -> Iterator[InputBatch]:
    """Stream one input file as bounded :class:`InputBatch` es (see the module docstring).

    Usage problems raise :class:`InputError` at call time: missing file, unsupported
    extension, Parquet file without a string text column. Damaged data never raises: it
    becomes :class:`ErrorRecord` s and the iterator ends normally. The same file with the same
    arguments always gives the same batches.
    """
    if batch_docs < 1 or batch_bytes < 1:
        raise ValueError("batch_docs and batch_bytes must be positive")
    source = os.fspath(path)
    path = Path(path)
    fmt = input_format(path)
    if path.is_dir():
        raise InputError(f"input is a directory, not a file: {source}")
    if not path.is_file():
        raise InputError(f"input not found: {source}")
    if fmt is None:
        raise _unsupported(source)
    try:
        with open(path, "rb"):
            pass
    except OSError as exc:
        raise InputError(f"cannot read input {source}: {exc.strerror}") from None
    kind, compression = fmt
    if kind == "jsonl":
        return _read_jsonl(path, source, compression, text_field, id_field, batch_docs, batch_bytes)
    if kind == "wet":
        return _read_wet(path, source, compression, batch_docs, batch_bytes)
    if kind == "txt":
        return _read_txt(path, source)
    opened = _open_parquet(path, source, text_field, id_field)
    return _read_parquet(path, source, opened, text_field, id_field, batch_docs, batch_bytes)


# --------------------------------------------------------------------------------------------
# command line: read files, print throughput


def _bench(paths: Sequence[str], plain: bool, out: Callable[[str], object] = print) -> None:
    import gzip
    import time

    for p in expand_inputs(paths):
        size = p.stat().st_size
        t0 = time.perf_counter()
        docs = errors = text_bytes = 0
        for batch in read_batches(p):
            docs += batch.table.num_rows
            errors += len(batch.errors)
            text_bytes += pc.sum(pc.binary_length(batch.table.column("text"))).as_py() or 0
        dt = time.perf_counter() - t0
        out(
            f"{p}: {docs} docs, {errors} errors, {dt:.2f} s, {docs / dt:,.0f} docs/s, "
            f"{size / dt / 1e6:.1f} MB/s of file, {text_bytes / dt / 1e6:.1f} MB/s of text"
        )
        if plain and input_format(p) in (("jsonl", "gzip"), ("jsonl", None)):
            t0 = time.perf_counter()
            n = 0
            opener = gzip.open if p.name.endswith(".gz") else open
            with opener(p, "rb") as f:
                for line in f:
                    if line.strip():
                        json.loads(line)
                        n += 1
            dt_plain = time.perf_counter() - t0
            out(
                f"{p}: plain loop {n} docs, {dt_plain:.2f} s, {n / dt_plain:,.0f} docs/s, "
                f"{size / dt_plain / 1e6:.1f} MB/s of file; read_batches is "
                f"{dt_plain / dt:.2f}x faster"
            )


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="+")
    parser.add_argument("--plain", action="store_true", help="also time a gzip+json.loads loop")
    args = parser.parse_args()
    _bench(args.paths, args.plain)
