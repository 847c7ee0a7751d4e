"""``c4_quality``: C4's cleaning heuristics (Raffel et al. 2020, section 2.2).

Source: Raffel et al. 2020, "Exploring the Limits of Transfer Learning with a Unified
Text-to-Text Transformer" (JMLR 21(140)), section 2.2 "The Colossal Clean Crawled Corpus", and
its reference code (``tensorflow_datasets/text/c4_utils.py``). Line rules rewrite the text:

* keep only lines that end in terminal punctuation (``. ? ! " '``, but not ``...``);
* drop lines with fewer than 3 words (``min_words_per_line``);
* drop lines containing "javascript";
* drop lines with a policy or cookie notice ("terms of use", "privacy policy", "cookie
  policy", "uses cookies", "use of cookies", "use cookies");
* drop lines with a word longer than 1000 characters (``max_word_length``);
* remove citation markers such as ``[1]``, ``[edit]``, ``[citation needed]``.

Document rules: drop a page containing "lorem ipsum" or a curly brace ``{`` (in a line that
the line rules keep), a page with fewer than 5 sentences left (``min_num_sentences``), and,
when ``bad_words_path`` names a word list (none is bundled; C4 used the "List of Dirty,
Naughty, Obscene or Otherwise Bad Words"), a page containing one of its words.

Semantics follow datatrove's ``C4QualityFilter`` (split_paragraph=True): lines are stripped,
the word count of a line is taken before citations are removed, the punctuation test after;
sentences are counted per kept line (:func:`corpusclean.text.sentence_count`); the kept lines
are joined with ``\\n`` and stripped. Kept documents get the rewritten text.

Vectorised on the per-line table (:mod:`corpusclean.line_table`): one row per line, every line
rule a column expression, and the kept lines joined back per document with one ``group_by``.
"""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl
from pydantic import Field, field_validator

from corpusclean import text as T
from corpusclean.histograms import COUNT
from corpusclean.line_table import DOC, one_row_per_item, per_document
from corpusclean.steps.base import Step, StepOptions, StepResult, first_failure

POLICY_SUBSTRINGS = [
    "terms of use",
    "privacy policy",
    "cookie policy",
    "uses cookies",
    "use of cookies",
    "use cookies",
]
CITATION = r"\[\d*\]|\[edit\]|\[citation needed\]"
#: A line must end with one of these (C4's terminal punctuation, quotes included).
END_PUNCTUATION = "[.?!\"']$"

SIGNALS = ("lines", "kept_lines", "sentences")


class C4QualityOptions(StepOptions):
    filter_no_terminal_punct: bool | None = Field(
        True, description="drop lines not ending in . ? ! \" ' (or ending in ...)"
    )
    min_words_per_line: int | None = Field(
        3, ge=0, description="drop lines with fewer whitespace-separated words"
    )
    max_word_length: int | None = Field(
        1000, ge=1, description="drop lines with a word longer than this (characters)"
    )
    filter_javascript: bool | None = Field(True, description="drop lines mentioning javascript")
    filter_policy: bool | None = Field(
        True, description="drop lines with terms-of-use, privacy or cookie notices"
    )
    remove_citations: bool | None = Field(
        True, description="remove [1], [edit], [citation needed] markers"
    )
    filter_lorem_ipsum: bool | None = Field(
        True, description="drop documents containing 'lorem ipsum'"
    )
    filter_curly_bracket: bool | None = Field(
        True, description="drop documents with a '{' in a kept line"
    )
    min_num_sentences: int | None = Field(
        5, ge=0, description="drop documents with fewer sentences after line filtering"
    )
    bad_words_path: str | None = Field(
        None, description="file of bad words/phrases, one a line; drop documents containing one"
    )
    keep_signals: bool = Field(
        False,
        description="keep the signal columns in documents/: "
        + ", ".join(f"c4_quality.{s}" for s in SIGNALS),
    )

    @field_validator("bad_words_path")
    @classmethod
    def _exists(cls, value: str | None) -> str | None:
        if value is not None and not Path(value).is_file():
            raise ValueError(f"bad words file not found: {value}")
        return value


def load_bad_words(path: str) -> str | None:
    """A regex matching any listed word as a whole word in lower-cased text (C4's rule)."""
    words = sorted(
        {line.strip().lower() for line in Path(path).read_text(encoding="utf-8").splitlines()}
        - {""},
        key=len,
        reverse=True,
    )
    if not words:
        return None
    return r"(?:^|\W)(" + "|".join(re.escape(w) for w in words) + r")(?:\W|$)"


