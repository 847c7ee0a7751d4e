"""The ``exact_dup`` and ``near_dup`` records: copies of earlier clean articles.

``exact_dup``: a verbatim copy of an earlier clean article under a new id and URL (mirrors,
syndication); sources are drawn rich-get-richer, so some articles recur many times.

``near_dup``: an earlier clean article with 0.3-2.5 % of its words substituted, deleted or
inserted, and/or a short header/footer (posted by, share this, ...): word 5-gram Jaccard to the
source 0.75-1.0, above 0.8 for ~95 %.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from random import Random

from corpusclean.sample.urls import random_host
from corpusclean.sample.vocabulary import CATEGORIES, MONTHS, SITES

_NAMES = (
    "admin", "Sarah Miller", "James Carter", "Priya Shah", "Tom Evans", "Anna Novak", "editor",
)  # fmt: skip
_HEADERS = (
    "Posted by {name} on {date}", "Last updated: {date}", "Skip to content", "Share this article",
    "{category} | {date}", "By {name}", "Home > {category}", "Advertisement",
)  # fmt: skip
_FOOTERS = (
    "Share this: Facebook Twitter Email", "Related posts", "Filed under {category}",
    "Comments are closed.", "Subscribe to our newsletter for weekly updates.",
    "© {year} {site}. All rights reserved.", "Tags: {category}, {category2}", "Back to top",
    "Leave a reply", "Print this page",
)  # fmt: skip


@dataclass
class CleanPool:
    """The clean records written so far: what copies are made of."""

    records: list[tuple[str, str, str]] = field(default_factory=list)  # (id, text, url)
    popular: list[int] = field(default_factory=list)  # indices into records, once per exact copy


def exact_dup(rng: Random, pool: CleanPool) -> tuple[str, str, str]:
    """``(text, url, source_id)``: a verbatim copy, rich-get-richer over earlier copies."""
    if pool.popular and rng.random() < 0.3:
        index = rng.choice(pool.popular)
    else:
        index = rng.randrange(len(pool.records))
    pool.popular.append(index)
    source_id, text, url = pool.records[index]
    return text, _copy_url(rng, url), source_id


def near_dup(rng: Random, pool: CleanPool) -> tuple[str, str, str]:
    """``(text, url, source_id)``: a copy with word edits, a header/footer, or both."""
    source_id, text, url = pool.records[rng.randrange(len(pool.records))]
    mode = rng.random()
    if mode < 0.55:
        text = _edit_words(rng, text, rng.uniform(0.005, 0.025))
    elif mode < 0.85:
        text = _frame(rng, text)
    else:
        text = _frame(rng, _edit_words(rng, text, rng.uniform(0.003, 0.012)))
    return text, _copy_url(rng, url), source_id


def _copy_url(rng: Random, url: str) -> str:
    """A syndicated/mirrored address for a copy of the page at ``url``."""
    path = url.split("/", 3)[3]
    style = rng.random()
    if style < 0.5:
        return f"https://{random_host(rng)}/{path}"
    if style < 0.75:
        return f"{url}?utm_source={rng.choice(('feed', 'twitter', 'newsletter'))}"
    return f"{url}/amp"


def _edit_words(rng: Random, text: str, rate: float) -> str:
    """Substitute, delete or insert about ``rate`` of the words (at least one edit)."""
    lines = [line.split(" ") if line else [] for line in text.split("\n")]
    positions = [(i, j) for i, words in enumerate(lines) for j in range(len(words))]
    vocabulary = [w for words in lines for w in words]
    chosen = rng.sample(positions, max(1, round(rate * len(positions))))
    for i, j in sorted(chosen, reverse=True):
        op = rng.random()
        if op < 0.45:
            replacement = rng.choice(vocabulary)
            if replacement == lines[i][j]:
                replacement = rng.choice(("very", "also", "often", "still", "simply"))
            lines[i][j] = replacement
        elif op < 0.75 and len(lines[i]) > 1:
            del lines[i][j]
        else:
            lines[i].insert(j, rng.choice(vocabulary))
    return "\n".join(" ".join(words) for words in lines)


def _fill(rng: Random, template: str) -> str:
    category, category2 = rng.sample(CATEGORIES, 2)
    day, month, year = rng.randint(1, 28), rng.choice(MONTHS), rng.randint(2012, 2024)
    return template.format(
        name=rng.choice(_NAMES), date=f"{month} {day}, {year}", category=category,
        category2=category2, year=year, site=rng.choice(SITES).title(),
    )  # fmt: skip


def _frame(rng: Random, text: str) -> str:
    """Add a short header and/or footer (at most about 10 % of the words)."""
    budget = max(6, len(text.split()) // 10)
    header: list[str] = []
    footer: list[str] = []
    for _ in range(rng.randint(1, 4)):
        on_top = rng.random() < 0.4
        line = _fill(rng, rng.choice(_HEADERS if on_top else _FOOTERS))
        if len(line.split()) > budget:
            break
        if line in header or line in footer:
            continue
        budget -= len(line.split())
        (header if on_top else footer).append(line)
    if not header and not footer:
        footer.append("Related posts")
    return "\n".join([*header, text, *footer])
