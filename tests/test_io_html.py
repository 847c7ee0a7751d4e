"""The .html/.htm reader on files the tests write (one page per file: charsets declared in
<meta> or not at all, canonical url, an empty file, undecodable bytes), and folders of them
through `corpusclean run`."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl

from corpusclean import cli
from corpusclean.io import expand_inputs, input_format, read_batches
from corpusclean.io.html_decode import decode_html, meta_charset

BODY = (
    "<p>The village bakery has baked rye bread in the same wood-fired oven since 1892, and the "
    "recipe has changed only twice.</p><p>Every morning at four the baker lights the fire, "
    "and by seven the first loaves are cooling on the racks by the window.</p>"
)
RUSSIAN = "Деревенская пекарня печёт ржаной хлеб в той же дровяной печи с 1892 года."
JAPANESE = "村のパン屋は一八九二年から同じ薪窯でライ麦パンを焼いています。"


def doc(body: str, head: str = "") -> str:
    return (
        f"<!DOCTYPE html><html><head>{head}<title>Bakery</title></head><body>"
        f"<nav><a href='/'>Home</a> <a href='/menu'>Menu</a></nav><main>{body}</main>"
        "<footer>All rights reserved, Bakery Ltd.</footer></body></html>"
    )


def one(path: Path) -> tuple[list[dict], list]:
    (batch,) = list(read_batches(path))
    return batch.table.to_pylist(), batch.errors


def test_utf8_page_with_canonical_url(tmp_path: Path) -> None:
    path = tmp_path / "bakery.html"
    path.write_text(doc(BODY, '<link rel="canonical" href="https://www.bakery.example.com/rye">'))
    (row,), errors = one(path)
    assert not errors
    assert "wood-fired oven since 1892" in row["text"] and "first loaves" in row["text"]
    assert "All rights reserved" not in row["text"] and "<" not in row["text"]
    assert (row["id"], row["line"]) == (str(path), 1)
    assert (row["url"], row["host"], row["domain"]) == (
        "https://www.bakery.example.com/rye",
        "www.bakery.example.com",
        "example.com",
    )
    assert row["warc_record_id"] is None and row["_reject_reason"] is None


def test_legacy_charsets(tmp_path: Path) -> None:
    meta = tmp_path / "ru.htm"
    meta.write_bytes(
        doc(f"<p>{RUSSIAN} {RUSSIAN}</p>", '<meta charset="windows-1251">').encode("cp1251")
    )
    (row,), errors = one(meta)
    assert not errors and RUSSIAN in row["text"] and row["url"] is None
    undeclared = tmp_path / "ja.HTML"
    undeclared.write_bytes(doc(f"<p>{JAPANESE}{JAPANESE}{JAPANESE}</p>").encode("shift_jis"))
    assert input_format(undeclared) == ("html", None)
    (row,), errors = one(undeclared)
    assert not errors and JAPANESE in row["text"], "Shift_JIS found by detection"


def test_empty_file_is_an_empty_document_and_bad_bytes_an_error(tmp_path: Path) -> None:
    empty = tmp_path / "empty.html"
    empty.write_bytes(b"")
    (row,), errors = one(empty)
    assert row["text"] == "" and not errors
    bad = tmp_path / "bad.html"
    bad.write_bytes(b"\xff\xfe" + "<p>x</p>".encode("utf-16-le") + b"\x00\xdc")
    rows, (err,) = one(bad)
    assert rows == [] and err.file == str(bad) and err.line == 1 and "cannot decode" in err.error


def test_meta_charset_forms() -> None:
    assert meta_charset(
        b'<meta http-equiv="Content-Type" content="text/html; charset=EUC-JP">'
    ) == ("euc_jp")
    assert meta_charset(b"<meta charset='utf-16'>") == "utf-8"
    assert meta_charset(b"<meta name=x content=y>") is None
    assert decode_html("\ufeffhello".encode("utf-8"))[0] == "hello"


def test_folder_of_pages_through_run(tmp_path: Path) -> None:
    pages = tmp_path / "pages"
    pages.mkdir()
    (pages / "a.html").write_text(doc(BODY))
    (pages / "b.htm").write_bytes(b"")
    (pages / "c.html").write_bytes(b"\xff\xfe\x00\xd8")
    (pages / "notes.md").write_text("not an input")
    assert [p.name for p in expand_inputs([str(pages)])] == ["a.html", "b.htm", "c.html"]
    rules = tmp_path / "rules.yaml"
    rules.write_text("version: 1\nsteps: [{length: {min_chars: 50}}]\n")
    out = tmp_path / "out"
    assert (
        cli.main(["run", str(rules), "--input", str(pages), "--output", str(out), "--quiet"]) == 0
    )
    stats = json.loads((out / "stats.json").read_text())
    assert (stats["input_docs"], stats["kept_docs"], stats["error_records"]) == (3, 1, 1)
    assert stats["rejected"]["length"] == 1
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
