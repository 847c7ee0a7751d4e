"""``length``: drop documents outside a word-count and character-count range.

Why: very short pages (error pages, "Loading...", a title alone) carry no language to learn,
and very long ones are usually dumps or concatenations. A word is a maximal run of
non-whitespace characters (Python's ``str.split()``), counted with one vectorised regex.
"""

from __future__ import annotations

import polars as pl
from pydantic import Field, model_validator

from corpusclean import text as T
from corpusclean.histograms import COUNT
from corpusclean.steps.base import Step, StepOptions, StepResult, first_failure


class LengthOptions(StepOptions):
    min_words: int = Field(0, ge=0, description="drop documents with fewer words")
    max_words: int | None = Field(None, ge=1, description="drop documents with more words")
    min_chars: int = Field(0, ge=0, description="drop documents with fewer characters")
    max_chars: int | None = Field(None, ge=1, description="drop documents with more characters")

    @model_validator(mode="after")
    def _ranges(self) -> LengthOptions:
        if self.max_words is not None and self.max_words < self.min_words:
            raise ValueError("max_words must be >= min_words")
        if self.max_chars is not None and self.max_chars < self.min_chars:
            raise ValueError("max_chars must be >= min_chars")
        return self


class LengthStep(Step[LengthOptions]):
    name = "length"
    summary = "Drop documents outside [min_words, max_words] words or [min_chars, max_chars] chars."
    source = "common practice (OpenWebText, C4, Gopher all bound document length)"
    adds_columns = ("words", "chars")
    default_bins = COUNT

    def apply(self, batch: pl.DataFrame) -> StepResult:
        opts = self.options
        text = pl.col("text")
        batch = batch.with_columns(
            text.str.count_matches(r"\S+").cast(pl.Int64).alias("words"),
            text.str.len_chars().cast(pl.Int64).alias("chars"),
        )
        # First failing rule wins; each branch names the rule and the measured value.
        rules = [
            T.below("words", "words", opts.min_words, integer=True),
            T.below("chars", "chars", opts.min_chars, integer=True),
            T.above("words", "words", opts.max_words, integer=True),
            T.above("chars", "chars", opts.max_chars, integer=True),
        ]
        reject = first_failure(batch, [r for r in rules if r is not None])
        return StepResult(
            frame=batch, reject=reject, signals=batch.select("words", "chars"), cuts=T.cuts(rules)
        )
