"""Main-text extraction on real Common Crawl-style WARC records (../shared/data/cc, skipped
when absent): no markup, the main paragraphs of hand-checked pages kept, their navigation,
footers and banners dropped, for both extractors; and extraction on hand-made pages.

The phrases below were checked by hand against each page (the whole-page text, Resiliparse
with ``main_content=False``, next to each extractor's output) on 2026-12-07. Misses are
recorded, not hidden: ``KNOWN_MISSES`` lists every (extractor, page, phrase) that an
extractor gets wrong today, so the test fails if one gets better or worse.
``python -m pytest tests/test_extraction.py -k table -s`` prints the table of
docs/extraction.md.
"""

from __future__ import annotations

import re
from pathlib import Path

import pyarrow as pa
import pytest

from corpusclean.extract import EXTRACTORS, extract_texts
from corpusclean.io import read_batches

#: url -> (phrases of the main text, phrases of navigation / footer / banners)
CHECKED: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "https://soldaini.net/facts/": (
        ("In no particular order, here are some facts about me", "My Erdös number is 3"),
        ("Publications / Facts",),
    ),
    "https://maria-antoniak.github.io/2023/07/04/notes-on-mastodon.html": (
        (
            "Yes, your server matters. It’s not a choice you should make lightly.",
            "Whole conversation threads are invisible to you",
        ),
        ("Resources /", "Publications /"),
    ),
    "https://maria-antoniak.github.io/2022/07/27/topic-modeling-for-the-people.html": (
        (
            "“How do your topics look so good?”",
            "Thank you to David Mimno and Matthew Wilkens",
        ),
        ("Resources /",),
    ),
    "https://creativecommons.org/2024/03/28/cc-joins-civil-society-letter-urging-u-s-to-support-"
    "openness-and-transparency-in-ai/": (
        (
            "This week, we joined a broad coalition of civil society and leading academics",
            "risk should be evaluated relative to alternatives",
        ),
        (
            "Skip to content",
            "Licenses and Tools",
            "Subscribe to our Newsletter",
            "Except where otherwise noted, content on this site is licensed",
        ),
    ),
    "https://creativecommons.org/": (
        (
            "Creative Commons is an international nonprofit organization",
            "For over 20 years, Creative Commons has supported a global movement",
        ),
        ("Skip to content", "Licenses and Tools", "Donate Now"),
    ),
    "https://commoncrawl.org/blog/march-april-2024-newsletter": (
        (
            "Our Web Graph releases (which allow visualisation of the crawl metrics)",
            "503 Slow Down responses have been reduced dramatically",
        ),
        ("Get StartedBlogExamplesUse CasesCCBotInfra StatusFAQ", "© 2023 Common Crawl"),
    ),
    "https://commoncrawl.org/faq": (
        (
            "Common Crawl is a 501(c)(3) non-profit organization",
            "We currently honor the nofollow attribute",
        ),
        ("Get StartedBlogExamplesUse CasesCCBotInfra StatusFAQ", "© 2023 Common Crawl"),
    ),
    "https://joe.cat/": (
        (
            "I am a research scientist at AI2",
            "CiteSee provides a personalized paper reading experience",
        ),
        ("Powered by Git, GitHub and Octopress",),
    ),
}

#: What each extractor gets wrong on the checked pages (main phrase lost, or boilerplate kept).
KNOWN_MISSES: set[tuple[str, str, str]] = {
    # Resiliparse drops the page's one <ul>, which is the whole content of the page.
    ("resiliparse", "https://soldaini.net/facts/", "My Erdös number is 3"),
    # Trafilatura keeps only the intro of the home page and the project blurbs of joe.cat.
    (
        "trafilatura",
        "https://creativecommons.org/",
        "For over 20 years, Creative Commons has supported a global movement",
    ),
    ("trafilatura", "https://joe.cat/", "I am a research scientist at AI2"),
}

_TAG = re.compile(r"</?[a-zA-Z][a-zA-Z0-9]*(\s[^<>]*)?/?>")


