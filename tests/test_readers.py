"""Tests for corpusclean.io's readers: every record is yielded or reported, in bounded batches."""

from __future__ import annotations

import gzip
import json
import os
import random
import threading
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard

from corpusclean.io import (
    BATCH_SCHEMA,
    ErrorRecord,
    InputBatch,
    InputError,
    expand_inputs,
    read_batches,
)
from corpusclean.io.jsonl import _classify_line, _JsonlContext
from corpusclean.io.streams import ByteSource

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def collect(path: Path, **kwargs) -> tuple[list[dict], list[ErrorRecord], list[InputBatch]]:
    batches = list(read_batches(path, **kwargs))
    rows: list[dict] = []
    errors: list[ErrorRecord] = []
    for batch in batches:
        assert batch.table.schema == BATCH_SCHEMA
        assert batch.table.column("id").null_count == 0
        assert batch.table.column("text").null_count == 0
        assert batch.source == str(path)
        rows.extend(batch.table.to_pylist())
        errors.extend(batch.errors)
    return rows, errors, batches


def jsonl_bytes(records: list[object]) -> bytes:
    return b"".join(
        (r if isinstance(r, bytes) else json.dumps(r, ensure_ascii=False).encode()) + b"\n"
        for r in records
    )


def write(path: Path, data: bytes) -> Path:
    name = path.name
    if name.endswith(".gz"):
        data = gzip.compress(data)
    elif name.endswith(".zst"):
        data = zstandard.ZstdCompressor().compress(data)
    path.write_bytes(data)
    return path


def sample_records(n: int, seed: int = 0) -> list[dict]:
    rng = random.Random(seed)
    words = ["alpha", "beta", "gamma", "délta", "ε", "日本語", "tab\there", 'quote"d', "x\\y"]
    return [
        {
            "id": f"r{i}",
            "text": " ".join(rng.choice(words) for _ in range(rng.randint(0, 40))),
            "meta": {"n": i, "k": [i, str(i)] if i % 2 else {"z": None}},
        }
        for i in range(n)
    ]


# --------------------------------------------------------------------------------------------
# JSONL


@pytest.mark.parametrize(
    "name", ["a.jsonl", "a.jsonl.gz", "a.jsonl.zst", "a.ndjson", "a.json.gz", "a.ndjson.zst"]
)
def test_jsonl_round_trip(tmp_path: Path, name: str) -> None:
    records = [
        {"id": "a", "text": "first", "url": "https://x.org/a"},
        {"id": "b", "text": "naïve café 日本語 😀", "extra": [1, 2, {"x": None}]},
        {"id": "c", "text": ""},  # empty text is a valid document
    ]
    path = write(tmp_path / name, jsonl_bytes(records))
    rows, errors, batches = collect(path)
    assert errors == []
    assert rows == [
        {"id": "a", "text": "first", "line": 1, "url": "https://x.org/a"},
        {"id": "b", "text": "naïve café 日本語 😀", "line": 2, "url": None},
        {"id": "c", "text": "", "line": 3, "url": None},
    ]
    assert sum(b.bytes_read for b in batches) == path.stat().st_size


def test_jsonl_ids_derived_when_missing(tmp_path: Path) -> None:
    records = [
        {"text": "no id"},
        {"id": None, "text": "null id"},
        {"id": 42, "text": "int id"},
        {"id": "s", "text": "string id"},
        {"id": 1.5, "text": "float id"},
    ]
    path = write(tmp_path / "ids.jsonl", jsonl_bytes(records))
    rows, errors, _ = collect(path)
    assert errors == []
    assert [r["id"] for r in rows] == ["ids.jsonl:1", "ids.jsonl:2", "42", "s", "1.5"]


def test_jsonl_integer_ids_fast_path(tmp_path: Path) -> None:
    records = [{"id": i, "text": f"t{i}"} for i in range(3000)]
    path = write(tmp_path / "int.jsonl.gz", jsonl_bytes(records))
    rows, errors, _ = collect(path)
    assert errors == []
    assert [r["id"] for r in rows] == [str(i) for i in range(3000)]


def test_jsonl_custom_fields(tmp_path: Path) -> None:
    records = [{"doc": "d1", "content": "hello"}, {"content": "world"}]
    path = write(tmp_path / "c.jsonl", jsonl_bytes(records))
    rows, errors, _ = collect(path, text_field="content", id_field="doc")
    assert errors == []
    assert [(r["id"], r["text"]) for r in rows] == [("d1", "hello"), ("c.jsonl:2", "world")]
    _, errors, _ = collect(path)  # default text field "text" is missing everywhere
    assert [e.error for e in errors] == ["missing text field 'text'"] * 2


