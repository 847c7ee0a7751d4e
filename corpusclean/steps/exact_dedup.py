"""``exact_dedup``: drop every document whose normalised text was seen earlier in the corpus.

Why: exact copies (mirrors, syndication, boilerplate pages) are the commonest web duplicate;
training on them wastes compute and encourages memorisation (Lee et al. 2022, "Deduplicating
Training Data Makes Language Models Better"). The first occurrence in input order is kept; a
dropped copy's ``detail`` names the kept document's id.

Keys (option ``key``):

- ``text`` (default): the text lowercased, with every run of whitespace collapsed to one space
  and leading/trailing whitespace removed (:func:`corpusclean.dedup_key.normalized_key`, the
  key ``line_dedup`` uses for lines), hashed to 64 bits (Polars' hash with fixed seeds,
  stable within one Polars version, which the run's fingerprint records).
- ``paper``: the near-exact key the paper's authors used on OpenWebText (Li et al. 2021,
  arXiv:2110.08460): the length of the text with punctuation stripped, plus its first four and
  last four words. The authors hashed the words with MD5; two documents share our key exactly
  when they share theirs (up to 64-bit collisions), which is what decides duplicates.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import polars as pl
from pydantic import Field

from corpusclean.dedup_key import normalized_key
from corpusclean.steps.base import CorpusStep, StepOptions

_SEED = 0x5EED


class ExactDedupOptions(StepOptions):
    key: Literal["text", "paper"] = Field(
        "text", description="text: normalised full text | paper: Li et al.'s near-exact key"
    )


def paper_key(text: pl.Expr) -> pl.Expr:
    """Li et al.'s key: punctuation-free length + first four and last four words."""
    words = text.str.replace_all(r"\s+", " ").str.strip_chars().str.split(" ")
    return pl.format(
        "{}|{}|{}",
        text.str.replace_all(r"\p{P}", "").str.len_chars(),
        words.list.head(4).list.join(" "),
        words.list.tail(4).list.join(" "),
    )


class ExactDedupStep(CorpusStep[ExactDedupOptions]):
    name = "exact_dedup"
    summary = "Drop documents whose normalised text (or the paper's key) appeared earlier."
    source = "Lee et al. 2022; key 'paper': Li et al. 2021 (arXiv:2110.08460) on OpenWebText"

    def scan(self, batch: pl.DataFrame) -> pl.DataFrame:
        opts = self.options
        key = normalized_key(pl.col("text")) if opts.key == "text" else paper_key(pl.col("text"))
        return batch.select("_doc", "id", key.hash(_SEED).alias("key"))

    def resolve(self, scan_parts: list[Path], state_dir: Path) -> dict[str, int]:
        if not scan_parts:
            return {"duplicates": 0, "groups": 0}
        keys = pl.scan_parquet(scan_parts).sort("_doc")
        first = keys.group_by("key").agg(
            pl.col("_doc").first().alias("kept_doc"), pl.col("id").first().alias("kept_id")
        )
        decisions = (
            keys.join(first, on="key")
            .filter(pl.col("_doc") != pl.col("kept_doc"))
            .select("_doc", pl.format("duplicate of {}", pl.col("kept_id")).alias("detail"))
            .sort("_doc")
            .collect()
        )
        decisions.write_parquet(state_dir / "decisions.parquet")
        groups = decisions.height and int(
            keys.join(first, on="key")
            .filter(pl.col("_doc") != pl.col("kept_doc"))
            .select(pl.col("kept_doc").n_unique())
            .collect()
            .item()
        )
        return {"duplicates": decisions.height, "groups": int(groups)}
