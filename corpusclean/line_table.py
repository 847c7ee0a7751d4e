"""The per-line table: a batch as one row per line (or paragraph), and back to one per document.

The filters whose rules look at each line of a document (``c4_quality``, ``fineweb_quality``,
``gopher_repetition``, which also looks at paragraphs) do not loop over documents. They turn
the batch into one long table with one row per line, tagged with the position of its document
in the batch (:func:`one_row_per_item`); judge every line with column expressions on that table;
aggregate the rows per document with ``group_by(DOC)`` (or :func:`duplicate_stats`); and put the
aggregates back in batch order, one row per document, with :func:`per_document`. Everything
runs in Polars over the whole batch at once.

A document without a line (the empty text, or every line filtered out) has no row in the long
table and therefore none in an aggregate: :func:`per_document` still gives it its row, with
nulls that the step fills with its own neutral value (0 lines, no flag, empty text).
"""

from __future__ import annotations

import polars as pl

#: The long table's column holding the document's position in the batch (``UInt32``, from 0).
DOC = "doc"


def one_row_per_item(batch: pl.DataFrame, items: pl.Expr, name: str) -> pl.DataFrame:
    """The long table: columns ``doc, <name>``, one row per element of ``items``, in order.

    ``items`` is a ``list[str]`` expression over the batch (``T.lines(pl.col("text"))``,
    ``T.paragraphs(...)``); row ``doc`` of the batch contributes one row per element of its
    list, in list order, documents in batch order. A document whose list is empty or null
    contributes no row.
    """
    return batch.select(items.alias(name)).with_row_index(DOC).explode(name).drop_nulls(name)


def per_document(n_docs: int, *aggregates: pl.DataFrame) -> pl.DataFrame:
    """One row per document of the batch, in batch order: ``doc`` and every aggregate's columns.

    Each aggregate has a ``doc`` column and at most one row per document (a ``group_by(DOC)``
    of a long table); it is left-joined on ``doc``, so a document absent from an aggregate gets
    nulls in that aggregate's columns.
    """
    frame = pl.DataFrame({DOC: pl.int_range(n_docs, eager=True, dtype=pl.UInt32)})
    for aggregate in aggregates:
        frame = frame.join(aggregate, on=DOC, how="left", maintain_order="left")
    return frame


def duplicate_stats(frame: pl.DataFrame, group: str, item: str) -> pl.DataFrame:
    """Per ``group``: how many ``item`` rows repeat an earlier row, and their characters.

    ``frame`` is a long frame in document order (one row per line or paragraph). The first
    occurrence of a value in its group is not a duplicate; every later one is (datatrove's
    ``find_duplicates``). Returns ``group, items, dup_items, dup_chars`` in group order.
    """
    later = ~pl.struct(group, item).is_first_distinct()
    return (
        frame.with_columns(later.alias("_later"))
        .group_by(group, maintain_order=True)
        .agg(
            pl.len().alias("items"),
            pl.col("_later").sum().alias("dup_items"),
            pl.col(item).str.len_chars().filter(pl.col("_later")).sum().alias("dup_chars"),
        )
    )
