"""gopher_quality and gopher_repetition: every sub-rule on both sides of its threshold."""

from __future__ import annotations

import random
from collections import Counter

import polars as pl
import pytest

from corpusclean.rules import RulesError, parse_rules
from corpusclean.steps import STEPS
from corpusclean.steps.gopher_repetition import GopherRepetitionOptions, ngram_stats


def _run(name: str, texts: list[str], **options: object) -> list[str | None]:
    step = STEPS[name](STEPS[name].Options(**options))
    step.setup()
    frame = pl.DataFrame({"id": [f"d{i}" for i in range(len(texts))], "text": texts})
    result = step.apply(frame)
    assert result.frame.height == len(texts)
    if result.reject is None:
        return [None] * len(texts)
    return result.reject.to_list()


def _words(n: int, word: str = "word") -> str:
    return " ".join([word] * n)


PLAIN = "the and " + _words(48)  # 50 words, 2 stop words, mean length 3.96


def test_gopher_quality_clean_text_passes_and_signals_are_dropped() -> None:
    step = STEPS["gopher_quality"](STEPS["gopher_quality"].Options())
    result = step.apply(pl.DataFrame({"id": ["a"], "text": [PLAIN]}))
    assert result.reject is not None and result.reject.to_list() == [None]
    assert result.frame.columns == ["id", "text"]


def test_gopher_quality_keep_signals() -> None:
    step = STEPS["gopher_quality"](STEPS["gopher_quality"].Options(keep_signals=True))
    frame = step.apply(pl.DataFrame({"id": ["a"], "text": [PLAIN + " #"]})).frame
    row = frame.row(0, named=True)
    assert row["gopher_quality.words"] == 50
    assert row["gopher_quality.stop_words"] == 2
    assert row["gopher_quality.hash_word_ratio"] == pytest.approx(1 / 51)
    assert row["gopher_quality.mean_word_length"] == pytest.approx((6 + 48 * 4) / 50)


def test_gopher_quality_word_count_bounds() -> None:
    assert _run("gopher_quality", [PLAIN, "the and " + _words(47)]) == [None, "words=49<50"]
    texts = ["the and " + _words(58), "the and " + _words(59)]
    assert _run("gopher_quality", texts, max_words=60) == [None, "words=61>60"]
    # punctuation is not a word: 49 words and 10 commas are still 49 words
    assert _run("gopher_quality", ["the and " + _words(47) + " ," * 10]) == ["words=49<50"]


def test_gopher_quality_mean_word_length_bounds() -> None:
    three = "the and " + _words(48, "cat")  # every word has 3 characters: mean 3.0
    short = "the and " + _words(47, "cat") + " at"  # 149 / 50 = 2.98
    assert _run("gopher_quality", [three, short]) == [None, "mean_word_length=2.98<3"]
    # 2 x 3 + 2 x 17 + 46 x 10 = 500 characters in 50 words: mean 10.0
    ten = "the and " + _words(2, "a" * 17) + " " + _words(46, "b" * 10)
    eleven = "the and " + _words(2, "a" * 17) + " " + _words(45, "b" * 10) + " " + "c" * 11
    assert _run("gopher_quality", [ten, eleven]) == [None, "mean_word_length=10.02>10"]


def test_gopher_quality_symbol_ratios() -> None:
    # 90 words and 10 standalone '#': 10 / 100 words (punctuation counts here) = 0.1
    base = "the and " + _words(88)
    assert _run("gopher_quality", [base + " #" * 10, base[:-5] + " #" * 11]) == [
        None,
        "hash_word_ratio=0.11>0.1",
    ]
    # (a word after them, so the line does not end with an ellipsis)
    base = "the and " + _words(87)
    assert _run(
        "gopher_quality", [base + " ..." * 10 + " end", base[:-5] + " …" * 11 + " end"]
    ) == [
        None,
        "ellipsis_word_ratio=0.11>0.1",
    ]


def _lines(n_lines: int, n_marked: int, marked: str, plain: str = "the and word") -> str:
    return "\n".join(marked if i < n_marked else plain for i in range(n_lines))


def test_gopher_quality_bullet_lines() -> None:
    texts = [
        _lines(20, 18, "-the and word"),
        _lines(20, 19, "  •the and word"),
    ]
    assert _run("gopher_quality", texts) == [None, "bullet_lines_ratio=0.95>0.9"]


