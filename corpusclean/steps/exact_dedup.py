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

The resolve is a hash-partitioned group-by (:mod:`corpusclean.shuffle`, MapReduce's shuffle):
a map task per scan part splits its ``key, _doc, id`` rows by ``partition_of(key)``; a reduce
task per partition keeps the first document of each of its keys and writes the others as
``decisions/part-PPPPP.parquet``. Every copy of a key lands in one partition, so no process
holds every document's key and the decision does not depend on the partition count.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Literal

import polars as pl
from pydantic import Field

from corpusclean.dedup_key import normalized_key
from corpusclean.shuffle import map_stage, read_partition
from corpusclean.steps.base import CorpusStep, ResolvePlan, StepOptions, run_plan_inline

_SEED = 0x5EED


class ExactDedupOptions(StepOptions):
    key: Literal["text", "paper"] = Field(
        "text", description="text: normalised full text | paper: Li et al.'s near-exact key"
    )


#: What a reduce task writes: the rejected copies and the kept document they duplicate.
DECISIONS_SCHEMA = {"_doc": pl.Int64, "detail": pl.String}


def reduce_keys(map_files: list[Path], p: int, decisions_dir: Path) -> dict[str, int]:
    """Reduce task: in partition ``p``, every document but the first of its key is a copy.

    Rows are sorted by ``_doc`` so that "first" is input order whatever order the map files
    come in. Writes ``decisions_dir/part-PPPPP.parquet`` (``_doc, detail``, by ``_doc``);
    returns the partition's ``duplicates`` and ``groups`` (keys with a copy), which add up
    over partitions because a key lives in one partition only."""
    frame = read_partition(map_files, p)
    if frame is None:
        decisions = pl.DataFrame(schema=DECISIONS_SCHEMA)
        groups = 0
    else:
        copies = (
            frame.sort("_doc")
            .with_columns(pl.col("id").first().over("key").alias("kept_id"))
            .filter(~pl.col("key").is_first_distinct())
        )
        decisions = copies.select(
            "_doc", pl.format("duplicate of {}", pl.col("kept_id")).alias("detail")
        )
        groups = copies.get_column("key").n_unique()
    decisions_dir.mkdir(parents=True, exist_ok=True)
    out = decisions_dir / f"part-{p:05d}.parquet"
    tmp = out.with_name(out.name + ".tmp")  # a retried task never leaves a half file
    decisions.write_parquet(tmp)
    tmp.replace(out)
    return {"duplicates": decisions.height, "groups": groups}


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
        """The partitioned plan with one partition, run in this process."""
        return run_plan_inline(self.resolve_stages(scan_parts, state_dir, 1))

    def resolve_stages(
        self, scan_parts: list[Path], state_dir: Path, partitions: int
    ) -> ResolvePlan:
        """Map each scan part into ``partitions`` key partitions, then reduce each partition."""
        if partitions < 1:
            raise ValueError(f"partitions must be at least 1, not {partitions}")
        shuffle_dir = state_dir / "shuffle"
        map_tasks, map_files = map_stage(scan_parts, ["key", "_doc", "id"], shuffle_dir, partitions)
        if map_tasks:
            yield map_tasks
        decisions_dir = state_dir / "decisions"
        results = yield [(reduce_keys, (map_files, p, decisions_dir)) for p in range(partitions)]
        shutil.rmtree(shuffle_dir, ignore_errors=True)  # a copy of the scan: free the disk
        return {
            "duplicates": sum(r["duplicates"] for r in results),
            "groups": sum(r["groups"] for r in results),
        }
