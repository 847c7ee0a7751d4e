"""Verification of LSH candidates: the exact Jaccard similarity of their shingle sets.

Broder 1997's resemblance, computed for many pairs at once in numpy (:func:`pair_jaccard`), so
that a candidate pair from a band collision is kept only when its true similarity reaches the
threshold. The one-pair statement is :func:`corpusclean.minhash.reference.jaccard`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from corpusclean.minhash.shingling import MAX_HASH32, ShingleHashes


def _segments(offsets: np.ndarray, docs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row indices of the segments ``offsets[d]:offsets[d+1]`` for ``d`` in ``docs``, in order,
    and the segment lengths."""
    counts = offsets[docs + 1] - offsets[docs]
    first = np.cumsum(counts) - counts
    rows = np.arange(int(counts.sum()), dtype=np.int64) + np.repeat(offsets[docs] - first, counts)
    return rows, counts


def pair_jaccard(
    shingles: ShingleHashes,
    a: np.ndarray | Sequence[int],
    b: np.ndarray | Sequence[int],
    *,
    chunk_rows: int = 1 << 20,
) -> np.ndarray:
    """Exact Jaccard similarity of the shingle sets of many document pairs (float64).

    ``a``/``b`` index documents of ``shingles``; two empty sets have similarity 1.0 (as two
    never-updated datasketch MinHashes), an empty and a non-empty set 0.0.

    How (numpy, no loop over pairs; the verification of Broder 1997's resemblance for LSH
    candidates, MMDS ch. 3.4): each document of a pair gets its distinct hashes once, as
    sorted ``doc << 32 | hash`` keys (64-bit hashes are first ranked to dense 32-bit ids,
    which keeps equality); for a chunk of pairs the keys of both sides become ``pair << 32 |
    hash`` (sorted by construction), the intersection size is the number of side-b keys found
    in side a (``searchsorted``), counted per pair with ``bincount``, and ``|A u B| = |A| +
    |B| - |A n B|``. Work memory is bounded by ``chunk_rows`` keys per side (a single pair
    larger than that is one chunk); the distinct hashes of the documents involved are held
    once (~8 bytes per shingle).
    """
    a = np.asarray(a, dtype=np.int64)
    b = np.asarray(b, dtype=np.int64)
    if len(a) != len(b):
        raise ValueError("a and b must have the same length")
    out = np.ones(len(a), dtype=np.float64)
    if len(a) == 0:
        return out
    docs, inverse = np.unique(np.concatenate([a, b]), return_inverse=True)
    rows, counts = _segments(np.asarray(shingles.offsets, dtype=np.int64), docs)
    hashes = np.asarray(shingles.hashes)[rows]
    if hashes.dtype.itemsize > 4:  # rank 64-bit hashes to dense ids (< 2^32 distinct)
        order = np.argsort(hashes)
        sorted_hashes = hashes[order]
        rank = np.empty(len(hashes), dtype=np.uint64)
        rank[order] = np.cumsum(np.diff(sorted_hashes, prepend=sorted_hashes[:1]) != 0)
        hashes = rank
        del order, sorted_hashes
    keys = np.repeat(np.arange(len(docs), dtype=np.uint64), counts) << np.uint64(32)
    keys |= hashes.astype(np.uint64)
    del rows, hashes
    keys.sort()  # per document: its distinct hashes, sorted (np.unique hashes, then sorts)
    keys = keys[np.diff(keys, prepend=~keys[:1]) != 0]
    doc_offsets = np.searchsorted(keys >> np.uint64(32), np.arange(len(docs) + 1, dtype=np.uint64))
    low = keys & np.uint64(MAX_HASH32)
    del keys
    sizes = np.diff(doc_offsets)
    ia, ib = inverse[: len(a)], inverse[len(a) :]
    size_a, size_b = sizes[ia], sizes[ib]
    cost = np.cumsum(size_a + size_b)
    start = 0
    while start < len(a):
        stop = max(
            int(
                np.searchsorted(
                    cost, cost[start] - size_a[start] - size_b[start] + 2 * chunk_rows, side="right"
                )
            ),
            start + 1,
        )
        pair = np.arange(stop - start, dtype=np.uint64) << np.uint64(32)
        rows_a, n_a = _segments(doc_offsets, ia[start:stop])
        rows_b, n_b = _segments(doc_offsets, ib[start:stop])
        keys_a = np.repeat(pair, n_a) | low[rows_a]
        keys_b = np.repeat(pair, n_b) | low[rows_b]
        found = np.searchsorted(keys_a, keys_b)
        found[found == len(keys_a)] = 0
        hit = keys_a[found] == keys_b if len(keys_a) else np.zeros(len(keys_b), dtype=bool)
        inter = np.bincount((keys_b[hit] >> np.uint64(32)).astype(np.int64), minlength=stop - start)
        union = n_a + n_b - inter
        nonempty = union > 0
        chunk = out[start:stop]
        chunk[nonempty] = inter[nonempty] / union[nonempty]
        start = stop
    return out