def test_broken_line_in_big_chunk(tmp_path: Path) -> None:
    records: list[object] = sample_records(3000)
    records[1499] = b'{"id": "broken", "text": "unterminated'
    path = write(tmp_path / "big.jsonl.gz", jsonl_bytes(records))
    for batch_docs in (2000, 5000):
        rows, errors, _ = collect(path, batch_docs=batch_docs)
        assert len(rows) == 2999
        assert len(errors) == 1
        err = errors[0]
        assert (err.file, err.line, err.offset) == (str(path), 1500, None)
        assert err.error.startswith("invalid JSON: ")
        assert err.raw == '{"id": "broken", "text": "unterminated'
        assert [r["line"] for r in rows] == [i for i in range(1, 3001) if i != 1500]
        assert rows[1499]["id"] == "r1500"  # line 1501


BAD_LINES: list[tuple[bytes, str]] = [
    (b'{"id": "m"}', "missing text field 'text'"),
    (b'{"id": "n", "text": null}', "text field 'text' is null"),
    (b'{"id": "i", "text": 123}', "text field 'text' is not a string (got int)"),
    (b'{"id": "o", "text": {"a": 1}}', "text field 'text' is not a string (got dict)"),
    (b'{"id": "l", "text": ["a"]}', "text field 'text' is not a string (got list)"),
    (b'{"id": "b", "text": true}', "text field 'text' is not a string (got bool)"),
    (b"[1, 2]", "line is not a JSON object (got list)"),
    (b"42", "line is not a JSON object (got int)"),
    (b'"just a string"', "line is not a JSON object (got str)"),
    (b'{"id": "u", "text": "bad \xff\xfe byte"}', "invalid UTF-8 at byte 25"),
    (b'{"id": "s", "text": "lone \\ud800 surrogate"}', "text field 'text' contains an unpaired"),
    (b'{"id": "g", "text": "ok"} trailing', "invalid JSON: Extra data"),
    (b'{"id": true, "text": "bool id"}', "id field 'id' has unsupported type bool"),
]


@pytest.mark.parametrize("padding", [0, 700])
@pytest.mark.parametrize("name", ["bad.jsonl", "bad.jsonl.gz"])
def test_bad_records_become_errors(tmp_path: Path, name: str, padding: int) -> None:
    """Each defect is reported with its line; good lines around it (fast path) are kept."""
    good = sample_records(padding * 2 + len(BAD_LINES) * 3, seed=1)
    lines: list[object] = list(good[:padding])
    expected: dict[int, str] = {}
    for k, (raw, message) in enumerate(BAD_LINES):
        lines.append(good[padding + k])
        lines.append(raw)
        expected[len(lines)] = message
    lines.extend(good[padding + len(BAD_LINES) :])
    path = write(tmp_path / name, jsonl_bytes(lines))
    rows, errors, _ = collect(path)
    assert len(rows) + len(errors) == len(lines)
    assert [e.line for e in errors] == sorted(expected)
    for err in errors:
        assert err.error.startswith(expected[err.line]), (err.line, err.error)
        assert err.file == str(path) and err.offset is None and len(err.raw) <= 1000
    good_lines = [i for i in range(1, len(lines) + 1) if i not in expected]
    assert [r["line"] for r in rows] == good_lines


def test_blank_lines_crlf_bom_and_last_line_without_newline(tmp_path: Path) -> None:
    data = (
        b"\xef\xbb\xbf"
        + b'{"id": "a", "text": "x"}\r\n'
        + b"\r\n"
        + b"   \t\n"
        + b"\n"
        + b'{"id": "b", "text": "y"}\n'
        + b'{"id": "c", "text": "no newline"}'
    )
    for name in ("blank.jsonl", "blank.jsonl.gz", "blank.jsonl.zst"):
        path = write(tmp_path / name, data)
        rows, errors, _ = collect(path)
        assert errors == []
        assert [(r["id"], r["text"], r["line"]) for r in rows] == [
            ("a", "x", 1),
            ("b", "y", 5),
            ("c", "no newline", 6),
        ]


