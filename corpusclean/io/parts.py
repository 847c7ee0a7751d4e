"""Part files: ``part-0000003-0000042.parquet``, named by the batch's sequence number
(:mod:`corpusclean.io.numbering`: split 3, batch 42), written atomically.

Every batch is written under its sequence number, so output files and their bytes do not depend
on how many workers there are or which finished first; a part is written to a ``.tmp`` name and
renamed, so a run killed mid-write never leaves a half part under a part name. Parquet is
written with zstd and without statistics: the same frame always gives the same bytes. Reading
the parts back in name order gives the documents in input order (the tokenize stage does).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import polars as pl

from corpusclean.io.numbering import part_stem


def part_name(seq: int, suffix: str = "parquet") -> str:
    return f"{part_stem(seq)}.{suffix}"


def rejected_part_name(seq: int, pass_index: int) -> str:
    """``rejected/`` part of batch ``seq`` in pass ``pass_index`` (later passes get ``-pN``)."""
    return part_name(seq) if pass_index == 0 else f"{part_stem(seq)}-p{pass_index}.parquet"


def write_parquet(frame: pl.DataFrame, path: Path) -> None:
    """Deterministic Parquet: same frame, same bytes (zstd); written then renamed."""
    tmp = path.with_name(path.name + ".tmp")
    frame.write_parquet(tmp, compression="zstd", statistics=False)
    tmp.replace(path)


def iter_texts(documents: Path) -> Iterator[list[str]]:
    """Kept texts in output order, one list per Parquet row group."""
    import pyarrow.parquet as pq  # here: the workers import this module, only to write parts

    for part in sorted(documents.glob("part-*.parquet")):
        parquet = pq.ParquetFile(part)
        for group in range(parquet.num_row_groups):
            yield parquet.read_row_group(group, columns=["text"]).column("text").to_pylist()


def iter_docs(documents: Path) -> Iterator[tuple[list[str], list[str]]]:
    """(ids, texts) in output order, one pair per Parquet row group."""
    import pyarrow.parquet as pq

    for part in sorted(documents.glob("part-*.parquet")):
        parquet = pq.ParquetFile(part)
        for group in range(parquet.num_row_groups):
            table = parquet.read_row_group(group, columns=["id", "text"])
            yield table.column("id").to_pylist(), table.column("text").to_pylist()
