"""The ``keyword_spam`` records: keyword stuffing around one search phrase.

Phrases of one spam theme repeated with buying modifiers, so the most frequent word bigram covers
well over 20 % of the characters: Gopher's repetition rules catch it (Rae et al. 2021).
"""

from __future__ import annotations

from random import Random

from corpusclean.sample.urls import random_host, slug

_SPAM_THEMES: tuple[tuple[str, ...], ...] = (
    ("cheap viagra", "buy viagra online", "viagra without prescription", "generic cialis",
     "cheap cialis online", "online pharmacy"),
    ("payday loans", "fast cash loans", "no credit check loans", "instant loan approval",
     "bad credit loans"),
    ("replica watches", "cheap rolex", "luxury watches sale", "swiss replica watches"),
    ("online casino", "casino bonus", "free spins", "best online slots", "real money casino"),
    ("cheap flights", "cheap hotels", "last minute deals", "discount airline tickets"),
    ("weight loss pills", "lose weight fast", "diet pills", "fat burner"),
    ("seo services", "cheap backlinks", "buy backlinks", "rank higher on google"),
)  # fmt: skip
_SPAM_MODIFIERS = (
    "buy", "cheap", "best", "online", "now", "free", "discount", "top", "sale", "order",
    "lowest price", "2024", "fast", "official",
)  # fmt: skip


def keyword_spam(rng: Random) -> tuple[str, str]:
    """``(text, url)`` of a title and 100-1000 words of stuffed keywords in short lines."""
    theme = rng.choice(_SPAM_THEMES)
    main = theme[0] if rng.random() < 0.5 else rng.choice(theme)
    target = rng.randint(100, 1000)
    words: list[str] = []
    while len(words) < target:
        phrase = main if rng.random() < 0.5 else rng.choice(theme)
        if rng.random() < 0.4:
            phrase = f"{rng.choice(_SPAM_MODIFIERS)} {phrase}"
        if rng.random() < 0.2:
            phrase = f"{phrase} {rng.choice(_SPAM_MODIFIERS)}"
        words += phrase.split()
    lines = [f"{main.title()} - Best Prices{rng.choice(('!', '!!!', '', ' Guaranteed'))}"]
    while words:
        size = rng.randint(8, 20)
        line = " ".join(words[:size])
        words = words[size:]
        lines.append(line + rng.choice(("", "", "!", "!!!", ".")))
    path = f"/{slug(main)}{rng.choice(('.html', '', '-online', '/'))}"
    return "\n".join(lines), f"https://{random_host(rng)}{path}"
