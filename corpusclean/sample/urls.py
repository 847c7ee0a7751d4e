"""Web-like addresses for the records: hosts under ``.example`` and slugs of page titles.

Every URL is ``https://<site>.example.<com|org|net>/...`` (RFC 2606 reserves ``example``), so no
record points at a real site.
"""

from __future__ import annotations

import re
from random import Random

from corpusclean.sample.vocabulary import SITES

_TLDS = ("com", "org", "net")


def random_host(rng: Random) -> str:
    return f"{rng.choice(SITES)}.example.{rng.choice(_TLDS)}"


def slug(text: str, max_len: int = 60) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:max_len].rstrip("-") or "page"


def article_url(rng: Random, title: str) -> str:
    """A blog or news address for an article called ``title``."""
    slug_ = slug(title.split(" | ")[0])
    style = rng.random()
    if style < 0.5:
        path = f"/{rng.randint(2012, 2024)}/{rng.randint(1, 12):02d}/{slug_}"
    elif style < 0.8:
        path = f"/blog/{slug_}"
    else:
        path = f"/articles/{rng.randint(1000, 99999)}-{slug_}"
    return f"https://{random_host(rng)}{path}"