def test_gopher_quality_ellipsis_lines() -> None:
    # 30% of 100 lines end with an ellipsis: kept; 31%: dropped
    texts = [_lines(100, 30, "the and word ..."), _lines(100, 31, "the and word …  ")]
    assert _run("gopher_quality", texts) == [None, "ellipsis_lines_ratio=0.31>0.3"]


def test_gopher_quality_alphabetic_words() -> None:
    # whitespace words with a letter: 80 of 100 is enough, 79 is not
    texts = ["the and " + _words(78) + " 123" * 20, "the and " + _words(77) + " 123" * 21]
    assert _run("gopher_quality", texts) == [None, "alpha_words_ratio=0.79<0.8"]
    # "word," or "(word)" contain a letter (datatrove's tokens would not)
    assert _run("gopher_quality", ["the and " + _words(48, "(word),")]) == [None]


def test_gopher_quality_stop_words() -> None:
    once = "the " + _words(49)
    texts = [PLAIN, once, "The And " + _words(48)]
    assert _run("gopher_quality", texts) == [None, "stop_words=1<2", "stop_words=0<2"]
    assert _run("gopher_quality", [once], stop_words=["word", "the"]) == [None]


def test_gopher_quality_counts_stop_word_occurrences() -> None:
    """A page whose only stop word is repeated is kept, as datatrove (the reference) keeps it;
    counting distinct stop words (the option) drops it."""
    repeated = " ".join(["of"] * 50) + " " + _words(50)
    assert _run("gopher_quality", [repeated]) == [None]
    assert _run("gopher_quality", [repeated], stop_words_count="distinct") == ["stop_words=1<2"]
    twice = _words(2, "the") + " " + _words(48)
    assert _run("gopher_quality", [twice]) == [None]


def test_gopher_quality_rules_turn_off() -> None:
    off = dict.fromkeys(
        [
            "min_words",
            "max_words",
            "min_mean_word_length",
            "max_mean_word_length",
            "max_symbol_word_ratio",
            "max_bullet_lines_ratio",
            "max_ellipsis_lines_ratio",
            "min_alpha_words_ratio",
            "min_stop_words",
        ]
    )
    assert _run("gopher_quality", ["", "#", "- ...", "a b"], **off) == [None] * 4
    assert _run("gopher_quality", [""]) == ["words=0<50"]


def test_gopher_options_are_validated() -> None:
    with pytest.raises(RulesError, match=r"max_bullet_lines_ratio"):
        parse_rules(
            {"version": 1, "steps": [{"gopher_quality": {"max_bullet_lines_ratio": 2}}]}, "r"
        )
    with pytest.raises(RulesError, match=r"unknown key"):
        parse_rules({"version": 1, "steps": [{"gopher_quality": {"min_word": 3}}]}, "r")
    with pytest.raises(RulesError, match=r"max_mean_word_length must be >="):
        parse_rules({"version": 1, "steps": [{"gopher_quality": {"max_mean_word_length": 2}}]}, "r")
    with pytest.raises(RulesError, match=r"5-grams"):
        parse_rules(
            {"version": 1, "steps": [{"gopher_repetition": {"max_dup_ngram_char_frac": {5: 3}}}]},
            "r",
        )


# --- gopher_repetition ---------------------------------------------------------------------

ALL_OFF = {
    "max_dup_line_frac": None,
    "max_dup_para_frac": None,
    "max_dup_line_char_frac": None,
    "max_dup_para_char_frac": None,
    "max_top_ngram_char_frac": None,
    "max_dup_ngram_char_frac": None,
}


def _only(**rule: object) -> dict[str, object]:
    return {**ALL_OFF, **rule}


def _unique_lines(n: int, prefix: str = "line") -> list[str]:
    return [f"{prefix} {i:03d}" for i in range(n)]


def test_repetition_duplicate_paragraphs_and_lines() -> None:
    for sep, name in (("\n\n", "dup_para_frac"), ("\n", "dup_line_frac")):
        ok = sep.join(_unique_lines(70) + ["same para"] * 31)  # 30 of 101 are repeats
        bad = sep.join(_unique_lines(69) + ["same para"] * 32)  # 31 of 101
        result = _run("gopher_repetition", [ok, bad], **_only(**{f"max_{name}": 0.3}))
        assert result == [None, f"{name}=0.307>0.3"]


