"""``unicode_repair``: fix mojibake and other Unicode damage with ftfy.

Why: web text decoded with the wrong codec ("cafÃ©" for "café") splits one word into several
rare tokens and teaches a model garbage. ftfy (Speer, 2019, https://github.com/rspeer/python-ftfy)
undoes it. ftfy is pure Python and slow (on ../shared/data's webmix, ``fix_text`` on every
document costs more CPU than every other filter of the chain together), so the step calls it
only on the lines it could change, found with vectorised Polars tests, and the output still
equals ``ftfy.fix_text`` on every document (tested on real and injected mojibake).

Why that is exact (ftfy 6.x, ``ftfy/__init__.py``):

* ``fix_text`` cuts the text into segments that end after each ``"\\n"`` (and every
  ``max_decode_length`` characters of a longer line) and fixes each with ``fix_and_explain``
  independently; the only state carried from one segment to the next is that
  ``unescape_html="auto"`` is switched off for good once a segment contains ``<``. The step
  cuts the same segments and passes each the configuration ``fix_text`` would.
* ``fix_and_explain`` leaves a segment unchanged, and returns after one round, when every fix
  is a no-op on it:

  - ``fix_encoding`` returns ASCII text, and text on which ``ftfy.badness.is_bad`` is false,
    unchanged; ``is_bad`` is a search for ``BADNESS_RE``, which :func:`rust_regex` translates
    for Polars into a pattern that matches wherever it does (:data:`MOJIBAKE`);
  - ``unescape_html``, ``fix_c1_controls``, ``fix_latin_ligatures``, ``fix_character_width``,
    ``uncurl_quotes``, ``fix_line_breaks``, ``remove_terminal_escapes`` and
    ``remove_control_chars`` only act on characters listed in ftfy's own tables (``&``, C1
    controls, ``LIGATURES``, ``WIDTH_MAP``, curly quotes, ``\\r \\x85 \\u2028 \\u2029``, ESC,
    ``CONTROL_CHARS``): :data:`NEEDS_FTFY` is the class of all of them, built from those tables;
  - ``fix_surrogates`` acts on surrogates, which a Polars (UTF-8) string cannot hold;
  - NFC normalisation changes only text holding a character that is not NFC-stable on its
    own or that combines with a neighbour (Unicode UAX #15 quick check; :func:`nfc_suspect`);
    such lines are checked with Python's own ``unicodedata.is_normalized``, the function ftfy's
    ``unicodedata.normalize`` agrees with.

On webmix about 40% of documents contain a character outside printable ASCII, but only about
6% of their lines need ftfy: mostly curly quotes (ftfy straightens them by default), mojibake,
``&`` entities and non-NFC text.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import Any

import ftfy
import polars as pl
from ftfy import badness, chardata

from corpusclean.steps.base import Step, StepOptions, StepResult


def _char_class(codes: set[int]) -> str:
    """A regex character class of ``codes``, as ranges of ``\\x{...}`` escapes (Rust syntax)."""
    ranges: list[list[int]] = []
    for code in sorted(codes):
        if ranges and code == ranges[-1][1] + 1:
            ranges[-1][1] = code
        else:
            ranges.append([code, code])
    parts = [f"\\x{{{lo:x}}}" + (f"-\\x{{{hi:x}}}" if hi > lo else "") for lo, hi in ranges]
    return "[" + "".join(parts) + "]"


def _code(key: Any) -> int:
    return key if isinstance(key, int) else ord(key)


#: Every character one of ftfy's character-level fixes acts on (from ftfy's own tables).
_FIXER_CHARS = (
    {ord(c) for c in "&\r\x1b\x85\u2028\u2029"}  # entities, line breaks, terminal escapes
    | set(range(0x80, 0xA0))  # C1 controls
    | {_code(k) for k in chardata.LIGATURES}
    | {_code(k) for k in chardata.WIDTH_MAP}
    | {_code(k) for k in chardata.CONTROL_CHARS}
    | {0x2BC, *range(0x2018, 0x201C), *range(0x201C, 0x2020)}  # SINGLE_/DOUBLE_QUOTE_RE
)
#: Text without any of these (and without mojibake or non-NFC text) is left alone by ftfy.
NEEDS_FTFY = _char_class(_FIXER_CHARS)


def rust_regex(pattern: re.Pattern[str]) -> str:
    """Translate a Python regex into one for Polars (Rust) that matches wherever it does.

    Built from Python's own parse of the pattern, so no syntax is reinterpreted; every
    character is written as ``\\x{...}``. The few constructs whose Unicode definitions
    differ are widened, never narrowed: ``\\s`` also takes ``\\x1c-\\x1f`` (Python's
    ``str.isspace``), ``\\w`` also takes every number (``\\p{N}``: Python's ``str.isalnum``),
    ``^`` also matches after a line break (``\\d`` is Unicode ``Nd`` in both). A construct that
    cannot be translated safely (a negated widened class, case folding, lookarounds, ...)
    raises ``ValueError``.
    """
    from re import _constants as c  # type: ignore[attr-defined]
    from re import _parser  # type: ignore[attr-defined]

    if pattern.flags & (re.IGNORECASE | re.DOTALL | re.MULTILINE | re.ASCII):
        raise ValueError(f"unsupported flags {pattern.flags}")

    def char(code: int) -> str:
        return f"\\x{{{code:x}}}"

    def klass(items: list[tuple[Any, Any]]) -> str:
        out, negate = [], False
        for op, av in items:
            if op is c.NEGATE:
                negate = True
            elif op is c.LITERAL:
                out.append(char(av))
            elif op is c.RANGE:
                out.append(f"{char(av[0])}-{char(av[1])}")
            elif op is c.CATEGORY and av is c.CATEGORY_SPACE:
                out.append("\\s\\x{1c}-\\x{1f}")
            elif op is c.CATEGORY and av is c.CATEGORY_WORD:
                out.append("\\w\\p{N}")
            elif op is c.CATEGORY and av is c.CATEGORY_DIGIT:
                out.append("\\d")
            else:
                raise ValueError(f"unsupported class item {op} {av}")
        widened = {c.CATEGORY_SPACE, c.CATEGORY_WORD}
        if negate and any(op is c.CATEGORY and av in widened for op, av in items):
            raise ValueError("a widened category cannot be negated")
        return ("[^" if negate else "[") + "".join(out) + "]"

    def emit(sequence: Any) -> str:
        out = []
        for op, av in sequence:
            if op is c.LITERAL:
                out.append(char(av))
            elif op is c.NOT_LITERAL:
                out.append(f"[^{char(av)}]")
            elif op is c.IN:
                out.append(klass(av))
            elif op is c.ANY:
                out.append(".")  # neither matches "\n" without DOTALL
            elif op is c.BRANCH:
                out.append("(?:" + "|".join(emit(branch) for branch in av[1]) + ")")
            elif op is c.SUBPATTERN:
                out.append("(?:" + emit(av[3]) + ")")
            elif op in (c.MAX_REPEAT, c.MIN_REPEAT):
                low, high, inner = av
                bound = "" if high is c.MAXREPEAT else str(high)
                out.append(f"(?:{emit(inner)}){{{low},{bound}}}")
            elif op is c.AT and av is c.AT_BEGINNING:
                out.append("(?m:^)")
            else:
                raise ValueError(f"unsupported construct {op} {av}")
        return "".join(out)

    return emit(_parser.parse(pattern.pattern, pattern.flags))


#: ftfy's mojibake detector (``ftfy.badness.BADNESS_RE``) for Polars; where it does not match,
#: ``fix_encoding`` leaves the text unchanged.
MOJIBAKE = rust_regex(badness.BADNESS_RE)


#: One past the last code point that can make NFC change a string (U+2FA1D, the last CJK
#: compatibility ideograph, in Unicode 14 to 16).
NFC_SCAN_END = 0x2FA20


@lru_cache(maxsize=1)
def nfc_suspect() -> str:
    """Characters without which NFC cannot change a string (UAX #15 quick check "Yes").

    Those that are not NFC on their own (quick check "No"), those with a non-zero combining
    class (reordering), and those that compose with a preceding character ("Maybe": the second
    character of a canonical decomposition pair; Hangul medial vowels and final consonants).
    From Python's ``unicodedata``, once per process (about 0.1 s), over U+0300..U+2FA1F:
    below are only starters that never compose with what precedes them, above (CJK extension
    G, tags, variation selectors, private use) no character decomposes or combines
    (:data:`NFC_SCAN_END`; ``tests/test_filters_unicode.py`` checks it for the running Python).
    """
    codes = set(range(0x1161, 0x1176)) | set(range(0x11A8, 0x11C3))  # Hangul V and T jamo
    for code in range(0x300, NFC_SCAN_END):
        ch = chr(code)
        if unicodedata.combining(ch) or not unicodedata.is_normalized("NFC", ch):
            codes.add(code)
        decomposition = unicodedata.decomposition(ch)
        if decomposition and not decomposition.startswith("<"):
            parts = decomposition.split()
            if len(parts) == 2:
                codes.add(int(parts[1], 16))
    return _char_class(codes)


def needs_ftfy(texts: pl.Series) -> pl.Series:
    """Per text: could ``ftfy.fix_and_explain`` change it? False only where it cannot."""
    frame = pl.DataFrame({"t": texts})
    t = pl.col("t")
    flags = frame.select(
        (t.str.contains(NEEDS_FTFY) | t.str.contains(MOJIBAKE)).alias("fix"),
        t.str.contains(nfc_suspect()).alias("suspect"),
    )
    fix = flags.get_column("fix")
    suspect = flags.get_column("suspect") & ~fix
    if suspect.any():
        rows = suspect.arg_true()
        changed = [not unicodedata.is_normalized("NFC", s) for s in texts.gather(rows).to_list()]
        fix = fix.scatter(rows, pl.Series(changed, dtype=pl.Boolean))
    return fix


class UnicodeRepairOptions(StepOptions):
    """No options yet: ftfy's defaults (``ftfy.TextFixerConfig()``) are used."""


class UnicodeRepairStep(Step[UnicodeRepairOptions]):
    name = "unicode_repair"
    summary = "Repair mojibake and Unicode damage with ftfy.fix_text (only the lines that need it)."
    source = "ftfy (Speer 2019); used by FineWeb, Dolma, RedPajama"

    _CONFIG = ftfy.TextFixerConfig(explain=False)  # what fix_text uses by default
    _NO_HTML = _CONFIG._replace(unescape_html=False)

    def setup(self) -> None:
        nfc_suspect()

    def apply(self, batch: pl.DataFrame) -> StepResult:
        texts = batch.get_column("text")
        candidates = needs_ftfy(texts)
        n_docs = int(candidates.sum())
        if not n_docs:
            return StepResult(
                batch, counters={"ftfy_candidates": 0, "ftfy_lines": 0, "repaired": 0}
            )
        rows = candidates.arg_true()
        before = texts.gather(rows)
        after, n_lines = self._fix(before)
        changed = int((after != before).sum())
        batch = batch.with_columns(texts.scatter(rows, after))
        counters = {"ftfy_candidates": n_docs, "ftfy_lines": n_lines, "repaired": changed}
        return StepResult(frame=batch, counters=counters)

    def _fix(self, texts: pl.Series) -> tuple[pl.Series, int]:
        """``ftfy.fix_text`` of every text, calling ftfy only on the segments that need it."""
        limit = self._CONFIG.max_decode_length
        seg = pl.col("seg")
        segments = (
            pl.DataFrame({"text": texts})
            .select(
                pl.int_range(pl.len()).alias("doc"), pl.col("text").str.split("\n").alias("seg")
            )
            .with_columns(pl.col("seg").list.len().alias("n"))
            .explode("seg")
            .with_columns(pl.int_range(pl.len()).over("doc").alias("i"))
            # fix_text's segments end after each "\n"
            .with_columns(
                pl.when(pl.col("i") < pl.col("n") - 1).then(seg + "\n").otherwise(seg).alias("seg")
            )
            # once a segment holds "<", fix_text stops unescaping HTML for the rest of the text
            .with_columns(
                seg.str.contains("<", literal=True)
                .cast(pl.UInt8)
                .cum_max()
                .over("doc")
                .alias("lt"),
                (seg.str.len_chars() > limit).any().over("doc").alias("long"),
            )
        )
        segments = segments.with_columns(needs_ftfy(segments.get_column("seg")).alias("fix"))
        todo = segments.filter(pl.col("fix") & ~pl.col("long"))
        fixed = [
            ftfy.fix_and_explain(text, self._NO_HTML if lt else self._CONFIG)[0]
            for text, lt in zip(
                todo.get_column("seg").to_list(), todo.get_column("lt").to_list(), strict=True
            )
        ]
        rows = (
            segments.with_row_index("_r").filter(pl.col("fix") & ~pl.col("long")).get_column("_r")
        )
        column = segments.get_column("seg").scatter(rows, pl.Series(fixed, dtype=pl.String))
        joined = (
            segments.with_columns(column.alias("seg"))
            .group_by("doc", maintain_order=True)
            .agg(seg.str.join(""), pl.col("long").first())
            .sort("doc")
        )
        out = joined.get_column("seg")
        long_rows = joined.get_column("long").arg_true()
        if len(long_rows):  # a line over max_decode_length: ftfy's own cutting, whole text
            whole = [ftfy.fix_text(t) for t in texts.gather(long_rows).to_list()]
            out = out.scatter(long_rows, pl.Series(whole, dtype=pl.String))
        return out.alias("text"), len(fixed)