def test_long_lines_and_huge_record(tmp_path: Path) -> None:
    records = [{"id": str(i), "text": "w" * (i * 997 % 300_000)} for i in range(40)]
    records.append({"id": "huge", "text": "h" * 3_000_000})
    path = write(tmp_path / "long.jsonl.gz", jsonl_bytes(records))
    rows, errors, _ = collect(path, batch_bytes=1 << 20)
    assert errors == []
    assert [len(r["text"]) for r in rows] == [len(r["text"]) for r in records]


def test_empty_files(tmp_path: Path) -> None:
    for name in ("e.jsonl", "e.jsonl.gz", "e.jsonl.zst", "e.wet"):
        path = write(tmp_path / name, b"")
        rows, errors, batches = collect(path)
        assert rows == [] and errors == []
        assert sum(b.bytes_read for b in batches) == path.stat().st_size


# --------------------------------------------------------------------------------------------
# damaged compressed streams


def _truncation_check(path: Path, records: list[dict], data: bytes) -> None:
    rows, errors, batches = collect(path, batch_docs=100)
    assert len(errors) == 1
    err = errors[0]
    assert err.file == str(path)
    assert err.offset is not None and err.raw == ""
    assert err.error.startswith("truncated or corrupt")
    n = len(rows)
    assert 0 < n < len(records)
    # the documents yielded are exactly the records before the damage, in order
    assert [r["id"] for r in rows] == [r["id"] for r in records[:n]]
    assert err.line == n + 1  # the first record not yielded
    assert err.offset == len(jsonl_bytes(records[:n]))  # decompressed offset of that line
    # bookkeeping: yielded docs + the records lost in the tail account for the whole file
    lost = len(records) - n
    assert n + lost == len(records) and data.count(b"\n") == len(records)
    assert sum(b.bytes_read for b in batches) == path.stat().st_size


@pytest.mark.parametrize("prefetch", [True, False])
def test_truncated_gzip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, prefetch: bool) -> None:
    if not prefetch:  # the same result without the reader thread
        original = ByteSource.__init__

        def init(self, path, compression, prefetch=True):  # noqa: ANN001
            original(self, path, compression, prefetch=False)

        monkeypatch.setattr(ByteSource, "__init__", init)
    records = sample_records(1000, seed=2)
    data = jsonl_bytes(records)
    compressed = gzip.compress(data)
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(compressed[: int(len(compressed) * 0.6)])
    _truncation_check(path, records, data)
    assert "gzip stream" in collect(path)[1][0].error


def test_truncated_zstd(tmp_path: Path) -> None:
    records = sample_records(3000, seed=3)  # zstd decodes whole 128 KiB blocks: several
    data = jsonl_bytes(records)
    compressed = zstandard.ZstdCompressor(level=1).compress(data)
    path = tmp_path / "cut.jsonl.zst"
    path.write_bytes(compressed[: int(len(compressed) * 0.6)])
    _truncation_check(path, records, data)
    assert "zstd stream" in collect(path)[1][0].error


def test_corrupt_gzip_checksum(tmp_path: Path) -> None:
    records = sample_records(1000, seed=4)
    compressed = bytearray(gzip.compress(jsonl_bytes(records)))
    compressed[-8] ^= 0xFF  # CRC32 of the member
    path = tmp_path / "crc.jsonl.gz"
    path.write_bytes(bytes(compressed))
    rows, errors, _ = collect(path)
    assert [r["id"] for r in rows] == [r["id"] for r in records]
    assert len(errors) == 1 and errors[0].line == 1001
    assert "incorrect data check" in errors[0].error


def test_corrupt_gzip_in_the_middle(tmp_path: Path) -> None:
    """Damaged deflate data may decode to garbage before zlib notices: never an exception."""
    records = sample_records(1000, seed=4)
    compressed = bytearray(gzip.compress(jsonl_bytes(records)))
    middle = len(compressed) // 2
    compressed[middle : middle + 64] = bytes(64)
    path = tmp_path / "corrupt.jsonl.gz"
    path.write_bytes(bytes(compressed))
    rows, errors, batches = collect(path)
    assert errors[-1].error.startswith("truncated or corrupt gzip stream")
    assert sum(e.error.startswith("truncated or corrupt") for e in errors) == 1
    intact = [r["id"] for r in records]
    good = [r["id"] for r in rows if r["line"] < errors[0].line]
    assert 0 < len(good) and good == intact[: len(good)]
    assert sum(b.bytes_read for b in batches) == path.stat().st_size


