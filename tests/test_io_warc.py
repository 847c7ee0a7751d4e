"""The WARC reader on files the tests write: every record ends a document, a 'warc' rejection
with its reason, or an errors/ record; legacy charsets; transfer and content encodings;
truncated and damaged records; and through `corpusclean run` with 1 and 2 workers."""

from __future__ import annotations

import gzip
import hashlib
import json
import zlib
from pathlib import Path

import polars as pl
import pyarrow as pa
import pytest

from corpusclean import cli
from corpusclean.io import read_batches
from corpusclean.io.records import WEB_COLUMNS, WEB_SCHEMA
from corpusclean.worker import REJECTED_COLUMNS

ARTICLE = (
    "<p>The harbour museum opened a new wing this spring, devoted to the ships that carried "
    "grain along the coast for two centuries. Visitors can walk through a restored cargo hold "
    "and read the letters sailors wrote home.</p>"
    "<p>Curators spent four years collecting the objects on display, from brass compasses to "
    "hand-drawn charts of the river mouth, and they plan to add a reading room next year.</p>"
)
NAV = (
    '<nav><ul><li><a href="/">Home page link</a></li>'
    '<li><a href="/shop">Shop link</a></li></ul></nav>'
)
FOOTER = "<footer>Copyright 2024 Harbour Museum Trust. All rights reserved.</footer>"


def page(body: str, head: str = "") -> str:
    return (
        f"<!DOCTYPE html><html><head>{head}<title>Museum</title></head><body>{NAV}"
        f"<main><article><h1>New wing</h1>{body}</article></main>{FOOTER}</body></html>"
    )


def warc_record(
    wtype: str,
    block: bytes,
    *,
    uri: str | None = "https://www.example.co.uk/news/wing",
    rid: str | None = None,
    length: int | None = None,
    extra: str = "",
) -> bytes:
    rid = rid or f"<urn:uuid:{hashlib.md5(block + wtype.encode()).hexdigest()}>"
    content_type = {
        "response": "application/http;msgtype=response",
        "request": "application/http;msgtype=request",
    }.get(wtype, "application/warc-fields")
    head = [
        "WARC/1.0",
        f"WARC-Type: {wtype}",
        f"WARC-Record-ID: {rid}",
        "WARC-Date: 2024-04-25T16:24:44Z",
    ]
    if uri:
        head.append(f"WARC-Target-URI: {uri}")
    head += [
        f"Content-Type: {content_type}",
        f"Content-Length: {len(block) if length is None else length}",
    ]
    if extra:
        head.append(extra)
    return ("\r\n".join(head) + "\r\n\r\n").encode() + block + b"\r\n\r\n"


