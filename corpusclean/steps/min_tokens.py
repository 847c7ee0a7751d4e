"""``min_tokens``: drop documents shorter than ``min`` tokens of the run's tokenizer.

Why: OpenWebText (Gokaslan & Cohen 2019, https://skylion007.github.io/OpenWebTextCorpus/)
removed documents "with fewer than 128 tokens" of GPT-2's tokenizer after deduplication: too
short to hold a paragraph of context for a model trained on 1,024-token windows. Counting words
instead would misjudge code, URLs and non-Latin text, whose token counts differ most from
their word counts, so the step counts with the tokenizer the run writes its shards with.

Which tokenizer (option ``tokenizer``, default: the rules' ``tokenize.tokenizer``):

* a **path** (``tokenizer.json``, a Hugging Face folder, or a folder with GPT-2's
  ``vocab.json`` + ``merges.txt``; see :mod:`corpusclean.tokenizer`): the step streams like
  any filter, each worker loads the tokenizer once.
* ``{train: {vocab_size: N}}``: the run's tokenizer does not exist until the run has seen its
  documents. The step is then corpus-wide (:class:`~corpusclean.steps.base.CorpusStep`): its
  *scan* spills the text of every document that reaches it, its *resolve* trains the BPE on
  those texts in input order with the tokenize stage's recipe
  (:func:`corpusclean.tokenizer.train_bpe`) and *publishes* it as the run's tokenizer, and
  the next pass counts with it. The tokenize stage then writes that tokenizer to
  ``DIR/tokenizer.json`` and encodes ``DIR/tokens/`` with it instead of training another one.
  The tokenizer is therefore trained on the documents that reach ``min_tokens`` (those it
  keeps and those it drops), not only on the kept ones: the two cannot be the same without
  circularity, since which documents are kept depends on the tokenizer.

A count is the number of ids ``Tokenizer.encode_batch_fast(text, add_special_tokens=False)``
returns, exactly what the document contributes to ``tokens/`` before its EOS. ``detail`` is
``tokens=97<128``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
from pydantic import Field, field_validator

from corpusclean.histograms import COUNT
from corpusclean.steps.base import CorpusStep, RunContext, Step, StepOptions, StepResult
from corpusclean.text import Cut
from corpusclean.tokenizer import (
    TokenizerError,
    TrainSpec,
    TrainTokenizer,
    count_tokens,
    load_tokenizer,
    train_bpe,
)

#: The column kept with ``keep_signals: true``.
TOKENS = "min_tokens.tokens"


class MinTokensOptions(StepOptions):
    min: int = Field(128, ge=1, description="drop documents with fewer tokens (OpenWebText: 128)")
    tokenizer: str | dict[str, Any] | None = Field(
        None,
        description=(
            "count with this tokenizer (tokenizer.json, HF folder, vocab.json + merges.txt "
            "folder); default: the run's, tokenize.tokenizer (trained here when it is {train: ...})"
        ),
    )
    keep_signals: bool = Field(
        False, description=f"keep the token count as column {TOKENS} in documents/"
    )

    @field_validator("tokenizer")
    @classmethod
    def _train_spec(cls, value: str | dict[str, Any] | None) -> str | dict[str, Any] | None:
        if isinstance(value, dict):
            return TrainSpec.model_validate(value).model_dump(mode="json")
        return value


class MinTokensStep(Step[MinTokensOptions]):
    """The streaming form (a tokenizer file); :class:`TrainedMinTokensStep` when it trains.

    ``MinTokensStep(options)`` returns the trained, corpus-wide form when the (bound)
    ``tokenizer`` is ``{train: ...}``, so that the registry keeps one name per step while a
    run with a tokenizer file pays no extra pass over the corpus.
    """

    name = "min_tokens"
    summary = "Drop documents with fewer than `min` tokens of the run's tokenizer."
    source = (
        "OpenWebText (Gokaslan & Cohen 2019): documents under 128 GPT-2 tokens removed; "
        "counted with the run's tokenizer"
    )
    signal_columns = (TOKENS,)
    signal_bins = {TOKENS: COUNT}

    def __new__(cls, options: StepOptions) -> MinTokensStep:
        if cls is MinTokensStep and isinstance(getattr(options, "tokenizer", None), dict):
            return super().__new__(TrainedMinTokensStep)
        return super().__new__(cls)

    def __init__(self, options: MinTokensOptions) -> None:
        super().__init__(options)
        self._tokenizer: Any = None

    @classmethod
    def bind(cls, options: MinTokensOptions, context: RunContext) -> MinTokensOptions:
        """Default to the run's tokenizer; check that a given one loads and is the run's."""
        spec = options.tokenizer
        if spec is None:
            if context.tokenizer is None:
                raise ValueError(
                    "tokenizer: no tokenizer to count with: the rules have no tokenize "
                    "section; add one or give min_tokens a tokenizer file or folder"
                )
            spec = context.tokenizer
        elif isinstance(spec, dict) and spec != context.tokenizer and context.tokenizer:
            raise ValueError(
                "tokenizer: min_tokens would train a tokenizer other than the one the run "
                f"writes ({context.tokenizer}); leave tokenizer out to count with the run's"
            )
        if isinstance(spec, str):
            path = Path(spec)
            if not path.is_absolute() and not path.exists():
                path = context.rules_dir / path
            try:
                load_tokenizer(str(path))
            except (TokenizerError, Exception) as exc:
                raise ValueError(f"tokenizer: {exc}") from None
            spec = str(path.resolve())
        return options.model_copy(update={"tokenizer": spec})

    def setup(self) -> None:
        spec = self.options.tokenizer
        if not isinstance(spec, str):
            raise ValueError(
                "min_tokens has no tokenizer: give it `tokenizer:` or run it through the engine, "
                "which counts with the rules' tokenize.tokenizer"
            )
        self._tokenizer, _ = load_tokenizer(spec)

    def apply(self, batch: pl.DataFrame) -> StepResult:
        if self._tokenizer is None:
            self.setup()
        if self._tokenizer is None:
            raise RuntimeError("min_tokens: the trained tokenizer was not loaded (no resolve)")
        opts = self.options
        counts = count_tokens(self._tokenizer, batch.get_column("text").to_list())
        batch = batch.with_columns(pl.Series(TOKENS, counts, dtype=pl.Int64))
        tokens = pl.col(TOKENS)
        reject = batch.select(
            pl.when(tokens < opts.min)
            .then(pl.format("tokens={}<{}", tokens, pl.lit(opts.min)))
            .otherwise(None)
            .cast(pl.String)
            .alias("detail")
        ).to_series()
        signals = batch.select(TOKENS)
        if not opts.keep_signals:
            batch = batch.drop(TOKENS)
        return StepResult(
            frame=batch,
            reject=reject,
            counters={"tokens": int(counts.sum()), "short": int((counts < opts.min).sum())},
            signals=signals,
            cuts=[Cut("tokens", TOKENS, float(opts.min), "min")],
        )


class TrainedMinTokensStep(MinTokensStep, CorpusStep):
    """``min_tokens`` counting with the tokenizer the run trains (corpus-wide, three phases)."""

    def _settings(self) -> TrainTokenizer:
        spec = self.options.tokenizer
        assert isinstance(spec, dict)
        return TrainSpec.model_validate(spec).train

    def setup(self) -> None:
        """The tokenizer is loaded by :meth:`load` from the resolved state, not from options."""

    def scan(self, batch: pl.DataFrame) -> pl.DataFrame:
        return batch.select("_doc", "text")

    def resolve(self, scan_parts: list[Path], state_dir: Path) -> dict[str, int]:
        seen = 0

        def texts() -> Iterator[str]:
            nonlocal seen
            for part in scan_parts:  # sorted by batch number: input order, whatever the workers
                column = pl.read_parquet(part, columns=["text"]).get_column("text")
                seen += column.len()
                yield from column.to_list()

        tokenizer = train_bpe(texts(), self._settings())
        tokenizer.save(str(state_dir / self.RUN_TOKENIZER))
        return {"tokenizer_trained_on_docs": seen}

    def load(self, state_dir: Path) -> None:
        from tokenizers import Tokenizer

        self._tokenizer = Tokenizer.from_file(str(state_dir / self.RUN_TOKENIZER))
