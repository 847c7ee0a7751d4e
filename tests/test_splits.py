"""Tests for corpusclean.io.splits and byte-range reading: any cut of a file, read range by range,
gives exactly the whole file's rows and errors (Hadoop LineRecordReader's contract)."""

from __future__ import annotations

import gzip
import json
import random
from pathlib import Path

import pytest

from corpusclean.io import BATCH_SCHEMA, ErrorRecord, read_batches
from corpusclean.io.splits import (
    SPLIT_BYTES,
    Split,
    count_line_starts,
    first_lines,
    plan_splits,
)
from corpusclean.io.streams import CHUNK_SIZE, ByteSource

BOM = b"\xef\xbb\xbf"

Row = tuple[str, str, int, str | None, str]  # id, text, line, url, source


def _line(record: dict) -> bytes:
    return json.dumps(record, ensure_ascii=False).encode()


#: One line of every kind the reader treats specially (each is a row or an error or skipped).
ODD_LINES: list[bytes] = [
    b"",  # blank
    b"  \t ",  # whitespace only
    _line({"text": "no id: a derived id names the line"}),
    _line({"id": 7, "text": "an int id"}),
    _line({"id": "nul", "text": None}),  # text null
    _line({"id": "miss"}),  # text absent
    b'{"id": "bad json", "text": ',  # invalid JSON
    b'{"id": "utf", "text": "\xff\xfe not UTF-8"}',  # invalid UTF-8
    b"[1, 2, 3]",  # not an object
    _line({"id": "num-url", "text": "a url that is a number", "url": 5}),
    _line({"id": "obj-url", "text": "a url that is an object", "url": {"a": 1}}),
    _line({"id": "crlf", "text": "a Windows line end", "url": "https://c.example/"}) + b"\r",
    _line({"id": True, "text": "an id of unsupported type"}),
    _line({"id": 1.5, "text": "a float id"}),
    _line({"id": "esc", "text": "a lone \\ud800 surrogate"}).replace(b"\\\\ud800", b"\\ud800"),
    _line({"id": "long", "text": "long " * 150, "url": "https://long.example/"}),
    BOM + _line({"id": "midbom", "text": "a BOM that is not at offset 0"}),  # an error
    b'{"id": "dup", "text": "first", "text": "second"}',  # json.loads keeps the last
    b'{"id": "two", "text": "a"} {"id": "objects", "text": "b"}',  # an error
    rb'{"id": "esc-key", "te\u0078t": "an escaped key"}',
    rb'{"id": "nul-char", "text": "a \u0000 in the text"}',
    b"{}",
    b'{"id": 12345678901234567890123, "text": "an id too big for int64"}',
    b'{"id": -0, "text": "minus zero"}',
    b'{"id": 1e3, "text": "an exponent id"}',
    b'  {"id": "indented", "text": "leading spaces"}',
]


def rich_bytes(n: int, seed: int) -> bytes:
    """A JSONL file of ``n`` ordinary lines with the odd lines scattered among them: a BOM
    first, the odd lines repeated, and no trailing newline."""
    rng = random.Random(seed)
    words = ["alpha", "beta", "délta", "日本語", "tab\there", 'quote"d', "x\\y", "😀"]
    lines: list[bytes] = []
    for i in range(n):
        record: dict = {"text": " ".join(rng.choice(words) for _ in range(rng.randint(0, 12)))}
        if i % 5:
            record["id"] = f"r{i}"
        if i % 3:
            record["url"] = f"https://x.example/{i}"
        lines.append(_line(record))
        if rng.random() < 0.08:
            lines.append(rng.choice(ODD_LINES))
    lines[1:1] = ODD_LINES  # every kind at least once, near the start
    return BOM + b"\n".join(lines)  # the last line has no trailing newline