def http(body: bytes, status: str = "200 OK", headers: tuple[str, ...] = ()) -> bytes:
    lines = [f"HTTP/1.1 {status}", *headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def html_response(
    body: bytes, *headers: str, status: str = "200 OK", uri: str | None = None
) -> bytes:
    kwargs = {"uri": uri} if uri else {}
    return warc_record("response", http(body, status, headers), **kwargs)


CYRILLIC = (
    "Музей открыл новое крыло, посвящённое кораблям, которые два века возили зерно вдоль побережья."
)
JAPANESE = "博物館は今春、二世紀にわたり沿岸で穀物を運んだ船に捧げる新しい棟を開館しました。"


def records() -> list[tuple[bytes, str]]:
    """(record bytes, expected fate) in file order; a fate is 'kept', 'warc:<detail prefix>'
    or 'error:<message prefix>'."""
    utf8 = page(ARTICLE).encode()
    cp1251 = page(
        f"<p>{CYRILLIC} {CYRILLIC}</p>",
        '<meta http-equiv="Content-Type" content="text/html; charset=windows-1251">',
    ).encode("cp1251")
    sjis = page(f"<p>{JAPANESE}{JAPANESE}</p>").encode("shift_jis")
    chunked_gzip = gzip.compress(utf8)
    chunked = (
        b"".join(
            f"{len(part):x}\r\n".encode() + part + b"\r\n"
            for part in (chunked_gzip[:100], chunked_gzip[100:])
        )
        + b"0\r\n\r\n"
    )
    undecodable = b"\xff\xfe" + "<html><body><p>broken</p>".encode("utf-16-le") + b"\x00\xd8"
    return [
        (warc_record("warcinfo", b"software: test\r\n", uri=None), "warc:record_type=warcinfo"),
        (
            warc_record("request", b"GET /news/wing HTTP/1.1\r\nHost: www.example.co.uk\r\n\r\n"),
            "warc:record_type=request",
        ),
        (html_response(utf8, "Content-Type: text/html; charset=utf-8"), "kept"),
        (warc_record("metadata", b"fetchTimeMs: 12\r\n"), "warc:record_type=metadata"),
        (
            html_response(b"", "Location: https://example.org/new", status="301 Moved Permanently"),
            "warc:http_status=301 location=https://example.org/new",
        ),
        (
            html_response(
                b"<html>missing</html>", "Content-Type: text/html", status="404 Not Found"
            ),
            "warc:http_status=404",
        ),
        (
            html_response(b"%PDF-1.4 binary", "Content-Type: application/pdf"),
            "warc:content_type=application/pdf",
        ),
        (html_response(b"", "Content-Type: text/html"), "warc:empty_payload"),
        (html_response(cp1251, "Content-Type: text/html", uri="https://news.example.ru/a"), "kept"),
        (
            html_response(
                sjis, "Content-Type: text/html; charset=Shift_JIS", uri="https://example.jp/b"
            ),
            "kept",
        ),
        (
            html_response(
                chunked,
                "Content-Type: text/html",
                "Transfer-Encoding: chunked",
                "Content-Encoding: gzip",
                uri="https://blog.example.com/c",
            ),
            "kept",
        ),
        (warc_record("revisit", http(b"", "304 Not Modified")), "warc:record_type=revisit"),
        (html_response(undecodable, "Content-Type: text/html"), "error:cannot decode"),
    ]


@pytest.fixture
def warc_file(tmp_path: Path) -> Path:
    path = tmp_path / "crawl.warc"
    path.write_bytes(b"".join(r for r, _ in records()))
    return path


def read_all(path: Path, **kwargs: object) -> tuple[pl.DataFrame, list]:
    tables, errors = [], []
    for batch in read_batches(path, **kwargs):
        if batch.table.num_rows:
            assert batch.table.schema.equals(WEB_SCHEMA)
            tables.append(batch.table)
        errors += batch.errors
    frame = pl.from_arrow(pa.concat_tables(tables)) if tables else pl.DataFrame()
    return frame, errors


def check_fates(frame: pl.DataFrame, errors: list, expected: list[str]) -> None:
    """Each record (ordinal = line) has the expected fate; nothing missing or extra."""
    fates: dict[int, str] = {}
    for row in frame.iter_rows(named=True):
        fates[row["line"]] = (
            "kept" if row["_reject_reason"] is None else f"warc:{row['_reject_detail']}"
        )
        if row["_reject_reason"] is not None:
            assert row["_reject_reason"] == "warc" and row["text"] == ""
    for err in errors:
        fates[err.line] = f"error:{err.error}"
    assert sorted(fates) == list(range(1, len(expected) + 1))
    for line, want in enumerate(expected, 1):
        assert fates[line].startswith(want), (line, fates[line], want)


def test_every_record_is_kept_rejected_or_an_error(warc_file: Path) -> None:
    frame, errors = read_all(warc_file)
    check_fates(frame, errors, [fate for _, fate in records()])
    kept = frame.filter(pl.col("_reject_reason").is_null())
    first = kept.row(0, named=True)
    assert "restored cargo hold" in first["text"] and "hand-drawn charts" in first["text"]
    assert "<" not in first["text"] and "Home page link" not in first["text"]
    assert "All rights reserved" not in first["text"]
    assert first["url"] == "https://www.example.co.uk/news/wing"
    assert (first["host"], first["domain"]) == ("www.example.co.uk", "example.co.uk")
    assert first["id"] == first["warc_record_id"] and first["id"].startswith("<urn:uuid:")
    assert first["warc_date"] == "2024-04-25T16:24:44Z"
    texts = kept.get_column("text").to_list()
    assert CYRILLIC in texts[1], "windows-1251 declared only in <meta>"
    assert JAPANESE in texts[2], "Shift_JIS declared only in the HTTP header"
    assert texts[3] == first["text"], "chunked + gzip payload decoded to the same page"
    (err,) = errors
    assert err.file == str(warc_file) and err.offset is not None
    assert warc_file.read_bytes()[err.offset :].startswith(b"WARC/1.0")


def test_gzip_per_record_reads_the_same(warc_file: Path, tmp_path: Path) -> None:
    gz = tmp_path / "crawl.warc.gz"
    gz.write_bytes(b"".join(gzip.compress(r) for r, _ in records()))
    plain, plain_errors = read_all(warc_file)
    packed, packed_errors = read_all(gz)
    assert packed.equals(plain)
    assert [(e.line, e.offset, e.error) for e in packed_errors] == [
        (e.line, e.offset, e.error) for e in plain_errors
    ]
    assert sum(b.bytes_read for b in read_batches(gz)) == gz.stat().st_size


def test_truncated_last_record_is_an_error_and_the_rest_is_read(tmp_path: Path) -> None:
    recs = records()[:3]
    data = b"".join(r for r, _ in recs)
    path = tmp_path / "cut.warc"
    path.write_bytes(data[:-200])
    frame, errors = read_all(path)
    check_fates(
        frame,
        errors,
        ["warc:record_type=warcinfo", "warc:record_type=request", "error:truncated WARC record"],
    )
    # cut inside the headers: still an error for that record
    path.write_bytes(data[: len(data) - len(recs[2][0]) + 60])
    frame, errors = read_all(path)
    check_fates(
        frame,
        errors,
        ["warc:record_type=warcinfo", "warc:record_type=request", "error:truncated WARC record"],
    )


def test_truncated_gzip_stream(tmp_path: Path) -> None:
    recs = records()[:3]
    full = b"".join(gzip.compress(r) for r, _ in recs)
    path = tmp_path / "cut.warc.gz"
    path.write_bytes(full[:-30])
    frame, errors = read_all(path)
    assert frame.height == 2 and all("record_type" in d for d in frame["_reject_detail"])
    assert [e.line for e in errors][0] == 3
    assert any("gzip stream" in e.error for e in errors)


def test_damaged_header_resumes_at_the_next_record(tmp_path: Path) -> None:
    recs = records()[:4]
    path = tmp_path / "damaged.warc"
    path.write_bytes(
        recs[0][0] + recs[1][0] + b"GARBAGE LINE\r\nnot a header\r\n\r\n" + recs[2][0] + recs[3][0]
    )
    frame, errors = read_all(path)
    assert frame.height == 4  # every real record still read
    assert frame.get_column("_reject_detail").to_list() == [
        "record_type=warcinfo",
        "record_type=request",
        None,
        "record_type=metadata",
    ]
    (err,) = errors
    assert "invalid WARC record" in err.error and "resumed" in err.error


def test_undecodable_declared_charset_falls_back_to_detection() -> None:
    from corpusclean.io.html_decode import UndecodableError, decode_html

    text, how = decode_html(
        "<p>Привет мир, это проверка</p>".encode("cp1251"), "text/html; charset=utf-8"
    )
    assert "Привет" in text and how.startswith("detected:")
    assert decode_html(b"caf\xe9", "text/html; charset=iso-8859-1") == ("café", "header:cp1252")
    assert decode_html(b'<meta charset="bogus-label">ok')[1] == "utf-8:utf-8"
    with pytest.raises(UndecodableError):
        decode_html(b"\xfe\xff\xd8\x00")


def rules_file(tmp_path: Path, steps: str = "[]", extractor: str | None = None) -> Path:
    path = tmp_path / "rules.yaml"
    inp = f"input: {{html_extractor: {extractor}}}\n" if extractor else ""
    path.write_text(f"version: 1\nname: t\n{inp}steps: {steps}\n")
    return path


def digest(out: Path) -> dict[str, str]:
    return {
        str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest()
        for folder in ("documents", "rejected", "errors")
        for p in sorted((out / folder).glob("*"))
    }


def test_run_conserves_and_is_identical_for_1_and_2_workers(
    warc_file: Path, tmp_path: Path
) -> None:
    jsonl = tmp_path / "plain.jsonl"
    jsonl.write_text(
        json.dumps(
            {
                "id": "j1",
                "text": "A plain JSONL document about harbours and ships.",
                "url": "https://example.org/j",
            }
        )
        + "\n"
    )
    rules = rules_file(tmp_path, "[{length: {min_chars: 120}}]")
    outs = []
    for workers in (1, 2):
        out = tmp_path / f"out{workers}"
        code = cli.main(
            [
                "run",
                str(rules),
                "--input",
                str(warc_file),
                str(jsonl),
                "--output",
                str(out),
                "--workers",
                str(workers),
                "--quiet",
            ]
        )
        assert code == 0
        outs.append(out)
    assert digest(outs[0]) == digest(outs[1])
    out = outs[0]
    stats = json.loads((out / "stats.json").read_text())
    n_records = len(records())
    assert stats["input_docs"] == n_records + 1
    assert stats["rejected"]["warc"] == 8
    assert stats["error_records"] == 1
    assert (
        stats["input_docs"]
        == stats["kept_docs"] + sum(stats["rejected"].values()) + stats["error_records"]
    )
    # one schema for every part, JSONL rows with null web columns
    doc_schemas = {str(pl.read_parquet_schema(p)) for p in (out / "documents").glob("*.parquet")}
    rej_schemas = {str(pl.read_parquet_schema(p)) for p in (out / "rejected").glob("*.parquet")}
    assert len(doc_schemas) == 1 and len(rej_schemas) == 1
    docs = pl.read_parquet(out / "documents")
    assert docs.columns[:7] == [
        "id",
        "text",
        "url",
        "host",
        "domain",
        "warc_record_id",
        "warc_date",
    ]
    rejected = pl.read_parquet(out / "rejected")
    assert rejected.columns == [
        *REJECTED_COLUMNS,
        "url",
        "host",
        "domain",
        "warc_record_id",
        "warc_date",
    ]
    j = rejected.filter(pl.col("id") == "j1").row(0, named=True)  # too short for length
    assert j["host"] == "example.org" and j["warc_record_id"] is None
    redirect = rejected.filter(pl.col("detail").str.starts_with("http_status=301")).row(
        0, named=True
    )
    assert redirect["reason"] == "warc" and redirect["url"] == "https://www.example.co.uk/news/wing"
    (err_part,) = (out / "errors").glob("*.jsonl")
    (err,) = [json.loads(line) for line in err_part.read_text().splitlines()]
    assert (
        err["file"] == str(warc_file)
        and err["line"] == n_records
        and "cannot decode" in err["error"]
    )


def test_jsonl_only_run_keeps_todays_schemas(tmp_path: Path) -> None:
    jsonl = tmp_path / "plain.jsonl"
    jsonl.write_text(
        json.dumps({"id": "a", "text": "short", "url": "https://example.org/a"})
        + "\n"
        + json.dumps({"id": "b", "text": "long enough " * 20})
        + "\n"
    )
    out = tmp_path / "out"
    assert (
        cli.main(
            [
                "run",
                str(rules_file(tmp_path, "[{length: {min_chars: 50}}]")),
                "--input",
                str(jsonl),
                "--output",
                str(out),
                "--quiet",
            ]
        )
        == 0
    )
    columns = pl.read_parquet(out / "documents").columns
    assert columns[:3] == ["id", "text", "url"] and not set(WEB_COLUMNS) & set(columns)
    assert pl.read_parquet(out / "rejected").columns == list(REJECTED_COLUMNS)


def test_rules_reject_an_unknown_extractor(tmp_path: Path, warc_file: Path) -> None:
    code = cli.main(["validate", str(rules_file(tmp_path, extractor="justext"))])
    assert code == 2
    out = tmp_path / "out"
    rules = rules_file(tmp_path, extractor="trafilatura")
    assert (
        cli.main(["run", str(rules), "--input", str(warc_file), "--output", str(out), "--quiet"])
        == 0
    )
    docs = pl.read_parquet(out / "documents")
    assert docs.height == 4 and "restored cargo hold" in docs["text"][0]


def test_deflate_and_brotli_content_encodings(tmp_path: Path) -> None:
    import brotli

    body = page(ARTICLE).encode()
    path = tmp_path / "enc.warc"
    path.write_bytes(
        html_response(zlib.compress(body), "Content-Type: text/html", "Content-Encoding: deflate")
        + html_response(brotli.compress(body), "Content-Type: text/html", "Content-Encoding: br")
        + html_response(b"not gzip", "Content-Type: text/html", "Content-Encoding: gzip")
    )
    frame, errors = read_all(path)
    assert frame.height == 2 and frame["text"][0] == frame["text"][1] != ""
    (err,) = errors
    assert err.line == 3 and "Content-Encoding gzip" in err.error
