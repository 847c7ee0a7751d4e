"""``unicode_repair``'s fast path: ftfy runs only on the lines that need it, and the output is
``ftfy.fix_text`` on every document: hand-made edge cases, random text built to hit every fix,
injected mojibake, and real documents from ../shared/data when present."""

from __future__ import annotations

import random
import re
from pathlib import Path

import ftfy
import polars as pl
import pytest
from ftfy import badness

from corpusclean.io import read_batches
from corpusclean.steps import STEPS
from corpusclean.steps.unicode_repair import (
    MOJIBAKE,
    NFC_SCAN_END,
    UnicodeRepairStep,
    needs_ftfy,
    rust_regex,
)

EDGE_CASES = [
    "",
    "\n",
    "plain ascii\nover two lines\n",
    "The cafÃ© was full of naÃ¯ve tourists â€” really.",
    "Ã  la carte",  # BADNESS_RE's `^[ÃÂ][ ]` at the start of a segment
    "first line\nÃ  la carte on the second",
    "Tom &amp; Jerry &lt;3\n<p>a tag</p>\n&amp; after the tag stays",  # "<" stops unescaping
    "<b>tag first</b>\nthen &amp; on the next line",
    "Windows\r\nline\r\nends\r\n",
    "old Mac\rline ends",
    "next line\x85and line\u2028separators\u2029here",
    "A bell \x07, a null \x00 and a BOM \ufeff",
    "\x1b[31mred\x1b[0m terminal colours",
    "C1 \x80 \x93quoted\x94",
    "Ligatures: ﬁne ﬂowers",
    "Fullwidth: ＡＢＣ　ｄｅｆ",
    "“curly” ‘quotes’ and ʼ",
    "decomposed: cafe\u0301 and n\u0303",
    "Hangul jamo: \u1100\u1161\u11a8 and composed 각",
    "CJK compatibility \uf900 ideograph",
    "already correct: café, naïve, Ελληνικά, русский, 中文",
    "ÃƒÂ© double-encoded",
    "× ² and Ø´Ø ­ arabic mojibake",
    "sÃ³ and voilÃ\xa0le travail",
    "line one\n\n\nline four\n",
]


def _step() -> UnicodeRepairStep:
    step = STEPS["unicode_repair"](STEPS["unicode_repair"].Options())
    assert isinstance(step, UnicodeRepairStep)
    step.setup()
    return step


def _repaired(step: UnicodeRepairStep, texts: list[str]) -> list[str]:
    frame = pl.DataFrame({"id": [str(i) for i in range(len(texts))], "text": texts})
    return step.apply(frame).frame.get_column("text").to_list()


def test_edge_cases_equal_fix_text() -> None:
    assert _repaired(_step(), EDGE_CASES) == [ftfy.fix_text(t) for t in EDGE_CASES]


def test_only_lines_that_need_it_go_to_ftfy() -> None:
    step = _step()
    texts = ["clean line\n" * 50 + "one “curly” line\n" + "clean line\n" * 50, "ascii only"]
    frame = pl.DataFrame({"id": ["a", "b"], "text": texts})
    result = step.apply(frame)
    assert result.counters == {"ftfy_candidates": 1, "ftfy_lines": 1, "repaired": 1}
    assert result.frame.get_column("text").to_list() == [ftfy.fix_text(t) for t in texts]


ALPHABET = (
    list("abcdefghijklmnopqrstuvwxyz ABC .,;:!?'\"-") * 6
    + list("\n\n\n<>&;#")
    + ["&amp;", "&lt;", "&eacute;", "&#x2019;", "&EACUTE;", "\r\n", "\r", "\x85", "\u2028"]
    + list("éèüöñçÃÂâ€œ™žŸ¢£©®°±²³µ·»¼½¾¿×ØÙ√≈‚ВГРСΒΓΞΟā")
    + list("“”‘’ʼ—–…ﬁﬂＡｂ　\ufeff\x00\x07\x1b\x80\x93\x9d")
    + ["\u0301", "\u0303", "\u0308", "\u1161", "\u11a8", "\uf900", "\u212b", "中", "ж", "λ"]
)


