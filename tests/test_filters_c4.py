"""c4_quality: line rules rewrite the text, document rules reject; datatrove's semantics."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from corpusclean.steps import STEPS


def _apply(texts: list[str], **options: object) -> tuple[list[str], list[str | None]]:
    step = STEPS["c4_quality"](STEPS["c4_quality"].Options(**options))
    step.setup()
    frame = pl.DataFrame({"id": [f"d{i}" for i in range(len(texts))], "text": texts})
    result = step.apply(frame)
    details = [None] * len(texts) if result.reject is None else result.reject.to_list()
    return result.frame.get_column("text").to_list(), details


FIVE = "\n".join(f"This is sentence number {i}." for i in range(5))


def test_five_sentences_kept_four_rejected() -> None:
    four = "\n".join(f"This is sentence number {i}." for i in range(4))
    texts, details = _apply([FIVE, four])
    assert details == [None, "sentences=4<5"]
    assert texts == [FIVE, four]  # a rejected document keeps its original text


def test_sentences_are_counted_inside_lines() -> None:
    text = "One is here. Two is here. Three is here!\nFour is here? Five is here."
    assert _apply([text])[1] == [None]
    assert _apply(["Mr. Smith went to Washington. He saw the U.S. Capitol."])[1] == [
        "sentences=2<5"
    ]


def test_line_rules_rewrite_the_text() -> None:
    lines = [
        "Menu",  # no terminal punctuation
        "Read more...",  # ends with an ellipsis
        "Two words.",  # fewer than 3 words
        "Please enable JavaScript to view this page.",
        "By using this site you agree to our Terms of Use.",
        "This website uses cookies to improve things.",
        "A fact worth citing is here.[1]",
        "Another fact is true[citation needed] and final [edit].",
        'He said "it works."',
        "She said 'it works too.'",
        "  Stripped line with spaces here.  ",
        "x" * 1001 + " is a very long word.",
        FIVE,
    ]
    texts, details = _apply(["\n".join(lines)])
    assert details == [None]
    assert texts[0].split("\n") == [
        "A fact worth citing is here.",
        "Another fact is true and final .",
        'He said "it works."',
        "She said 'it works too.'",
        "Stripped line with spaces here.",
        *FIVE.split("\n"),
    ]


def test_words_per_line_counted_before_citations_are_removed() -> None:
    text = "Two words [1].\n" + FIVE
    assert _apply([text])[0][0].split("\n")[0] == "Two words ."


def test_lorem_ipsum_and_curly_bracket_reject_documents() -> None:
    lorem = FIVE + "\nLorem ipsum dolor sit amet."
    curly = FIVE + "\nThe set {a, b} has two elements."
    js_curly = FIVE + "\nfunction() { javascript here; }."
    no_punct_curly = FIVE + "\nint main() {"
    _, details = _apply([lorem, curly, js_curly, no_punct_curly])
    assert details == ["lorem_ipsum=true", "curly_bracket=true", None, None]


def test_each_rule_turns_off() -> None:
    lines = "Menu\nTwo words.\nUse JavaScript now please.\nLorem ipsum is here okay.\n{ x } is y."
    texts, details = _apply(
        [lines],
        filter_no_terminal_punct=None,
        min_words_per_line=None,
        filter_javascript=False,
        filter_policy=None,
        filter_lorem_ipsum=None,
        filter_curly_bracket=False,
        min_num_sentences=None,
        remove_citations=None,
    )
    assert details == [None]
    assert texts == [lines]


def test_empty_and_blank_documents() -> None:
    texts, details = _apply(["", "   \n\n  "])
    assert details == ["sentences=0<5", "sentences=0<5"]
    texts, details = _apply(["", "Menu"], min_num_sentences=None)
    assert details == [None, None]
    assert texts == ["", ""]


def test_bad_words_file(tmp_path: Path) -> None:
    words = tmp_path / "bad.txt"
    words.write_text("darn\nheck it\n\n", encoding="utf-8")
    texts = [FIVE + "\nWell, DARN that is bad.", FIVE + "\nThe darning needle is here.", FIVE]
    _, details = _apply(texts, bad_words_path=str(words))
    assert details == ["bad_word=darn", None, None]
    with pytest.raises(ValueError, match="not found"):
        STEPS["c4_quality"].Options(bad_words_path=str(tmp_path / "missing.txt"))


def test_signals_and_counters() -> None:
    step = STEPS["c4_quality"](STEPS["c4_quality"].Options(keep_signals=True))
    result = step.apply(pl.DataFrame({"id": ["a"], "text": ["Menu\n" + FIVE]}))
    row = result.frame.row(0, named=True)
    assert (row["c4_quality.lines"], row["c4_quality.kept_lines"]) == (6, 5)
    assert row["c4_quality.sentences"] == 5
    assert result.counters["lines_in"] == 6 and result.counters["lines_kept"] == 5
