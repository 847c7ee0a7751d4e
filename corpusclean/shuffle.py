"""Hash partitioning through files: how a corpus-wide step's resolve becomes parallel tasks.

A corpus-wide decision (which documents share a key, which lines recur, which documents share
a MinHash band) is a group-by over every document's keys. Held in one process it grows with
the corpus (4.2 GB of band keys at 10 million documents). Partitioned by a hash of the
group-by key, it splits into ``P`` independent group-bys, each a task: the classic shuffle of
MapReduce (Dean & Ghemawat 2004), as Spark, Dask and Ray Data run it, written here with files
in the run's work folder so that every node of a cluster sees them and a resume finds them.

* *map*: one task per scan part writes one Arrow IPC file holding exactly ``P`` record
  batches, batch ``p`` the part's rows of partition ``p`` (possibly empty), in the part's row
  order (:func:`write_partitioned`).
* *reduce*: one task per partition reads batch ``p`` of every map file, in file order, so rows
  arrive in input order whatever the partition count (:func:`read_partition`); memory-mapped,
  the other batches are never read.

The partition of a row depends only on its key and ``P``; ``P`` depends only on the size of
the scan (:func:`partition_count`), so results and counters do not depend on the worker count
or the executor.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa

from corpusclean.hashing import fmix64

#: A partition's target share of the scan (bytes on disk); see :func:`partition_count`.
PARTITION_BYTES = 64 << 20
#: Most partitions of one shuffle: map files hold ``P`` batches each, reduce tasks open every
#: map file, so files x partitions stays in the low millions for a corpus of billions.
MAX_PARTITIONS = 1024


def partition_count(parts: Sequence[Path], partition_bytes: int = PARTITION_BYTES) -> int:
    """``P`` for a shuffle of ``parts``: one partition per ``partition_bytes`` of them."""
    total = sum(p.stat().st_size for p in parts)
    return max(1, min(MAX_PARTITIONS, math.ceil(total / max(1, partition_bytes))))


def partition_of(keys: np.ndarray, partitions: int, salt: int = 0) -> np.ndarray:
    """The partition (0..P-1) of each uint64 key: ``fmix64(key ^ salt) mod P``.

    Keys are hashes already; the finaliser keeps a structured salt (a band number) from
    putting every key of one band in one partition."""
    keys = np.asarray(keys, dtype=np.uint64)
    if partitions == 1:
        return np.zeros(len(keys), dtype=np.int64)
    mixed = fmix64(keys ^ np.uint64(salt & ((1 << 64) - 1)))
    return (mixed % np.uint64(partitions)).astype(np.int64)


def write_partitioned(
    frame: pl.DataFrame, partition: np.ndarray, partitions: int, path: Path
) -> None:
    """Write ``frame`` as an IPC file of ``partitions`` batches, batch p = rows of partition p.

    Rows keep their order within a partition. Written to ``.tmp`` and renamed, so a task
    killed mid-write leaves no half file under the final name (its retry rewrites it)."""
    order = np.argsort(partition, kind="stable")
    bounds = np.searchsorted(partition[order], np.arange(partitions + 1))
    table = frame[order].to_arrow() if len(order) else frame.to_arrow()
    tmp = path.with_name(path.name + ".tmp")
    with pa.OSFile(str(tmp), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
        for p in range(partitions):
            piece = table.slice(int(bounds[p]), int(bounds[p + 1] - bounds[p]))
            batches = piece.combine_chunks().to_batches()
            writer.write_batch(
                batches[0] if batches else pa.RecordBatch.from_pylist([], schema=table.schema)
            )
    tmp.replace(path)


def map_by_key(scan_part: Path, columns: list[str], shuffle_dir: Path, partitions: int) -> Path:
    """Map task of a group-by on a uint64 ``key`` column: one scan part's ``columns`` split
    by the key's partition into ``shuffle_dir/<part stem>.arrow`` (returned)."""
    frame = pl.read_parquet(scan_part, columns=columns)
    shuffle_dir.mkdir(parents=True, exist_ok=True)
    target = shuffle_dir / f"{scan_part.stem}.arrow"
    partition = partition_of(frame.get_column("key").to_numpy(), partitions)
    write_partitioned(frame, partition, partitions, target)
    return target


def map_stage(
    scan_parts: Sequence[Path], columns: list[str], shuffle_dir: Path, partitions: int
) -> tuple[list[tuple[Any, tuple[Any, ...]]], list[Path]]:
    """The map stage of a group-by on ``key`` (one :func:`map_by_key` task per scan part,
    none when there is no part) and the map files its reduce tasks read, in part order."""
    tasks: list[tuple[Any, tuple[Any, ...]]] = [
        (map_by_key, (part, columns, shuffle_dir, partitions)) for part in scan_parts
    ]
    return tasks, [shuffle_dir / f"{part.stem}.arrow" for part in scan_parts]


def read_partition(paths: Sequence[Path], p: int) -> pl.DataFrame | None:
    """Batch ``p`` of every file in ``paths``, concatenated in file order (``None``: none)."""
    tables = []
    for path in paths:
        # not closed here: the batch's buffers point into the map, which lives while they do
        batch = pa.ipc.open_file(pa.memory_map(str(path))).get_batch(p)
        if batch.num_rows:
            tables.append(pa.Table.from_batches([batch]))
    if not tables:
        return None
    frame = pl.from_arrow(pa.concat_tables(tables))
    assert isinstance(frame, pl.DataFrame)
    return frame


def write_batches(tables: Sequence[pa.Table], schema: pa.Schema, path: Path) -> None:
    """Write ``tables`` as an IPC file of exactly ``len(tables)`` batches, batch k = ``tables[k]``
    (possibly empty), each of ``schema``; read back with :func:`read_partition`.

    The map side of a shuffle-join, where a row may go to several partitions (a document's
    shingles to every verify task whose pairs hold it), which :func:`write_partitioned`'s one
    partition per row cannot say. Written to ``.tmp`` and renamed, as there."""
    tmp = path.with_name(path.name + ".tmp")
    with pa.OSFile(str(tmp), "wb") as sink, pa.ipc.new_file(sink, schema) as writer:
        for table in tables:
            batches = table.combine_chunks().to_batches()
            writer.write_batch(
                batches[0] if batches else pa.RecordBatch.from_pylist([], schema=schema)
            )
    tmp.replace(path)
