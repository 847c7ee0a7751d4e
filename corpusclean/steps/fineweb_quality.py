"""``fineweb_quality``: FineWeb's custom quality filters (Penedo et al. 2024).

Source: Penedo et al. 2024, "The FineWeb Datasets: Decanting the Web for the Finest Text Data
at Scale" (arXiv:2406.17557), section 3.3 "Developing additional heuristic filters". Computed
over the non-blank lines of a document, a document is removed when

* fewer than 12% of its lines end in terminal punctuation (``line_punct_ratio`` < 0.12),
* more than 10% of its characters are in duplicated lines (``dup_line_char_ratio`` > 0.1),
* more than 67% of its lines are at most 30 characters long (``short_line_ratio`` > 0.67).

datatrove's ``FineWebQualityFilter`` (the implementation FineWeb was built with) adds a fourth
rule, a newline-to-word ratio above 0.3 (``list_ratio``), included here. Its code default for
the duplicated-line character ratio is 0.01, whereas the paper states 0.1; the default here is
the paper's 0.1.

Semantics follow datatrove: lines are split at line breaks and blank lines dropped; a line ends
in terminal punctuation if its last character (trailing spaces count) has Unicode's
``Sentence_Terminal`` property; duplicated-line characters are the characters of every repeat
of a line after its first occurrence, over the document's characters without line breaks; the
newline ratio is the number of line breaks over the number of words
(:func:`corpusclean.text.words`). A document without a non-blank line is rejected as empty.

Vectorised on the per-line table (:mod:`corpusclean.line_table`): one row per non-blank line,
flags as column expressions, one ``group_by``.
"""

from __future__ import annotations

import polars as pl
from pydantic import Field

from corpusclean import text as T
from corpusclean.histograms import FRACTION
from corpusclean.line_table import DOC, duplicate_stats, one_row_per_item, per_document
from corpusclean.steps.base import Step, StepOptions, StepResult, threshold_result

SIGNALS = ("line_punct_ratio", "short_line_ratio", "dup_line_char_ratio", "newline_word_ratio")


class FineWebQualityOptions(StepOptions):
    min_line_punct_ratio: float | None = Field(
        0.12, ge=0, le=1, description="drop if fewer lines end in terminal punctuation"
    )
    line_punct_exclude_zero: bool = Field(
        False, description="do not apply the punctuation rule to documents with no such line"
    )
    max_short_line_ratio: float | None = Field(
        0.67, ge=0, le=1, description="drop if more lines are short"
    )
    short_line_length: int = Field(30, ge=0, description="a short line has at most this many chars")
    max_dup_line_char_ratio: float | None = Field(
        0.1, ge=0, le=1, description="drop if more characters are in duplicated lines"
    )
    max_newline_word_ratio: float | None = Field(
        0.3, ge=0, description="drop if there are more line breaks per word"
    )
    keep_signals: bool = Field(
        False,
        description="keep the signal columns in documents/: "
        + ", ".join(f"fineweb_quality.{s}" for s in SIGNALS),
    )


class FineWebQualityStep(Step[FineWebQualityOptions]):
    name = "fineweb_quality"
    summary = (
        "FineWeb rules: >= 12% lines end in punctuation, <= 10% chars in duplicated lines, "
        "<= 67% lines of <= 30 chars, <= 0.3 line breaks per word."
    )
    source = (
        "Penedo et al. 2024, The FineWeb Datasets (arXiv:2406.17557), section 3.3; semantics "
        "of datatrove's FineWebQualityFilter"
    )
    signal_columns = tuple(f"fineweb_quality.{s}" for s in SIGNALS)
    #: Every signal is a fraction, but line breaks per word can exceed 1 (the "above" bin).
    default_bins = FRACTION

    def apply(self, batch: pl.DataFrame) -> StepResult:
        opts = self.options
        p = f"{self.name}."
        n_docs = batch.height
        text = pl.col("text")
        line = pl.col("line")
        lines = (
            one_row_per_item(batch, T.lines(text), "line")
            .filter(line.str.contains(r"\S"))
            .with_columns(
                line.str.contains(f"{T.TERMINAL_PUNCTUATION}$").alias("_punct"),
                (line.str.len_chars() <= opts.short_line_length).alias("_short"),
            )
        )
        per_doc = per_document(
            n_docs,
            duplicate_stats(lines, DOC, "line"),
            lines.group_by(DOC).agg(pl.col("_punct").sum(), pl.col("_short").sum()),
        ).fill_null(0)
        n_lines = per_doc.get_column("items")
        breaks = T.normalize_line_breaks(text).str.count_matches("\n").cast(pl.Int64)
        need_words = opts.max_newline_word_ratio is not None
        batch = batch.with_columns(
            T.ratio(per_doc.get_column("_punct"), n_lines).alias(p + "line_punct_ratio"),
            T.ratio(per_doc.get_column("_short"), n_lines).alias(p + "short_line_ratio"),
            T.ratio(per_doc.get_column("dup_chars"), text.str.len_chars() - breaks).alias(
                p + "dup_line_char_ratio"
            ),
            (T.ratio(breaks, T.word_count(text)) if need_words else pl.lit(0.0)).alias(
                p + "newline_word_ratio"
            ),
            n_lines.alias("_lines"),
        )
        punct = T.below("line_punct_ratio", p + "line_punct_ratio", opts.min_line_punct_ratio)
        if punct is not None and opts.line_punct_exclude_zero:
            assert isinstance(punct, T.CutRule)
            zero = pl.col(p + "line_punct_ratio") > 0
            punct = T.CutRule(punct[0] & zero, punct[1], punct.cut)
        rules = [
            (pl.col("_lines") == 0, pl.lit("empty")),
            punct,
            T.above("short_line_ratio", p + "short_line_ratio", opts.max_short_line_ratio),
            T.above("dup_line_char_ratio", p + "dup_line_char_ratio", opts.max_dup_line_char_ratio),
            T.above("newline_word_ratio", p + "newline_word_ratio", opts.max_newline_word_ratio),
        ]
        result = threshold_result(batch, rules, self.signal_columns, opts.keep_signals)
        result.frame = result.frame.drop("_lines")  # read by the "empty" rule only
        return result
