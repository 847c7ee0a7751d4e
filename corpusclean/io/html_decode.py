"""HTML bytes to text: which character encoding a page is in, and decoding it strictly.

Why: a page's bytes mean nothing until the encoding is known, and guessing wrong makes
mojibake that no later step can fully repair. The order is the one browsers use (WHATWG HTML,
"determining the character encoding", html.spec.whatwg.org/#determining-the-character-encoding),
reduced to what a crawl record carries:

1. a byte-order mark (UTF-8, UTF-16 LE/BE) wins over everything;
2. the ``charset`` parameter of the HTTP ``Content-Type`` header (WARC only);
3. ``<meta charset=...>`` or ``<meta http-equiv="Content-Type" content="...; charset=...">``
   in the first :data:`META_SCAN_BYTES` bytes (the spec's prescan reads 1024; pages with long
   comments or inline scripts before the tag are common, so more is read);
4. otherwise: UTF-8 when the bytes are valid UTF-8, else uchardet's guess
   (``resiliparse.parse.encoding.detect_encoding``).

Labels are mapped to the WHATWG encoding a browser would use
(``resiliparse.parse.encoding.map_encoding_to_html5``: ``iso-8859-1`` and ``ascii`` mean
windows-1252, ``shift_jis`` means Windows' superset cp932, ``gb2312`` means gbk), and an
unknown label is skipped as if absent. Decoding is strict: when the chosen encoding does not
decode the bytes, the next source is tried (a declared charset is often wrong); when none does,
:class:`UndecodableError` says which were tried and where the first bad byte is, and the
reader writes an ``errors/`` record instead of a document with replacement characters.
"""

from __future__ import annotations

import codecs
import re

from resiliparse.parse.encoding import detect_encoding, map_encoding_to_html5

#: Bytes of the page searched for a ``<meta>`` charset declaration.
META_SCAN_BYTES = 4096

_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_HEADER_CHARSET = re.compile(rb"""charset\s*=\s*["']?([A-Za-z0-9_.:-]+)""", re.IGNORECASE)
_META = re.compile(rb"<meta\b[^>]*>", re.IGNORECASE)
_META_CHARSET = re.compile(rb"""\bcharset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.IGNORECASE)


class UndecodableError(ValueError):
    """No candidate encoding decodes the bytes; ``offset`` is the first bad byte of the last
    one tried."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message)
        self.offset = offset


def _codec(label: bytes | str | None) -> str | None:
    """The Python codec of a charset label as a browser reads it, or None when unknown."""
    if not label:
        return None
    text = label.decode("ascii", "replace") if isinstance(label, bytes) else label
    text = text.strip().lower()
    try:
        codecs.lookup(text)
    except LookupError:
        return None
    mapped = map_encoding_to_html5(text)
    try:
        return codecs.lookup(mapped).name
    except LookupError:
        return codecs.lookup(text).name


def header_charset(content_type: str | None) -> str | None:
    """The codec named by an HTTP ``Content-Type`` header's ``charset``, or None."""
    if not content_type:
        return None
    match = _HEADER_CHARSET.search(content_type.encode("latin-1", "replace"))
    return _codec(match.group(1)) if match else None


def meta_charset(data: bytes) -> str | None:
    """The codec a ``<meta>`` tag in the page's first bytes declares, or None."""
    for tag in _META.finditer(data, 0, META_SCAN_BYTES):
        match = _META_CHARSET.search(tag.group(0))
        if match:
            codec = _codec(match.group(1))
            if codec is not None:
                # A page that says "utf-16" in an ASCII-compatible meta tag is not UTF-16
                # (WHATWG: such a declaration means UTF-8).
                return "utf-8" if codec.startswith("utf-16") else codec
    return None


def decode_html(data: bytes, content_type: str | None = None) -> tuple[str, str]:
    """``(text, how)``: the page decoded, and ``"<source>:<codec>"`` saying which rule chose
    the encoding (``bom``, ``header``, ``meta``, ``utf-8`` or ``detected``).

    Raises :class:`UndecodableError` when no candidate decodes the bytes strictly.
    """
    for bom, codec in _BOMS:
        if data.startswith(bom):
            candidates = [("bom", codec)]
            data = data[len(bom) :]
            break
    else:
        candidates = []
        declared = header_charset(content_type)
        if declared:
            candidates.append(("header", declared))
        meta = meta_charset(data)
        if meta:
            candidates.append(("meta", meta))
        candidates.append(("utf-8", "utf-8"))
        detected = _codec(detect_encoding(data))
        if detected:
            candidates.append(("detected", detected))
    tried: list[str] = []
    offset = 0
    for how, codec in candidates:
        if codec in tried:
            continue
        tried.append(codec)
        try:
            return data.decode(codec), f"{how}:{codec}"
        except UnicodeDecodeError as exc:
            offset = exc.start if len(tried) == 1 else offset
    raise UndecodableError(
        f"cannot decode the page: invalid bytes for every candidate encoding "
        f"({', '.join(tried)}); first bad byte at body offset {offset}",
        offset,
    )
