"""The Resiliparse backend of :mod:`corpusclean.extract` (the default extractor).

``extract_plain_text(html, main_content=True)`` (resiliparse.extract.html2text, Resiliparse
2.0.1): script, style and hidden elements are dropped, then elements whose tag, id, class or
role marks them as navigation, header, footer, sidebar, cookie notice, comment or advert;
block elements become line breaks, list items get bullets (``list_bullets=True``, its
default), alt texts are kept (``alt_texts=True``). Resiliparse separates blocks with blank
lines and indents list items; both are normalised here so that a paragraph is one line and
lines are separated by exactly one newline, which is what the text rules' line and
paragraph definitions (:mod:`corpusclean.text`) expect.
"""

from __future__ import annotations

import re

from resiliparse.extract.html2text import extract_plain_text

_BLANK_RUNS = re.compile(r"[ \t\u00a0]*\n[\s\u00a0]*")


def extract_text(html: str) -> str:
    """The page's main content as plain text, one block per line."""
    text = extract_plain_text(html, main_content=True)
    return _BLANK_RUNS.sub("\n", text).strip()