def read_whole(path: Path, **kwargs) -> tuple[list[Row], list[ErrorRecord]]:
    rows: list[Row] = []
    errors: list[ErrorRecord] = []
    for batch in read_batches(path, **kwargs):
        assert batch.table.schema == BATCH_SCHEMA
        rows.extend(
            (r["id"], r["text"], r["line"], r["url"], batch.source) for r in batch.table.to_pylist()
        )
        errors.extend(batch.errors)
    return rows, errors


def read_cut(path: Path, bounds: list[int], **kwargs) -> tuple[list[Row], list[ErrorRecord], int]:
    """Read ``path`` as the ranges between consecutive ``bounds`` (0 ... size), one after
    another, each numbered from :func:`first_lines`; also checks each range's own accounting."""
    ranges = list(zip(bounds[:-1], bounds[1:], strict=True))
    counts = [count_line_starts(path, a, b) for a, b in ranges]
    firsts = first_lines(counts)
    rows: list[Row] = []
    errors: list[ErrorRecord] = []
    total = 0
    for (a, b), count, first in zip(ranges, counts, firsts, strict=True):
        n_rows, n_errors, nbytes = len(rows), len(errors), 0
        for batch in read_batches(path, byte_range=(a, b), first_line=first, **kwargs):
            rows.extend(
                (r["id"], r["text"], r["line"], r["url"], batch.source)
                for r in batch.table.to_pylist()
            )
            errors.extend(batch.errors)
            nbytes += batch.bytes_read
        assert nbytes == b - a
        total += nbytes
        # everything a range yields is numbered within the lines that start in it
        lines = [r[2] for r in rows[n_rows:]] + [e.line for e in errors[n_errors:]]
        assert all(first <= line < first + count for line in lines), (a, b)
    return rows, errors, total


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("splits") / "small.jsonl"
    path.write_bytes(rich_bytes(30, seed=1))
    return path


