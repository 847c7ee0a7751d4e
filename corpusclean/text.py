"""What a word, a line, a paragraph and a sentence are: one definition for every filter.

Every heuristic filter (``gopher_quality``, ``gopher_repetition``, ``c4_quality``,
``fineweb_quality``) counts words, lines and sentences through this module, so a rule never
disagrees with another about what it is measuring. Each helper is a *Polars expression
builder*: it takes a String expression (usually ``pl.col("text")``) and returns an expression
that Polars evaluates over a whole batch at once, in Rust, with no per-document Python.

The definitions follow datatrove (HuggingFace's pipeline, whose filters reproduce the published
rules) as closely as a vectorised implementation reasonably can; ``docs/rules.md`` lists every
difference and measures what it changes.

**Line.** Lines are what Python's ``str.splitlines()`` returns: a line ends at ``\\r\\n`` or at
any one of ``\\n \\r \\v \\f \\x1c \\x1d \\x1e \\x85 \\u2028 \\u2029``; a break at the very end
of the text does not start another (empty) line, and the empty text has no line. Helpers first
turn every break into ``\\n`` (:func:`normalize_line_breaks`), so the rest only sees ``\\n``.

**Blank line.** A line that is empty or holds only whitespace.

**Paragraph.** The text, stripped of surrounding whitespace, cut at every run of two or more
consecutive line breaks (datatrove's ``re.split(r"\\n{2,}", text.strip())``). A line of spaces
between two breaks therefore does not separate paragraphs.

**Word** (:func:`words`). A token as spaCy's English tokenizer (the one datatrove uses for
English) would cut it, emulated by regular expressions (one pass that inserts spaces where
spaCy splits inside a chunk, run twice, then one ``extract_all``): the text is split at
whitespace; punctuation at either end of a chunk (brackets, quotes, ``, ; : ! ? * # & _``,
dashes, symbols such as emoji) is split off one character at a time, a final ``.`` too, but runs
of dots (``...``) stay one token and ``$ + = %`` are split off the start only; punctuation
inside a chunk stays (``foo(bar``, ``12:30``, ``3.14``, ``example.com``, URLs); hyphens,
slashes, colons, ``=``, ``<``, ``>`` and ``~`` between a letter or digit and a letter split
(``well - known``), as do commas between letters, ``- + * ^`` between digits, ``%`` and ``°``
after a number, ``...`` anywhere inside, a ``.`` between a lower-case letter and a capital, and
symbols such as ``©`` or ``°`` anywhere; the clitics ``n't 's 'm 'd 'll 're 've`` become their
own token (``do n't``), as in spaCy's exceptions written without the apostrophe (``do nt``,
``can not``, ``i d``); initialisms and spaCy's listed abbreviations keep their dot (``U.S.``,
``e.g.``, ``a.m.``, ``Mr.``, ``Jan.``, ``Calif.``), and its common emoticons stay whole
(``):``, ``8)``, ``:)``). Punctuation tokens *are* words here, as in datatrove (they count in
the denominators of the ``#``-to-word and newline-to-word ratios, and in n-grams).
``docs/rules.md`` lists where this emulation still differs from spaCy and what it changes.

**Whitespace word** (:func:`whitespace_words`). A maximal run of non-whitespace characters
(Python's ``str.split()``). Gopher's "80% of words contain an alphabetic character" rule, C4's
"at least 3 words per line" and ``length`` count these. (datatrove's alphabetic rule counts
its punctuation tokens as words without a letter, which drops about half of the clean documents
of a real web mix; ours does not: a deliberate difference.)

**Symbol word.** A word made only of Unicode punctuation (``P*``), symbols (``S*``) and control
characters (:data:`SYMBOL_WORD`). Gopher's word count and mean word length use the other words
(``non-symbol words``).

**Alphabetic character.** A Unicode letter (``\\p{L}``, Python's ``str.isalpha``).

**Bullet line.** A line whose first non-whitespace character is ``•`` or ``-`` (datatrove's
choice for Gopher's "bullet point"). **Ellipsis line.** A line whose last non-whitespace
characters are ``...`` or ``…``. **Ellipsis** (Gopher's symbol): ``...`` or ``…``, counted
without overlap.

**Terminal punctuation.** For FineWeb's line rule, a character with Unicode's
``Sentence_Terminal`` property (``. ! ? 。 ！ ？ । ؟`` ...), which is datatrove's list up to three
Khmer signs and a dozen rare characters. C4 keeps its own narrower list ``. ? ! " '``.

**Sentence** (:func:`sentence_count`). spaCy's rule-based ``Sentencizer`` (what datatrove's
English ``split_into_sentences`` runs): a new sentence starts at the first word that is not
punctuation after a word that is exactly one sentence-final character (``.``, ``!``, ``?`` and
their script variants), with only punctuation words in between. So ``Mr.``, ``U.S.``, ``3.14``
and ``...`` do not end a sentence, ``end.`` does. A non-empty text has at least one sentence.

The end of the module holds the helpers every filter builds its decision with (:func:`below`,
:func:`above`, :func:`rule_counters`): a rejected document's ``detail`` names the first failing
sub-rule, its value (rounded to 3 decimals) and the threshold (``"mean_word_length=2.41<3"``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import polars as pl

#: Line boundaries of Python's ``str.splitlines()`` (``\r\n`` first, so it counts once).
LINE_BREAK = "\r\n|[\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]"

#: A word made only of punctuation, symbols and control characters.
SYMBOL_WORD = r"^[\p{P}\p{S}\p{Cc}]+$"
#: Any character that is not punctuation, a symbol or a control character.
NOT_SYMBOL = r"[^\p{P}\p{S}\p{Cc}]"

#: Gopher's ellipsis, in text and at the end of lines.
ELLIPSIS = r"\.\.\.|…"
#: Characters that start a bullet line (datatrove's GopherQualityFilter).
BULLETS = "•-"

#: Unicode sentence terminals (FineWeb's "line ends in terminal punctuation").
TERMINAL_PUNCTUATION = r"\p{Sentence_Terminal}"

#: spaCy's ``Sentencizer.default_punct_chars``: a word equal to one of these ends a sentence.
SENTENCE_FINAL = (
    "!.?։؟۔܀܁܂߹।॥၊။።፧፨᙮᜵᜶᠃᠉᥄᥅᪨᪩᪪᪫᭚᭛᭞᭟᰻᰼᱾᱿‼‽⁇⁈⁉⸮⸼꓿꘎꘏꛳꛷꡶꡷꣎꣏꤯꧈꧉꩝꩞꩟꫰꫱꯫﹒﹖﹗！．？"
    "𐩖𐩗𑁇𑁈𑂾𑂿𑃀𑃁𑅁𑅂𑅃𑇅𑇆𑇍𑇞𑇟𑈸𑈹𑈻𑈼𑊩𑑋𑑌𑗂𑗃𑗉𑗊𑗋𑗌𑗍𑗎𑗏𑗐𑗑𑗒𑗓𑗔𑗕𑗖𑗗𑙁𑙂𑜼𑜽𑜾𑩂𑩃𑪛𑪜𑱁𑱂𖩮𖩯𖫵𖬷𖬸𖭄𛲟𝪈｡。"
)

# --- the word tokenizer -----------------------------------------------------------------------
# spaCy's English tokenizer, emulated without look-around (Polars uses Rust's regex crate) and
# without \b, which would force the slow non-DFA engine: one pass inserts spaces at the infixes
# spaCy splits, a second pass catches chains ("a-b-c" overlaps itself), then one extract_all.

#: spaCy's abbreviation exceptions that keep their final dot (English tokenizer exceptions).
_ABBREVIATIONS = (
    "Adm|Ak|Ala|Apr|Ariz|Ark|Aug|Bros|Calif|Colo|Conn|Corp|Co|Dec|Del|Dr|Feb|Fla|Ga|Gen|Gov|Ia|"
    "Id|Ill|Inc|Ind|Jan|Jr|Jul|Jun|Kans|Kan|Ky|La|Ltd|Mar|Mass|Md|Messrs|Mich|Minn|Miss|Mont|Mo|"
    "Mrs|Mr|Ms|Mt|Nebr|Neb|Nev|Nov|Oct|Okla|Ore|Pa|Ph\\.D|Prof|Rep|Rev|Sen|Sept|Sep|St|Tenn|Va|"
    "Wash|Wis|co|vs"
)
#: Split off either end of a chunk (spaCy's prefixes and suffixes), one character at a time.
_EDGE = ",:;!?()\\[\\]{}<>_#*&\"'`´‘’“”«»…—–·§¿¡。，、；：？！～\\p{So}\\p{Ps}\\p{Pe}\\p{Pi}\\p{Pf}"
#: Split off the start of a chunk only (spaCy: prefixes that are not suffixes).
_PREFIX_ONLY = "=+$%€£¥"
#: spaCy's exceptions that split a word written without its apostrophe ("dont" -> do|nt,
#: "cannot" -> can|not, "id" -> i|d): suffix -> the words it is split from.
_GLUED = {
    "nt": "ai are ca could dare did does do had has have is may might must need ought sha "
    "should was were wo would",
    "d": "he how i it that there these they this those we what when where who why you",
    "ll": "how it that there these they this those what when where who why you",
    "re": "how there these they those what when where why you",
    "ve": "could i might must should they we what when where who why would you how there "
    "these those not",
    "s": "he she how that there what when where who why this",
    "m": "i",
    "not": "can",
    "na": "gon",
    "ta": "got",
}


def _glued(suffix: str, words: str) -> str:
    heads = "|".join(f"[{w[0]}{w[0].upper()}]{w[1:]}" for w in words.split())
    return f"((?:^|[^\\w])(?:{heads}))({suffix})([^\\w]|$)"


#: Each alternative has three groups (left, infix, right); the replacement puts spaces
#: between them.
_INFIX_ALTERNATIVES = [
    # kept whole: URLs, e-mail addresses and "and/or" (spaCy's URL match and exceptions)
    r"(\S+://\S+|[\w.+-]+@[\w-]+\.[\w.-]+|and/or)()()",
    # letter or digit, then hyphens/dashes/~:<>=/ then a letter
    r"([\p{L}\d])(-+|[–—~:<>=/]|\.\.+|…)(\p{L})",
    # "..." between anything
    r"([^\s.])(\.\.+|…)([^\s.])",
    # a lower-case letter, "." and a capital; a comma between letters
    r"(\p{Ll})(\.)(\p{Lu})",
    r"(\p{L})(,)(\p{L})",
    # - + * ^ between digits; a percent, degree or plus sign after a number
    r"(\d)([-+*^])(\d)",
    r"(\d)([%°+])()",
    # clitics: do|n't, it|'s, I|'m ... (straight or curly apostrophe)
    r"(\p{L})((?i:n['’]t|['’](?:s|m|d|ll|re|ve)))([^\w]|$)",
    # symbols such as ° © ™ are split off wherever they are
    r"()(\p{So})()",
] + [_glued(suffix, words) for suffix, words in _GLUED.items()]
_INFIX = "|".join(_INFIX_ALTERNATIVES)
_INFIX_REPLACE = " ".join(
    "".join(f"${3 * i + k + 1}" for i in range(len(_INFIX_ALTERNATIVES))) for k in range(3)
)
#: spaCy's emoticon exceptions that occur in real text ("(see below):" ends with "):").
_EMOTICONS = r"\):|\(=|\[:|\(:|8\)|:\)|:\]|:\(|:-\)|:-\(|;\)|:\*|:'\)|=\)"
_CHUNK = r"[^\s" + _EDGE + _PREFIX_ONLY + r"](?:\S*[^\s" + _EDGE + r".])?"
_WORD = (
    r"(?:"
    + _ABBREVIATIONS
    + r")\."  # Mr. Jan. Calif.
    # a.com, U.S.A: a chunk of two or more characters after the dots, not an initialism
    + r"|(?:\p{L}\.)+[^\s"
    + _EDGE
    + _PREFIX_ONLY
    + r".][^\s.]*[^\s"
    + _EDGE
    + r".]"
    + r"|(?:\p{L}\.)+"  # U.S. e.g. a.m. x.
    r"|(?i:['’](?:s|m|d|ll|re|ve))"  # clitics split off above
    r"|\.\.+|''|" + _EMOTICONS + r"|\+\d(?:\S*[^\s" + _EDGE + r".])?"  # ... '' ): +1
    r"|[" + _EDGE + r"]"
    r"|[" + _PREFIX_ONLY + r"]"
    # a chunk: starts with neither an edge nor a prefix character, ends with neither an edge
    # character nor a dot; anything between
    r"|" + _CHUNK
)


def normalize_line_breaks(text: pl.Expr) -> pl.Expr:
    """The text with every line break (see *Line*) replaced by ``\\n``."""
    return text.str.replace_all(LINE_BREAK, "\n")


def _split_infixes(text: pl.Expr) -> pl.Expr:
    once = text.str.replace_all(_INFIX, _INFIX_REPLACE)
    return once.str.replace_all(_INFIX, _INFIX_REPLACE)


def words(text: pl.Expr) -> pl.Expr:
    """``list[str]``: the words of each text (see *Word*), punctuation tokens included."""
    return _split_infixes(text).str.extract_all(_WORD)


class _WordMemo:
    """The words of the last batch's texts, kept for the next step of the same worker.

    Splitting words is most of the cost of ``gopher_repetition`` and ``gopher_quality``, and
    in a rules file they usually follow each other on the same batch (the second seeing the
    first's survivors). Keyed by the full text, so a text rewritten in between (``c4_quality``)
    is split again: the result is always :func:`words` of the text. Holds one batch.
    """

    frame: pl.DataFrame | None = None


def word_lists(texts: pl.Series) -> pl.Series:
    """:func:`words` of each text, reusing the previous call's where the text is the same."""
    frame = pl.DataFrame({"text": texts})
    known = _WordMemo.frame
    if known is not None:
        frame = frame.join(known, on="text", how="left", maintain_order="left")
        missing = pl.col("words").is_null()
        if frame.select(missing.any()).item():
            frame = frame.with_row_index("_row")
            new = frame.filter(missing).with_columns(words(pl.col("text")).alias("words"))
            frame = pl.concat([frame.filter(~missing), new]).sort("_row").drop("_row")
    else:
        frame = frame.with_columns(words(pl.col("text")).alias("words"))
    _WordMemo.frame = frame.unique("text", keep="first", maintain_order=False)
    return frame.get_column("words").alias(texts.name)


def word_count(text: pl.Expr) -> pl.Expr:
    """Number of :func:`words` (without building the lists)."""
    return _split_infixes(text).str.count_matches(_WORD).cast(pl.Int64)


def whitespace_words(text: pl.Expr) -> pl.Expr:
    """``list[str]``: maximal runs of non-whitespace characters (``str.split()``)."""
    return text.str.extract_all(r"\S+")


def whitespace_word_count(text: pl.Expr) -> pl.Expr:
    """Number of :func:`whitespace_words`."""
    return text.str.count_matches(r"\S+").cast(pl.Int64)


def alphabetic_word_count(text: pl.Expr) -> pl.Expr:
    """Number of whitespace words that contain at least one alphabetic character."""
    return text.str.count_matches(r"\S*\p{L}\S*").cast(pl.Int64)


def lines(text: pl.Expr) -> pl.Expr:
    """``list[str]``: the lines of each text (``str.splitlines()``; see *Line*)."""
    normal = normalize_line_breaks(text)
    split = normal.str.replace(r"\n\z", "").str.split("\n")
    return (
        pl.when(text.str.len_bytes() == 0)
        .then(pl.lit([], dtype=pl.List(pl.String)))
        .otherwise(split)
    )


def line_count(text: pl.Expr) -> pl.Expr:
    """Number of :func:`lines` (without building the lists)."""
    breaks = text.str.count_matches(LINE_BREAK).cast(pl.Int64)
    ends_with_break = text.str.contains(f"(?:{LINE_BREAK})\\z").cast(pl.Int64)
    return (
        pl.when(text.str.len_bytes() == 0)
        .then(pl.lit(0, dtype=pl.Int64))
        .otherwise(breaks + 1 - ends_with_break)
    )


def count_lines_starting(text: pl.Expr, chars: str) -> pl.Expr:
    """Lines whose first non-whitespace character is one of ``chars``."""
    klass = "".join("\\" + c if c in "\\]^-[" else c for c in chars)
    return normalize_line_breaks(text).str.count_matches(f"(?m)^[^\\S\\n]*[{klass}]").cast(pl.Int64)


def count_lines_ending(text: pl.Expr, pattern: str) -> pl.Expr:
    """Lines whose last non-whitespace characters match ``pattern`` (a regex)."""
    return (
        normalize_line_breaks(text)
        .str.count_matches(f"(?m)(?:{pattern})[^\\S\\n]*$")
        .cast(pl.Int64)
    )


def paragraphs(text: pl.Expr) -> pl.Expr:
    """``list[str]``: the paragraphs of each text (see *Paragraph*); none for blank text."""
    return normalize_line_breaks(text).str.strip_chars().str.extract_all(r"[^\n]+(?:\n[^\n]+)*")


def sentence_count(word_lists: pl.Expr) -> pl.Expr:
    """Sentences in each list of :func:`words` (see *Sentence*); 0 for an empty list.

    The words are joined with ``\\x00`` and one regex counts the sentence starts: a word that
    is one sentence-final character, any punctuation-only words, then a word with a character
    that is not punctuation.
    """
    joined = word_lists.list.join("\x00")
    final = "[" + SENTENCE_FINAL.replace("\\", "\\\\") + "]"
    starts = joined.str.count_matches(
        f"(?:^|\\x00){final}(?:\\x00\\p{{P}}+)*\\x00[^\\x00]*?[^\\x00\\p{{P}}]"
    )
    return (
        pl.when(word_lists.list.len() == 0)
        .then(pl.lit(0, dtype=pl.Int64))
        .otherwise(starts.cast(pl.Int64) + 1)
    )


def ratio(numerator: pl.Expr, denominator: pl.Expr) -> pl.Expr:
    """``numerator / denominator`` as Float64, 0.0 where the denominator is 0."""
    return (
        pl.when(denominator > 0)
        .then(numerator.cast(pl.Float64) / denominator.cast(pl.Float64))
        .otherwise(0.0)
    )


# --- building a filter's decision ---------------------------------------------------------------


def _show(value: float | int) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _value(column: pl.Expr, integer: bool) -> pl.Expr:
    return column if integer else column.round(3)


Rule = tuple[pl.Expr, pl.Expr]


@dataclass(frozen=True)
class Cut:
    """Where a threshold rule cuts a signal: the report draws it on the signal's histogram.

    ``column`` is the signal column (``gopher_quality.words``), ``side`` is ``"min"`` (values
    below ``value`` are dropped) or ``"max"`` (values above it are), ``rule`` the sub-rule's
    name as its ``detail`` spells it.
    """

    rule: str
    column: str
    value: float
    side: str

    def as_dict(self) -> dict[str, object]:
        return {"rule": self.rule, "value": self.value, "side": self.side}


class CutRule(tuple):  # type: ignore[type-arg]
    """A :data:`Rule` (``condition, message``) that also knows its :class:`Cut`: a rules list
    is both the decision (:func:`corpusclean.steps.base.first_failure`) and, through
    :func:`cuts`, what the report draws, so the two cannot disagree."""

    cut: Cut

    def __new__(cls, condition: pl.Expr, message: pl.Expr, cut: Cut) -> CutRule:
        rule = super().__new__(cls, (condition, message))
        rule.cut = cut
        return rule


def cuts(rules: Sequence[Rule | None]) -> list[Cut]:
    """The thresholds of the threshold rules among ``rules`` (the others have none)."""
    return [r.cut for r in rules if isinstance(r, CutRule)]


def below(
    name: str, column: str, threshold: float | int | None, integer: bool = False
) -> Rule | None:
    """Rule ``column < threshold`` with detail ``"name=value<threshold"`` (None: no rule)."""
    if threshold is None:
        return None
    col = pl.col(column)
    message = pl.format(f"{name}={{}}<{_show(threshold)}", _value(col, integer))
    return CutRule(col < threshold, message, Cut(name, column, float(threshold), "min"))


def above(
    name: str, column: str, threshold: float | int | None, integer: bool = False
) -> Rule | None:
    """Rule ``column > threshold`` with detail ``"name=value>threshold"`` (None: no rule)."""
    if threshold is None:
        return None
    col = pl.col(column)
    message = pl.format(f"{name}={{}}>{_show(threshold)}", _value(col, integer))
    return CutRule(col > threshold, message, Cut(name, column, float(threshold), "max"))


def rule_counters(reject: pl.Series | None) -> dict[str, int]:
    """``{"rejected.<sub-rule>": n}`` from a ``reject`` column of ``"sub_rule=..."`` details."""
    if reject is None:
        return {}
    names = reject.drop_nulls().str.extract(r"^([A-Za-z0-9_]+)", 1)
    counts = names.value_counts()
    return {
        f"rejected.{name}": int(n)
        for name, n in zip(counts[names.name], counts["count"], strict=True)
        if name is not None
    }
