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
byte level with the same result (:func:`normalization.normalized_buffers`), in this order:

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
description does not). :func:`reference.normalize_text` is a pure-Python statement of the
same definition (slow; used as the reference in tests and by the datasketch side of the
benchmark).

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

``"fast"`` (default): :func:`reference.fast_hash64`, a polynomial hash of the UTF-8 bytes mod
2^64, ``h = sum((byte_j + 1) * K**(L-1-j))`` with ``K = 0x9E3779B97F4A7C15``, finalised with
the MurmurHash3 64-bit finaliser (``fmix64``, a bijection); :func:`reference.fast_hash32` keeps
its low 32 bits. It is fully vectorised over the normalised text with prefix sums (``K`` is
odd, hence invertible mod 2^64, so the hash of every byte range comes from one cumulative sum),
so no shingle string is ever built. Its definition is this integer arithmetic, so it does not change
with numpy, Polars or xxhash versions (Polars' ``Series.hash`` does, which is why it is not
used; xxh3 would need one Python call per shingle). Give ``fast_hash32`` as ``hashfunc`` to
datasketch and its signatures equal ours bit for bit.

Signatures and permutation schemes (``scheme=``)
------------------------------------------------
``signatures(texts, num_perm=P, seed=S, hash=H, scheme=X)[i]`` equals ``datasketch.MinHash(
num_perm=P, seed=S, hashfunc=F, scheme=X)`` fed document ``i``'s shingles as UTF-8 bytes
(``update``/``update_batch``/``bulk``), where ``F`` is ``reference.hash_function(H, bits)``. The
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
:func:`normalization.normalized_buffers`). On webmix (79 MB, 18,701 documents, 12.5 M shingles) the
``hash="fast"`` signatures take about 2 s on one shared core: normalisation ~0.75 s (byte
passes: the ASCII table, code-point lookup, space collapse), word/shingle ranges ~0.3 s, the
fast hash ~0.3 s (prefix sums in 64 KB windows that stay in cache), permutations ~0.6 s
(``num_perm`` x shingles uint32 multiply-add + ``minimum.reduceat`` in a reused 4 MB
buffer). Memory per call is a few times the normalised text of the batch (word and shingle
index arrays) plus the 4 MB work buffer; between calls the permutations, two power tables
and the per-code-point tables (~6 MB) stay cached. Measured with
``benchmarks/minhash_signatures.py``.

Modules
-------
:mod:`~corpusclean.minhash.normalization` (the normalisation), :mod:`~.shingling` (shingle byte
ranges and their hashes, :class:`ShingleHashes`), :mod:`~.sketches` (permutations and
signatures), :mod:`~.bands` (LSH bands, band keys, candidate pairs), :mod:`~.verify` (exact
Jaccard of candidate pairs), :mod:`~.clusters` (connected components), and
:mod:`~.reference` (pure-Python statements of the definitions, for tests and benchmarks
only; not exported here). The finalisers are :mod:`corpusclean.hashing`'s.
"""

from corpusclean.minhash.bands import (
    band_candidate_pairs,
    band_frame,
    band_keys,
    candidate_pairs,
    collision_probability,
    optimal_bands,
)
from corpusclean.minhash.clusters import union_find
from corpusclean.minhash.normalization import TextInput, normalize, normalize_expr
from corpusclean.minhash.shingling import (
    FAST_K,
    HASHES,
    MAX_HASH32,
    Hash,
    ShingleHashes,
    shingle_hashes,
)
from corpusclean.minhash.sketches import (
    MERSENNE_PRIME,
    SCHEMES,
    Scheme,
    hash_bits,
    permutations,
    signatures,
    signatures_from_hashes,
)
from corpusclean.minhash.verify import pair_jaccard

__all__ = [
    "FAST_K",
    "HASHES",
    "MAX_HASH32",
    "MERSENNE_PRIME",
    "SCHEMES",
    "Hash",
    "Scheme",
    "ShingleHashes",
    "TextInput",
    "band_candidate_pairs",
    "band_frame",
    "band_keys",
    "candidate_pairs",
    "collision_probability",
    "hash_bits",
    "normalize",
    "normalize_expr",
    "optimal_bands",
    "pair_jaccard",
    "permutations",
    "shingle_hashes",
    "signatures",
    "signatures_from_hashes",
    "union_find",
]
