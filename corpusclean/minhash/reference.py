"""Scalar, pure-Python reference implementations, used only by tests and benchmarks.

Each states one definition of the package plainly, to check the vectorised code against and to
feed datasketch the same shingles and hashes: :func:`normalize_text` (the normalisation),
:func:`shingles` (shingling), :func:`fast_hash64`/:func:`fast_hash32`/:func:`sha1_hash32`/
:func:`sha1_hash64` (the shingle hashes, usable as datasketch's ``hashfunc``), and
:func:`jaccard` (the exact similarity :func:`corpusclean.minhash.verify.pair_jaccard`
computes for many pairs). Slow; nothing in the pipeline calls them.
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Callable, Sequence

import numpy as np

from corpusclean.hashing import M64, fmix64_scalar
from corpusclean.minhash.shingling import FAST_K, MAX_HASH32, Hash, check_bits, check_hash


def normalize_text(text: str) -> str:
    """Pure-Python reference of :func:`~corpusclean.minhash.normalization.normalize` for one
    text (slow; tests and benchmarks).

    Equal to ``normalize`` wherever Python's ``str.lower``/``unicodedata`` and Rust's agree
    on the Unicode data (they can differ on characters added in recent Unicode versions).
    """
    decomposed = unicodedata.normalize("NFD", text.lower())
    kept = []
    for ch in decomposed:
        category = unicodedata.category(ch)
        if category == "Mn":
            continue
        kept.append(ch if category[0] in "LNM" else " ")
    return " ".join("".join(kept).split())


def shingles(text: str, ngram: int = 5, *, normalized: bool = False) -> list[str]:
    """Reference (pure Python) shingles of one document, in order, repeats included.

    ``ngram`` consecutive words joined by a space; one shingle of all words when the document
    has fewer than ``ngram`` words; none when it has no word.
    """
    if ngram < 1:
        raise ValueError("ngram must be >= 1")
    words = (text if normalized else normalize_text(text)).split()
    if not words:
        return []
    if len(words) < ngram:
        return [" ".join(words)]
    return [" ".join(words[i : i + ngram]) for i in range(len(words) - ngram + 1)]


def fast_hash64(data: bytes) -> int:
    """The ``"fast"`` shingle hash (64-bit), scalar reference: ``fmix64(sum((b_j+1)*K^(L-1-j)))``.

    Give it (or :func:`fast_hash32`) to ``datasketch.MinHash(hashfunc=...)`` to reproduce our
    signatures; bytes or str (encoded as UTF-8).
    """
    if isinstance(data, str):
        data = data.encode("utf-8")
    h = 0
    for byte in data:
        h = (h * FAST_K + byte + 1) & M64
    return fmix64_scalar(h)


def fast_hash32(data: bytes) -> int:
    """The ``"fast"`` shingle hash (32-bit): the low 32 bits of :func:`fast_hash64`."""
    return fast_hash64(data) & MAX_HASH32


def sha1_hash32(data: bytes) -> int:
    """datasketch's default ``sha1_hash32``: first 4 bytes of SHA-1, little-endian."""
    return int.from_bytes(hashlib.sha1(data).digest()[:4], "little")


def sha1_hash64(data: bytes) -> int:
    """datasketch's ``sha1_hash64``: first 8 bytes of SHA-1, little-endian."""
    return int.from_bytes(hashlib.sha1(data).digest()[:8], "little")


def hash_function(hash: Hash = "fast", bits: int = 32) -> Callable[[bytes], int]:
    """The scalar function equal to our vectorised shingle hash (datasketch's ``hashfunc``)."""
    check_hash(hash)
    check_bits(bits)
    if hash == "sha1":
        return sha1_hash64 if bits == 64 else sha1_hash32
    return fast_hash64 if bits == 64 else fast_hash32


def jaccard(set_a: np.ndarray | Sequence[int], set_b: np.ndarray | Sequence[int]) -> float:
    """Exact Jaccard similarity of two sets of shingle hashes (repeats ignored).

    Two empty sets are identical: 1.0 (as two never-updated datasketch MinHashes).
    """
    a = np.unique(np.asarray(set_a))
    b = np.unique(np.asarray(set_b))
    union = len(a) + len(b)
    if union == 0:
        return 1.0
    inter = len(np.intersect1d(a, b, assume_unique=True))
    return inter / (union - inter)
