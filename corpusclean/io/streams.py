"""The decompressed bytes of one input file, in chunks, read ahead by a background thread.

Compressed input is read and decompressed by a daemon thread (zlib and zstd release the GIL)
while the caller's thread parses, a few ``CHUNK_SIZE`` chunks ahead, so memory stays bounded
whatever the file size. gzip may have several members and zstd several frames. A damaged
stream never raises: everything decoded before the damage is yielded, and then
:attr:`ByteSource.error` says where it happened (for gzip, the failing input is replayed in
small pieces from a copy of the decompressor to salvage what precedes the damage).

An uncompressed file can also be read as a byte range ``[start, end)`` (the split of a large
file that one task reads, as Hadoop's ``LineRecordReader`` and Spark's text splits do): exactly
the lines that start in the range, so the ranges of any cut of a file, read one after another,
give the whole file's lines once each.
"""

from __future__ import annotations

import io
import os
import queue
import threading
import zlib
from collections.abc import Iterator
from pathlib import Path

import zstandard

from corpusclean.io.records import ErrorRecord

_READ_SIZE = 64 << 10  # compressed bytes fed to the decompressor at a time
CHUNK_SIZE = 4 << 20  # decompressed bytes handed from the reader thread at a time
_PREFETCH_DEPTH = 3  # chunks queued ahead by the reader thread
_SCAN_SIZE = 64 << 10  # bytes read at a time looking for a range's first line start


class StreamError(Exception):
    """The compressed stream is damaged; everything decodable was yielded before this."""

    def __init__(self, message: str, compressed_offset: int) -> None:
        super().__init__(message)
        self.compressed_offset = compressed_offset


def _raw_chunks(f: io.BufferedReader) -> Iterator[tuple[bytes, int]]:
    pos = 0
    while data := f.read(CHUNK_SIZE):
        pos += len(data)
        yield data, pos


def first_line_start(f: io.BufferedReader, start: int) -> int:
    """The offset of the first line that starts at or after ``start`` (the file size if none).

    A line starts at 0 or right after a ``\\n``, so the answer is just past the first ``\\n``
    at or after ``start - 1``; the bytes before it belong to a line of the previous range.
    """
    if start == 0:
        return 0
    f.seek(start - 1)
    pos = start - 1
    while data := f.read(_SCAN_SIZE):
        i = data.find(b"\n")
        if i >= 0:
            return pos + i + 1
        pos += len(data)
    return pos


def _range_chunks(
    f: io.BufferedReader, first: int, start: int, end: int
) -> Iterator[tuple[bytes, int]]:
    """The lines that start in ``[start, end)``: bytes ``first`` up to the first ``\\n`` at or
    after ``end - 1`` (the end of the last such line; a line starting at ``end`` is the next
    range's), or up to the end of the file. Yields ``(data, range bytes accounted)``: the
    position is counted from ``start`` and capped at ``end``, so it sums to ``end - start``.
    """
    if first >= end:
        return
    f.seek(first)
    pos = first
    while data := f.read(CHUNK_SIZE):
        nxt = pos + len(data)
        if nxt >= end:  # this chunk holds byte end - 1: the last line ends at its next \n
            i = data.find(b"\n", max(end - 1 - pos, 0))
            if i >= 0:
                yield data[: i + 1], end - start
                return
        yield data, min(nxt, end) - start
        pos = nxt


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
            out = d.decompress(data, CHUNK_SIZE)
        except zlib.error as exc:
            salvaged, consumed = _replay_inflate(saved, data)
            if salvaged:
                yield salvaged, read_pos
            raise StreamError(str(exc), base + consumed) from None
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
            raise StreamError(str(exc), read_pos) from None
        if out:
            yield out, read_pos
        if not d.eof:
            raise StreamError(
                "compressed file ended before the end-of-stream marker was reached", read_pos
            )
        if d.unused_data.strip(b"\x00"):
            raise StreamError("trailing data after the last gzip member", read_pos)


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
            raise StreamError(str(exc), read_pos) from None
        if out:
            yield out, read_pos
        if d.eof:
            in_frame = False
            data = d.unused_data
        else:
            data = b""
    if in_frame:
        raise StreamError("compressed file ended before the end of the frame", read_pos)


def _coalesce(chunks: Iterator[tuple[bytes, int]]) -> Iterator[tuple[bytes, int]]:
    """Group small decompressed pieces into chunks of about ``CHUNK_SIZE``."""
    parts: list[bytes] = []
    size = 0
    pos = 0
    try:
        for data, pos in chunks:
            parts.append(data)
            size += len(data)
            if size >= CHUNK_SIZE:
                yield b"".join(parts), pos
                parts, size = [], 0
    except StreamError:
        if parts:  # what was decoded before the damage goes out first
            yield b"".join(parts), pos
        raise
    if parts:
        yield b"".join(parts), pos


class ByteSource:
    """Decompressed content of one file, in chunks, read ahead by a daemon thread.

    Iterating yields ``bytes``; afterwards :attr:`error` is set when the stream was damaged.
    :attr:`raw_pos` is the number of file bytes consumed to produce what was yielded so far
    (:attr:`size` once the iteration is over, damaged or not) and :attr:`total` the number
    of decompressed bytes yielded.

    With ``byte_range=(start, end)`` (uncompressed only) it yields the lines that start in
    ``[start, end)`` (see :func:`_range_chunks`); :attr:`first_byte` is the file offset of
    the first byte yielded and :attr:`size` is ``end - start`` (``end`` capped at the file
    size), so ``raw_pos`` over the ranges of a cut sums to the file size.
    """

    _END = object()

    def __init__(
        self,
        path: Path,
        compression: str | None,
        prefetch: bool = True,
        byte_range: tuple[int, int] | None = None,
    ) -> None:
        if byte_range is not None:
            if compression is not None:
                raise ValueError(f"a byte range needs an uncompressed file: {path}")
            if not 0 <= byte_range[0] <= byte_range[1]:
                raise ValueError(f"bad byte range {byte_range} for {path}")
        self.path = path
        self.compression = compression
        self.prefetch = prefetch
        self.raw_pos = 0
        self.total = 0
        self.error: StreamError | None = None
        self._stop = threading.Event()
        self._queue: queue.Queue[object] = queue.Queue(maxsize=_PREFETCH_DEPTH)
        self._thread: threading.Thread | None = None
        self._file = open(path, "rb")  # noqa: SIM115 - closed by the producer
        self.size = os.fstat(self._file.fileno()).st_size
        self.first_byte = 0
        self._range: tuple[int, int] | None = None
        if byte_range is not None:
            end = min(byte_range[1], self.size)
            start = min(byte_range[0], end)
            self._range = (start, end)
            self.size = end - start
            try:
                self.first_byte = first_line_start(self._file, start)
            except BaseException:
                self._file.close()
                raise

    def _chunks(self) -> Iterator[tuple[bytes, int]]:
        if self._range is not None:
            return _range_chunks(self._file, self.first_byte, *self._range)
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
            except StreamError as exc:
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
            if isinstance(item, StreamError):
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
