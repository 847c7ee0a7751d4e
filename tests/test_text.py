"""corpusclean.text: the shared definitions of line, paragraph, word and sentence; and
corpusclean.line_table, the per-line table the line-based filters measure them on."""

from __future__ import annotations

import polars as pl
import pytest

from corpusclean import text as T
from corpusclean.line_table import DOC, duplicate_stats, one_row_per_item, per_document


def _eval(expr_builder, values: list[str]) -> list:
    frame = pl.DataFrame({"t": values}, schema={"t": pl.String})
    return frame.select(expr_builder(pl.col("t")).alias("out")).get_column("out").to_list()


LINE_CASES = [
    "",
    " ",
    "\n",
    "\n\n",
    "one line",
    "a\nb",
    "a\nb\n",
    "a\n\nb\n\n",
    "\na\n",
    "a\r\nb\rc",
    "a\x0bb\x0cc\x1cd\x85e\u2028f\u2029g",
    "   \n \t\n",
    "日本語\nテキスト",
    "trailing\r\n",
]


@pytest.mark.parametrize("text", LINE_CASES, ids=repr)
def test_lines_equal_python_splitlines(text: str) -> None:
    assert _eval(T.lines, [text]) == [text.splitlines()]
    assert _eval(T.line_count, [text]) == [len(text.splitlines())]


def test_lines_of_a_batch_with_nulls() -> None:
    frame = pl.DataFrame({"t": ["a\nb", None, ""]})
    out = frame.select(T.lines(pl.col("t"))).to_series().to_list()
    assert out == [["a", "b"], None, []]


def test_line_prefix_and_suffix_counts() -> None:
    text = "- one\n  • two\nthree\n-four\n\n*five"
    assert _eval(lambda e: T.count_lines_starting(e, T.BULLETS), [text]) == [3]
    text = "a...\nb …  \nc.\n...d\n...."
    assert _eval(lambda e: T.count_lines_ending(e, T.ELLIPSIS), [text]) == [3]
    assert _eval(lambda e: T.count_lines_starting(e, T.BULLETS), ["", "\n\n"]) == [0, 0]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("", []),
        ("   \n\n  ", []),
        ("one", ["one"]),
        ("a\nb\n\nc", ["a\nb", "c"]),
        ("\n\n a \n\n\n b \n\n", ["a ", " b"]),
        ("a\n \nb", ["a\n \nb"]),  # a line of spaces does not separate paragraphs
        ("a\r\n\r\nb", ["a", "b"]),
    ],
)
def test_paragraphs(text: str, expected: list[str]) -> None:
    assert _eval(T.paragraphs, [text]) == [expected]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("", []),
        ("  \n\t ", []),
        ("Hello, world! Don't do it...", "Hello , world ! Do n't do it ...".split()),
        (
            "The U.S. Army, e.g. Mr. Smith, paid $5.00 (10%) at 12:30.",
            "The U.S. Army , e.g. Mr. Smith , paid $ 5.00 ( 10 % ) at 12:30 .".split(),
        ),
        (
            "A well-known car; see [1] and http://example.com/a-b?x=1.",
            "A well - known car ; see [ 1 ] and http://example.com/a-b?x=1 .".split(),
        ),
        ("it's we're I'm", "it 's we 're I 'm".split()),
        ("3.14 1,000 2020-01-01 COVID-19", "3.14 1,000 2020 - 01 - 01 COVID-19".split()),
        ("a/b and/or e-mail: john@example.com", "a / b and/or e - mail : john@example.com".split()),
        ("wait?! Yes!!! ... … -- dash—dash", "wait ? ! Yes ! ! ! ... … -- dash — dash".split()),
        ("#tag **bold** C++ -so so-", "# tag * * bold * * C++ -so so-".split()),
        ("I cannot, dont", "I can not , do nt".split()),
        ("(see below): item (8)", "( see below ): item ( 8)".split()),
        ("Ünïcödé wörds, 日本語のテキスト。", "Ünïcödé wörds , 日本語のテキスト 。".split()),
        ("5°C ©2020", "5 ° C © 2020".split()),
    ],
)
def test_words_follow_spacy_english_tokenization(text: str, expected: list[str]) -> None:
    assert _eval(T.words, [text]) == [expected]
    assert _eval(T.word_count, [text]) == [len(expected)]


