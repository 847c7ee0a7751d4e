"""The ``mojibake`` records: clean articles garbled by decoding UTF-8 with the wrong codec.

A fresh clean article is seeded with curly quotes, dashes and accented names (café, naïve, Gödel,
...), then encoded UTF-8 and decoded as windows-1252 (sloppily, as browsers do) or latin-1;
``ftfy.fix_text`` recovers it. A recipe repairs these records rather than removing them.
"""

from __future__ import annotations

import re
from random import Random

from corpusclean.sample.articles import ArticleWriter
from corpusclean.sample.sources import hand_written_sentences
from corpusclean.sample.urls import article_url

# windows-1252 as browsers decode it: the five undefined bytes fall back to latin-1 (C1 controls).
_SLOPPY_1252 = str.maketrans(
    {
        b: bytes([b]).decode("cp1252")
        for b in range(0x80, 0xA0)
        if b not in (0x81, 0x8D, 0x8F, 0x90, 0x9D)
    }
)


def mojibake(rng: Random, articles: ArticleWriter) -> tuple[str, str, str, str]:
    """``(garbled text, url, original text, wrong encoding)``; ``articles`` draws from ``rng``."""
    title, lines = articles.article()
    lines = [_curl(line) for line in lines]
    accented: list[str] = hand_written_sentences()["en_accented"]
    for sentence in rng.sample(accented, rng.randint(2, 4)):
        k = rng.randrange(len(lines))
        lines[k] = f"{lines[k]} {sentence}"
    original = title + "\n\n" + "\n\n".join(lines)
    encoding = "windows-1252" if rng.random() < 0.8 else "latin-1"
    garbled = original.encode("utf-8").decode("latin-1")
    if encoding == "windows-1252":
        garbled = garbled.translate(_SLOPPY_1252)
    return garbled, article_url(rng, title), original, encoding


def _curl(line: str) -> str:
    """Typographic quotes, apostrophes and dashes: the characters that garble visibly."""
    line = re.sub(r"(?<=[A-Za-z])'(?=[A-Za-z])", "’", line)
    line = re.sub(r'"([^"\n]{1,80}?)"', r"“\1”", line)
    return line.replace(" - ", " — ")
