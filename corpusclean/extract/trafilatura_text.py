"""The Trafilatura backend of :mod:`corpusclean.extract` (``input: {html_extractor: trafilatura}``).

Called as datatrove's ``Trafilatura`` extractor calls it for FineWeb (datatrove
``pipeline/extractors/trafilatura.py``: ``favor_precision=True``, ``include_comments=False``),
``trafilatura.extract(html, favor_precision=True, include_comments=False, deduplicate=False)``
(Trafilatura 2.3.1), with one difference: datatrove's default ``deduplicate=True`` is off.
Trafilatura's deduplication drops a paragraph that the *process* has already seen a few times
(an LRU cache shared by every call), so a page's text would depend on which pages the same
worker extracted before it: a second pass over the same file gives empty texts
(``benchmarks/extraction.py`` saw exactly that), and the output would change with the
worker count. Repeated text is the dedup steps' job. ``None`` (no main content) is ``""``.
"""

from __future__ import annotations

import trafilatura


def extract_text(html: str) -> str:
    """The page's main content as plain text, one block per line (``""`` when none)."""
    text = trafilatura.extract(
        html, favor_precision=True, include_comments=False, deduplicate=False
    )
    return (text or "").strip()
