"""Common Crawl WET reader (``.wet``, ``.wet.gz``): the ``conversion`` records of a WARC/1.0 file.

WET files hold the plain text Common Crawl extracted from each crawled page, one WARC record per
page after a ``warcinfo`` record. Bodies are declared UTF-8 and decoded with
``errors="replace"`` (never an error). Damaged headers, unsupported ``WARC-Type`` values and
truncated records are errors whose ``offset`` is the decompressed byte offset of the record and
``line`` its ordinal; after damage, the reader resynchronises on the next ``WARC/`` line.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from corpusclean.io.batching import Batcher, RecordBatcher
from corpusclean.io.records import RAW_MAX, WHITESPACE, ErrorRecord, InputBatch, raw_text
from corpusclean.io.streams import CHUNK_SIZE, ByteSource

_MAX_HEADER = 1 << 20


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


def read_wet(
    path: Path, source: str, compression: str | None, *, batch_docs: int, batch_bytes: int
) -> Iterator[InputBatch]:
    """The batches of a WET file: one row per ``conversion`` record, in file order."""
    src = ByteSource(path, compression)
    batcher = Batcher(source)
    acc = RecordBatcher(batch_docs, batch_bytes)
    buf = bytearray()
    pos = 0  # parse position in buf
    base = 0  # decompressed offset of buf[0]
    ordinal = 0  # WARC records seen (warcinfo included)
    skipping = False  # inside damaged data already reported, looking for the next record

    def error(line: int | None, start: int, message: str, raw: bytes) -> Iterator[InputBatch]:
        if acc.would_overflow(0):
            yield batcher.make(*acc.take(), src.raw_pos)
        acc.errors.append(ErrorRecord(source, line, base + start, message, raw_text(raw)))

    def records(final: bool) -> Iterator[InputBatch]:
        """Consume the complete records in buf; when final, report what is left."""
        nonlocal pos, ordinal, skipping
        while True:
            while pos < len(buf) and buf[pos] in WHITESPACE:
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
                        bytes(buf[start : min(end, start + 4 * RAW_MAX)]),
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
                yield from error(ordinal, start, message, bytes(buf[start : start + 4 * RAW_MAX]))
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
            if pos > len(buf) // 2 or pos > CHUNK_SIZE:
                compact()
        if src.error is None:
            yield from records(final=True)
        else:
            yield from records(final=False)
            while pos < len(buf) and buf[pos] in WHITESPACE:
                pos += 1
            if acc.would_overflow(0):
                yield batcher.make(*acc.take(), src.raw_pos)
            acc.errors.append(src.error_record(source, ordinal + 1, base + pos))
        if acc.count() or src.raw_pos > batcher.reported:
            yield batcher.make(*acc.take(), src.raw_pos)
    finally:
        src.close()