def norm(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture(scope="module")
def pages(shared_data_module: Path) -> dict[str, dict[str, str]]:
    """extractor -> url -> extracted text of every HTML page of the samples."""
    out: dict[str, dict[str, str]] = {}
    for name in EXTRACTORS:
        texts: dict[str, str] = {}
        for path in sorted((shared_data_module / "cc").glob("sample-*.warc.gz")):
            for batch in read_batches(path, html_extractor=name):
                rows = batch.table.filter(pa.compute.is_null(batch.table["_reject_reason"]))
                texts.update(zip(rows["url"].to_pylist(), rows["text"].to_pylist(), strict=True))
        out[name] = texts
    if not out["resiliparse"]:
        pytest.skip("no WARC samples in ../shared/data/cc")
    return out


@pytest.fixture(scope="module")
def shared_data_module() -> Path:
    from tests.conftest import SHARED_DATA

    if not (SHARED_DATA / "cc").is_dir():
        pytest.skip("../shared/data/cc is absent")
    return SHARED_DATA


def outcomes(texts: dict[str, str], name: str) -> list[tuple[str, str, str, bool]]:
    """(url, kind, phrase, as expected) for every checked phrase."""
    rows = []
    for url, (main, boiler) in CHECKED.items():
        text = norm(texts[url])
        for phrase in main:
            rows.append((url, "main", phrase, norm(phrase) in text))
        for phrase in boiler:
            lines = {norm(line) for line in texts[url].splitlines()}
            # a navigation phrase counts as kept when it is a line of its own or inside one
            kept = norm(phrase) in lines or norm(phrase) in text
            rows.append((url, "boilerplate", phrase, not kept))
    return rows


@pytest.mark.parametrize("name", EXTRACTORS)
def test_hand_checked_pages(pages: dict[str, dict[str, str]], name: str) -> None:
    texts = pages[name]
    assert set(CHECKED) <= set(texts)
    misses = {(name, url, phrase) for url, _, phrase, ok in outcomes(texts, name) if not ok}
    assert misses == {m for m in KNOWN_MISSES if m[0] == name}


@pytest.mark.parametrize("name", EXTRACTORS)
def test_no_markup_and_no_repeated_paragraphs(pages: dict[str, dict[str, str]], name: str) -> None:
    texts = pages[name]
    assert len(texts) >= 30
    for url, text in texts.items():
        assert not _TAG.search(text), (url, _TAG.search(text))
        assert "&amp;" not in text and "&nbsp;" not in text and "\n\n" not in text, url
        assert text == text.strip() and text, url


def test_table(pages: dict[str, dict[str, str]]) -> None:
    """The hand-check table of docs/extraction.md (run with -s to see it)."""
    print()
    print(
        "| extractor | main phrases kept | boilerplate phrases dropped | pages | characters "
        "| lines (>= 40 chars) repeated within a page |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    for name in EXTRACTORS:
        rows = outcomes(pages[name], name)
        main = [ok for _, kind, _, ok in rows if kind == "main"]
        boiler = [ok for _, kind, _, ok in rows if kind == "boilerplate"]
        texts = pages[name].values()
        repeated = 0
        for text in texts:
            lines = [line.strip() for line in text.splitlines() if len(line.strip()) >= 40]
            repeated += len(lines) - len(set(lines))
        chars = sum(len(t) for t in texts)
        print(
            f"| {name} | {sum(main)}/{len(main)} | {sum(boiler)}/{len(boiler)} | {len(texts)} "
            f"| {chars:,} | {repeated} |"
        )
        assert sum(main) >= len(main) - 2


HAND_MADE = (
    "<html><head><title>Shop</title><script>var x = '<p>not text</p>';</script>"
    "<style>p{color:red}</style></head><body>"
    '<div id="cookie-banner" class="cookie-consent">We use cookies to improve your experience. '
    "Accept all cookies</div>"
    "<nav><a href='/'>Home</a> | <a href='/about'>About us</a> | <a href='/c'>Contact</a></nav>"
    "<article><h1>How to repair a bicycle chain</h1>"
    "<p>A broken chain is the most common roadside repair, and with a chain tool it takes about "
    "ten minutes. First shift to the smallest sprocket so that the chain is slack.</p>"
    "<p>Push the damaged pin out with the tool, remove the broken link, and join the two ends "
    "with a quick link; check that the new joint bends as freely as the others.</p></article>"
    "<footer><p>© 2024 Bike Workshop Ltd. Terms &amp; conditions. Privacy policy.</p></footer>"
    "</body></html>"
)


@pytest.mark.parametrize("name", EXTRACTORS)
def test_hand_made_page(name: str) -> None:
    ((text,), failures) = extract_texts([HAND_MADE], name)
    assert not failures
    assert "A broken chain is the most common roadside repair" in text
    assert "join the two ends with a quick link" in text
    for boiler in ("cookies", "About us", "Bike Workshop Ltd", "not text", "color:red"):
        assert boiler not in text, (name, boiler)
    assert "<" not in text


def test_unknown_extractor() -> None:
    with pytest.raises(ValueError, match="unknown HTML extractor"):
        extract_texts(["<p>x</p>"], "justext")


@pytest.mark.parametrize("name", EXTRACTORS)
def test_a_page_extracts_the_same_however_often_it_was_seen(name: str) -> None:
    """No state between pages: Trafilatura's own deduplication (off here) would empty a page
    the process has seen before, so output would depend on the worker count."""
    first = extract_texts([HAND_MADE], name)[0]
    again = extract_texts([HAND_MADE] * 5, name)[0]
    assert again == first * 5