def test_truncated_mid_line_is_not_a_document(tmp_path: Path) -> None:
    data = jsonl_bytes([{"id": "a", "text": "x"}]) + b'{"id": "b", "text": "y"}'
    full = gzip.compress(data)
    path = tmp_path / "t.jsonl.gz"
    path.write_bytes(full[:-8])  # only the gzip trailer (CRC + size) is missing
    rows, errors, _ = collect(path)
    assert [r["id"] for r in rows] == ["a"]
    assert len(errors) == 1 and errors[0].line == 2 and errors[0].offset == len(data) - 24


def test_multi_member_gzip_and_multi_frame_zstd(tmp_path: Path) -> None:
    records = sample_records(300, seed=5)
    parts = [jsonl_bytes(records[:100]), jsonl_bytes(records[100:250]), jsonl_bytes(records[250:])]
    gz = tmp_path / "multi.jsonl.gz"
    gz.write_bytes(b"".join(gzip.compress(p) for p in parts))
    zst = tmp_path / "multi.jsonl.zst"
    zst.write_bytes(b"".join(zstandard.ZstdCompressor().compress(p) for p in parts))
    for path in (gz, zst):
        rows, errors, _ = collect(path)
        assert errors == []
        assert [r["id"] for r in rows] == [r["id"] for r in records]


def test_early_close_stops_reader_thread(tmp_path: Path) -> None:
    path = write(tmp_path / "many.jsonl.gz", jsonl_bytes(sample_records(5000, seed=6)))
    iterator = read_batches(path, batch_docs=10)
    first = next(iterator)
    assert first.table.num_rows == 10
    iterator.close()  # type: ignore[attr-defined]
    assert not any(t.name.startswith("corpusclean-read") for t in threading.enumerate())


# --------------------------------------------------------------------------------------------
# batch bounds and determinism


def test_batch_docs_bound(tmp_path: Path) -> None:
    records = sample_records(50, seed=7)
    path = write(tmp_path / "b.jsonl.gz", jsonl_bytes(records))
    rows, errors, batches = collect(path, batch_docs=7)
    assert errors == []
    assert [b.table.num_rows for b in batches] == [7] * 7 + [1]
    assert [r["id"] for r in rows] == [r["id"] for r in records]


def test_batch_bytes_bound(tmp_path: Path) -> None:
    records = [{"id": str(i), "text": "x" * (50 + i * 7 % 300)} for i in range(500)]
    path = write(tmp_path / "b.jsonl", jsonl_bytes(records))
    rows, errors, batches = collect(path, batch_bytes=2000)
    assert errors == [] and len(rows) == 500
    for batch in batches:
        text_bytes = sum(len(t.encode()) for t in batch.table.column("text").to_pylist())
        assert text_bytes <= 2000
    assert len(batches) > 30


def test_batches_bound_with_errors(tmp_path: Path) -> None:
    lines: list[object] = []
    for i in range(60):
        lines.append({"id": str(i), "text": "ok"} if i % 3 else b"{bad")
    path = write(tmp_path / "e.jsonl", jsonl_bytes(lines))
    _, errors, batches = collect(path, batch_docs=7)
    assert len(errors) == 20
    assert all(b.table.num_rows + len(b.errors) <= 7 for b in batches)


def test_deterministic(tmp_path: Path) -> None:
    lines: list[object] = list(sample_records(2500, seed=8))
    lines[10] = b"not json"
    lines[2100] = {"text": 5}
    path = write(tmp_path / "d.jsonl.gz", jsonl_bytes(lines))

    def signature() -> list[tuple]:
        return [
            (b.table.to_pylist(), b.errors, b.bytes_read)
            for b in read_batches(path, batch_docs=300)
        ]

    assert signature() == signature()


def _reference(data: bytes, path: Path) -> tuple[list[tuple], list[tuple]]:
    """Line-by-line json.loads reading: what the vectorised path must reproduce."""
    ctx = _JsonlContext(path, str(path), "text", "id")
    docs, errors = [], []
    for i, raw in enumerate(data.split(b"\n")[:-1], start=1):
        if not raw.strip():
            continue
        result = _classify_line(raw, i, ctx)
        if isinstance(result, ErrorRecord):
            errors.append((result.line, result.error))
        else:
            docs.append((result[0], result[1], i))
    return docs, errors


