"""Shingling and shingle hashes: a batch of texts to per-document shingle hashes, vectorised.

A shingle is ``ngram`` consecutive words of the normalised text (one shingle of all words for
a shorter document, none for a wordless one; see :mod:`corpusclean.minhash`), taken as a byte
range of the normalised buffer, so no shingle string is ever built. Hashes: ``"fast"``, a
polynomial of the bytes mod 2^64 finalised with MurmurHash3's ``fmix64``
(:func:`corpusclean.hashing.fmix64`), from prefix sums over the buffer; ``"sha1"``,
datasketch's default hash, one ``hashlib`` call per distinct shingle of the batch. Their
scalar statements, usable as datasketch's ``hashfunc``, are in
:mod:`corpusclean.minhash.reference`.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from typing import Literal

import numpy as np

from corpusclean.hashing import M64, fmix64
from corpusclean.minhash.normalization import TextInput, normalized_buffers

Hash = Literal["fast", "sha1"]
HASHES: tuple[str, ...] = ("fast", "sha1")

MAX_HASH32 = (1 << 32) - 1

# Polynomial-hash multiplier (odd, so invertible mod 2^64) and its inverse.
FAST_K = 0x9E3779B97F4A7C15
_FAST_KINV = pow(FAST_K, -1, 1 << 64)

# Bytes of one prefix-sum window of the fast hash (stays in cache).
_HASH_WINDOW = 1 << 16


def check_hash(hash: str) -> None:
    """Raise ``ValueError`` unless ``hash`` names a shingle hash (:data:`HASHES`)."""
    if hash not in HASHES:
        raise ValueError(f"hash must be one of {', '.join(HASHES)}, got {hash!r}")


def check_bits(bits: int) -> None:
    """Raise ``ValueError`` unless ``bits`` is a shingle-hash width (32 or 64)."""
    if bits not in (32, 64):
        raise ValueError(f"bits must be 32 or 64, got {bits!r}")


@functools.lru_cache(maxsize=4)
def _power_table(base: int, size: int) -> np.ndarray:
    """``base**i mod 2^64`` for ``i < size`` (uint64; cumprod wraps around)."""
    table = np.full(size, base, dtype=np.uint64)
    table[0] = 1
    table = np.cumprod(table, dtype=np.uint64)
    table.setflags(write=False)
    return table


def _powers(size: int) -> tuple[np.ndarray, np.ndarray]:
    n = max(_HASH_WINDOW, 1 << max(0, int(size - 1).bit_length()))
    return _power_table(FAST_K, n), _power_table(_FAST_KINV, n)


def _fast_hash_ranges(buf: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """The fast 64-bit hash (:func:`corpusclean.minhash.reference.fast_hash64`) of every byte
    range ``buf[starts[i]:ends[i]]`` (uint64).

    ``starts`` increasing and ``ends`` non-decreasing. For a window beginning at ``w`` the
    polynomial of ``[s, e)`` is ``K^(e-1-w) * (P[e-w] - P[s-w])`` with ``P`` the prefix sums of
    ``(byte+1) * K^-(j-w)``: one cumulative sum per window of about ``_HASH_WINDOW`` bytes.
    """
    out = np.empty(len(starts), dtype=np.uint64)
    n = len(starts)
    if n == 0:
        return out
    span = min(_HASH_WINDOW, int(ends[-1]) - int(starts[0]))
    x = np.empty(span, dtype=np.uint64)  # work buffers reused by every window
    prefix = np.empty(span + 1, dtype=np.uint64)
    one = np.uint64(1)
    i = 0
    while i < n:
        w0 = int(starts[i])
        j = max(int(np.searchsorted(ends, w0 + _HASH_WINDOW, side="right")), i + 1)
        width = int(ends[j - 1]) - w0
        kpow, kinv = _powers(width + 1)
        if width > len(x):  # one shingle longer than the window
            x = np.empty(width, dtype=np.uint64)
            prefix = np.empty(width + 1, dtype=np.uint64)
        xw, pw = x[:width], prefix[: width + 1]
        np.add(buf[w0 : w0 + width], one, out=xw, dtype=np.uint64)
        np.multiply(xw, kinv[:width], out=xw)
        pw[0] = 0
        np.cumsum(xw, out=pw[1:])
        s = starts[i:j] - w0
        e = ends[i:j] - w0
        h = pw[e]
        h -= pw[s]
        h *= kpow[e - 1]
        out[i:j] = fmix64(h)
        i = j
    return out


def _sha1_ranges(data: bytes, starts: np.ndarray, ends: np.ndarray, bits: int) -> np.ndarray:
    """datasketch's ``sha1_hash32``/``sha1_hash64`` of every byte range (one hashlib call each)."""
    dtype = np.uint64 if bits == 64 else np.uint32
    if len(starts) == 0:
        return np.empty(0, dtype=dtype)
    sha1 = hashlib.sha1
    digests = b"".join(
        [sha1(data[s:e]).digest() for s, e in zip(starts.tolist(), ends.tolist(), strict=True)]
    )
    raw = np.frombuffer(digests, dtype=np.uint8).reshape(-1, 20)[:, : bits // 8]
    return raw.copy().view("<u8" if bits == 64 else "<u4").ravel().astype(dtype, copy=False)


def _range_representatives(buf: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """For every byte range, the index of a range with the same bytes (exact).

    Groups by the fast 64-bit hash, then compares the bytes of every member with its group's
    representative; a member whose bytes differ (a 64-bit collision) represents itself.
    """
    n = len(starts)
    index = np.arange(n)
    if n < 2:
        return index
    keys = _fast_hash_ranges(buf, starts, ends)
    order = np.argsort(keys)
    sorted_keys = keys[order]
    new_group = np.empty(n, dtype=bool)
    new_group[0] = True
    np.not_equal(sorted_keys[1:], sorted_keys[:-1], out=new_group[1:])
    group = np.cumsum(new_group) - 1
    rep = np.empty(n, dtype=np.int64)
    rep[order] = order[np.flatnonzero(new_group)][group]  # any member represents its group
    dup = np.flatnonzero(rep != index)
    if len(dup) == 0:
        return rep
    lengths = ends - starts
    same_length = lengths[dup] == lengths[rep[dup]]
    rep[dup[~same_length]] = dup[~same_length]
    check = dup[same_length]
    if len(check):
        collided = check[_bytes_differ(buf, starts[check], starts[rep[check]], lengths[check])]
        rep[collided] = collided  # same 64-bit hash, different bytes: hash it itself
    return rep


def _bytes_differ(buf: np.ndarray, a: np.ndarray, b: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Whether ``buf[a[i]:a[i]+lengths[i]] != buf[b[i]:b[i]+lengths[i]]``, 8 bytes at a time."""
    padded = np.zeros(len(buf) + 8, dtype=np.uint8)
    padded[: len(buf)] = buf
    # words[i] = padded[i:i+8] as a little-endian uint64 (an unaligned, overlapping view)
    words = np.ndarray((len(buf) + 1,), dtype="<u8", buffer=padded, strides=(1,))
    chunks = (lengths + 7) // 8
    nonempty = chunks > 0
    total = int(chunks.sum())
    first = np.zeros(len(chunks), dtype=np.int64)
    np.cumsum(chunks[:-1], out=first[1:])
    step = np.arange(total, dtype=np.int64) - np.repeat(first, chunks)  # chunk number in range
    offset = 8 * step
    diff = words[np.repeat(a, chunks) + offset] ^ words[np.repeat(b, chunks) + offset]
    tail = np.minimum(np.repeat(lengths, chunks) - offset, 8)  # bytes of this chunk in range
    shift = (8 * np.minimum(tail, 7)).astype(np.uint64)
    mask = np.where(tail >= 8, np.uint64(M64), (np.uint64(1) << shift) - np.uint64(1))
    differ = np.zeros(len(chunks), dtype=bool)
    differ[nonempty] = np.logical_or.reduceat((diff & mask) != 0, first[nonempty])
    return differ


def _sha1_unique_ranges(
    buf: np.ndarray, data: bytes, starts: np.ndarray, ends: np.ndarray, bits: int
) -> np.ndarray:
    """:func:`_sha1_ranges`, hashing each distinct shingle of the batch once."""
    rep = _range_representatives(buf, starts, ends)
    todo = np.flatnonzero(rep == np.arange(len(rep)))
    if len(todo) == len(rep):
        return _sha1_ranges(data, starts, ends, bits)
    out = np.empty(len(rep), dtype=np.uint64 if bits == 64 else np.uint32)
    out[todo] = _sha1_ranges(data, starts[todo], ends[todo], bits)
    return out[rep]


def _shingle_ranges(
    offsets: np.ndarray, buf: np.ndarray, ngram: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Byte ranges ``[starts, ends)`` of every shingle of normalised texts, and doc offsets.

    Relies on the normalised form: words separated by exactly one space, no space at either
    end, so a word starts at its document's start or after a space, and ends at a space or
    its document's end. Word boundaries are the space positions with the document bounds
    merged in (``np.insert`` at sorted positions: linear, no byte-sized mask).
    """
    n_docs = len(offsets) - 1
    lengths = np.diff(offsets)
    nonempty = lengths > 0
    doc_starts = offsets[:-1][nonempty]
    doc_ends = offsets[1:][nonempty]
    spaces = np.flatnonzero(buf == 32)
    word_starts = np.insert(spaces + 1, np.searchsorted(spaces, doc_starts), doc_starts)
    word_ends = np.insert(spaces, np.searchsorted(spaces, doc_ends), doc_ends)
    words = np.zeros(n_docs, dtype=np.int64)
    words[nonempty] = np.diff(np.searchsorted(spaces, offsets))[nonempty] + 1

    # A shingle starts at every word but the last ngram-1 of its document; a document with
    # fewer than ngram words has one shingle, from its first word to its last.
    span = np.maximum(np.minimum(words, ngram) - 1, 0)  # words after the first of a shingle
    per_doc = np.where(words > 0, words - span, 0)
    last_word = np.cumsum(words) - 1
    starts_mask = np.ones(len(word_starts), dtype=bool)
    for k in range(ngram - 1):
        starts_mask[last_word[span > k] - k] = False
    take = np.flatnonzero(starts_mask)
    starts = word_starts[take]
    ends = word_ends[take + np.repeat(span, per_doc)]
    doc_offsets = np.zeros(n_docs + 1, dtype=np.int64)
    np.cumsum(per_doc, out=doc_offsets[1:])
    return starts, ends, doc_offsets


@dataclass(frozen=True)
class ShingleHashes:
    """Shingle hashes of a batch: document ``i`` has ``hashes[offsets[i]:offsets[i + 1]]``.

    ``hashes`` is uint32 (32-bit hashes) or uint64, in shingle order, repeats included.
    """

    hashes: np.ndarray
    offsets: np.ndarray

    def __len__(self) -> int:
        return len(self.offsets) - 1

    @property
    def counts(self) -> np.ndarray:
        """Number of shingles of each document (0: no word, empty signature)."""
        return np.diff(self.offsets)

    def doc(self, i: int) -> np.ndarray:
        return self.hashes[self.offsets[i] : self.offsets[i + 1]]

    def fingerprints(self) -> np.ndarray:
        """A 64-bit fingerprint of each document's shingle-hash *sequence* (uint64).

        Documents with the same normalised text have the same fingerprint, hence the same
        shingle set (Jaccard 1.0); two different sequences share one with probability
        ~2^-64 (the polynomial of the fast hash over the hash values + 1, then
        ``fmix64``; empty documents get ``fmix64(0) = 0``). Verification uses it to skip
        loading the shingles of identical documents (see ``minhash_dedup``).
        """
        offsets = np.asarray(self.offsets, dtype=np.int64)
        return _fast_hash_ranges(np.asarray(self.hashes), offsets[:-1], offsets[1:])


def shingle_hashes(
    texts: TextInput, *, ngram: int = 5, hash: Hash = "fast", bits: int = 32
) -> ShingleHashes:
    """Normalise, shingle and hash a batch; ``bits=64`` for the ``affine64`` scheme.

    Hash ``i`` equals ``reference.hash_function(hash, bits)(shingle.encode("utf-8"))`` for the
    shingles of :func:`corpusclean.minhash.reference.shingles`, in the same order.
    """
    check_hash(hash)
    check_bits(bits)
    if ngram < 1:
        raise ValueError("ngram must be >= 1")
    offsets, buf = normalized_buffers(texts)
    starts, ends, doc_offsets = _shingle_ranges(offsets, buf, ngram)
    if hash == "sha1":
        hashes = _sha1_unique_ranges(buf, buf.tobytes(), starts, ends, bits)
    else:
        hashes = _fast_hash_ranges(buf, starts, ends)
        if bits == 32:
            hashes = hashes.astype(np.uint32)  # low 32 bits
    return ShingleHashes(hashes, doc_offsets)
