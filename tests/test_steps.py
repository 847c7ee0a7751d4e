"""The first three steps, each on the real library (ftfy, fastText lid.176); and every
streaming step of the registry (``corpusclean.steps.STEPS``, found there so that a new step
cannot escape) keeps the contract of :class:`~corpusclean.steps.base.Step`."""

from __future__ import annotations

import pickle
from pathlib import Path

import ftfy
import polars as pl
import pytest

from corpusclean.steps import STEPS, Step


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
    step = _step("unicode_repair")
    ascii_text = "".join(chr(c) for c in range(32, 127) if chr(c) != "&") + "\n\tend"
    plain = "Plain ASCII text stays exactly as it is."
    assert ftfy.fix_text(ascii_text) == ascii_text and ftfy.fix_text(plain) == plain
    skipped = step.apply(_frame([ascii_text, plain]))
    assert skipped.counters == {"ftfy_candidates": 0, "ftfy_lines": 0, "repaired": 0}
    assert skipped.frame.get_column("text").to_list() == [ascii_text, plain]
    # an ASCII "&" may start an HTML entity that ftfy unescapes: that text is not skipped
    mixed = step.apply(_frame([ascii_text, "Tom &amp; Jerry"]))
    assert mixed.counters == {"ftfy_candidates": 1, "ftfy_lines": 1, "repaired": 1}
    assert mixed.frame.get_column("text").to_list() == [ascii_text, "Tom & Jerry"]


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


# --- every streaming step ------------------------------------------------------------------

#: Corpus-wide steps need the engine's scan and resolve before they can apply: they are
#: tested through the engine (tests/test_dedup_*.py, tests/test_min_tokens.py).
STREAMING = sorted(name for name, step in STEPS.items() if not step.corpus_wide)

PROSE = (
    "The library lends books, maps and records to readers of every age. Its staff catalogue "
    "new arrivals, repair old bindings and answer questions from the public. In the evening "
    "they organise talks on history, science, music and travel for anyone who wants to come.\n"
) * 3


@pytest.fixture(scope="module")
def needs(small_tokenizer: Path) -> dict[str, dict[str, object]]:
    """Options a step cannot run without outside the engine (whose ``bind`` fills them in)."""
    return {"min_tokens": {"tokenizer": str(small_tokenizer), "min": 40}}


def test_streaming_steps_are_found() -> None:
    assert {"unicode_repair", "language", "length", "gopher_quality", "c4_quality"} <= set(
        STREAMING
    )


@pytest.mark.parametrize("name", STREAMING)
def test_every_streaming_step_keeps_the_step_contract(
    name: str, needs: dict[str, dict[str, object]]
) -> None:
    """Every row back, in order, other columns untouched, exactly ``adds_columns`` added,
    a String ``reject`` aligned with the rows whose details name the rule, integer counters;
    and a step built from its options after pickling (what a worker gets) decides the same."""
    options = STEPS[name].Options(**needs.get(name, {}))
    texts = [PROSE, *TRICKY, "<div>" + PROSE + "</div>", "word " * 300]
    batch = _frame(texts).with_columns(pl.lit("src").alias("source"))
    step = STEPS[name](options)
    step.setup()
    result = step.apply(batch)
    frame = result.frame
    assert frame.height == batch.height
    assert frame.columns == [*batch.columns, *STEPS[name].adds_columns]
    assert frame.select("id", "source").equals(batch.select("id", "source"))
    if result.reject is not None:
        assert result.reject.dtype == pl.String and result.reject.len() == batch.height
        details = result.reject.drop_nulls()
        assert details.str.contains(r"^[a-z0-9_]+(=|$)").all(), details.to_list()
    assert all(isinstance(k, str) and type(v) is int for k, v in result.counters.items())
    again = STEPS[name](pickle.loads(pickle.dumps(options)))
    again.setup()
    replay = again.apply(batch)
    assert replay.frame.equals(frame)
    assert (replay.reject is None) == (result.reject is None)
    if result.reject is not None and replay.reject is not None:
        assert replay.reject.equals(result.reject)
