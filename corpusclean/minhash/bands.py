"""LSH banding: bands and rows from a threshold, band keys, candidate pairs (MMDS ch. 3.4).

:func:`optimal_bands` is datasketch's ``MinHashLSH._optimal_param``; :func:`band_keys` reduces
each band of a signature to a 64-bit key (a polynomial mod 2^64, then MurmurHash3's
``fmix64``, :mod:`corpusclean.hashing`) where datasketch compares the raw bytes;
:func:`candidate_pairs` (Polars, long table), :func:`band_candidate_pairs` (numpy, one band
at a time) and :func:`bucket_pairs` (numpy, long rows of a hash partition of the buckets) link
each bucket's members to its smallest document. See :mod:`corpusclean.minhash`.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np
import polars as pl

from corpusclean.hashing import fmix64
from corpusclean.minhash.shingling import FAST_K
from corpusclean.minhash.sketches import CHUNK_ELEMENTS


@functools.lru_cache(maxsize=64)
def _optimal_param(threshold: float, num_perm: int, fp_w: float, fn_w: float) -> tuple[int, int]:
    from scipy.integrate import quad

    def false_positive(b: int, r: int) -> float:
        return quad(lambda s: 1 - (1 - s ** float(r)) ** float(b), 0.0, threshold)[0]

    def false_negative(b: int, r: int) -> float:
        return quad(lambda s: 1 - (1 - (1 - s ** float(r)) ** float(b)), threshold, 1.0)[0]

    min_error = float("inf")
    opt = (0, 0)
    for b in range(1, num_perm + 1):
        for r in range(1, int(num_perm / b) + 1):
            error = false_positive(b, r) * fp_w + false_negative(b, r) * fn_w
            if error < min_error:
                min_error = error
                opt = (b, r)
    return opt


def optimal_bands(
    threshold: float,
    num_perm: int,
    false_positive_weight: float = 0.5,
    false_negative_weight: float = 0.5,
) -> tuple[int, int]:
    """``(bands, rows)`` minimising the weighted false positive/negative areas of the S-curve.

    Exactly datasketch's ``_optimal_param`` (``MinHashLSH(threshold, num_perm).b, .r``).
    """
    if not 0.0 <= threshold <= 1.0:
        raise ValueError("threshold must be in [0.0, 1.0]")
    if num_perm < 1:
        raise ValueError("num_perm must be positive")
    return _optimal_param(
        float(threshold), int(num_perm), float(false_positive_weight), float(false_negative_weight)
    )


def collision_probability(similarity: float | np.ndarray, bands: int, rows: int) -> np.ndarray:
    """The LSH S-curve: probability that two documents of Jaccard ``s`` share a bucket."""
    s = np.asarray(similarity, dtype=np.float64)
    return 1.0 - (1.0 - s**rows) ** bands


def band_keys(signatures: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """One 64-bit key per (document, band): (n_docs, bands) uint64.

    Band ``j`` covers signature columns ``[j*rows, (j+1)*rows)`` (as datasketch's
    ``hashranges``); columns past ``bands*rows`` are unused. The key is ``fmix64`` of the
    polynomial ``sum(v_i * K^(rows-1-i))`` mod 2^64 of the band's values: equal band values
    give equal keys, different ones collide with probability ~2^-64 (datasketch compares the
    raw bytes instead; a collision is only a spurious candidate). Compare keys within a band.
    """
    sig = np.asarray(signatures)
    if sig.ndim != 2:
        raise ValueError("signatures must be a 2-D array (n_docs, num_perm)")
    if bands < 1 or rows < 1 or bands * rows > sig.shape[1]:
        raise ValueError(f"bands * rows = {bands} * {rows} exceeds num_perm = {sig.shape[1]}")
    out = np.empty((len(sig), bands), dtype=np.uint64)
    k = np.uint64(FAST_K)
    step = max(1, CHUNK_ELEMENTS // (bands * rows))  # documents per block (cache-sized)
    for d0 in range(0, len(sig), step):
        block = sig[d0 : d0 + step]
        key = np.full((len(block), bands), np.uint64(rows), dtype=np.uint64)
        for j in range(rows):  # polynomial of the band's values mod 2^64, then fmix64
            key *= k
            key += block[:, j : bands * rows : rows]  # value j of every band
        out[d0 : d0 + step] = fmix64(key)
    return out


def band_frame(
    keys: np.ndarray, doc_index: np.ndarray | Sequence[int] | None = None
) -> pl.DataFrame:
    """Long form of :func:`band_keys` for :func:`candidate_pairs`: ``doc_index, band, key``.

    ``doc_index`` (default ``0..n-1``) names the rows, e.g. corpus-wide document numbers.
    """
    keys = np.asarray(keys, dtype=np.uint64)
    n, bands = keys.shape
    index = np.arange(n, dtype=np.int64) if doc_index is None else np.asarray(doc_index)
    if len(index) != n:
        raise ValueError("doc_index must have one entry per row of keys")
    return pl.DataFrame(
        {
            "doc_index": np.repeat(index, bands),
            "band": np.tile(np.arange(bands, dtype=np.uint32), n),
            "key": keys.ravel(),
        }
    )


def candidate_pairs(frame: pl.DataFrame | pl.LazyFrame) -> pl.DataFrame:
    """Candidate duplicate pairs ``(a, b)`` with ``a < b`` from ``doc_index, band, key`` rows.

    Documents sharing a key in the same band form a bucket; each member is paired with the
    bucket's smallest ``doc_index`` only (k-1 edges for k members, not k^2), which keeps the
    connected components of the all-pairs graph. Unique pairs, sorted by ``(a, b)``.
    """
    lf = frame.lazy()
    return (
        lf.select(
            pl.col("doc_index").min().over("band", "key").alias("a"),
            pl.col("doc_index").alias("b"),
        )
        .filter(pl.col("a") != pl.col("b"))
        .unique()
        .sort("a", "b")
        .collect()
    )


def band_candidate_pairs(
    keys: np.ndarray, doc_index: np.ndarray | Sequence[int] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`candidate_pairs` from a ``(n_docs, bands)`` key table, in numpy, one band at a
    time: the pairs ``(a, b)``, ``a < b``, unique, sorted by ``(a, b)``.

    ``doc_index`` (default ``0..n-1``) must be increasing. Per band a stable ``argsort`` of
    the keys puts each bucket's members together in document order (Leskovec et al., MMDS
    ch. 3.4: candidates are documents hashed to the same bucket in at least one band); each
    member is linked to the bucket's first (smallest) document. Work memory is ~40 bytes per
    document for the band at hand, next to the key table itself (8 bytes x bands), instead of
    a long table and a hash group-by over all bands at once.
    """
    keys = np.asarray(keys, dtype=np.uint64)
    if keys.ndim != 2:
        raise ValueError("keys must be a 2-D array (n_docs, bands)")
    n = len(keys)
    index = np.arange(n, dtype=np.int64) if doc_index is None else np.asarray(doc_index)
    index = index.astype(np.int64, copy=False)
    if len(index) != n:
        raise ValueError("doc_index must have one entry per row of keys")
    if n > 1 and not (np.diff(index) > 0).all():
        raise ValueError("doc_index must be increasing")
    found_a, found_b = [], []
    positions = np.arange(n, dtype=np.int64)
    for band in range(keys.shape[1]):
        order = np.argsort(keys[:, band], kind="stable")
        sorted_keys = keys[order, band]
        head = np.ones(n, dtype=bool)
        np.not_equal(sorted_keys[1:], sorted_keys[:-1], out=head[1:])
        del sorted_keys
        members = np.flatnonzero(~head)
        if len(members) == 0:
            continue
        first = np.maximum.accumulate(np.where(head, positions, 0))  # bucket head per row
        found_a.append(order[first[members]])
        found_b.append(order[members])
    if not found_a:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty.copy()
    # Pairs of row positions (< n), encoded a * n + b: n^2 fits int64 for n < 3e9 documents,
    # where the doc numbers themselves (the engine's batch << 20 | row) would overflow it.
    a = np.concatenate(found_a)
    b = np.concatenate(found_b)
    pair = np.sort(a * n + b)
    pair = pair[np.diff(pair, prepend=-1) != 0]
    return index[pair // n], index[pair % n]


def bucket_pairs(
    band: np.ndarray, key: np.ndarray, doc: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The candidate pairs of long-form band rows ``(band, key, doc)``, as
    :func:`band_candidate_pairs` defines them: each ``(band, key)`` bucket's members linked to
    its smallest ``doc``, pairs ``(a, b)`` with ``a < b``, not deduplicated (a pair found in
    several bands comes once per band).

    For a share of the buckets (a hash partition of the band table, :mod:`corpusclean.shuffle`):
    since every bucket lies wholly in one partition, the union of the partitions' pairs is the
    set :func:`band_candidate_pairs` returns for the whole table, whatever the partitioning.
    One stable sort by key, then a stable (radix) sort by band, keeps each bucket's members in
    ``doc`` order (rows are taken in ``doc`` order first when they do not come that way).
    """
    band = np.asarray(band)
    key = np.asarray(key, dtype=np.uint64)
    doc = np.asarray(doc, dtype=np.int64)
    if not len(band) == len(key) == len(doc):
        raise ValueError("band, key and doc must have the same length")
    if len(doc) > 1 and not (doc[1:] >= doc[:-1]).all():
        by_doc = np.argsort(doc, kind="stable")
        band, key, doc = band[by_doc], key[by_doc], doc[by_doc]
    order = np.argsort(key, kind="stable")
    order = order[np.argsort(band[order], kind="stable")]
    sorted_band, sorted_key = band[order], key[order]
    head = np.ones(len(order), dtype=bool)
    head[1:] = (sorted_key[1:] != sorted_key[:-1]) | (sorted_band[1:] != sorted_band[:-1])
    del sorted_band, sorted_key
    members = np.flatnonzero(~head)
    first = np.maximum.accumulate(np.where(head, np.arange(len(order)), 0))  # bucket head
    return doc[order[first[members]]], doc[order[members]]
