"""MinHash signatures and LSH banding over whole batches, bit-identical to datasketch.

Everything here is a pure function of a batch (no state, no engine): the ``minhash_dedup`` step
and the corpus-wide passes are built on top of it. Nothing loops over shingles in Python except
SHA-1 (``hash="sha1"``), which has no vectorised form.

Pipeline for one batch of documents::

    normalize  ->  word n-gram shingles  ->  32/64-bit shingle hashes  ->  signatures
                   (byte ranges into the      (ShingleHashes: flat       (n_docs, num_perm)
                    normalised text)           hashes + doc offsets)
    signatures -> band_keys -> band_candidate_pairs (or band_frame -> candidate_pairs)
               -> (pair_jaccard) -> union_find

Normalisation (:func:`normalize`, the definition every other function relies on)
--------------------------------------------------------------------------------
After Penedo et al. 2023 (RefinedWeb) / datatrove's ``simplify_text``, defined as Polars
expressions (:func:`normalize_expr`; Rust ``regex`` Unicode classes) and computed mostly at the
byte level with the same result (:func:`_normalized_buffers`), in this order:

1. lowercase (Unicode full lowercasing, ``str.to_lowercase``);
2. Unicode NFD, then every non-spacing mark (general category ``Mn``) is deleted: accents are
   stripped (``café`` -> ``cafe``, ``İ`` -> ``i``). As in datatrove this also drops other
   scripts' non-spacing marks: Japanese (han)dakuten (``で`` -> ``て``), Devanagari virama,
   Thai and Arabic vowel marks; spacing marks (``Mc``, e.g. Devanagari vowel sign i) stay;
3. every maximal run of characters that are not a letter (``L*``), number (``N*``) or mark
   (``M*``) becomes one ASCII space: punctuation, symbols and emoji, whitespace of every kind
   (NBSP, ideographic space, line/paragraph separators, tabs, newlines), control and format
   characters (zero-width space, soft hyphen, BOM) all separate words;
4. leading and trailing spaces are removed.

The result is words of letters/numbers/marks joined by single spaces ("" when the document has
no letter or number). Compared with datatrove's ``simplify_text`` (which uses a fixed list of
~60 punctuation characters): every Unicode punctuation/symbol separates words here, and numbers
are kept as they are (datatrove's ``norm_numbers`` folds digit runs to ``0``; RefinedWeb's
description does not). :func:`normalize_text` is a pure-Python statement of the same definition
(slow; used as the reference in tests and by the datasketch side of the benchmark).

Shingles
--------
A shingle is ``ngram`` consecutive words of the normalised text joined by single spaces, i.e.
exactly ``normalized[start_of_word_i : end_of_word_(i+ngram-1)]``; a document with ``w >=
ngram`` words has ``w - ngram + 1`` shingles (repeats included; they do not change a MinHash).
A document with ``1 <= w < ngram`` words gets **one** shingle made of all its words, so short
pages ("404 not found") still deduplicate against each other. datatrove does not: its
``ngrams`` is a sliding ``zip`` that yields nothing for short texts, and its signature stage
skips documents without shingles, so they are never matched. A document with no word at all
(empty after normalisation) has no shingle and the empty signature: every value is the
scheme's maximum, as for a datasketch ``MinHash`` that was never updated. Such documents
collide with each other in every band; callers exclude them (``ShingleHashes.counts == 0``)
unless they want all empty documents treated as duplicates.

Shingle hashes (``hash=``)
--------------------------
``"sha1"``: datasketch's default hash functions, ``sha1_hash32`` (first 4 bytes of SHA-1 of the
UTF-8 shingle, little-endian) or ``sha1_hash64`` (first 8 bytes) for ``scheme="affine64"``.
One ``hashlib`` call (about 0.4 us, GIL-bound) per distinct shingle of the batch:
repeated shingles are grouped by the fast 64-bit hash and their bytes compared (exact), which
costs ~3 % when few shingles repeat (webmix: 7 % per 1,000 documents) and saves ~35 % when
many do (the embedded sample: 62 %). Compatibility mode.

``"fast"`` (default): :func:`fast_hash64`, a polynomial hash of the UTF-8 bytes mod 2^64,
``h = sum((byte_j + 1) * K**(L-1-j))`` with ``K = 0x9E3779B97F4A7C15``, finalised with the
MurmurHash3 64-bit finaliser (``fmix64``, a bijection); :func:`fast_hash32` keeps its low 32
bits. It is fully vectorised over the normalised text with prefix sums (``K`` is odd, hence
invertible mod 2^64, so the hash of every byte range comes from one cumulative sum), so no
shingle string is ever built. Its definition is this integer arithmetic, so it does not change
with numpy, Polars or xxhash versions (Polars' ``Series.hash`` does, which is why it is not
used; xxh3 would need one Python call per shingle). Give ``fast_hash32`` as ``hashfunc`` to
datasketch and its signatures equal ours bit for bit.

Signatures and permutation schemes (``scheme=``)
------------------------------------------------
``signatures(texts, num_perm=P, seed=S, hash=H, scheme=X)[i]`` equals ``datasketch.MinHash(
num_perm=P, seed=S, hashfunc=F, scheme=X)`` fed document ``i``'s shingles as UTF-8 bytes
(``update``/``update_batch``/``bulk``), where ``F`` is ``hash_function(H, bits)``. The
permutation parameters are drawn exactly as datasketch draws them from
``np.random.RandomState(seed)``; the arithmetic is datasketch's, in numpy, over chunks of
(shingles x num_perm) with a per-document ``np.minimum.reduceat``:

* ``"affine32"`` (default; datasketch >= 2.0's default): ``h = fmix32(hash32)``, ``phv = a*h +
  b mod 2^32`` (uint32 wraparound, ``a`` odd); values uint32, empty = 2^32-1.
* ``"affine64"``: the same over 64 bits with 64-bit shingle hashes; values uint64.
* ``"legacy"`` (datasketch < 2.0's only scheme; datatrove's arithmetic too, though datatrove
  draws ``a, b`` in another order): ``phv = ((hash32 * a + b) mod 2^64) mod (2^61 - 1) &
  (2^32 - 1)`` - the product wraps around in uint64 exactly as numpy does inside datasketch
  (it is not the mathematical product mod the prime); values uint64 < 2^32, empty = 2^32-1.

32-bit schemes accept 64-bit shingle hashes and use their low 32 bits, which is exactly the
32-bit hash of both families (see :func:`signatures_from_hashes`).

LSH
---
:func:`optimal_bands` is datasketch's ``_optimal_param`` (the same ``scipy.integrate.quad``
integrals of the S-curve). :func:`band_keys` reduces each band (``rows`` consecutive values)
to a 64-bit key (a polynomial mod 2^64, then ``fmix64``); datasketch compares the raw bytes
instead, so two different bands collide with probability ~2^-64 (a spurious candidate, caught
by verification). :func:`candidate_pairs` (Polars, over a long ``doc_index, band, key``
table) and :func:`band_candidate_pairs` (numpy, over the ``(n_docs, bands)`` key table, one
band at a time: what the corpus-wide resolve uses) link every document of a bucket to the
bucket's smallest document index (linear in the bucket size, same connected components as all
pairs); with ``verify``, a member is checked against that smallest document only, by
:func:`pair_jaccard` (exact set Jaccard, sorted keys and ``searchsorted``, in bounded chunks).
:func:`union_find` gives every document its component's smallest index.

Cost
----
One thread, numpy (Polars only for the Unicode steps of the few documents that need them, see
:func:`_normalized_buffers`). On webmix (79 MB, 18,701 documents, 12.5 M shingles) the
``hash="fast"`` signatures take about 2 s on one shared core: normalisation ~0.75 s (byte
passes: the ASCII table, code-point lookup, space collapse), word/shingle ranges ~0.3 s, the
fast hash ~0.3 s (prefix sums in 64 KB windows that stay in cache), permutations ~0.6 s
(``num_perm`` x shingles uint32 multiply-add + ``minimum.reduceat`` in a reused 4 MB
buffer). Memory per call is a few times the normalised text of the batch (word and shingle
index arrays) plus the 4 MB work buffer; between calls the permutations, two power tables
and the per-code-point tables (~6 MB) stay cached. Measured with
``benchmarks/minhash_signatures.py``.
"""

