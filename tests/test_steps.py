"""The first three steps, each on the real library (ftfy, fastText lid.176)."""

from __future__ import annotations

import ftfy
import polars as pl
import pytest

from corpusclean.steps import STEPS, Step
from corpusclean.steps.unicode_repair import NEEDS_FTFY


def _step(name: str, **options: object) -> Step:
    step = STEPS[name](STEPS[name].Options(**options))
    step.setup()
    return step


def _frame(texts: list[str]) -> pl.DataFrame:
    return pl.DataFrame({"id": [f"d{i}" for i in range(len(texts))], "text": texts})


TRICKY = [
    "The cafÃ© was full of naÃ¯ve tourists â€” really.",
    "Plain ASCII text stays exactly as it is.",
    "Tom &amp; Jerry &lt;3 are friends",
    "Windows line\r\nendings\r\n",
    "A bell \x07 and a null \x00 character",
    "Ligatures: ﬁne ﬂowers",
    "Fullwidth: ＡＢＣ",
    "already correct: café, naïve, “quotes”",
    "",
    "ÃƒÂ© double-encoded",
    "<p>&amp; with a tag</p>",
]


def test_unicode_repair_equals_ftfy_on_every_document() -> None:
    step = _step("unicode_repair")
    result = step.apply(_frame(TRICKY))
    assert result.frame.get_column("text").to_list() == [ftfy.fix_text(t) for t in TRICKY]
    assert result.reject is None
    assert result.counters["repaired"] >= 4


def test_unicode_repair_skips_only_text_ftfy_leaves_alone() -> None:
    ascii_texts = ["".join(chr(c) for c in range(32, 127) if chr(c) != "&") + "\n\tend"]
    frame = _frame(ascii_texts)
    assert not frame.get_column("text").str.contains(NEEDS_FTFY).any()
    assert ftfy.fix_text(ascii_texts[0]) == ascii_texts[0]


def test_language_tags_and_keeps() -> None:
    texts = [
        "The committee published its annual report on the state of public libraries today.",
        "Die Bundesregierung hat heute einen neuen Bericht über die Lage der Bibliotheken\n"
        "veröffentlicht.",
        "Le gouvernement a publié aujourd'hui un nouveau rapport sur les bibliothèques.",
    ]
    step = _step("language", keep=["en"], min_score=0.5)
    result = step.apply(_frame(texts))
    assert result.frame.get_column("language").to_list() == ["en", "de", "fr"]
    scores = result.frame.get_column("language_score").to_list()
    assert all(0.5 < s <= 1.0 for s in scores)
    assert result.reject is not None
    details = result.reject.to_list()
    assert details[0] is None
    assert details[1] == "language=de not in en"
    assert result.counters == {"language.en": 1, "language.de": 1, "language.fr": 1}


def test_language_without_keep_drops_nothing() -> None:
    step = _step("language")
    result = step.apply(_frame(["bonjour", "hello there my friend", "?? !!"]))
    assert result.reject is None
    assert result.frame.get_column("language").to_list()[:2] == ["fr", "en"]


def test_language_min_score() -> None:
    step = _step("language", min_score=0.99)
    result = step.apply(_frame(["zzz qqq xxv", "This is a plain English sentence about cats."]))
    assert result.reject is not None
    assert result.reject.to_list()[0].startswith("language_score=")


def test_length_bounds_and_details() -> None:
    step = _step("length", min_words=3, max_words=6, min_chars=5)
    texts = ["one two", "one two three", "a b c d e f g", "x y z"]
    result = step.apply(_frame(texts))
    assert result.frame.get_column("words").to_list() == [2, 3, 7, 3]
    assert result.reject is not None
    assert result.reject.to_list() == ["words=2<3", None, "words=7>6", None]


def test_length_rejects_inverted_range() -> None:
    with pytest.raises(ValueError, match="max_words must be >= min_words"):
        STEPS["length"].Options(min_words=10, max_words=5)