def test_repetition_duplicate_characters() -> None:
    # 26 + 2 + 10 + 2 + 10 = 50 characters, the repeated paragraph holds 10: 0.2
    ok = "a" * 26 + "\n\n" + "b" * 10 + "\n\n" + "b" * 10
    bad = "a" * 25 + "\n\n" + "b" * 10 + "\n\n" + "b" * 10
    got = _run("gopher_repetition", [ok, bad], **_only(max_dup_para_char_frac=0.2))
    assert got == [None, "dup_para_char_frac=0.204>0.2"]
    # lines: 28 + 1 + 10 + 1 + 10 = 50 characters
    ok = "a" * 28 + "\n" + "b" * 10 + "\n" + "b" * 10
    bad = "a" * 27 + "\n" + "b" * 10 + "\n" + "b" * 10
    got = _run("gopher_repetition", [ok, bad], **_only(max_dup_line_char_frac=0.2))
    assert got == [None, "dup_line_char_frac=0.204>0.2"]


@pytest.mark.parametrize(
    "n, frac, gram",
    [(2, 0.20, "aa bb"), (3, 0.18, "a b ccccc"), (4, 0.16, "a b c dd")],
)
def test_repetition_top_ngram(n: int, frac: float, gram: str) -> None:
    # the n-gram twice, then one filler word: len(gram) * 2 / len(text) == frac exactly
    total = round(len(gram) * 2 / frac)
    ok = f"{gram} {gram} " + "x" * (total - 2 * len(gram) - 2)
    bad = ok[:-1]
    tops = {2: None, 3: None, 4: None, n: frac}
    got = _run("gopher_repetition", [ok, bad], **_only(max_top_ngram_char_frac=tops))
    assert got[0] is None
    assert got[1] is not None and got[1].startswith(f"top_{n}_gram_char_frac=")


def test_repetition_duplicate_ngrams() -> None:
    # "aaa bbb ccc ddd eee" twice: the second 5-gram repeats 15 characters (spaces excluded)
    gram = "aaa bbb ccc ddd eee"
    ok = f"{gram} {gram} " + "x" * (100 - 2 * len(gram) - 2)  # 100 characters
    dups = {**dict.fromkeys(range(6, 11)), 5: 0.15}
    got = _run("gopher_repetition", [ok, ok[:-1]], **_only(max_dup_ngram_char_frac=dups))
    assert got == [None, "dup_5_gram_char_frac=0.152>0.15"]
    step = STEPS["gopher_repetition"](
        GopherRepetitionOptions(**_only(max_dup_ngram_char_frac=dups), keep_signals=True)
    )
    frame = step.apply(pl.DataFrame({"id": ["a"], "text": [ok]})).frame
    assert frame.get_column("gopher_repetition.dup_5_gram_char_frac").item() == 15 / 100


def test_repetition_empty_and_defaults() -> None:
    got = _run("gopher_repetition", ["", "   ", "a b a b a b a b"])
    assert got[0] == "empty"
    assert got[1] is None
    assert got[2] == "top_2_gram_char_frac=0.8>0.2"  # "a b" x 4 = 12 of 15 characters


def test_repetition_keep_signals_and_options_merge() -> None:
    opts = GopherRepetitionOptions(max_dup_ngram_char_frac={5: None, "6": 0.5}, keep_signals=True)
    assert opts.max_dup_ngram_char_frac == {5: None, 6: 0.5, 7: 0.13, 8: 0.12, 9: 0.11, 10: 0.1}
    assert GopherRepetitionOptions(max_top_ngram_char_frac=None).max_top_ngram_char_frac == {}
    step = STEPS["gopher_repetition"](opts)
    frame = step.apply(pl.DataFrame({"id": ["a"], "text": ["one two three"]})).frame
    assert "gopher_repetition.dup_line_frac" in frame.columns
    assert "gopher_repetition.dup_5_gram_char_frac" not in frame.columns
    assert "gopher_repetition.dup_6_gram_char_frac" in frame.columns


# A plain-Python statement of datatrove's n-gram rules (GopherRepetitionFilter), the reference
# the vectorised implementation must equal.


def _top(words: list[str], n: int) -> int:
    grams = [" ".join(words[i : i + n]) for i in range(len(words) - n + 1)]
    if not grams:
        return 0
    gram, count = Counter(grams).most_common(1)[0]
    return len(gram) * count


