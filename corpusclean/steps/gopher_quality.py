"""``gopher_quality``: Gopher's quality heuristics (Rae et al. 2021, appendix A.1.1).

Source: Rae et al. 2021, "Scaling Language Models: Methods, Analysis & Insights from Training
Gopher" (arXiv:2112.11446), appendix A, "Quality filtering" of MassiveWeb. A document is
removed when it

* does not contain between 50 and 100,000 words,
* has a mean word length outside 3 to 10 characters,
* has a symbol-to-word ratio above 0.1 for the hash symbol or the ellipsis,
* has more than 90% of its lines starting with a bullet point,
* has more than 30% of its lines ending with an ellipsis,
* has fewer than 80% of its words containing at least one alphabetic character,
* contains fewer than 2 occurrences of the stop words *the, be, to, of, and, that, have, with*.

Semantics follow datatrove's ``GopherQualityFilter`` (the reference implementation most
pipelines use): the word count and the mean word length are over non-symbol words; the
``#`` and ellipsis ratios divide by all words, punctuation tokens included; stop words are
matched exactly (case-sensitive) as whole words and every occurrence counts, as earlier
datatrove versions and other public implementations count them (``sum(w in stop_words for w
in words)``: a page that says "of" fifty times and no other stop word has 50);
``stop_words_count: distinct`` counts distinct stop words, as datatrove 0.10.1 does
(``len(stop_words.intersection(set(words)))``, docs/rules.md). One deliberate difference: the
alphabetic rule counts whitespace-separated words (see :mod:`corpusclean.text`), because datatrove's
punctuation tokens make it drop about half of clean real documents. Every definition is in
:mod:`corpusclean.text` and ``docs/rules.md``.

Everything is computed with vectorised Polars expressions over the whole batch: one tokenizer
regex pass and list aggregations, no per-document Python.
"""

from __future__ import annotations

from typing import Literal

import polars as pl
from pydantic import Field, model_validator

from corpusclean import text as T
from corpusclean.histograms import COUNT, FRACTION, WORD_LENGTH
from corpusclean.steps.base import Step, StepOptions, StepResult, threshold_result

STOP_WORDS = ["the", "be", "to", "of", "and", "that", "have", "with"]

SIGNALS = (
    "words",
    "mean_word_length",
    "hash_word_ratio",
    "ellipsis_word_ratio",
    "bullet_lines_ratio",
    "ellipsis_lines_ratio",
    "alpha_words_ratio",
    "stop_words",
)


class GopherQualityOptions(StepOptions):
    min_words: int | None = Field(50, ge=0, description="drop documents with fewer words")
    max_words: int | None = Field(100_000, ge=1, description="drop documents with more words")
    min_mean_word_length: float | None = Field(
        3, ge=0, description="drop documents whose mean word length (characters) is lower"
    )
    max_mean_word_length: float | None = Field(
        10, ge=0, description="drop documents whose mean word length (characters) is higher"
    )
    max_symbol_word_ratio: float | None = Field(
        0.1, ge=0, description="drop documents with more '#' (or more ellipses) per word"
    )
    max_bullet_lines_ratio: float | None = Field(
        0.9, ge=0, le=1, description="drop documents with a larger fraction of bullet lines"
    )
    max_ellipsis_lines_ratio: float | None = Field(
        0.3, ge=0, le=1, description="drop documents with a larger fraction of lines ending '...'"
    )
    min_alpha_words_ratio: float | None = Field(
        0.8, ge=0, le=1, description="drop documents with a smaller fraction of words with a letter"
    )
    min_stop_words: int | None = Field(
        2, ge=0, description="drop documents containing fewer stop words (see stop_words_count)"
    )
    stop_words_count: Literal["occurrences", "distinct"] = Field(
        "occurrences",
        description="count every occurrence of a stop word (the reference implementations) "
        "or distinct stop words (datatrove 0.10.1)",
    )
    stop_words: list[str] = Field(
        default_factory=lambda: list(STOP_WORDS), min_length=1, description="the stop words"
    )
    keep_signals: bool = Field(
        False,
        description="keep the signal columns in documents/: "
        + ", ".join(f"gopher_quality.{s}" for s in SIGNALS),
    )

    @model_validator(mode="after")
    def _ranges(self) -> GopherQualityOptions:
        pairs = [
            ("min_words", "max_words"),
            ("min_mean_word_length", "max_mean_word_length"),
        ]
        for low, high in pairs:
            lo, hi = getattr(self, low), getattr(self, high)
            if lo is not None and hi is not None and hi < lo:
                raise ValueError(f"{high} must be >= {low}")
        return self