def _random_texts(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return ["".join(rng.choices(ALPHABET, k=rng.randint(0, 120))) for _ in range(n)]


def test_random_text_equals_fix_text() -> None:
    texts = _random_texts(3000, seed=0)
    assert _repaired(_step(), texts) == [ftfy.fix_text(t) for t in texts]


def test_injected_mojibake_equals_fix_text() -> None:
    rng = random.Random(1)
    clean = [
        "Le café où nous étions était très animé — « vraiment » !",
        "Müller's Straße: 5 € per Übernachtung, naïve façade.",
        "She said “hello” and left… it’s ½ past ten.",
        "Ελληνικά κείμενα και русский текст, 中文字符.",
    ]
    texts = []
    for _ in range(400):
        lines = [rng.choice(clean) for _ in range(rng.randint(1, 6))]
        for i, line in enumerate(lines):
            codec = rng.choice(["windows-1252", "latin-1", None, None])
            if codec is not None:
                lines[i] = line.encode("utf-8").decode(codec, errors="replace")
        texts.append("\n".join(lines))
    out = _repaired(_step(), texts)
    assert out == [ftfy.fix_text(t) for t in texts]
    assert sum(a != b for a, b in zip(out, texts, strict=True)) > 200


def test_segments_longer_than_max_decode_length() -> None:
    """A line over ftfy's segment limit: fix_text cuts it; the step defers to fix_text."""

    class Short(UnicodeRepairStep):
        _CONFIG = ftfy.TextFixerConfig(explain=False, max_decode_length=40)
        _NO_HTML = _CONFIG._replace(unescape_html=False)

    step = Short(Short.Options())
    step.setup()
    texts = ["a" * 38 + "Ã© and “more” " * 5 + "\nshort “line”", "short “line” only"]
    assert _repaired(step, texts) == [ftfy.fix_text(t, Short._CONFIG) for t in texts]


def test_needs_ftfy_is_conservative() -> None:
    texts = _random_texts(3000, seed=2)
    flags = needs_ftfy(pl.Series(texts)).to_list()
    assert all(ftfy.fix_text(t) == t for t, flag in zip(texts, flags, strict=True) if not flag)
    assert 0 < sum(flags) < len(texts)
    # nothing in printable ASCII without '&' needs ftfy
    assert not needs_ftfy(pl.Series(["".join(map(chr, range(32, 127))).replace("&", "")])).any()


def test_mojibake_regex_matches_wherever_ftfy_does() -> None:
    texts = _random_texts(3000, seed=3) + EDGE_CASES
    ours = pl.Series(texts).str.contains(MOJIBAKE).to_list()
    theirs = [bool(badness.BADNESS_RE.search(t)) for t in texts]
    assert all(o for o, t in zip(ours, theirs, strict=True) if t)  # never misses
    assert sum(ours) - sum(theirs) <= 0.01 * len(texts)  # and barely widens
    assert sum(theirs) > 100


def test_rust_regex_translation() -> None:
    def agree(pattern: str, text: str) -> bool:
        ours = pl.Series([text]).str.contains(rust_regex(re.compile(pattern))).item()
        return bool(ours) == bool(re.search(pattern, text))

    assert agree(r"[a-c]x?[^\d]", "ab!") and agree(r"(?:ab|cd)e", "xcde")
    assert agree(r"[a-z]\s[A-Z]", "a\u3000B") and agree(r"\w[!]", "é!")
    assert pl.Series(["x\nÃ "]).str.contains(rust_regex(re.compile(r"^Ã "))).item()  # widened
    for unsupported in (r"(?=a)b", r"[^\s]", r"(?i)abc", r"a\b"):
        with pytest.raises(ValueError):
            rust_regex(re.compile(unsupported))


def test_real_documents_equal_fix_text(shared_data: Path) -> None:
    texts: list[str] = []
    for batch in read_batches(shared_data / "webmix" / "part-0003.jsonl.gz"):
        texts += batch.table.column("text").to_pylist()
    texts = texts[:700]
    out = _repaired(_step(), texts)
    assert out == [ftfy.fix_text(t) for t in texts]
    assert sum(a != b for a, b in zip(out, texts, strict=True)) > 50


def test_nothing_after_the_nfc_scan_can_change_under_nfc() -> None:
    """nfc_suspect() scans U+0300..NFC_SCAN_END: beyond, no character of this Python's Unicode
    decomposes, combines or fails NFC on its own (checked on every 16th code point up to the
    end, and every one in the planes that hold assigned characters: 2, 3 and 14)."""
    import unicodedata

    def may_change(code: int) -> bool:
        ch = chr(code)
        decomposition = unicodedata.decomposition(ch)
        return (
            unicodedata.combining(ch) != 0
            or not unicodedata.is_normalized("NFC", ch)
            or (bool(decomposition) and not decomposition.startswith("<"))
        )

    codes = [*range(NFC_SCAN_END, 0x40000), *range(0xE0000, 0xE1000), *range(0x40000, 0x110000, 16)]
    assert not any(may_change(code) for code in codes)
    assert all(may_change(c) for c in (0x301, 0x212B, 0x2FA1D))