class C4QualityStep(Step[C4QualityOptions]):
    name = "c4_quality"
    summary = (
        "C4 line rules (terminal punctuation, >= 3 words, no javascript/policy lines, no "
        "citations) then document rules (>= 5 sentences, no lorem ipsum, no '{'); rewrites text."
    )
    source = (
        "Raffel et al. 2020, Exploring the Limits of Transfer Learning with a Unified "
        "Text-to-Text Transformer (JMLR 21), section 2.2 (C4); semantics of datatrove's "
        "C4QualityFilter"
    )
    signal_columns = tuple(f"c4_quality.{s}" for s in SIGNALS)
    default_bins = COUNT

    def __init__(self, options: C4QualityOptions) -> None:
        super().__init__(options)
        self._bad_words: str | None = None

    def setup(self) -> None:
        if self.options.bad_words_path is not None:
            self._bad_words = load_bad_words(self.options.bad_words_path)

    def apply(self, batch: pl.DataFrame) -> StepResult:
        opts = self.options
        if opts.bad_words_path is not None and self._bad_words is None:
            self.setup()
        p = f"{self.name}."
        n_docs = batch.height
        line = pl.col("line")
        raw = one_row_per_item(batch, T.lines(pl.col("text")), "line").with_columns(
            line.str.strip_chars()
        )
        words = T.whitespace_word_count(line)
        cleaned = line.str.replace_all(CITATION, "") if opts.remove_citations else line
        # Each line rule, in datatrove's order; a line is a candidate once it passes the
        # length, punctuation and word-count rules (lorem ipsum is checked on candidates).
        long_word = (
            line.str.contains(f"\\S{{{opts.max_word_length + 1}}}")
            if opts.max_word_length is not None
            else pl.lit(False)
        )
        lines = raw.with_columns(
            cleaned.alias("line"), words.alias("_words"), long_word.alias("_long")
        )
        candidate = ~pl.col("_long")
        if opts.filter_no_terminal_punct:
            candidate = candidate & line.str.contains(END_PUNCTUATION) & ~line.str.ends_with("...")
        if opts.min_words_per_line is not None:
            candidate = candidate & (pl.col("_words") >= opts.min_words_per_line)
        lower = line.str.to_lowercase()
        lorem = (
            candidate & lower.str.contains("lorem ipsum", literal=True)
            if opts.filter_lorem_ipsum
            else pl.lit(False)
        )
        javascript = (
            lower.str.contains("javascript", literal=True)
            if opts.filter_javascript
            else pl.lit(False)
        )
        curly = (
            candidate & ~javascript & line.str.contains("{", literal=True)
            if opts.filter_curly_bracket
            else pl.lit(False)
        )
        policy = (
            lower.str.contains("|".join(POLICY_SUBSTRINGS)) if opts.filter_policy else pl.lit(False)
        )
        kept = candidate & ~javascript & ~policy
        lines = lines.with_columns(
            lorem.alias("_lorem"), curly.alias("_curly"), kept.alias("_kept")
        )
        kept_lines = lines.filter("_kept")
        if opts.min_num_sentences is not None:
            kept_lines = kept_lines.with_columns(
                T.sentence_count(T.words(line)).alias("_sentences")
            )
        else:
            kept_lines = kept_lines.with_columns(pl.lit(0, dtype=pl.Int64).alias("_sentences"))
        per_doc = per_document(
            n_docs,
            lines.group_by(DOC).agg(
                pl.len().alias("lines"),
                pl.col("_lorem").any().alias("lorem"),
                pl.col("_curly").any().alias("curly"),
            ),
            kept_lines.group_by(DOC).agg(
                pl.len().alias("kept_lines"),
                pl.col("_sentences").sum().alias("sentences"),
                line.str.join("\n").alias("clean"),
            ),
        )
        new_text = per_doc.get_column("clean").fill_null("").str.strip_chars()
        batch = batch.with_columns(
            per_doc.get_column("lines").fill_null(0).cast(pl.Int64).alias(p + "lines"),
            per_doc.get_column("kept_lines").fill_null(0).cast(pl.Int64).alias(p + "kept_lines"),
            per_doc.get_column("sentences").fill_null(0).cast(pl.Int64).alias(p + "sentences"),
            per_doc.get_column("lorem").fill_null(False).alias("_lorem"),
            per_doc.get_column("curly").fill_null(False).alias("_curly"),
            new_text.alias("_clean"),
        )
        rules: list[T.Rule] = []
        if opts.filter_lorem_ipsum:
            rules.append((pl.col("_lorem"), pl.lit("lorem_ipsum=true")))
        if opts.filter_curly_bracket:
            rules.append((pl.col("_curly"), pl.lit("curly_bracket=true")))
        sentences = T.below("sentences", p + "sentences", opts.min_num_sentences, integer=True)
        if sentences is not None:
            rules.append(sentences)
        if self._bad_words is not None:
            found = pl.col("_clean").str.to_lowercase().str.extract(self._bad_words, 1)
            rules.append((found.is_not_null(), pl.format("bad_word={}", found)))
        reject = first_failure(batch, rules)
        # Kept documents get the cleaned text; rejected ones keep their original text.
        keep = reject.is_null() if reject is not None else pl.repeat(True, n_docs, eager=True)
        batch = batch.with_columns(
            pl.when(keep).then(pl.col("_clean")).otherwise(pl.col("text")).alias("text")
        ).drop("_lorem", "_curly", "_clean")
        signals = batch.select(self.signal_columns)
        if not opts.keep_signals:
            batch = batch.drop(self.signal_columns)
        counters = T.rule_counters(reject)
        counters["lines_in"] = int(per_doc.get_column("lines").fill_null(0).sum())
        counters["lines_kept"] = int(per_doc.get_column("kept_lines").fill_null(0).sum())
        return StepResult(
            frame=batch, reject=reject, counters=counters, signals=signals, cuts=T.cuts(rules)
        )