@pytest.fixture(scope="module")
def large(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("splits") / "large.ndjson"
    path.write_bytes(rich_bytes(3000, seed=2))
    return path


def test_rich_file_has_every_case(small: Path, large: Path) -> None:
    """The files exercise what the brief lists: rows, errors, blank lines, derived ids, urls."""
    for path in (small, large):
        data = path.read_bytes()
        assert data.startswith(BOM) and not data.endswith(b"\n") and b"\n\n" in data
        rows, errors = read_whole(path)
        messages = {e.error.split(" at ")[0].split(":")[0] for e in errors}
        assert {"invalid UTF-8", "invalid JSON", "text field 'text' is null"} <= messages
        assert any(r[0] == f"{path.name}:{r[2]}" for r in rows)  # derived ids
        assert rows[0][0] == f"{path.name}:1" and rows[0][2] == 1  # the BOM line is a row
        by_id = {r[0]: r for r in rows}
        assert by_id["num-url"][3] is None and by_id["crlf"][3] == "https://c.example/"
    rows, _ = read_whole(large)
    assert len(rows) > 3000


def test_bad_url_does_not_hide_later_urls(tmp_path: Path) -> None:
    """A url that is not a string is null for that line only (it once switched url off for the
    rest of the file, which made a row's url depend on what came before it)."""
    records = [{"id": f"a{i}", "text": "t", "url": f"u{i}"} for i in range(40)]
    records[5]["url"] = 5
    path = tmp_path / "u.jsonl"
    path.write_bytes(b"\n".join(_line(r) for r in records) + b"\n")
    rows, errors = read_whole(path)
    assert not errors
    assert [r[3] for r in rows] == [None if i == 5 else f"u{i}" for i in range(40)]


@pytest.mark.parametrize("split_bytes", [1, 2, 3, 17, 64, 333])
def test_plan_cuts_of_small_file(small: Path, split_bytes: int) -> None:
    """Tiny ranges (1 byte: most hold no line start; the BOM range; a range inside the long
    line) concatenate to the whole file."""
    whole = read_whole(small)
    splits = plan_splits([small], split_bytes)
    assert all(s.byte_range is not None for s in splits)
    bounds = [0] + [s.byte_range[1] for s in splits]  # type: ignore[index]
    rows, errors, total = read_cut(small, bounds)
    assert (rows, errors) == whole
    assert total == small.stat().st_size


def test_two_range_cuts_of_small_file(small: Path) -> None:
    """Cut at every line start and the bytes either side of it, inside the BOM, at 0 and at
    the end (empty ranges), and at random bytes inside lines."""
    data = small.read_bytes()
    size = len(data)
    whole = read_whole(small)
    cuts = set(range(8)) | {size - 1, size} | set(random.Random(5).sample(range(size), 60))
    for i in range(size):
        if data[i] == 0x0A:
            cuts.update({i, i + 1, i + 2})
    for p in sorted(c for c in cuts if 0 <= c <= size):
        rows, errors, _ = read_cut(small, [0, p, size])
        assert (rows, errors) == whole, p


@pytest.mark.parametrize("split_bytes", [997, 4096, 65536, 10**9])
@pytest.mark.parametrize("batch", [{}, {"batch_docs": 7, "batch_bytes": 700}])
def test_plan_cuts_of_large_file(large: Path, split_bytes: int, batch: dict) -> None:
    """Many ranges of hundreds of lines each, so Arrow's fast path runs inside ranges."""
    whole = read_whole(large, **batch)
    splits = plan_splits([large], split_bytes)
    if split_bytes >= large.stat().st_size:
        assert splits == [Split(large, None)]
        return
    bounds = [0] + [s.byte_range[1] for s in splits]  # type: ignore[index]
    rows, errors, total = read_cut(large, bounds, **batch)
    assert (rows, errors) == whole
    assert total == large.stat().st_size


@pytest.mark.parametrize("seed", range(6))
def test_random_cuts_of_large_file(large: Path, seed: int) -> None:
    """Uneven cuts, with boundaries put exactly at line starts and one byte either side."""
    data = large.read_bytes()
    size = len(data)
    rng = random.Random(seed)
    starts = [i + 1 for i in range(size) if data[i] == 0x0A]
    cuts = set(rng.sample(range(size), 12))
    for s in rng.sample(starts, 6):
        cuts.update({s - 1, s, s + 1})
    bounds = sorted({0, size} | {c for c in cuts if 0 < c < size})
    rows, errors, _ = read_cut(large, bounds, batch_docs=50, batch_bytes=4000)
    assert (rows, errors) == read_whole(large, batch_docs=50, batch_bytes=4000)


def test_ranges_bigger_than_a_chunk(tmp_path: Path) -> None:
    """Ranges larger than the read-ahead chunk are streamed (no chunk over CHUNK_SIZE), and
    the line straddling a range's end is finished from the next range's bytes."""
    rng = random.Random(3)
    lines = [_line({"id": f"b{i}", "text": "w" * rng.randint(0, 3000)}) for i in range(9000)]
    path = tmp_path / "big.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    size = path.stat().st_size
    assert size > 3 * CHUNK_SIZE
    split_bytes = CHUNK_SIZE + 12345
    splits = plan_splits([path], split_bytes)
    assert len(splits) == -(-size // split_bytes)
    for split in splits:
        src = ByteSource(path, None, byte_range=split.byte_range)
        try:
            chunks = [len(c) for c in src]
        finally:
            src.close()
        assert max(chunks) <= CHUNK_SIZE
        assert src.raw_pos == split.nbytes
    bounds = [0] + [s.byte_range[1] for s in splits]  # type: ignore[index]
    rows, errors, total = read_cut(path, bounds)
    assert (rows, errors) == read_whole(path)
    assert not errors and len(rows) == 9000 and total == size


def test_byte_range_usage_errors(tmp_path: Path, small: Path) -> None:
    gz = tmp_path / "a.jsonl.gz"
    gz.write_bytes(gzip.compress(b'{"text": "x"}\n'))
    txt = tmp_path / "a.txt"
    txt.write_text("x")
    for path in (gz, txt):
        with pytest.raises(ValueError, match=path.name):
            list(read_batches(path, byte_range=(0, 1)))
    with pytest.raises(ValueError, match="small.jsonl"):
        list(read_batches(small, first_line=3))
    with pytest.raises(ValueError, match="small.jsonl"):
        list(read_batches(small, byte_range=(5, 2)))
    with pytest.raises(ValueError):
        ByteSource(gz, "gzip", byte_range=(0, 1))


def test_plan_splits_sizes_only(tmp_path: Path) -> None:
    """Only sizes decide: a file of no newlines is cut like any other; compressed files and
    other formats, and files of at most split_bytes, stay whole."""
    sizes = {"a.jsonl": 100, "b.ndjson": 101, "c.jsonl.gz": 500, "d.txt": 500, "e.JSONL": 250}
    paths = []
    for name, size in sizes.items():
        (tmp_path / name).write_bytes(b"x" * size)
        paths.append(tmp_path / name)
    paths.append(tmp_path / "a.jsonl")  # repeated: planned again, in the given order
    splits = plan_splits(paths, 100)
    assert splits == [
        Split(paths[0], None),
        Split(paths[1], (0, 100)),
        Split(paths[1], (100, 101)),
        Split(paths[2], None),
        Split(paths[3], None),
        Split(paths[4], (0, 100)),
        Split(paths[4], (100, 200)),
        Split(paths[4], (200, 250)),
        Split(paths[0], None),
    ]
    assert [s.nbytes for s in splits] == [100, 100, 1, 500, 500, 100, 100, 50, 100]
    assert str(splits[2]) == f"{paths[1]}[100:101]" and str(splits[0]) == str(paths[0])
    assert plan_splits(paths[:2]) == [Split(paths[0], None), Split(paths[1], None)]
    assert SPLIT_BYTES == 256 << 20
    with pytest.raises(ValueError):
        plan_splits(paths, 0)


def _starts_reference(data: bytes, start: int, end: int) -> int:
    """Line starts in [start, end) by definition: 0 if non-empty, and after every \\n."""
    end = min(end, len(data))
    starts = ({0} if data else set()) | {i + 1 for i, b in enumerate(data) if b == 0x0A}
    return sum(start <= s < end for s in starts if s < len(data))


@pytest.mark.parametrize(
    "data",
    [b"", b"\n", b"\n\n", b"a", b"a\n", b"ab\ncd", b"\nab\n\ncd\n", BOM + b"x\ny\n\n\nz"],
)
def test_count_line_starts_every_range(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "c.jsonl"
    path.write_bytes(data)
    for start in range(len(data) + 1):
        for end in range(start, len(data) + 3):
            assert count_line_starts(path, start, end) == _starts_reference(data, start, end)
    with pytest.raises(ValueError):
        count_line_starts(path, 2, 1)


def test_count_line_starts_matches_reader_numbering(small: Path, large: Path) -> None:
    """The reader numbers lines as count_line_starts counts them: the whole file's last line
    number is the number of line starts (the file ends with a line, not a newline)."""
    for path in (small, large):
        rows, errors = read_whole(path)
        last = max([r[2] for r in rows] + [e.line or 0 for e in errors])
        assert count_line_starts(path, 0, path.stat().st_size) == last


def test_count_line_starts_across_chunks(tmp_path: Path) -> None:
    """Ranges longer than the counting chunk, against bytes.count."""
    rng = random.Random(4)
    data = bytes(rng.choice(b"ab\n") for _ in range(1000)) * 20000  # 20 MB
    path = tmp_path / "n.jsonl"
    path.write_bytes(data)
    for start, end in [(0, len(data)), (1, len(data)), (7_000_001, 19_000_003), (5, 5)]:
        expected = data.count(b"\n", max(start - 1, 0), max(end - 1, 0)) + (start == 0 < end)
        assert count_line_starts(path, start, end) == expected


def test_first_lines() -> None:
    assert first_lines([]) == []
    assert first_lines([5]) == [1]
    assert first_lines([3, 0, 5, 2]) == [1, 4, 4, 9]