class GopherQualityStep(Step[GopherQualityOptions]):
    name = "gopher_quality"
    summary = (
        "Gopher quality rules: 50..100k words, mean word length 3..10, '#'/ellipsis per word "
        "<= 0.1, bullet lines <= 90%, ellipsis lines <= 30%, >= 80% words with a letter, "
        ">= 2 stop words."
    )
    source = (
        "Rae et al. 2021, Scaling Language Models: Methods, Analysis & Insights from Training "
        "Gopher (arXiv:2112.11446), appendix A.1.1; semantics of datatrove's GopherQualityFilter"
    )
    signal_columns = tuple(f"gopher_quality.{s}" for s in SIGNALS)
    signal_bins = {
        "gopher_quality.words": COUNT,
        "gopher_quality.mean_word_length": WORD_LENGTH,
        "gopher_quality.stop_words": COUNT,
    }
    default_bins = FRACTION

    def apply(self, batch: pl.DataFrame) -> StepResult:
        opts = self.options
        p = f"{self.name}."
        text = pl.col("text")
        word = pl.element()
        is_word = word.str.contains(T.NOT_SYMBOL)
        stop = sorted(set(opts.stop_words))
        stop_words = word.filter(word.is_in(stop))
        stop_count = (
            stop_words.len() if opts.stop_words_count == "occurrences" else stop_words.n_unique()
        )
        # Per document: all words (punctuation included), non-symbol words and their length.
        counts = pl.DataFrame({"_w": T.word_lists(batch.get_column("text"))}).select(
            pl.col("_w").list.len().cast(pl.Int64).alias("_tokens"),
            pl.col("_w").list.eval(is_word).list.sum().cast(pl.Int64).alias("_words"),
            pl.col("_w")
            .list.eval(word.filter(is_word).str.len_chars())
            .list.sum()
            .cast(pl.Int64)
            .alias("_chars"),
            pl.col("_w").list.eval(stop_count).list.first().alias("_stop"),
        )
        n_lines = T.line_count(text)
        n_ws = T.whitespace_word_count(text)
        batch = batch.with_columns(
            counts.get_column("_words").alias(p + "words"),
            pl.when(counts.get_column("_words") > 0)
            .then(counts.get_column("_chars") / counts.get_column("_words"))
            .otherwise(None)
            .alias(p + "mean_word_length"),
            T.ratio(text.str.count_matches("#", literal=True), counts.get_column("_tokens")).alias(
                p + "hash_word_ratio"
            ),
            T.ratio(text.str.count_matches(T.ELLIPSIS), counts.get_column("_tokens")).alias(
                p + "ellipsis_word_ratio"
            ),
            T.ratio(T.count_lines_starting(text, T.BULLETS), n_lines).alias(
                p + "bullet_lines_ratio"
            ),
            T.ratio(T.count_lines_ending(text, T.ELLIPSIS), n_lines).alias(
                p + "ellipsis_lines_ratio"
            ),
            pl.when(n_ws > 0)
            .then(T.alphabetic_word_count(text) / n_ws)
            .otherwise(0.0)
            .alias(p + "alpha_words_ratio"),
            counts.get_column("_stop").cast(pl.Int64).alias(p + "stop_words"),
        )
        symbol = opts.max_symbol_word_ratio
        rules = [
            T.below("words", p + "words", opts.min_words, integer=True),
            T.above("words", p + "words", opts.max_words, integer=True),
            T.below("mean_word_length", p + "mean_word_length", opts.min_mean_word_length),
            T.above("mean_word_length", p + "mean_word_length", opts.max_mean_word_length),
            T.above("hash_word_ratio", p + "hash_word_ratio", symbol),
            T.above("ellipsis_word_ratio", p + "ellipsis_word_ratio", symbol),
            T.above("bullet_lines_ratio", p + "bullet_lines_ratio", opts.max_bullet_lines_ratio),
            T.above(
                "ellipsis_lines_ratio", p + "ellipsis_lines_ratio", opts.max_ellipsis_lines_ratio
            ),
            T.below("alpha_words_ratio", p + "alpha_words_ratio", opts.min_alpha_words_ratio),
            T.below("stop_words", p + "stop_words", opts.min_stop_words, integer=True),
        ]
        return threshold_result(batch, rules, self.signal_columns, opts.keep_signals)
