"""Where a document is in the input, as one integer: what orders every output and decision.

Inputs are cut into *splits* (today one split per input file, in the sorted order of
:func:`corpusclean.io.expand_inputs`), a split into batches as its reader yields them, a batch
into rows. A batch's sequence number is ``split << SPLIT_SHIFT | batch`` and a document's
``_doc`` is ``seq << DOC_SHIFT | row``: both depend only on the input, never on how many
workers read it, in which order tasks finish, or which executor ran them. So the reader of split
7 can number its batches without knowing how many batches splits 0-6 hold, which is what lets
a cluster read every file at once (docs/scaling.md) and still write the local executor's bytes.

Part files are named by the sequence number, ``part-SSSSSSS-BBBBBBB.parquet`` (split, batch):
name order is input order. Bits: 20 for the row (a batch holds at most 2^20 documents), 20 for
the batch in its split (2^20 batches of up to 2^20 documents), 23 for the split (8 million
input files): 63, the positive range of ``_doc``'s Int64.
"""

from __future__ import annotations

from pathlib import Path

#: ``_doc = seq << DOC_SHIFT | row``.
DOC_SHIFT = 20
#: ``seq = split << SPLIT_SHIFT | batch``.
SPLIT_SHIFT = 20
MAX_SPLITS = 1 << (63 - DOC_SHIFT - SPLIT_SHIFT)


def batch_seq(split: int, batch: int) -> int:
    """The sequence number of batch ``batch`` of split ``split``."""
    if not 0 <= batch < 1 << SPLIT_SHIFT:
        raise ValueError(f"split {split}: more than {1 << SPLIT_SHIFT} batches")
    if not 0 <= split < MAX_SPLITS:
        raise ValueError(f"more than {MAX_SPLITS} input files")
    return split << SPLIT_SHIFT | batch


def split_of(seq: int) -> int:
    return seq >> SPLIT_SHIFT


def part_stem(seq: int) -> str:
    """``part-SSSSSSS-BBBBBBB``: split and batch, zero-padded so that names sort as numbers."""
    return f"part-{seq >> SPLIT_SHIFT:07d}-{seq & ((1 << SPLIT_SHIFT) - 1):07d}"


def seq_of(path: Path | str) -> int:
    """The sequence number a part file is named by (the inverse of :func:`part_stem`)."""
    fields = Path(path).name.split(".")[0].split("-")
    return batch_seq(int(fields[1]), int(fields[2]))


def doc_range(seq: int) -> tuple[int, int]:
    """The ``_doc`` numbers batch ``seq`` may hold: ``[first, last]``."""
    return seq << DOC_SHIFT, ((seq + 1) << DOC_SHIFT) - 1