from __future__ import annotations

import functools
import hashlib
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import polars as pl
import pyarrow as pa

Hash = Literal["fast", "sha1"]
Scheme = Literal["affine32", "affine64", "legacy"]
HASHES: tuple[str, ...] = ("fast", "sha1")
SCHEMES: tuple[str, ...] = ("affine32", "affine64", "legacy")

MERSENNE_PRIME = (1 << 61) - 1
MAX_HASH32 = (1 << 32) - 1
_M64 = (1 << 64) - 1

# Polynomial-hash multiplier (odd, so invertible mod 2^64) and its inverse.
FAST_K = 0x9E3779B97F4A7C15
_FAST_KINV = pow(FAST_K, -1, 1 << 64)

# MurmurHash3 finalisers (the constants datasketch uses for its affine schemes).
_FMIX64 = (33, 0xFF51AFD7ED558CCD, 33, 0xC4CEB9FE1A85EC53, 33)
_FMIX32 = (16, 0x85EBCA6B, 13, 0xC2B2AE35, 16)

# Work sizes: elements of one (shingles x num_perm) chunk, bytes of one prefix-sum window.
_CHUNK_ELEMENTS = 1 << 20
_HASH_WINDOW = 1 << 16

_NON_WORD = r"[^\p{L}\p{N}\p{M}]+"