def _repeated(words: list[str], n: int) -> int:
    seen: set[str] = set()
    total, i = 0, 0
    while i < len(words) - n + 1:
        gram = "".join(words[i : i + n])
        if gram in seen:
            total += len(gram)
            i += n
        else:
            seen.add(gram)
            i += 1
    return total


def test_ngram_stats_equal_the_reference_scan() -> None:
    rng = random.Random(7)
    docs: list[list[str]] = [[], ["a"], ["a", "b"]]
    for _ in range(300):
        vocab = [rng.choice(["a", "bb", "ccc", "dd", "e", "ffff"]) + str(k) for k in range(3)]
        vocab = vocab[: rng.randint(1, 3)] + ["x", "yy"]
        length = rng.randint(0, 80)
        words = [rng.choice(vocab) for _ in range(length)]
        if rng.random() < 0.5 and words:  # a repeated passage, sometimes repeated again
            cut = rng.randint(0, len(words))
            words = words[:cut] + words * rng.randint(1, 3)
        docs.append(words)
    series = pl.Series("w", docs, dtype=pl.List(pl.String))
    chars = pl.Series([len(" ".join(w)) for w in docs])
    # threshold 0 forces the exact scan wherever anything repeats
    stats = ngram_stats(series, [2, 3, 4], dict.fromkeys(range(5, 11), 0.0), chars)
    for i, words in enumerate(docs):
        row = stats.row(i, named=True)
        for n in (2, 3, 4):
            assert row[f"top_{n}"] == _top(words, n), (i, n, words)
        for n in range(5, 11):
            assert row[f"dup_{n}"] == _repeated(words, n), (i, n, words)
    # with a real threshold the bound stands in only where it is below the threshold
    bounded = ngram_stats(series, [], {5: 0.15}, chars)
    for i, words in enumerate(docs):
        value = bounded.row(i, named=True)["dup_5"]
        exact = _repeated(words, 5)
        limit = 0.15 * chars[i]
        assert value >= exact
        assert (value > limit) == (exact > limit)


def test_ngram_keys_are_per_document() -> None:
    """An n-gram repeats only inside its own document: the same words in documents 0, 1 and 2
    (document 0's keys are its words' hashes, fmix64(0) being 0) are no repeat of each other."""
    once = "aa bb cc dd ee ff gg hh ii jj kk".split()
    twice = once + once
    series = pl.Series("w", [once, once, twice, once], dtype=pl.List(pl.String))
    chars = pl.Series([len(" ".join(w)) for w in series.to_list()])
    stats = ngram_stats(series, [2, 4], dict.fromkeys(range(5, 11), 0.0), chars)
    for i in (0, 1, 3):
        row = stats.row(i, named=True)
        assert row["top_2"] == len("aa bb") and row["top_4"] == len("aa bb cc dd")
        assert all(row[f"dup_{n}"] == 0 for n in range(5, 11))
    row = stats.row(2, named=True)
    assert row["top_2"] == 2 * len("aa bb")
    assert row["dup_5"] == _repeated(twice, 5) > 0


def test_word_lists_reuses_only_identical_texts(monkeypatch: pytest.MonkeyPatch) -> None:
    """The memo shared by the Gopher steps: always the words of the text it is given, split
    again only for the texts the previous call did not see."""
    from corpusclean import text as T

    split = T.words
    calls: list[int] = []

    def counted(text: pl.Expr) -> pl.Expr:
        calls.append(1)
        return split(text)

    def direct(texts: list[str]) -> list[list[str]]:
        frame = pl.DataFrame({"t": texts}, schema={"t": pl.String})
        return frame.select(split(pl.col("t"))).to_series().to_list()

    monkeypatch.setattr(T._WordMemo, "frame", None)
    monkeypatch.setattr(T, "words", counted)
    first = ["One two, three.", "The same text here.", "x", "The same text here."]
    same = ["The same text here.", "x", "One two, three."]
    new = ["The same text here.", "A new text!", "", "One two, three."]
    rewritten = ["One two, three. (rewritten)", "The same text here."]
    expected_calls = {0: 1, 1: 0, 2: 1, 3: 1, 4: 0}  # [] splits nothing either
    for i, texts in enumerate((first, same, new, rewritten, [])):
        calls.clear()
        assert T.word_lists(pl.Series(texts, dtype=pl.String)).to_list() == direct(texts)
        assert len(calls) == expected_calls[i], (i, texts)
