"""Main-text extraction: the readable body of an HTML page, without navigation or markup.

Why: a crawled page is mostly not its text. Menus, footers, cookie banners and link lists are
what WET's whole-page extraction keeps and what most rules then spend filters on; every peer
that reads WARC extracts the main content itself (datatrove and FineWeb: Trafilatura; DCLM:
Resiliparse; dolma and NeMo Curator: either). Two backends are kept, one module each:

* ``resiliparse`` (the default): ``resiliparse.extract.html2text.extract_plain_text`` with
  ``main_content=True`` (Bevendorff et al., "FastWARC and Resiliparse", OSSYM 2021; the
  extractor DCLM used), a C++ DOM walk with main-content heuristics;
* ``trafilatura``: ``trafilatura.extract`` (Barbaresi, ACL 2021 demo; FineWeb's extractor), a
  Python/lxml pipeline with readability and jusText fallbacks, several times slower.

``docs/extraction.md`` compares them on ../shared/data/cc's pages (quality, hand-checked, and
speed, ``benchmarks/extraction.py``) and says why Resiliparse is the default. Both return
plain text with paragraphs separated by newlines; an extractor that finds nothing returns
``""`` (a document that rules may reject), never None.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Literal

#: The extractors, by the name the rules' ``input.html_extractor`` takes.
Extractor = Literal["resiliparse", "trafilatura"]
EXTRACTORS: tuple[str, ...] = ("resiliparse", "trafilatura")
DEFAULT_EXTRACTOR: Extractor = "resiliparse"


def extractor_function(name: str) -> Callable[[str], str]:
    """The one-page function of extractor ``name`` (its module is imported only when used)."""
    if name == "resiliparse":
        from corpusclean.extract.resiliparse_text import extract_text

        return extract_text
    if name == "trafilatura":
        from corpusclean.extract.trafilatura_text import extract_text

        return extract_text
    raise ValueError(f"unknown HTML extractor {name!r} (known: {', '.join(EXTRACTORS)})")


def extract_texts(
    pages: Sequence[str], name: str = DEFAULT_EXTRACTOR
) -> tuple[list[str], dict[int, str]]:
    """The main text of each page, in order, and ``{index: message}`` for pages the extractor
    failed on (their text is ``""``; readers turn them into ``errors/`` records).

    A per-page Python loop, on purpose: both extractors parse one DOM at a time and have no
    batch API; the loop's own cost is nothing beside a page's parse (``benchmarks/extraction.py``).
    """
    extract = extractor_function(name)
    texts: list[str] = []
    failures: dict[int, str] = {}
    for i, page in enumerate(pages):
        try:
            texts.append(extract(page))
        except Exception as exc:  # a parser error on one page must not lose the others
            texts.append("")
            failures[i] = f"HTML extraction ({name}) failed: {type(exc).__name__}: {exc}"
    return texts, failures