TextInput = Sequence[str | None] | pl.Series | pa.Array | pa.ChunkedArray


# --------------------------------------------------------------------------------------------
# Normalisation
# --------------------------------------------------------------------------------------------


def normalize_expr(expr: pl.Expr | str = "text") -> pl.Expr:
    """The normalisation as one Polars expression (nulls become ""); see the module docstring."""
    e = pl.col(expr) if isinstance(expr, str) else expr
    return (
        e.fill_null("")
        .str.to_lowercase()
        .str.normalize("NFD")
        .str.replace_all(r"\p{Mn}+", "")
        .str.replace_all(_NON_WORD, " ")
        .str.strip_chars(" ")
    )


def _as_series(texts: TextInput) -> pl.Series:
    if isinstance(texts, pl.Series):
        s = texts
    elif isinstance(texts, pa.Array | pa.ChunkedArray):
        s = pl.Series("text", texts)
    else:
        s = pl.Series("text", list(texts), dtype=pl.String)
    if s.dtype != pl.String:
        s = s.cast(pl.String)
    return s.rename("text")


# ASCII byte -> normalised byte: letters lowercased, digits kept, every other ASCII byte a
# space (32); bytes >= 0x80 (UTF-8 lead/continuation bytes) pass through.
_ASCII_MAP = np.full(256, 32, dtype=np.uint8)
_ASCII_MAP[0x80:] = np.arange(0x80, 0x100, dtype=np.uint8)
_ASCII_MAP[ord("0") : ord("9") + 1] = np.arange(ord("0"), ord("9") + 1, dtype=np.uint8)
_ASCII_MAP[ord("a") : ord("z") + 1] = np.arange(ord("a"), ord("z") + 1, dtype=np.uint8)
_ASCII_MAP[ord("A") : ord("Z") + 1] = np.arange(ord("a"), ord("z") + 1, dtype=np.uint8)
_ASCII_MAP.setflags(write=False)


