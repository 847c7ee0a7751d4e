"""The ``non_english`` records: everyday prose in one of 16 other languages.

Hand-written sentences (``data/sample_sentences.json``) in de fr es it pt nl ru zh ja ar pl sv tr
ko el hi, each labelled correctly by fastText lid.176; they are left to language identification.
"""

from __future__ import annotations

from random import Random

from corpusclean.sample.sources import hand_written_sentences
from corpusclean.sample.urls import random_host

#: Languages of the ``non_english`` records (fastText lid.176 labels).
LANGUAGES: tuple[str, ...] = (
    "de", "fr", "es", "it", "pt", "nl", "ru", "zh", "ja", "ar", "pl", "sv", "tr", "ko", "el", "hi",
)  # fmt: skip


def non_english(rng: Random) -> tuple[str, str, str]:
    """``(text, url, lang)``: 1-4 paragraphs of 3-8 sentences in language ``lang``."""
    lang = rng.choice(LANGUAGES)
    pool: list[str] = hand_written_sentences()["languages"][lang]
    sizes = [rng.randint(3, 8) for _ in range(rng.randint(1, 4))]
    chosen = rng.sample(pool, min(sum(sizes), len(pool)))
    joiner = "" if lang in ("zh", "ja") else " "
    paragraphs = []
    for size in sizes:
        paragraphs.append(joiner.join(chosen[:size]))
        chosen = chosen[size:]
    text = "\n\n".join(p for p in paragraphs if p)
    url = f"https://{random_host(rng)}/{lang}/{rng.choice(('artikel', 'post', 'p', 'news'))}/"
    return text, url + str(rng.randint(100, 99999)), lang
