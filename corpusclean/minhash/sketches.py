"""MinHash signatures (sketches) of shingle hashes, bit-identical to datasketch's ``MinHash``.

The permutation parameters are drawn exactly as datasketch draws them from
``np.random.RandomState(seed)`` and the arithmetic is datasketch's for each ``scheme``
(``affine32``, ``affine64``, ``legacy``; see :mod:`corpusclean.minhash`), in numpy over chunks
of (num_perm x shingles) with a per-document ``np.minimum.reduceat``. The affine schemes
finalise the shingle hashes with MurmurHash3's ``fmix32``/``fmix64`` as datasketch's ``_fmix``
does (:mod:`corpusclean.hashing`).
"""

from __future__ import annotations

import functools
from typing import Literal

import numpy as np

from corpusclean.hashing import M64, fmix32, fmix64
from corpusclean.minhash.normalization import TextInput
from corpusclean.minhash.shingling import MAX_HASH32, Hash, ShingleHashes, shingle_hashes

Scheme = Literal["affine32", "affine64", "legacy"]
SCHEMES: tuple[str, ...] = ("affine32", "affine64", "legacy")

MERSENNE_PRIME = (1 << 61) - 1

#: Elements of one (num_perm x shingles) work chunk (4 MB of uint32); also the block size of
#: :func:`corpusclean.minhash.bands.band_keys`.
CHUNK_ELEMENTS = 1 << 20


def check_scheme(scheme: str) -> None:
    """Raise ``ValueError`` unless ``scheme`` names a permutation scheme (:data:`SCHEMES`)."""
    if scheme not in SCHEMES:
        raise ValueError(f"scheme must be one of {', '.join(SCHEMES)}, got {scheme!r}")


def hash_bits(scheme: Scheme) -> int:
    """Width of the shingle hashes a scheme takes: 64 for ``affine64``, else 32."""
    check_scheme(scheme)
    return 64 if scheme == "affine64" else 32


@functools.lru_cache(maxsize=32)
def _permutations(num_perm: int, seed: int, scheme: str) -> tuple[np.ndarray, np.ndarray]:
    gen = np.random.RandomState(seed)
    if scheme == "legacy":
        prime = np.uint64(MERSENNE_PRIME)
        pairs = [
            (gen.randint(1, prime, dtype=np.uint64), gen.randint(0, prime, dtype=np.uint64))
            for _ in range(num_perm)
        ]
        a, b = np.array(pairs, dtype=np.uint64).T
    else:
        width = 64 if scheme == "affine64" else 32
        dtype = np.uint64 if width == 64 else np.uint32
        a = gen.randint(0, 1 << (width - 1), num_perm, dtype=dtype) * dtype(2) + dtype(1)
        b = gen.randint(0, 1 << width, num_perm, dtype=dtype)
    a, b = np.ascontiguousarray(a), np.ascontiguousarray(b)
    a.setflags(write=False)
    b.setflags(write=False)
    return a, b


def permutations(
    num_perm: int = 128, seed: int = 1, scheme: Scheme = "affine32"
) -> tuple[np.ndarray, np.ndarray]:
    """The permutation parameters ``(a, b)``: datasketch's ``MinHash(...).permutations``."""
    check_scheme(scheme)
    if num_perm < 1:
        raise ValueError("num_perm must be positive")
    return _permutations(int(num_perm), int(seed), scheme)


def _signature_dtype(scheme: str) -> type[np.unsignedinteger]:
    return np.uint32 if scheme == "affine32" else np.uint64


def _empty_value(scheme: str) -> int:
    return M64 if scheme == "affine64" else MAX_HASH32


def _permute(
    hv: np.ndarray, a: np.ndarray, b: np.ndarray, scheme: str, out: np.ndarray
) -> np.ndarray:
    """(num_perm, len(hv)) permuted hash values, datasketch's arithmetic, written into ``out``
    (a reused work buffer: no fresh pages per chunk).

    Permutations along the first axis so that each document's shingles are contiguous in
    memory for ``np.minimum.reduceat`` (several times faster than reducing along axis 0).
    """
    if scheme == "legacy":
        np.multiply(a[:, None], hv[None, :], out=out)  # uint64, wraps as in datasketch
        out += b[:, None]
        # x mod (2^61 - 1) == (x >> 61) + (x & p), minus p once if that reaches p.
        p = np.uint64(MERSENNE_PRIME)
        high = out >> np.uint64(61)
        out &= p
        out += high
        out -= p * (out >= p)
        out &= np.uint64(MAX_HASH32)
        return out
    np.multiply(a[:, None], hv[None, :], out=out)
    out += b[:, None]
    return out


