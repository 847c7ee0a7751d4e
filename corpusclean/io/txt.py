"""Plain text reader (``.txt``): the whole file is one document, read whole.

Its id is the path as given and its line 1; a file that is not valid UTF-8 is one error for the
file (``offset`` = the bad byte). A leading UTF-8 byte-order mark is dropped.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from corpusclean.io.batching import Batcher, make_table
from corpusclean.io.records import ErrorRecord, InputBatch, raw_text


def read_txt(path: Path, source: str) -> Iterator[InputBatch]:
    """One batch: the file as one document, or the error saying why it is not UTF-8."""
    data = path.read_bytes()
    batcher = Batcher(source)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        err = ErrorRecord(
            source,
            1,
            exc.start,
            f"invalid UTF-8 at byte {exc.start} (line {line})",
            raw_text(data),
        )
        yield batcher.make(None, [err], len(data))
        return
    yield batcher.make(make_table([source], [text], [1], None), [], len(data))
