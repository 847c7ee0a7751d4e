"""JSON Lines reader (``.jsonl``, ``.ndjson``, gzip- or zstd-compressed): one object per line.

Speed: JSONL is parsed one batch of lines at a time by ``pyarrow.json`` with an explicit
schema: only the text, id and url fields are converted, any other field is ignored whatever its
type, so schema inference never comes into it. Arrow is strict (a text that is not a string, a
bad escape, a line that is not an object fails the parse) and its error names the row; the rows
before it are parsed again the fast way, that line goes through ``json.loads`` (which words the
ErrorRecord), and parsing resumes after it. A block with many failures finishes line by line.
Lines whose text is absent or null are the only ones looked at again in Python on the fast
path. Blank lines are skipped; a leading UTF-8 byte-order mark is ignored; a line that is not
valid UTF-8 is an error, never decoded lossily. The error messages are listed in
:mod:`corpusclean.io`.

A task may read a byte range of an uncompressed file (:mod:`corpusclean.io.splits` plans the
ranges and their first line numbers): the lines that start in it, numbered from
``first_line``. Nothing is decided per file, only per line, so the ranges of any cut give the
whole file's rows and errors: a ``url`` that is not a string only makes that line's ``url``
null (its row is parsed again by ``json.loads``), where it once stopped reading ``url`` for
the rest of the file; the id type Arrow is asked for (string or int64) is carried from block
to block, but only for speed, as both give the same ids; and a line starting with a BOM (not
at offset 0) is an error even where it starts an Arrow block (Arrow would skip it there).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj

from corpusclean.io.batching import Batcher, make_table
from corpusclean.io.records import BATCH_SCHEMA, WHITESPACE, ErrorRecord, InputBatch, raw_text
from corpusclean.io.streams import ByteSource

_MIN_FAST_ROWS = 8  # fewer lines than this are parsed line by line (json.loads)
_MAX_ATTEMPTS = 16  # pyarrow failures per block before the rest goes line by line
_BOM = b"\xef\xbb\xbf"


def _type_name(value: object) -> str:
    return type(value).__name__


def _is_encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


@dataclass
class _JsonlContext:
    path: Path
    source: str
    text_field: str
    id_field: str
    id_type: pa.DataType = field(default_factory=pa.string)  # a speed hint, not a result

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
    url = obj.get("url")
    if type(url) is not str or (surrogates and not _is_encodable(url)):
        url = None
    return doc_id, text, url


def _line_error(ctx: _JsonlContext, line: int, raw: bytes, message: str) -> ErrorRecord:
    return ErrorRecord(ctx.source, line, None, message, raw_text(raw))


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
    type between string and int64 for this and later blocks and retries; any other failure
    (a url that is not a string among them) sends that row to ``json.loads``. The payload is
    parsed as one block, so the row in the error message counts from its start.
    """
    bad: int | None = None
    for _attempt in range(3):
        fields: dict[str, pa.DataType] = {"url": pa.string()}
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
        if payload[int(starts[lo]) : int(starts[lo]) + 3] == _BOM:
            # Arrow skips a BOM at the start of its buffer only, json.loads never: a line
            # starting with one (not at offset 0) is an error wherever the block starts
            work.extend([(lo + 1, hi), (lo, lo + 1)])
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
        tables.append((-1, make_table(slow_ids, slow_texts, slow_rows, slow_urls)))
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
    urls = table.column("url")
    if urls.null_count == len(urls):
        urls = None
    out = make_table(ids, texts, pa.array(linenos, pa.int64()), urls)
    if keep is not None:
        out = out.filter(keep)
    return out, errors


_IS_WS = np.zeros(256, dtype=bool)
_IS_WS[list(WHITESPACE)] = True


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
            if maybe_blank[i] and not raw.strip(WHITESPACE):
                continue
            line = first_line + i
            if not valid:
                try:
                    raw.decode("utf-8")
                except UnicodeDecodeError as exc:
                    message = f"invalid UTF-8 at byte {exc.start}"
                    errors.append(ErrorRecord(ctx.source, line, None, message, raw_text(raw)))
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


def read_jsonl(
    path: Path,
    source: str,
    compression: str | None,
    *,
    text_field: str,
    id_field: str,
    batch_docs: int,
    batch_bytes: int,
    byte_range: tuple[int, int] | None = None,
    first_line: int = 1,
) -> Iterator[InputBatch]:
    """The batches of a JSON Lines file (``compression``: ``gzip``, ``zstd`` or None).

    With ``byte_range=(start, end)`` (uncompressed only): the lines that start in
    ``[start, end)``, the first numbered ``first_line`` (its number in the whole file), so
    lines, derived ids and errors read as in the whole file; ``bytes_read`` sums to
    ``end - start``. The byte-order mark is only skipped at offset 0.
    """
    ctx = _JsonlContext(path, source, text_field, id_field)
    if byte_range is None:  # the call tests/test_readers.py wraps to turn prefetch off
        src = ByteSource(path, compression)
    else:
        src = ByteSource(path, compression, byte_range=byte_range)
    batcher = Batcher(source)
    buf = bytearray()  # complete lines not yet batched
    buf_ends: list[np.ndarray] = []  # positions of the newlines in buf
    buf_lines = 0
    next_line = first_line  # line number of buf's first line
    offset = src.first_byte  # decompressed offset of buf[0]
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
