"""The Trafilatura backend of :mod:`corpusclean.extract` (``input: {html_extractor: trafilatura}``).

Called as datatrove's ``Trafilatura`` extractor calls it for FineWeb (datatrove
``pipeline/extractors/trafilatura.py``, defaults ``favour_precision=True``,
``deduplicate=True``): ``trafilatura.extract(html, favor_precision=True,
include_comments=False, deduplicate=True)`` (Trafilatura 2.3.1), so that choosing it gives
FineWeb's extraction. It returns None when it finds no main content; that is ``""`` here.
"""

from __future__ import annotations

import trafilatura


def extract_text(html: str) -> str:
    """The page's main content as plain text, one block per line (``""`` when none)."""
    text = trafilatura.extract(html, favor_precision=True, include_comments=False, deduplicate=True)
    return (text or "").strip()