@pytest.mark.parametrize(
    "text",
    [
        "",
        " ",
        "a  b\tc\nd",
        "\u00a0nbsp\u00a0split\u2003em",
        "x\x0by",
        "日本語 テキスト",
        " lead trail ",
    ],
)
def test_whitespace_words_equal_str_split(text: str) -> None:
    assert _eval(T.whitespace_words, [text]) == [text.split()]
    assert _eval(T.whitespace_word_count, [text]) == [len(text.split())]


def test_alphabetic_words() -> None:
    text = "abc 123 a1 ... é 日本 -- x- ٣"
    expected = sum(any(c.isalpha() for c in w) for w in text.split())
    assert _eval(T.alphabetic_word_count, [text]) == [expected] == [5]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("", 0),
        ("Hello world", 1),
        ("Hello world.", 1),
        ("One. Two. Three.", 3),
        ('He said "Stop." Then left.', 2),
        ("Mr. Smith met Dr. Jones in the U.S. today.", 1),
        ("Wait... what? Really!", 2),
        ("Pi is 3.14 or so. Yes!", 2),
        ("A.  B.", 1),  # "A." is one word, like "U.S."
        ("end.  Next one", 2),
        ("x .. y", 1),
        ("日本語。テキスト。", 1),  # spaCy does not split a chunk without spaces
    ],
)
def test_sentence_count(text: str, expected: int) -> None:
    assert _eval(lambda e: T.sentence_count(T.words(e)), [text]) == [expected]


def test_ratio() -> None:
    frame = pl.DataFrame({"n": [1, 0, 3], "d": [2, 0, 0]})
    assert frame.select(T.ratio(pl.col("n"), pl.col("d"))).to_series().to_list() == [0.5, 0, 0]


def test_line_table_round_trip() -> None:
    """One row per line, tagged with its document; back to one row per document, in order,
    documents without a line included (with nulls)."""
    batch = pl.DataFrame({"text": ["a\nbb\na", "", "c", None, "d\n\nd"]})
    rows = one_row_per_item(batch, T.lines(pl.col("text")), "line")
    assert rows.schema == {DOC: pl.UInt32, "line": pl.String}
    assert rows.rows() == [(0, "a"), (0, "bb"), (0, "a"), (2, "c"), (4, "d"), (4, ""), (4, "d")]
    counts = rows.group_by(DOC).agg(pl.len().alias("lines"))
    longest = rows.group_by(DOC).agg(pl.col("line").str.len_chars().max().alias("longest"))
    table = per_document(batch.height, counts, longest)
    assert table.columns == [DOC, "lines", "longest"]
    assert table.rows() == [(0, 3, 2), (1, None, None), (2, 1, 1), (3, None, None), (4, 3, 1)]


def test_duplicate_stats() -> None:
    items = pl.DataFrame(
        {"doc": [0, 0, 0, 0, 1, 1], "item": ["a", "bb", "a", "bb", "a", "c"]},
        schema={"doc": pl.UInt32, "item": pl.String},
    )
    stats = duplicate_stats(items, "doc", "item")
    assert stats.to_dicts() == [
        {"doc": 0, "items": 4, "dup_items": 2, "dup_chars": 3},
        {"doc": 1, "items": 2, "dup_items": 0, "dup_chars": 0},
    ]


def test_rule_helpers_format_details() -> None:
    frame = pl.DataFrame({"x": [2.4137, 5.0, None], "n": [12, 60, 50]})
    cond, message = T.below("mean_word_length", "x", 3)
    out = frame.select(pl.when(cond).then(message)).to_series().to_list()
    assert out == ["mean_word_length=2.414<3", None, None]
    cond, message = T.above("words", "n", 50, integer=True)
    assert frame.select(pl.when(cond).then(message)).to_series().to_list() == [
        None,
        "words=60>50",
        None,
    ]
    assert T.below("x", "x", None) is None
    counters = T.rule_counters(pl.Series(["a=1<2", None, "a=0<2", "b_c=3>1"]))
    assert counters == {"rejected.a": 2, "rejected.b_c": 1}
