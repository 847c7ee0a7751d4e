"""Splits: the unit of reading work, an input file or a byte range of a large one.

One task per input file leaves a cluster idle on a corpus of a few huge files, so a large
uncompressed JSONL file is cut into equal byte ranges, Hadoop ``FileInputFormat`` /
``LineRecordReader`` style: :func:`plan_splits` decides the cut from file sizes alone (no
reading, so the plan is cheap and depends only on the input), and the reader
(:func:`corpusclean.io.read_batches` with ``byte_range``) yields exactly the lines that start
in a range, reading past its end to finish the last one. Compressed files cannot be entered in
the middle (gzip and zstd streams have no index) and other formats are not line-oriented: they
stay one split each.

Lines are numbered in the whole file (``line`` columns, derived ids ``<name>:<line>`` and
errors must not depend on the cut), so a range's reader needs the number of its first line:
:func:`count_line_starts` counts the lines that start in each range (one pass over the range's
bytes, vectorised, runnable as one task per range) and :func:`first_lines` turns the counts of
one file's ranges into those numbers. Lines are counted as the reader numbers them: every
``\\n`` ends one (blank lines too), and a last line without one counts as well.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from corpusclean.io.paths import input_format

#: Bytes per range of a large uncompressed JSONL file (HDFS's block size is 128 or 256 MiB).
SPLIT_BYTES = 256 << 20
_COUNT_CHUNK = 8 << 20  # bytes scanned at a time by count_line_starts


def is_splittable(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` can be read by byte range: an uncompressed ``.jsonl``/``.ndjson``."""
    return input_format(path) == ("jsonl", None)


@dataclass(frozen=True)
class Split:
    """One task's share of the input: a whole file, or the lines starting in a byte range."""

    path: Path
    byte_range: tuple[int, int] | None  # [start, end) of the file; None: the whole file

    @property
    def is_whole(self) -> bool:
        return self.byte_range is None

    @property
    def nbytes(self) -> int:
        """File bytes this split accounts for (its batches' ``bytes_read`` sum to this)."""
        if self.byte_range is None:
            return self.path.stat().st_size
        return self.byte_range[1] - self.byte_range[0]

    def count_lines(self) -> int:
        """Lines that start in this range (:func:`count_line_starts`); a range split only."""
        if self.byte_range is None:
            raise ValueError(f"count_lines needs a byte range: {self.path}")
        return count_line_starts(self.path, *self.byte_range)

    def __str__(self) -> str:
        if self.byte_range is None:
            return str(self.path)
        return f"{self.path}[{self.byte_range[0]}:{self.byte_range[1]}]"


def plan_splits(paths: list[Path], split_bytes: int = SPLIT_BYTES) -> list[Split]:
    """The splits of ``paths``: files in the given order, a file's ranges in file order.

    An uncompressed ``.jsonl``/``.ndjson`` file larger than ``split_bytes`` is cut into
    ``ceil(size / split_bytes)`` ranges ``[k * split_bytes, min((k + 1) * split_bytes, size))``;
    any other file is one split with ``byte_range=None``. Only file sizes are looked at.
    """
    if split_bytes < 1:
        raise ValueError(f"split_bytes must be positive, got {split_bytes}")
    splits: list[Split] = []
    for raw in paths:
        path = Path(raw)
        size = path.stat().st_size if is_splittable(path) else 0
        if size <= split_bytes:
            splits.append(Split(path, None))
            continue
        n = math.ceil(size / split_bytes)
        splits.extend(
            Split(path, (k * split_bytes, min((k + 1) * split_bytes, size))) for k in range(n)
        )
    return splits


def _count_newlines(f: BinaryIO, start: int, end: int) -> int:
    """``b"\\n"`` bytes in ``[start, end)`` of the open binary file ``f``, in bounded chunks."""
    if end <= start:
        return 0
    f.seek(start)
    buf = np.empty(min(_COUNT_CHUNK, end - start), dtype=np.uint8)
    total = 0
    pos = start
    while pos < end:
        view = memoryview(buf)[: min(len(buf), end - pos)]
        got = f.readinto(view)  # type: ignore[attr-defined]  # BinaryIO lacks readinto
        if not got:
            break
        total += int(np.count_nonzero(buf[:got] == 0x0A))
        pos += got
    return total


def count_line_starts(path: str | os.PathLike[str], start: int, end: int) -> int:
    """The number of lines that start in ``[start, end)`` of ``path`` (``end`` capped at the size).

    A line starts at 0 (when the file is not empty) or right after a ``b"\\n"``, so for
    ``start > 0`` this is the number of ``b"\\n"`` in ``[start - 1, end - 1)``; a ``\\n`` that
    is the file's last byte starts no line. Bounded memory: the range is read in chunks.
    """
    if not 0 <= start <= end:
        raise ValueError(f"bad byte range ({start}, {end}) for {os.fspath(path)}")
    with open(path, "rb") as f:
        end = min(end, os.fstat(f.fileno()).st_size)
        if start >= end:
            return 0
        if start == 0:
            return 1 + _count_newlines(f, 0, end - 1)
        return _count_newlines(f, start - 1, end - 1)


def first_lines(counts: list[int]) -> list[int]:
    """The first line number of each of one file's ranges, in file order, from their
    :func:`count_line_starts`: 1 plus the lines that start in the ranges before it."""
    out = np.ones(len(counts), dtype=np.int64)
    if len(counts) > 1:
        np.cumsum(np.asarray(counts[:-1], dtype=np.int64), out=out[1:])
        out[1:] += 1
    return out.tolist()