@pytest.mark.parametrize("seed", range(4))
def test_fast_path_matches_line_by_line_reference(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    defects: list[object] = [b"", b"  ", b"{oops", b"[]", b'{"text": 1}', b'{"id": 3}']
    defects += [b'{"text": null, "id": "z"}', b'{"text": "\xc3\x28"}', b'{"id": [1], "text": "a"}']
    lines: list[object] = []
    for i, record in enumerate(sample_records(3000, seed=seed)):
        if rng.random() < 0.01:
            lines.append(rng.choice(defects))
        elif rng.random() < 0.02:
            record.pop("id")
            lines.append(record)
        elif rng.random() < 0.02:
            lines.append({**record, "id": i})
        else:
            lines.append(record)
    data = jsonl_bytes(lines)
    path = write(tmp_path / "p.jsonl.gz", data)
    rows, errors, _ = collect(path, batch_docs=rng.choice([100, 700, 2000]))
    docs, errs = _reference(data, path)
    assert [(r["id"], r["text"], r["line"]) for r in rows] == docs
    assert [(e.line, e.error) for e in errors] == errs


# --------------------------------------------------------------------------------------------
# WET


def warc_record(headers: dict[str, str], body: bytes) -> bytes:
    head = "WARC/1.0\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    head += f"Content-Length: {len(body)}\r\n\r\n"
    return head.encode() + body + b"\r\n\r\n"


def wet_records() -> tuple[list[bytes], list[dict]]:
    info = warc_record(
        {"WARC-Type": "warcinfo", "WARC-Record-ID": "<urn:uuid:info>"},
        b"Software-Info: test\r\nFormat: WET\r\n",
    )
    docs = [
        {"id": "<urn:uuid:0001>", "url": "http://a.example/", "text": "Hello world.\nLine two."},
        {"id": "<urn:uuid:0002>", "url": "http://b.example/p?q=1", "text": "Ünïcödé text ✓"},
        {"id": "<urn:uuid:0003>", "url": "http://c.example/", "text": ""},
    ]
    records = [info] + [
        warc_record(
            {
                "WARC-Type": "conversion",
                "WARC-Target-URI": d["url"],
                "WARC-Date": "2024-01-01T00:00:00Z",
                "WARC-Record-ID": d["id"],
                "Content-Type": "text/plain",
            },
            d["text"].encode(),
        )
        for d in docs
    ]
    return records, docs


@pytest.mark.parametrize("name", ["x.warc.wet.gz", "x.wet", "x.wet.gz"])
def test_wet_round_trip(tmp_path: Path, name: str) -> None:
    records, docs = wet_records()
    path = tmp_path / name
    if name.endswith(".gz"):  # one gzip member per record, as Common Crawl does
        path.write_bytes(b"".join(gzip.compress(r) for r in records))
    else:
        path.write_bytes(b"".join(records))
    rows, errors, batches = collect(path)
    assert errors == []
    assert rows == [
        {"id": d["id"], "text": d["text"], "line": i + 2, "url": d["url"]}
        for i, d in enumerate(docs)
    ]
    assert sum(b.bytes_read for b in batches) == path.stat().st_size


def test_wet_damaged_records(tmp_path: Path) -> None:
    records, docs = wet_records()
    response = warc_record({"WARC-Type": "response", "WARC-Record-ID": "<urn:r>"}, b"<html>")
    no_length = b"WARC/1.0\r\nWARC-Type: conversion\r\n\r\nbody without length\r\n\r\n"
    truncated = warc_record({"WARC-Type": "conversion", "WARC-Record-ID": "<urn:t>"}, b"x" * 50)
    data = b"".join([records[0], records[1], response, no_length, records[2], truncated[:-30]])
    path = tmp_path / "bad.wet"
    path.write_bytes(data)
    rows, errors, _ = collect(path)
    assert [r["id"] for r in rows] == [docs[0]["id"], docs[1]["id"]]
    assert [(e.line, e.error.split(":")[0]) for e in errors] == [
        (3, "unsupported WARC-Type 'response' (only 'conversion' records are documents)"),
        (4, "invalid WARC header"),
        (6, "truncated WARC record"),
    ]
    assert errors[0].offset == len(records[0]) + len(records[1])
    assert all(e.file == str(path) for e in errors)


def test_wet_garbage_between_records(tmp_path: Path) -> None:
    records, docs = wet_records()
    garbage = b"this is not a record\nWARC-ish but not quite\n" * 3
    path = tmp_path / "g.wet.gz"
    path.write_bytes(gzip.compress(records[1] + garbage + records[2] + b"tail garbage"))
    rows, errors, _ = collect(path)
    assert [r["id"] for r in rows] == [docs[0]["id"], docs[1]["id"]]
    assert [r["line"] for r in rows] == [1, 2]
    assert len(errors) == 2
    assert all(e.error.startswith("not a WARC record") for e in errors)
    assert errors[0].offset == len(records[1]) and errors[0].line is None


def test_wet_truncated_gzip(tmp_path: Path) -> None:
    records, _ = wet_records()
    many = [records[0]] + [records[1 + i % 3] for i in range(60)]
    blob = b"".join(gzip.compress(r) for r in many)
    path = tmp_path / "cut.warc.wet.gz"
    path.write_bytes(blob[: len(blob) // 2])
    rows, errors, _ = collect(path)
    assert 0 < len(rows) < 60
    assert len(errors) == 1 and errors[0].error.startswith("truncated or corrupt gzip stream")
    assert errors[0].line == len(rows) + 2 and errors[0].offset is not None


def test_wet_batch_bounds(tmp_path: Path) -> None:
    records, _ = wet_records()
    path = tmp_path / "many.wet"
    path.write_bytes(records[0] + b"".join(records[1 + i % 3] for i in range(50)))
    rows, errors, batches = collect(path, batch_docs=7)
    assert errors == [] and len(rows) == 50
    assert all(b.table.num_rows <= 7 for b in batches)


# --------------------------------------------------------------------------------------------
# Parquet and TXT


def test_parquet_round_trip(tmp_path: Path) -> None:
    table = pa.table(
        {
            "id": pa.array([10, None, 30, 40, 50], pa.int64()),
            "text": pa.array(["a", "b", None, "", "e" * 100]),
            "url": pa.array(["u1", None, "u3", "u4", None]),
            "other": pa.array([1, 2, 3, 4, 5]),
        }
    )
    path = tmp_path / "t.parquet"
    pq.write_table(table, path, row_group_size=2)
    rows, errors, batches = collect(path, batch_docs=2)
    assert [(r["id"], r["text"], r["line"], r["url"]) for r in rows] == [
        ("10", "a", 1, "u1"),
        ("t.parquet:2", "b", 2, None),
        ("40", "", 4, "u4"),
        ("50", "e" * 100, 5, None),
    ]
    assert [(e.line, e.error) for e in errors] == [(3, "text field 'text' is null")]
    assert all(b.table.num_rows + len(b.errors) <= 2 for b in batches)
    assert sum(b.bytes_read for b in batches) == path.stat().st_size


def test_parquet_without_id_and_bytes_bound(tmp_path: Path) -> None:
    path = tmp_path / "noid.parquet"
    pq.write_table(pa.table({"text": [f"doc {i} " * 20 for i in range(100)]}), path)
    rows, errors, batches = collect(path, batch_bytes=1000)
    assert errors == [] and len(rows) == 100
    assert [r["id"] for r in rows] == [f"noid.parquet:{i}" for i in range(1, 101)]
    assert all(sum(len(t) for t in b.table.column("text").to_pylist()) <= 1000 for b in batches)


def test_parquet_missing_text_column(tmp_path: Path) -> None:
    path = tmp_path / "nocol.parquet"
    pq.write_table(pa.table({"body": ["x"]}), path)
    with pytest.raises(InputError, match="nocol.parquet.*'text'"):
        read_batches(path)
    assert collect(path, text_field="body")[0][0]["text"] == "x"


def test_parquet_unreadable(tmp_path: Path) -> None:
    path = tmp_path / "junk.parquet"
    path.write_bytes(b"this is not parquet")
    rows, errors, _ = collect(path)
    assert rows == [] and len(errors) == 1 and errors[0].file == str(path)


def test_txt(tmp_path: Path) -> None:
    path = tmp_path / "doc.txt"
    path.write_text("Line one.\nLine two ✓\n", encoding="utf-8")
    rows, errors, batches = collect(path)
    assert errors == []
    assert rows == [{"id": str(path), "text": "Line one.\nLine two ✓\n", "line": 1, "url": None}]
    assert batches[0].bytes_read == path.stat().st_size
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"good\nbad \xff here\n")
    rows, errors, _ = collect(bad)
    assert rows == []
    assert len(errors) == 1 and errors[0].offset == 9
    assert errors[0].error.startswith("invalid UTF-8 at byte 9")


# --------------------------------------------------------------------------------------------
# expand_inputs and usage errors


def test_expand_inputs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for rel in [
        "d/b.jsonl",
        "d/a.jsonl.gz",
        "d/sub/c.parquet",
        "d/sub/deep/e.warc.wet.gz",
        "d/notes.md",
        "d/.hidden.jsonl",
        "d/x.warc.wat.gz",  # WAT metadata: still unsupported (.warc.gz is read since issue 14)
        "f.txt",
        "g.jsonl.zst",
    ]:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"")
    monkeypatch.chdir(tmp_path)
    expected_dir = ["d/a.jsonl.gz", "d/b.jsonl", "d/sub/c.parquet", "d/sub/deep/e.warc.wet.gz"]
    assert expand_inputs(["d"]) == [Path(p) for p in expected_dir]
    assert expand_inputs(["d/**/*.gz"]) == [Path("d/a.jsonl.gz"), Path("d/sub/deep/e.warc.wet.gz")]
    # globs, files and directories mixed; duplicates removed, result sorted
    got = expand_inputs(["g.jsonl.zst", "d/*.jsonl*", "f.txt", "d", "./f.txt"])
    assert got == sorted(got, key=str)
    assert [str(p) for p in got] == [
        "d/a.jsonl.gz",
        "d/b.jsonl",
        "d/sub/c.parquet",
        "d/sub/deep/e.warc.wet.gz",
        "f.txt",
        "g.jsonl.zst",
    ]
    assert expand_inputs([str(tmp_path / "d" / "*.jsonl")]) == [tmp_path / "d" / "b.jsonl"]


def test_expand_inputs_errors(tmp_path: Path) -> None:
    (tmp_path / "ok.jsonl").write_bytes(b"")
    (tmp_path / "x.warc.gz").write_bytes(b"")
    (tmp_path / "empty").mkdir()
    missing = str(tmp_path / "missing.jsonl")
    with pytest.raises(InputError) as exc:
        expand_inputs([str(tmp_path / "ok.jsonl"), missing])
    assert missing in str(exc.value)
    with pytest.raises(InputError, match="nothing-here"):
        expand_inputs([str(tmp_path / "nothing-here*.jsonl")])
    with pytest.raises(InputError, match="x.warc.wat.gz"):
        expand_inputs([str(tmp_path / "x.warc.wat.gz")])
    with pytest.raises(InputError, match="empty"):
        expand_inputs([str(tmp_path / "empty")])


def test_read_batches_usage_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="nope.jsonl"):
        read_batches(tmp_path / "nope.jsonl")
    (tmp_path / "a.csv").write_text("x")
    with pytest.raises(InputError, match="a.csv"):
        read_batches(tmp_path / "a.csv")
    with pytest.raises(InputError, match="directory"):
        read_batches(tmp_path)
    with pytest.raises(InputError, match="plain.json"):
        (tmp_path / "plain.json").write_text("[]")
        read_batches(tmp_path / "plain.json")