class _CodePoints:
    """What normalisation does to each non-ASCII character, learnt on first sight.

    For a code point ``c`` the *replacement* is ``c`` alone through every step of
    :func:`normalize_expr` but the final strip (lowercase, NFD, ``\\p{Mn}`` removed, runs of
    non-letter/number/mark characters to one space), computed by Polars itself, so it is
    exactly what the Rust ``regex`` and ``unicode-normalization`` tables give. Steps 1-3 act
    character by character except for (a) the Greek final-sigma rule of lowercasing (``Σ``)
    and (b) NFD's canonical reordering, which only moves characters of non-zero combining
    class: marks. So a text is normalised by replacing each character, then collapsing spaces,
    unless it has a *contextual* character: ``Σ``, or one whose replacement keeps a mark
    (``\\p{M}`` per Polars, or a non-zero combining class per Python's ``unicodedata`` as a
    second, conservative check). Characters whose replacement cannot be written over their
    own bytes (empty: a lone non-spacing mark; longer than the character; words and spaces
    mixed) are marked contextual too. Such texts take Polars' own path; routing too many
    there is always safe, only slower.
    """

    KNOWN, CHANGED, SPACE, CONTEXT = 1, 2, 4, 8

    def __init__(self) -> None:
        self.flags = np.zeros(0x110000, dtype=np.uint8)
        self.replacement = np.zeros((0x110000, 4), dtype=np.uint8)  # UTF-8, <= 4 bytes
        self.length = np.zeros(0x110000, dtype=np.int64)  # of the replacement, in bytes

    def learn(self, code_points: np.ndarray) -> None:
        """Classify distinct, not yet known code points (one Polars call for all)."""
        chars = pl.Series("c", [chr(c) for c in code_points.tolist()], dtype=pl.String)
        replaced = (
            chars.str.to_lowercase()
            .str.normalize("NFD")
            .str.replace_all(r"\p{Mn}+", "")
            .str.replace_all(_NON_WORD, " ")
        )
        texts = replaced.to_list()
        rep_len = replaced.str.len_bytes().to_numpy().astype(np.int64)
        own_len = chars.str.len_bytes().to_numpy().astype(np.int64)
        changed = (replaced != chars).to_numpy()
        space = np.array([t == " " for t in texts], dtype=bool)
        context = (
            replaced.str.contains(r"\p{M}").to_numpy()
            | np.array([any(unicodedata.combining(ch) for ch in t) for t in texts], dtype=bool)
            | (code_points == 0x03A3)
            | (changed & ~space & ((rep_len == 0) | (rep_len > own_len)))
            | (~space & np.array([" " in t for t in texts], dtype=bool))
        )
        flags = np.full(len(code_points), self.KNOWN, dtype=np.uint8)
        flags[changed] |= self.CHANGED
        flags[space] |= self.SPACE
        flags[context] |= self.CONTEXT
        writable = ~context & changed & ~space
        for i in np.flatnonzero(writable).tolist():
            data = texts[i].encode("utf-8")
            self.replacement[code_points[i], : len(data)] = np.frombuffer(data, dtype=np.uint8)
        self.length[code_points] = rep_len
        self.flags[code_points] = flags  # last: a KNOWN code point has its replacement


_CODE_POINTS = _CodePoints()
_DELETED = 0xFF  # never a UTF-8 byte: marks bytes of a character whose replacement is shorter


