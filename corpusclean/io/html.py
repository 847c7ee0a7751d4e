"""HTML file reader (``.html``, ``.htm``): the whole file is one page, its main text extracted.

Why: saved pages (a crawl dumped to files, a test fixture, a page fetched by hand) are read
like WARC responses without HTTP headers: the encoding comes from a byte-order mark, the
``<meta>`` charset or detection (:mod:`corpusclean.io.html_decode`), the text from the run's
extractor (:mod:`corpusclean.extract`). The id is the path as given and ``line`` is 1, as for
``.txt``. The url is the page's ``<link rel="canonical" href="...">`` when it is an absolute
http(s) URL (the page saying where it lives), else null; ``host`` and ``domain`` follow from
it; ``warc_record_id`` and ``warc_date`` are null. An empty file is a document with text
``""`` (rules decide); bytes that no candidate encoding decodes are one ``errors/`` record for
the file (``offset`` = the first bad byte), as is an extractor failure.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from corpusclean.extract import DEFAULT_EXTRACTOR, extract_texts
from corpusclean.io.batching import Batcher, make_web_table
from corpusclean.io.html_decode import UndecodableError, decode_html
from corpusclean.io.records import ErrorRecord, InputBatch, raw_text

_LINK = re.compile(r"<link\b[^>]*>", re.IGNORECASE)
_CANONICAL = re.compile(r"""\brel\s*=\s*["']?canonical\b""", re.IGNORECASE)
_HREF = re.compile(r"""\bhref\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))""", re.IGNORECASE)
_HEAD_CHARS = 65536  # where a canonical link is looked for: the head, in practice


def canonical_url(html: str) -> str | None:
    """The absolute http(s) URL of the page's ``<link rel="canonical">``, or None."""
    for tag in _LINK.finditer(html, 0, _HEAD_CHARS):
        text = tag.group(0)
        if _CANONICAL.search(text):
            href = _HREF.search(text)
            if href:
                url = next(g for g in href.groups() if g is not None).strip()
                if url.lower().startswith(("http://", "https://")):
                    return url
    return None


def read_html(
    path: Path, source: str, *, html_extractor: str = DEFAULT_EXTRACTOR
) -> Iterator[InputBatch]:
    """One batch: the file as one document, or the error saying why it could not be read."""
    data = path.read_bytes()
    batcher = Batcher(source)
    try:
        html, _how = decode_html(data)
    except UndecodableError as exc:
        err = ErrorRecord(source, 1, exc.offset, str(exc), raw_text(data))
        yield batcher.make(None, [err], len(data))
        return
    text = ""
    if data.strip():
        (text,), failures = extract_texts([html], html_extractor)
        if failures:
            err = ErrorRecord(source, 1, None, failures[0], raw_text(data))
            yield batcher.make(None, [err], len(data))
            return
    url = canonical_url(html)
    table = make_web_table([source], [text], [1], [url], [None], [None], [None], [None])
    yield batcher.make(table, [], len(data))
