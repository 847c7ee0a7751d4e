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

The count is a hash-partitioned group-by (:mod:`corpusclean.shuffle`, MapReduce's shuffle): a
map task per scan part splits its ``key, _doc`` pairs by ``partition_of(key)``; a reduce task
per partition counts the documents of each of its keys and writes the frequent ones to
``frequent/part-PPPPP.parquet``. A key's pairs all land in one partition, so no process holds
every line's key and the counts do not depend on the partition count.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Literal

import polars as pl
from pydantic import Field

from corpusclean.dedup_key import normalized_key
from corpusclean.shuffle import map_stage, read_partition
from corpusclean.steps.base import (
    CorpusStep,
    ResolvePlan,
    StepOptions,
    StepResult,
    run_plan_inline,
)

_SEED = 0x11E5
#: A frequent line: its key and the first document (``_doc``) that has it (``keep: first``).
FREQUENT_SCHEMA = {"key": pl.UInt64, "first_doc": pl.Int64}


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


def reduce_lines(
    map_files: list[Path], p: int, frequent_dir: Path, min_count: int
) -> dict[str, int]:
    """Reduce task: the keys of partition ``p`` found in at least ``min_count`` documents.

    The scan keeps one pair per (document, line key), so a key's rows count its documents.
    Writes ``frequent_dir/part-PPPPP.parquet`` (``key, first_doc``, by key); returns the
    partition's ``frequent_lines``, which add up because a key lives in one partition only."""
    frame = read_partition(map_files, p)
    frequent = pl.DataFrame(schema=FREQUENT_SCHEMA)
    if frame is not None:
        frequent = (
            frame.group_by("key")
            .agg(pl.len().alias("docs"), pl.col("_doc").min().alias("first_doc"))
            .filter(pl.col("docs") >= min_count)
            .select("key", "first_doc")
            .sort("key")
        )
    frequent_dir.mkdir(parents=True, exist_ok=True)
    out = frequent_dir / f"part-{p:05d}.parquet"
    tmp = out.with_name(out.name + ".tmp")  # a retried task never leaves a half file
    frequent.write_parquet(tmp)
    tmp.replace(out)
    return {"frequent_lines": frequent.height}


class LineDedupStep(CorpusStep[LineDedupOptions]):
    name = "line_dedup"
    summary = "Remove lines found in at least min_count documents; reject emptied documents."
    source = "Rae et al. 2021 (Gopher); Penedo et al. 2023 (RefinedWeb); Wenzek et al. 2020"

    def scan(self, batch: pl.DataFrame) -> pl.DataFrame:
        return _lines(batch).drop_nulls("key").select("key", "_doc").unique(maintain_order=True)

    def resolve(self, scan_parts: list[Path], state_dir: Path) -> dict[str, int]:
        """The partitioned plan with one partition, run in this process."""
        return run_plan_inline(self.resolve_stages(scan_parts, state_dir, 1))

    def resolve_stages(
        self, scan_parts: list[Path], state_dir: Path, partitions: int
    ) -> ResolvePlan:
        """Map each scan part into ``partitions`` line-key partitions, then count each one."""
        if partitions < 1:
            raise ValueError(f"partitions must be at least 1, not {partitions}")
        shuffle_dir = state_dir / "shuffle"
        map_tasks, map_files = map_stage(scan_parts, ["key", "_doc"], shuffle_dir, partitions)
        if map_tasks:
            yield map_tasks
        frequent_dir = state_dir / "frequent"
        min_count = self.options.min_count
        results = yield [
            (reduce_lines, (map_files, p, frequent_dir, min_count)) for p in range(partitions)
        ]
        shutil.rmtree(shuffle_dir, ignore_errors=True)  # a copy of the scan: free the disk
        return {"frequent_lines": sum(r["frequent_lines"] for r in results)}

    def load(self, state_dir: Path) -> None:
        """Every partition's frequent lines, sorted by key (one frame, whatever ``P`` was)."""
        parts = sorted((state_dir / "frequent").glob("part-*.parquet"))
        frequent = pl.read_parquet(parts) if parts else pl.DataFrame(schema=FREQUENT_SCHEMA)
        self._frequent = frequent.sort("key")

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
