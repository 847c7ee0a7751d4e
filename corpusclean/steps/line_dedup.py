"""``line_dedup``: remove lines that recur across many documents (boilerplate).

Why: navigation bars, cookie banners, "share this" footers and licence blurbs repeat verbatim
across the pages of a site and across sites. Counting each line over the whole corpus and
removing the frequent ones strips them while keeping the page's own text: the approach of
Gopher/MassiveText's and RefinedWeb's line-level deduplication (Rae et al. 2021; Penedo et al.
2023) and of CCNet's paragraph deduplication (Wenzek et al. 2020).

A line's key is the line lowercased, whitespace collapsed and trimmed (the key ``exact_dedup``
uses for texts, :func:`corpusclean.dedup_key.normalized_key`), hashed to 64 bits, so counts need
16 bytes per distinct (document, line) pair and never the text. A line is removed
from a document when its key appears in at least ``min_count`` documents; with
``keep: first`` the first document (input order) that has it keeps it. Blank lines are never
counted nor removed. A document whose non-blank lines are all removed is rejected.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import polars as pl
from pydantic import Field

from corpusclean.dedup_key import normalized_key
from corpusclean.steps.base import CorpusStep, StepOptions, StepResult

_SEED = 0x11E5


class LineDedupOptions(StepOptions):
    min_count: int = Field(2, ge=2, description="remove lines found in at least this many docs")
    keep: Literal["none", "first"] = Field(
        "none", description="none: drop every copy | first: the first document keeps its line"
    )


def _lines(batch: pl.DataFrame) -> pl.DataFrame:
    """One row per line: ``_doc, line_no, line, key`` (key null for blank lines)."""
    exploded = (
        batch.select("_doc", pl.col("text").str.split("\n").alias("line"))
        .with_columns(pl.int_ranges(pl.col("line").list.len()).alias("line_no"))
        .explode("line", "line_no")
    )
    norm = normalized_key(pl.col("line"))
    return exploded.with_columns(
        pl.when(norm.str.len_bytes() > 0).then(norm.hash(_SEED)).alias("key")
    )


class LineDedupStep(CorpusStep[LineDedupOptions]):
    name = "line_dedup"
    summary = "Remove lines found in at least min_count documents; reject emptied documents."
    source = "Rae et al. 2021 (Gopher); Penedo et al. 2023 (RefinedWeb); Wenzek et al. 2020"

    def scan(self, batch: pl.DataFrame) -> pl.DataFrame:
        return _lines(batch).drop_nulls("key").select("key", "_doc").unique(maintain_order=True)

    def resolve(self, scan_parts: list[Path], state_dir: Path) -> dict[str, int]:
        opts = self.options
        frequent = pl.DataFrame(schema={"key": pl.UInt64, "first_doc": pl.Int64})
        if scan_parts:
            frequent = (
                pl.scan_parquet(scan_parts)
                .group_by("key")
                .agg(pl.len().alias("docs"), pl.col("_doc").min().alias("first_doc"))
                .filter(pl.col("docs") >= opts.min_count)
                .select("key", "first_doc")
                .sort("key")
                .collect(engine="streaming")
            )
        frequent.write_parquet(state_dir / "frequent_lines.parquet")
        return {"frequent_lines": frequent.height}

    def load(self, state_dir: Path) -> None:
        self._frequent = pl.read_parquet(state_dir / "frequent_lines.parquet")

    def apply(self, batch: pl.DataFrame) -> StepResult:
        opts = self.options
        lines = _lines(batch).join(self._frequent, on="key", how="left", maintain_order="left")
        drop = pl.col("first_doc").is_not_null()
        if opts.keep == "first":
            drop = drop & (pl.col("_doc") != pl.col("first_doc"))
        lines = lines.with_columns(drop.alias("drop"))
        per_doc = lines.group_by("_doc", maintain_order=True).agg(
            pl.col("drop").sum().alias("removed"),
            (pl.col("key").is_not_null() & ~pl.col("drop")).sum().alias("left"),
            pl.col("line").filter(~pl.col("drop")).str.join("\n").alias("new_text"),
        )
        batch = batch.join(per_doc, on="_doc", how="left", maintain_order="left")
        rewritten = pl.col("removed") > 0
        batch = batch.with_columns(
            pl.when(rewritten).then(pl.col("new_text")).otherwise(pl.col("text")).alias("text")
        )
        reject = batch.select(
            pl.when(rewritten & (pl.col("left") == 0))
            .then(pl.format("all {} non-blank lines are frequent elsewhere", pl.col("removed")))
            .cast(pl.String)
            .alias("detail")
        ).to_series()
        counters = {
            "lines_removed": int(batch.get_column("removed").sum()),
            "docs_rewritten": int(batch.select(rewritten.sum()).item()),
        }
        return StepResult(
            frame=batch.drop("removed", "left", "new_text"), reject=reject, counters=counters
        )