# --------------------------------------------------------------------------------------------
# real data beside the project (skipped when absent)


@pytest.mark.skipif(not SHARED_DATA.is_dir(), reason="../shared/data not present")
def test_shared_data_counts_match_plain_loop() -> None:
    files = [SHARED_DATA / "webmix" / "part-0000.jsonl.gz"]
    files += sorted((SHARED_DATA / "cc").glob("*.jsonl.gz"))
    assert all(f.is_file() for f in files)
    for path in files:
        with gzip.open(path, "rb") as f:
            expected = [json.loads(line) for line in f if line.strip()]
        rows, errors, batches = collect(path)
        assert errors == []
        assert len(rows) == len(expected)
        assert [r["id"] for r in rows] == [str(e["id"]) for e in expected]
        assert [r["text"] for r in rows] == [e["text"] for e in expected]
        assert sum(b.bytes_read for b in batches) == os.path.getsize(path)
    # the sample-*.warc.gz files are full WARC (HTML responses): an input since issue 14
    # (tests/test_io_warc.py, tests/test_extraction.py)
    cc = expand_inputs([str(SHARED_DATA / "cc")])
    assert cc == sorted(
        [*(SHARED_DATA / "cc").glob("*.jsonl.gz"), *(SHARED_DATA / "cc").glob("*.warc.gz")]
    )
