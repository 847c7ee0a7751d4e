"""fineweb_quality: each rule on both sides of its threshold (other rules off)."""

from __future__ import annotations

import polars as pl

from corpusclean.steps import STEPS

OFF = {
    "min_line_punct_ratio": None,
    "max_short_line_ratio": None,
    "max_dup_line_char_ratio": None,
    "max_newline_word_ratio": None,
}


def _run(texts: list[str], **options: object) -> list[str | None]:
    step = STEPS["fineweb_quality"](STEPS["fineweb_quality"].Options(**options))
    result = step.apply(pl.DataFrame({"id": [str(i) for i in range(len(texts))], "text": texts}))
    assert result.reject is not None
    assert result.frame.columns == ["id", "text"]
    return result.reject.to_list()


def _doc(n: int, marked: int, marked_line: str, line: str) -> str:
    return "\n".join(marked_line if i < marked else f"{line} {i:03d}" for i in range(n))


LONG = "a line that is well over thirty characters"


def test_line_punctuation_ratio() -> None:
    texts = [_doc(100, 12, "It ends well.", LONG), _doc(100, 11, "Ends too!", LONG)]
    assert _run(texts, **{**OFF, "min_line_punct_ratio": 0.12}) == [
        None,
        "line_punct_ratio=0.11<0.12",
    ]
    # a trailing space hides the punctuation (datatrove's rule); blank lines do not count
    assert _run(["It ends.  \n\n\nno"], **{**OFF, "min_line_punct_ratio": 0.12}) == [
        "line_punct_ratio=0.0<0.12"
    ]
    assert _run(["Fin。\n\nno"], **{**OFF, "min_line_punct_ratio": 0.5}) == [None]
    assert _run(["no punctuation"], **{**OFF, "line_punct_exclude_zero": True}) == [None]


def test_short_line_ratio() -> None:
    texts = [_doc(100, 67, "short", LONG), _doc(100, 68, "x" * 30, LONG)]
    assert _run(texts, **{**OFF, "max_short_line_ratio": 0.67}) == [
        None,
        "short_line_ratio=0.68>0.67",
    ]


def test_duplicated_line_characters() -> None:
    # 85 unique characters and a 5-character line three times: the two repeats hold 10 of
    # the 100 characters (line breaks not counted)
    ok = "\n".join(["u" * 40, "v" * 45, "dupes", "dupes", "dupes"])
    bad = "\n".join(["u" * 40, "v" * 44, "dupes", "dupes", "dupes"])
    assert _run([ok, bad], **{**OFF, "max_dup_line_char_ratio": 0.1}) == [
        None,
        "dup_line_char_ratio=0.101>0.1",
    ]


def test_newline_word_ratio() -> None:
    ok = "\n".join(["one two three four five six seven eight nine ten"] * 3 + ["end"])
    # 3 breaks / 31 words
    assert _run([ok], **{**OFF, "max_newline_word_ratio": 0.1}) == [None]
    bad = "\n".join(["one two three four five six seven eight nine"] * 3 + ["end"])
    assert _run([bad], **{**OFF, "max_newline_word_ratio": 0.1}) == ["newline_word_ratio=0.107>0.1"]


def test_empty_and_defaults() -> None:
    assert _run(["", " \n\t\n"]) == ["empty", "empty"]
    prose = "\n".join(
        f"This is a complete sentence with enough words, number {i}." for i in range(9)
    )
    assert _run([prose, "menu\nhome\nabout\ncontact"]) == [None, "line_punct_ratio=0.0<0.12"]


def test_keep_signals() -> None:
    step = STEPS["fineweb_quality"](STEPS["fineweb_quality"].Options(keep_signals=True))
    frame = step.apply(pl.DataFrame({"id": ["a"], "text": ["Hello there.\nshort"]})).frame
    row = frame.row(0, named=True)
    assert row["fineweb_quality.line_punct_ratio"] == 0.5
    assert row["fineweb_quality.short_line_ratio"] == 1.0
    assert row["fineweb_quality.newline_word_ratio"] == 1 / 4
