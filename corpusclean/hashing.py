"""The one 64-bit hash finaliser every hashed key in corpusclean goes through.

MurmurHash3's ``fmix64`` (Appleby 2011): a bijection on 64-bit integers whose every output bit
depends on every input bit, so that keys built cheaply (a polynomial of word hashes, a band of
MinHash values) spread evenly over 64 bits before they are compared, grouped or banded. It is
also datasketch's ``_fmix`` for 64-bit values, which ``minhash`` must reproduce bit for bit.
Written once here, in a vectorised form (numpy ``uint64`` arrays, multiplications wrap) and a
scalar form for reference code; ``fmix32`` is the 32-bit variant datasketch uses for 32-bit
hashes.
"""

from __future__ import annotations

import numpy as np

#: 2^64 - 1: the mask of Python-integer arithmetic modulo 2^64.
M64 = (1 << 64) - 1
#: (shift, multiplier, shift, multiplier, shift) of MurmurHash3's 64- and 32-bit finalisers.
FMIX64 = (33, 0xFF51AFD7ED558CCD, 33, 0xC4CEB9FE1A85EC53, 33)
FMIX32 = (16, 0x85EBCA6B, 13, 0xC2B2AE35, 16)


def _finalise(
    h: np.ndarray, constants: tuple[int, ...], dtype: type[np.unsignedinteger]
) -> np.ndarray:
    s1, m1, s2, m2, s3 = (dtype(c) for c in constants)
    with np.errstate(over="ignore"):
        h = h ^ (h >> s1)
        h *= m1
        h ^= h >> s2
        h *= m2
        h ^= h >> s3
    return h


def fmix64(h: np.ndarray) -> np.ndarray:
    """MurmurHash3 ``fmix64`` on a uint64 array (returns a new array)."""
    return _finalise(h, FMIX64, np.uint64)


def fmix32(h: np.ndarray) -> np.ndarray:
    """MurmurHash3 ``fmix32`` on a uint32 array (returns a new array)."""
    return _finalise(h, FMIX32, np.uint32)


def fmix64_scalar(h: int) -> int:
    """``fmix64`` of one Python integer in [0, 2^64): the reference for :func:`fmix64`."""
    s1, m1, s2, m2, s3 = FMIX64
    h ^= h >> s1
    h = (h * m1) & M64
    h ^= h >> s2
    h = (h * m2) & M64
    return h ^ (h >> s3)