def signatures_from_hashes(
    hashes: ShingleHashes | np.ndarray,
    offsets: np.ndarray | None = None,
    *,
    num_perm: int = 128,
    seed: int = 1,
    scheme: Scheme = "affine32",
) -> np.ndarray:
    """MinHash signatures (n_docs, num_perm) of documents given by their shingle hashes.

    ``hashes``/``offsets`` as in :class:`ShingleHashes`: 64-bit hashes for ``affine64``;
    ``affine32`` and ``legacy`` use 32-bit hashes and take the low 32 bits of 64-bit ones,
    which for both hash families *is* the 32-bit hash (``fast_hash32`` and ``sha1_hash32`` are
    the low halves of ``fast_hash64`` and ``sha1_hash64``). So one ``bits=64`` call serves
    both the signatures and an exact Jaccard verification with fewer collisions. dtype of
    the result: uint32 for ``affine32``, else uint64 (the dtype of datasketch's
    ``hashvalues``).
    """
    if isinstance(hashes, ShingleHashes):
        hashes, offsets = hashes.hashes, hashes.offsets
    if offsets is None:
        raise ValueError("offsets are required with a plain hash array")
    a, b = permutations(num_perm, seed, scheme)
    dtype = _signature_dtype(scheme)
    offsets = np.asarray(offsets, dtype=np.int64)
    n_docs = len(offsets) - 1
    out = np.full((n_docs, num_perm), _empty_value(scheme), dtype=dtype)
    total = int(offsets[-1]) if n_docs else 0
    if total == 0:
        return out
    hashes = np.asarray(hashes)
    if scheme == "affine64":
        if hashes.dtype != np.uint64:
            raise ValueError("affine64 takes 64-bit shingle hashes (bits=64)")
        hv = fmix64(hashes)
    elif scheme == "affine32":
        hv = fmix32(hashes.astype(np.uint32))  # 64-bit hashes: their low 32 bits
    else:
        hv = hashes.astype(np.uint32).astype(np.uint64)

    counts = np.diff(offsets)
    docs = np.flatnonzero(counts > 0)
    doc_starts = offsets[docs]
    chunk = max(1, min(total, CHUNK_ELEMENTS // num_perm))
    work = np.empty((num_perm, chunk), dtype=dtype)
    for r0 in range(0, total, chunk):
        r1 = min(r0 + chunk, total)
        # non-empty documents with a shingle in [r0, r1): their (clipped) first rows.
        lo = int(np.searchsorted(doc_starts, r0, side="right")) - 1
        hi = int(np.searchsorted(doc_starts, r1, side="left"))
        seg = np.maximum(doc_starts[lo:hi], r0) - r0
        permuted = _permute(hv[r0:r1], a, b, scheme, work[:, : r1 - r0])
        mins = np.minimum.reduceat(permuted, seg, axis=1)
        rows = docs[lo:hi]
        out[rows] = np.minimum(out[rows], mins.T)
    return out


def signatures(
    texts: TextInput,
    *,
    num_perm: int = 128,
    ngram: int = 5,
    seed: int = 1,
    hash: Hash = "fast",
    scheme: Scheme = "affine32",
) -> np.ndarray:
    """MinHash signatures (n_docs, num_perm) of a batch of raw texts.

    Row ``i`` equals ``datasketch.MinHash(num_perm=num_perm, seed=seed, scheme=scheme,
    hashfunc=reference.hash_function(hash, hash_bits(scheme)))`` updated with
    ``[s.encode() for s in reference.shingles(texts[i], ngram)]``.
    """
    check_scheme(scheme)
    sh = shingle_hashes(texts, ngram=ngram, hash=hash, bits=hash_bits(scheme))
    return signatures_from_hashes(sh, num_perm=num_perm, seed=seed, scheme=scheme)