def _utf8_chars(buf: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Positions, byte lengths and code points of every non-ASCII character of ``buf``
    (valid UTF-8, as every Arrow string is); unknown code points are learnt."""
    lead = np.flatnonzero(buf >= 0xC0)
    if len(lead) == 0:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty, np.empty(0, dtype=np.int32)
    b0 = buf[lead].astype(np.int32)
    length = 2 + (b0 >= 0xE0) + (b0 >= 0xF0)
    last = len(buf) - 1
    b1 = buf[lead + 1].astype(np.int32) & 0x3F
    b2 = buf[np.minimum(lead + 2, last)].astype(np.int32) & 0x3F
    b3 = buf[np.minimum(lead + 3, last)].astype(np.int32) & 0x3F
    cp = np.where(
        length == 2,
        ((b0 & 0x1F) << 6) | b1,
        np.where(
            length == 3,
            ((b0 & 0x0F) << 12) | (b1 << 6) | b2,
            ((b0 & 0x07) << 18) | (b1 << 12) | (b2 << 6) | b3,
        ),
    )
    unknown = (_CODE_POINTS.flags[cp] & _CodePoints.KNOWN) == 0
    if unknown.any():
        _CODE_POINTS.learn(np.unique(cp[unknown]))
    return lead, length.astype(np.int64), cp


def _replace_chars(
    x: np.ndarray, lead: np.ndarray, length: np.ndarray, cp: np.ndarray, spaces_only: np.ndarray
) -> np.ndarray:
    """Write every non-ASCII character's replacement over its own bytes, in place.

    A replacement that is a space fills all the character's bytes with spaces (runs of spaces
    collapse later); a shorter word replacement is followed by ``_DELETED`` bytes, whose
    positions are returned (they count as word bytes for the space rule, then go). Where
    ``spaces_only`` (characters of documents already through Polars' steps 1-2) only the
    non-word -> space replacement is applied.
    """
    flags = _CODE_POINTS.flags[cp]
    space = (flags & _CodePoints.SPACE) != 0
    if space.any():
        at, size = lead[space], length[space]
        for k in range(4):
            x[at[size > k] + k] = 32
    word = ((flags & (_CodePoints.CHANGED | _CodePoints.SPACE)) == _CodePoints.CHANGED) & (
        ~spaces_only
    )
    if not word.any():
        return np.empty(0, dtype=np.int64)
    at, size, code = lead[word], length[word], cp[word]
    rep_len = _CODE_POINTS.length[code]
    deleted = []
    for k in range(4):
        write = rep_len > k
        x[at[write] + k] = _CODE_POINTS.replacement[code[write], k]
        pad = ~write & (size > k)
        deleted.append(at[pad] + k)
    return np.concatenate(deleted)


def _normalized_buffers(texts: TextInput) -> tuple[np.ndarray, np.ndarray]:
    """:func:`normalize` as (int64 offsets from 0, UTF-8 bytes): what shingling consumes.

    Why not just ``normalize_expr``: its regex replacement, lowercasing and NFD cost ~2 s per
    79 MB of text (webmix), more than half of the whole signature time. Here:

    1. documents with a contextual character (``Σ``, marks that survive; see
       :class:`_CodePoints`) go through Polars' ``to_lowercase``, ``normalize("NFD")`` and
       ``\\p{Mn}`` removal, exactly as in ``normalize_expr``;
    2. ASCII bytes go through a 256-entry table (letters lowercased, digits kept, the rest a
       space) and every non-ASCII character is replaced by its own normalised form, looked
       up per code point (``é`` -> ``e``, ``’`` -> space, ``Ж`` -> ``ж``), over its own
       bytes;
    3. runs of spaces keep their first byte only, leading and trailing spaces of each
       document and the bytes freed in 2 are dropped (:func:`_collapse_spaces`).

    Equal to ``normalize_expr`` on every input (tested on webmix and on random Unicode).
    """
    series = _as_series(texts).fill_null("")
    offsets, buf = _arrow_text(series)
    lead, length, cp = _utf8_chars(buf)
    contextual = lead[(_CODE_POINTS.flags[cp] & _CodePoints.CONTEXT) != 0]
    spaces_only = np.zeros(len(lead), dtype=bool)
    if len(contextual):
        docs = np.unique(np.searchsorted(offsets, contextual, side="right") - 1)
        part = (
            series.gather(docs)
            .str.to_lowercase()
            .str.normalize("NFD")
            .str.replace_all(r"\p{Mn}+", "")
        )
        offsets, buf = _arrow_text(series.scatter(docs, part))
        lead, length, cp = _utf8_chars(buf)
        # Their characters are now lowercase, decomposed and without Mn: only the non-word ->
        # space step remains for them, whatever their replacement alone would be.
        in_docs = np.zeros(len(offsets) - 1, dtype=bool)
        in_docs[docs] = True
        spaces_only = in_docs[np.searchsorted(offsets, lead, side="right") - 1]
    x = np.take(_ASCII_MAP, buf)
    deleted = _replace_chars(x, lead, length, cp, spaces_only)
    return _collapse_spaces(offsets, x, deleted)


def _collapse_spaces(
    offsets: np.ndarray, x: np.ndarray, deleted: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Keep, of every run of spaces (32), its first byte; drop spaces at either end of a
    document, and the ``deleted`` positions (which count as word bytes for the rule).

    One boolean pass marks what stays (a word byte, or a space right after a word byte of the
    same document); the dropped positions (few: spaces that follow a space) give the new
    offsets; the single space kept at the end of a document whose text ends in spaces is found
    from the run of dropped positions that reaches its end.
    """
    word = x != 32
    keep = word.copy()
    keep[1:] |= word[:-1]
    lengths = np.diff(offsets)
    starts = offsets[:-1][lengths > 0]
    keep[starts] = word[starts]
    if deleted is not None and len(deleted):
        keep[deleted] = False
    dropped = np.flatnonzero(~keep)
    last = offsets[1:][lengths > 0] - 1
    tail = last[~word[last]]  # documents whose text ends in a space
    new_offsets = offsets - np.searchsorted(dropped, offsets)
    if len(tail):
        doc_start = offsets[np.searchsorted(offsets, tail, side="right") - 1]
        k = np.searchsorted(dropped, tail)
        in_run = k < len(dropped)
        in_run[in_run] = dropped[k[in_run]] == tail[in_run]
        # first position of the run of consecutive dropped positions that ends at the tail
        run_first = np.flatnonzero(np.diff(dropped, prepend=-2) != 1)
        first = np.searchsorted(run_first, k[in_run], side="right") - 1
        kept_space = tail.copy()
        kept_space[in_run] = dropped[run_first[first]] - 1
        kept_space = kept_space[kept_space >= doc_start]  # else only spaces: nothing kept
        keep[kept_space] = False
        new_offsets -= np.searchsorted(kept_space, offsets)
    return new_offsets, x[keep]


def normalize(texts: TextInput) -> pl.Series:
    """Normalise a batch of texts (see the module docstring for the exact definition).

    Equal to ``normalize_expr`` applied to the batch, computed as in
    :func:`_normalized_buffers` (byte-level numpy; Polars' Unicode operations only on the few
    documents that need them).
    """
    return _arrow_series(*_normalized_buffers(texts))


def _arrow_series(offsets: np.ndarray, buf: np.ndarray) -> pl.Series:
    """A Polars String series over (int64 offsets from 0, UTF-8 bytes)."""
    array = pa.LargeStringArray.from_buffers(
        len(offsets) - 1, pa.py_buffer(offsets), pa.py_buffer(buf)
    )
    series = pl.from_arrow(array)
    assert isinstance(series, pl.Series)
    return series.rename("text")


def normalize_text(text: str) -> str:
    """Pure-Python reference of :func:`normalize` for one text (slow; tests and benchmarks).

    Equal to :func:`normalize` wherever Python's ``str.lower``/``unicodedata`` and Rust's agree
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


# --------------------------------------------------------------------------------------------
# Hash functions (scalar references, usable as datasketch's ``hashfunc``)
# --------------------------------------------------------------------------------------------


def _fmix64_int(h: int) -> int:
    s1, m1, s2, m2, s3 = _FMIX64
    h ^= h >> s1
    h = (h * m1) & _M64
    h ^= h >> s2
    h = (h * m2) & _M64
    return h ^ (h >> s3)


def fast_hash64(data: bytes) -> int:
    """The ``"fast"`` shingle hash (64-bit), scalar reference: ``fmix64(sum((b_j+1)*K^(L-1-j)))``.

    Give it (or :func:`fast_hash32`) to ``datasketch.MinHash(hashfunc=...)`` to reproduce our
    signatures; bytes or str (encoded as UTF-8).
    """
    if isinstance(data, str):
        data = data.encode("utf-8")
    h = 0
    for byte in data:
        h = (h * FAST_K + byte + 1) & _M64
    return _fmix64_int(h)


def fast_hash32(data: bytes) -> int:
    """The ``"fast"`` shingle hash (32-bit): the low 32 bits of :func:`fast_hash64`."""
    return fast_hash64(data) & MAX_HASH32


def sha1_hash32(data: bytes) -> int:
    """datasketch's default ``sha1_hash32``: first 4 bytes of SHA-1, little-endian."""
    return int.from_bytes(hashlib.sha1(data).digest()[:4], "little")


def sha1_hash64(data: bytes) -> int:
    """datasketch's ``sha1_hash64``: first 8 bytes of SHA-1, little-endian."""
    return int.from_bytes(hashlib.sha1(data).digest()[:8], "little")


def hash_bits(scheme: Scheme) -> int:
    """Width of the shingle hashes a scheme takes: 64 for ``affine64``, else 32."""
    _check_scheme(scheme)
    return 64 if scheme == "affine64" else 32


def hash_function(hash: Hash = "fast", bits: int = 32) -> Callable[[bytes], int]:
    """The scalar function equal to our vectorised shingle hash (datasketch's ``hashfunc``)."""
    _check_hash(hash)
    _check_bits(bits)
    if hash == "sha1":
        return sha1_hash64 if bits == 64 else sha1_hash32
    return fast_hash64 if bits == 64 else fast_hash32


def _check_hash(hash: str) -> None:
    if hash not in HASHES:
        raise ValueError(f"hash must be one of {', '.join(HASHES)}, got {hash!r}")


def _check_scheme(scheme: str) -> None:
    if scheme not in SCHEMES:
        raise ValueError(f"scheme must be one of {', '.join(SCHEMES)}, got {scheme!r}")


def _check_bits(bits: int) -> None:
    if bits not in (32, 64):
        raise ValueError(f"bits must be 32 or 64, got {bits!r}")


# --------------------------------------------------------------------------------------------
# Vectorised shingling and hashing
# --------------------------------------------------------------------------------------------


def _fmix64(h: np.ndarray) -> np.ndarray:
    """MurmurHash3 fmix64 on a uint64 array (a copy; multiplications wrap)."""
    s1, m1, s2, m2, s3 = (np.uint64(c) for c in _FMIX64)
    h = h ^ (h >> s1)
    h *= m1
    h ^= h >> s2
    h *= m2
    h ^= h >> s3
    return h


def _fmix(h: np.ndarray, width: int) -> np.ndarray:
    """datasketch's ``_fmix`` (MurmurHash3 finaliser) for uint32/uint64 arrays."""
    if width == 64:
        return _fmix64(h)
    s1, m1, s2, m2, s3 = (np.uint32(c) for c in _FMIX32)
    h = h ^ (h >> s1)
    h *= m1
    h ^= h >> s2
    h *= m2
    h ^= h >> s3
    return h


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
    """:func:`fast_hash64` of every byte range ``buf[starts[i]:ends[i]]`` (uint64).

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
        out[i:j] = _fmix64(h)
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

    Groups by :func:`fast_hash64`, then compares the bytes of every member with its group's
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
    mask = np.where(tail >= 8, np.uint64(_M64), (np.uint64(1) << shift) - np.uint64(1))
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


def _arrow_text(series: pl.Series) -> tuple[np.ndarray, np.ndarray]:
    """(offsets int64 starting at 0, UTF-8 bytes uint8) of a String series, without copies."""
    try:
        arr = series.to_arrow(compat_level=pl.CompatLevel.oldest())
    except (AttributeError, TypeError):
        arr = series.to_arrow()
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if arr.type != pa.large_string():
        arr = arr.cast(pa.large_string())
    _, off_buf, data_buf = arr.buffers()
    if off_buf is None or len(arr) == 0:
        return np.zeros(len(arr) + 1, dtype=np.int64), np.empty(0, dtype=np.uint8)
    offsets = np.frombuffer(off_buf, dtype=np.int64)[arr.offset : arr.offset + len(arr) + 1]
    lo, hi = int(offsets[0]), int(offsets[-1])
    if data_buf is None or hi == lo:
        return offsets - lo, np.empty(0, dtype=np.uint8)
    return offsets - lo, np.frombuffer(data_buf, dtype=np.uint8)[lo:hi]


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
        ~2^-64 (the polynomial of :func:`fast_hash64` over the hash values + 1, then
        ``fmix64``; empty documents get ``fmix64(0) = 0``). Verification uses it to skip
        loading the shingles of identical documents (see ``minhash_dedup``).
        """
        offsets = np.asarray(self.offsets, dtype=np.int64)
        return _fast_hash_ranges(np.asarray(self.hashes), offsets[:-1], offsets[1:])


def shingle_hashes(
    texts: TextInput, *, ngram: int = 5, hash: Hash = "fast", bits: int = 32
) -> ShingleHashes:
    """Normalise, shingle and hash a batch; ``bits=64`` for the ``affine64`` scheme.

    Hash ``i`` equals ``hash_function(hash, bits)(shingle.encode("utf-8"))`` for the shingles of
    :func:`shingles`, in the same order.
    """
    _check_hash(hash)
    _check_bits(bits)
    if ngram < 1:
        raise ValueError("ngram must be >= 1")
    offsets, buf = _normalized_buffers(texts)
    starts, ends, doc_offsets = _shingle_ranges(offsets, buf, ngram)
    if hash == "sha1":
        hashes = _sha1_unique_ranges(buf, buf.tobytes(), starts, ends, bits)
    else:
        hashes = _fast_hash_ranges(buf, starts, ends)
        if bits == 32:
            hashes = hashes.astype(np.uint32)  # low 32 bits
    return ShingleHashes(hashes, doc_offsets)


# --------------------------------------------------------------------------------------------
# Signatures
# --------------------------------------------------------------------------------------------


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
    _check_scheme(scheme)
    if num_perm < 1:
        raise ValueError("num_perm must be positive")
    return _permutations(int(num_perm), int(seed), scheme)


def _signature_dtype(scheme: str) -> type[np.unsignedinteger]:
    return np.uint32 if scheme == "affine32" else np.uint64


def _empty_value(scheme: str) -> int:
    return _M64 if scheme == "affine64" else MAX_HASH32


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
        hv = _fmix(hashes, 64)
    elif scheme == "affine32":
        hv = _fmix(hashes.astype(np.uint32), 32)  # 64-bit hashes: their low 32 bits
    else:
        hv = hashes.astype(np.uint32).astype(np.uint64)

    counts = np.diff(offsets)
    docs = np.flatnonzero(counts > 0)
    doc_starts = offsets[docs]
    chunk = max(1, min(total, _CHUNK_ELEMENTS // num_perm))
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
    hashfunc=hash_function(hash, hash_bits(scheme)))`` updated with
    ``[s.encode() for s in shingles(texts[i], ngram)]``.
    """
    _check_scheme(scheme)
    sh = shingle_hashes(texts, ngram=ngram, hash=hash, bits=hash_bits(scheme))
    return signatures_from_hashes(sh, num_perm=num_perm, seed=seed, scheme=scheme)


# --------------------------------------------------------------------------------------------
# LSH
# --------------------------------------------------------------------------------------------


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
    step = max(1, _CHUNK_ELEMENTS // (bands * rows))  # documents per block (cache-sized)
    for d0 in range(0, len(sig), step):
        block = sig[d0 : d0 + step]
        key = np.full((len(block), bands), np.uint64(rows), dtype=np.uint64)
        for j in range(rows):  # polynomial of the band's values mod 2^64, then fmix64
            key *= k
            key += block[:, j : bands * rows : rows]  # value j of every band
        out[d0 : d0 + step] = _fmix64(key)
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


# --------------------------------------------------------------------------------------------
# Verification and clustering
# --------------------------------------------------------------------------------------------


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


def _edge_arrays(edges: object) -> tuple[np.ndarray, np.ndarray]:
    if isinstance(edges, pl.DataFrame | pl.LazyFrame):
        frame = edges.lazy().collect() if isinstance(edges, pl.LazyFrame) else edges
        cols = ("a", "b") if {"a", "b"} <= set(frame.columns) else frame.columns[:2]
        return (
            frame[cols[0]].to_numpy().astype(np.int64),
            frame[cols[1]].to_numpy().astype(np.int64),
        )
    if isinstance(edges, tuple) and len(edges) == 2:
        return np.asarray(edges[0], dtype=np.int64), np.asarray(edges[1], dtype=np.int64)
    arr = np.asarray(edges, dtype=np.int64)
    if arr.size == 0:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise ValueError("edges must be (m, 2), a pair of arrays, or a frame with a, b")
    return arr[:, 0], arr[:, 1]


def union_find(n: int, edges: object) -> np.ndarray:
    """Connected components of ``n`` nodes: the root of each node is its component's smallest
    index (int64 array of length ``n``).

    ``edges``: an (m, 2) array, a pair of index arrays, or a frame with columns ``a, b``.
    Vectorised min-label propagation: hook the larger label of each edge onto the smaller
    (``np.minimum.at``), then pointer jumping, until every edge joins equal labels.
    """
    labels = np.arange(n, dtype=np.int64)
    a, b = _edge_arrays(edges)
    if len(a) != len(b):
        raise ValueError("edge arrays must have the same length")
    if len(a) == 0:
        return labels
    if min(int(a.min()), int(b.min())) < 0 or max(int(a.max()), int(b.max())) >= n:
        raise ValueError(f"edge endpoints must be in [0, {n})")
    keep = a != b
    a, b = a[keep], b[keep]
    while len(a):
        la, lb = labels[a], labels[b]
        differ = la != lb
        if not differ.any():
            break
        a, b, la, lb = a[differ], b[differ], la[differ], lb[differ]
        low = np.minimum(la, lb)
        np.minimum.at(labels, np.maximum(la, lb), low)  # hook roots: label <- smaller label
        while True:  # pointer jumping until every label is a root
            jumped = labels[labels]
            if np.array_equal(jumped, labels):
                break
            labels = jumped
    return labels
