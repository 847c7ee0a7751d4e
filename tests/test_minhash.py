"""corpusclean.minhash: normalisation, shingles, datasketch-identical signatures, LSH, clusters."""

from __future__ import annotations

import functools
import gzip
import inspect
import json

import numpy as np
import polars as pl
import pyarrow as pa
import pytest

from corpusclean import minhash as mh
from corpusclean.hashing import fmix64_scalar
from corpusclean.minhash import normalization, reference, shingling, sketches
from corpusclean.sample import generate_sample

datasketch = pytest.importorskip("datasketch")
HAS_SCHEMES = "scheme" in inspect.signature(datasketch.MinHash.__init__).parameters

EDGE_TEXTS = [
    "",
    None,
    "   \t\n ",
    "...!!! ??? --- ***",
    "Hello, World!",
    "one two three four",
    "one two three four five",
    "Crème Brûlée at the Café; naïve Gödel.",
    "The quick brown fox jumps over the lazy dog. The quick brown fox jumps again!",
    "tab\tseparated\u00a0nbsp\u2003em\u3000ideographic\u2028line\u2029para\r\nend",
    "zero\u200bwidth soft\u00adhyphen bom\ufeffhere",
    "ΟΔΟΣ Σίσυφος İstanbul ﬁne",
    "東京は日本の首都です。 北京是中国的首都。",
    "हिन्दी भाषा 123 ٤٥٦ x²",
    "emoji 😀 🎉 party 🎉 time 2024-01-02 $5.00 100%",
]


@functools.cache
def sample_texts() -> tuple[str, ...]:
    return tuple(r["text"] for r in generate_sample(200))


@functools.cache
def memo(hashfunc):
    """The reference scalar hash, memoised (the pure-Python fast hash is slow)."""
    return functools.lru_cache(maxsize=None)(hashfunc)


def datasketch_signatures(texts, *, num_perm, seed, hash, scheme, ngram=5) -> np.ndarray:
    """datasketch's MinHash of our reference shingles; ``sha1`` is datasketch's own default."""
    hashfunc = None if hash == "sha1" else memo(reference.hash_function(hash, mh.hash_bits(scheme)))
    kwargs = {"scheme": scheme} if HAS_SCHEMES else {}
    rows = []
    for text in texts:
        m = datasketch.MinHash(num_perm=num_perm, seed=seed, hashfunc=hashfunc, **kwargs)
        m.update_batch([s.encode("utf-8") for s in reference.shingles(text or "", ngram)])
        rows.append(m.hashvalues)
    return np.stack(rows)


def schemes() -> list[str]:
    return ["affine32", "legacy"] if HAS_SCHEMES else ["legacy"]


# ------------------------------------------------------------------------------ normalisation


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", ""),
        (None, ""),
        ("   \t\n ", ""),
        ("...!!! ??? --- ***", ""),
        ("Hello, World!", "hello world"),
        ("Crème Brûlée at the Café; naïve Gödel.", "creme brulee at the cafe naive godel"),
        ("it's a well-known e-mail", "it s a well known e mail"),
        ("a\u00a0b\u2003c\u3000d\te\nf\u2028g\u2029h\r\ni\x0bj\x85k", "a b c d e f g h i j k"),
        ("zero\u200bwidth soft\u00adhyphen bom\ufeffhere", "zero width soft hyphen bom here"),
        ("ΟΔΟΣ İstanbul", "οδος istanbul"),
        # NFD splits で into て + U+3099 (Mn), which goes, as in datatrove
        ("東京は日本の首都です。", "東京は日本の首都てす"),
        ("x² 3½ $5.00 100%", "x² 3½ 5 00 100"),
        ("emoji 😀🎉party", "emoji party"),
        ("  leading and trailing  ", "leading and trailing"),
    ],
)
def test_normalize_edge_cases(text, expected):
    assert mh.normalize([text]).to_list() == [expected]
    assert reference.normalize_text(text or "") == expected


def test_normalize_keeps_spacing_marks_drops_nonspacing():
    # Devanagari: the virama (U+094D, Mn) goes, the vowel sign i (U+093F, Mc) stays.
    assert mh.normalize(["हिन्दी"]).to_list() == ["हिनदी"]


def test_normalize_matches_reference_and_expression():
    texts = list(sample_texts()) + EDGE_TEXTS
    got = mh.normalize(texts)
    assert got.to_list() == [reference.normalize_text(t or "") for t in texts]
    frame = pl.DataFrame({"text": texts}, schema={"text": pl.String})
    assert frame.select(mh.normalize_expr("text")).to_series().to_list() == got.to_list()
    # single spaces between words, none at either end
    assert not got.str.contains("  |^ | $").any()


def _expression_normalize(texts) -> list[str]:
    frame = pl.DataFrame({"text": list(texts)}, schema={"text": pl.String})
    return frame.select(mh.normalize_expr("text")).to_series().to_list()


# Characters that exercise every branch of the byte-level normalisation: ASCII of every class,
# precomposed accents (replaced over their own bytes), non-word characters of 2-4 bytes
# (spaces), lone non-spacing marks and variation selectors (empty replacement: Polars path),
# final sigma (context), a lowercase that grows (U+023A -> U+2C65), spacing marks that stay,
# combining marks out of canonical order, CJK, Cyrillic, Hangul (NFD to jamo), emoji.
TRICKY = (
    list("aZ09 _-.,!\t\n\r")
    + list("ÉéÀçÑñÖöÅåßẞÆøŁłĳİıﬁ")
    + list("\u2019\u201c\u2014\u2026\u00a0\u3000\u200b\u00ad\ufeff\u2028")
    + list("\u0301\u0308\u0327\ufe0f\u093f\u094d\u0e31")
    + list("ΣσςΑΩΟΔ\u023a\u2c65\u1e9e")
    + list("東京日本語ЖжЯяЁё한국어\uac00")
    + ["😀", "🎉", "𝒜", "\U0001d15e"]
)


CONTEXTUAL = set("\u0301\u0308\u0327\ufe0f\u093f\u094d\u0e31Σ\u023a\U0001d15e")


@pytest.mark.parametrize("seed", range(8))
def test_normalize_equals_expression_on_random_unicode(seed):
    """The byte-level fast path (ASCII table, per-code-point replacements over the bytes,
    space runs collapsed) equals Polars' own expression, whatever the mix of characters.
    Odd seeds avoid contextual characters, so that most documents take the fast path."""
    import random

    rng = random.Random(seed)
    chars = [c for c in TRICKY if not (seed % 2 and c in CONTEXTUAL)]
    pool = [c for c in range(0x80, 0x30000) if not 0xD800 <= c < 0xE000]
    texts = []
    for _ in range(400):
        n = rng.randrange(0, 30)
        texts.append(
            "".join(
                rng.choice(chars) if rng.random() < 0.97 else chr(rng.choice(pool))
                for _ in range(n)
            )
        )
    texts += ["a  ", "   ", "  b", "", " ", "x", "é ", "é  ", " \u0301 ", "a\u2019 b", "ab\u0301c"]
    assert mh.normalize(texts).to_list() == _expression_normalize(texts)


def test_normalize_fast_path_classes():
    """Common characters are replaced over their bytes; only contextual ones need Polars."""
    mh.normalize(["É é ’ ж Ж 東 Σ \u0301 \u023a"])
    flags = normalization._CODE_POINTS.flags
    cls = normalization._CodePoints
    for ch in "Éé":
        assert flags[ord(ch)] & cls.CHANGED and not flags[ord(ch)] & cls.CONTEXT
    assert flags[ord("’")] & cls.SPACE and not flags[ord("’")] & cls.CONTEXT
    assert flags[ord("Ж")] & cls.CHANGED and not flags[ord("ж")] & cls.CHANGED
    assert not flags[ord("東")] & (cls.CHANGED | cls.CONTEXT)
    for ch in "Σ\u0301\u023a":  # final sigma; empty replacement; replacement longer
        assert flags[ord(ch)] & cls.CONTEXT


def test_normalize_equals_expression_on_webmix(shared_data):
    for path in sorted((shared_data / "webmix").glob("part-*.jsonl.gz"))[:3]:
        with gzip.open(path, "rt", encoding="utf-8") as f:
            texts = [json.loads(line)["text"] for line in f]
        for i in range(0, len(texts), 1000):
            batch = texts[i : i + 1000]
            assert mh.normalize(batch).to_list() == _expression_normalize(batch), (path, i)


def test_input_types_agree():
    texts = ["Hello there, general Kenobi you are a bold one", None, "short one"]
    expected = mh.signatures(texts, num_perm=32)
    assert np.array_equal(mh.signatures(pl.Series(texts), num_perm=32), expected)
    assert np.array_equal(mh.signatures(pa.array(texts), num_perm=32), expected)
    assert np.array_equal(mh.signatures(tuple(texts), num_perm=32), expected)
    assert mh.signatures([], num_perm=32).shape == (0, 32)


# ------------------------------------------------------------------------------ shingles


def test_shingles_reference():
    assert reference.shingles("") == []
    assert reference.shingles("!!!") == []
    assert reference.shingles("One, two.") == ["one two"]  # fewer words than ngram: one shingle
    assert reference.shingles("a b c d e") == ["a b c d e"]
    assert reference.shingles("a b c d e f") == ["a b c d e", "b c d e f"]
    assert reference.shingles("a b c", 1) == ["a", "b", "c"]
    with pytest.raises(ValueError):
        reference.shingles("a", 0)


@pytest.mark.parametrize("hash", ["fast", "sha1"])
@pytest.mark.parametrize("bits", [32, 64])
@pytest.mark.parametrize("ngram", [1, 3, 5])
def test_shingle_hashes_equal_scalar_hash(hash, bits, ngram):
    texts = EDGE_TEXTS + list(sample_texts()[:20])
    sh = mh.shingle_hashes(texts, ngram=ngram, hash=hash, bits=bits)
    func = memo(reference.hash_function(hash, bits))
    assert sh.hashes.dtype == (np.uint64 if bits == 64 else np.uint32)
    assert len(sh) == len(texts)
    for i, text in enumerate(texts):
        expected = [func(s.encode("utf-8")) for s in reference.shingles(text or "", ngram)]
        assert sh.doc(i).tolist() == expected, text
    assert sh.counts[0] == 0 and sh.counts[1] == 0


def test_fast_hash_reference_values():
    # Pinned: the "fast" hash is part of the signature format; it must never change.
    assert reference.fast_hash64(b"") == fmix64_scalar(0)
    assert reference.fast_hash64("é") == reference.fast_hash64("é".encode())
    assert reference.fast_hash32(b"a b c d e") == reference.fast_hash64(b"a b c d e") & 0xFFFFFFFF
    h = 0
    for byte in b"hello world":
        h = (h * 0x9E3779B97F4A7C15 + byte + 1) % 2**64
    assert reference.fast_hash64(b"hello world") == fmix64_scalar(h)
    assert reference.fast_hash64(b"hello world") == 0x323D9C7E4AC137A9
    assert reference.fast_hash32(b"a b c d e") == 0xE121CF5C


def test_hash_windows_and_chunks(monkeypatch):
    """Results do not depend on the work sizes (windows, chunks split documents)."""
    texts = list(sample_texts()[:40]) + EDGE_TEXTS + ["x" * 300 + " two", "y" * 500]
    expected = {s: mh.signatures(texts, num_perm=64, scheme=s) for s in schemes()}
    hashes = mh.shingle_hashes(texts, bits=64)
    monkeypatch.setattr(shingling, "_HASH_WINDOW", 97)
    monkeypatch.setattr(sketches, "CHUNK_ELEMENTS", 64 * 37)
    assert np.array_equal(mh.shingle_hashes(texts, bits=64).hashes, hashes.hashes)
    for scheme, sig in expected.items():
        assert np.array_equal(mh.signatures(texts, num_perm=64, scheme=scheme), sig)


def test_sha1_hashes_each_distinct_shingle_once_exactly(monkeypatch):
    """Repeated shingles are hashed once; grouping by a colliding key never merges different
    shingles (bytes are compared), so the hashes stay exact."""
    texts = ["a b c d e f a b c d e f", "a b c d e x", "b c d e f a b"] + list(sample_texts()[:20])
    expected = mh.shingle_hashes(texts, hash="sha1")
    calls = []
    real = shingling._sha1_ranges
    monkeypatch.setattr(
        shingling, "_sha1_ranges", lambda d, s, e, b: calls.append(len(s)) or real(d, s, e, b)
    )
    again = mh.shingle_hashes(texts, hash="sha1")
    assert np.array_equal(again.hashes, expected.hashes)
    distinct = {s for t in texts for s in reference.shingles(t)}
    assert calls == [len(distinct)]

    # every key collides: only byte comparison tells shingles apart
    def colliding(buf: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
        return np.zeros(len(starts), np.uint64)

    monkeypatch.setattr(shingling, "_fast_hash_ranges", colliding)
    assert np.array_equal(mh.shingle_hashes(texts, hash="sha1").hashes, expected.hashes)


def test_bytes_differ_every_length_and_position():
    rng = np.random.default_rng(4)
    buf = rng.integers(97, 100, 4000, dtype=np.uint8)
    a, b, lengths = [], [], []
    for length in range(0, 25):
        for _ in range(20):
            i, j = rng.integers(0, 4000 - length, 2)
            a.append(i)
            b.append(j)
            lengths.append(length)
    a, b, lengths = np.array(a), np.array(b), np.array(lengths)
    got = shingling._bytes_differ(buf, a, b, lengths)
    expected = [
        bytes(buf[i : i + n]) != bytes(buf[j : j + n])
        for i, j, n in zip(a, b, lengths, strict=True)
    ]
    assert got.tolist() == expected
    assert any(expected) and not all(expected)


def test_documents_are_independent_of_their_batch():
    texts = list(sample_texts()[:30])
    whole = mh.signatures(texts, num_perm=64)
    parts = np.concatenate([mh.signatures(texts[i : i + 7], num_perm=64) for i in range(0, 30, 7)])
    assert np.array_equal(whole, parts)


# ------------------------------------------------------------------------------ signatures


@pytest.mark.parametrize("scheme", schemes())
@pytest.mark.parametrize("hash", ["fast", "sha1"])
@pytest.mark.parametrize("seed", [1, 42])
@pytest.mark.parametrize("num_perm", [64, 128])
def test_signatures_bit_identical_to_datasketch(scheme, hash, seed, num_perm):
    texts = list(sample_texts()) + EDGE_TEXTS
    ours = mh.signatures(texts, num_perm=num_perm, seed=seed, hash=hash, scheme=scheme)
    ref = datasketch_signatures(texts, num_perm=num_perm, seed=seed, hash=hash, scheme=scheme)
    assert ours.dtype == ref.dtype
    assert ours.shape == (len(texts), num_perm)
    assert np.array_equal(ours, ref)


@pytest.mark.parametrize("hash", ["fast", "sha1"])
@pytest.mark.parametrize("scheme", ["affine32", "legacy"])
def test_32_bit_schemes_take_64_bit_hashes(hash, scheme):
    texts = list(sample_texts()[:30]) + EDGE_TEXTS
    sh64 = mh.shingle_hashes(texts, hash=hash, bits=64)
    sh32 = mh.shingle_hashes(texts, hash=hash, bits=32)
    assert np.array_equal(sh64.hashes & 0xFFFFFFFF, sh32.hashes)
    expected = mh.signatures(texts, num_perm=64, hash=hash, scheme=scheme)
    assert np.array_equal(mh.signatures_from_hashes(sh64, num_perm=64, scheme=scheme), expected)


@pytest.mark.skipif(not HAS_SCHEMES, reason="datasketch < 2.0 has no affine64 scheme")
@pytest.mark.parametrize("hash", ["fast", "sha1"])
def test_affine64_bit_identical_to_datasketch(hash):
    texts = list(sample_texts()[:60]) + EDGE_TEXTS
    ours = mh.signatures(texts, num_perm=64, seed=3, hash=hash, scheme="affine64")
    ref = datasketch_signatures(texts, num_perm=64, seed=3, hash=hash, scheme="affine64")
    assert ours.dtype == np.uint64 and np.array_equal(ours, ref)


@pytest.mark.parametrize("scheme", mh.SCHEMES)
def test_permutations_equal_datasketch(scheme):
    if not HAS_SCHEMES and scheme != "legacy":
        pytest.skip("datasketch < 2.0")
    kwargs = {"scheme": scheme} if HAS_SCHEMES else {}
    for seed in (1, 7):
        a, b = mh.permutations(100, seed, scheme)
        ref = datasketch.MinHash(num_perm=100, seed=seed, **kwargs).permutations
        assert np.array_equal(a, ref[0]) and np.array_equal(b, ref[1])
        assert a.dtype == np.asarray(ref[0]).dtype


def test_empty_document_has_the_empty_signature():
    scheme = schemes()[0]
    sig = mh.signatures(["", "!!!", "words here"], num_perm=16, scheme=scheme)
    empty = datasketch.MinHash(num_perm=16).hashvalues  # the installed version's default scheme
    assert np.array_equal(sig[0], empty) and np.array_equal(sig[1], empty)
    assert (sig[0] == 2**32 - 1).all()
    assert not np.array_equal(sig[2], empty)
    legacy = mh.signatures([""], num_perm=16, scheme="legacy")
    assert legacy.dtype == np.uint64 and (legacy == 2**32 - 1).all()


def test_webmix_bit_identical(shared_data):
    path = shared_data / "webmix" / "part-0000.jsonl.gz"
    with gzip.open(path, "rt", encoding="utf-8") as f:
        texts = [json.loads(line)["text"] for _, line in zip(range(150), f, strict=False)]
    assert mh.normalize(texts).to_list() == [reference.normalize_text(t) for t in texts]
    scheme = schemes()[0]
    for hash in ("fast", "sha1"):
        ours = mh.signatures(texts, num_perm=128, seed=1, hash=hash, scheme=scheme)
        ref = datasketch_signatures(texts, num_perm=128, seed=1, hash=hash, scheme=scheme)
        assert np.array_equal(ours, ref)
    legacy = mh.signatures(texts, num_perm=64, seed=5, hash="sha1", scheme="legacy")
    ref = datasketch_signatures(texts, num_perm=64, seed=5, hash="sha1", scheme="legacy")
    assert np.array_equal(legacy, ref)


def test_invalid_arguments():
    with pytest.raises(ValueError, match="hash"):
        mh.signatures(["a"], hash="md5")
    with pytest.raises(ValueError, match="scheme"):
        mh.signatures(["a"], scheme="affine16")
    with pytest.raises(ValueError, match="bits"):
        mh.shingle_hashes(["a"], bits=16)
    with pytest.raises(ValueError, match="ngram"):
        mh.shingle_hashes(["a"], ngram=0)
    with pytest.raises(ValueError, match="64-bit"):
        mh.signatures_from_hashes(
            np.array([7], dtype=np.uint32), np.array([0, 1]), scheme="affine64"
        )
    with pytest.raises(ValueError, match="exceeds"):
        mh.band_keys(np.zeros((2, 8), np.uint32), 3, 3)


# ------------------------------------------------------------------------------ LSH


@pytest.mark.parametrize("threshold", [0.5, 0.7, 0.8, 0.85, 0.9, 0.95])
@pytest.mark.parametrize("num_perm", [64, 128])
def test_optimal_bands_equal_datasketch(threshold, num_perm):
    lsh = datasketch.MinHashLSH(threshold=threshold, num_perm=num_perm)
    assert mh.optimal_bands(threshold, num_perm) == (lsh.b, lsh.r)


def test_optimal_bands_weights_equal_datasketch():
    lsh = datasketch.MinHashLSH(threshold=0.8, num_perm=128, weights=(0.2, 0.8))
    assert mh.optimal_bands(0.8, 128, 0.2, 0.8) == (lsh.b, lsh.r)


def _pair_with_jaccard(rng: np.random.Generator, common: int, own: int) -> mh.ShingleHashes:
    values = rng.choice(2**32, size=common + 2 * own, replace=False).astype(np.uint32)
    a = values[: common + own]
    b = np.concatenate([values[:common], values[common + own :]])
    return mh.ShingleHashes(np.concatenate([a, b]), np.array([0, len(a), len(a) + len(b)]))


def test_lsh_collisions_follow_the_s_curve():
    num_perm, threshold = 128, 0.8
    bands, rows = mh.optimal_bands(threshold, num_perm)
    rng = np.random.default_rng(0)
    trials = 300
    cases = {0.95: (950, 25), 0.9: (900, 50), 0.8: (800, 100), 0.7: (700, 150), 0.5: (500, 250)}
    for s, (common, own) in cases.items():
        pair = _pair_with_jaccard(rng, common, own)
        assert reference.jaccard(pair.doc(0), pair.doc(1)) == pytest.approx(s)
        hits = 0
        for seed in range(trials):
            keys = mh.band_keys(
                mh.signatures_from_hashes(pair, num_perm=num_perm, seed=seed), bands, rows
            )
            hits += bool((keys[0] == keys[1]).any())
        p = float(mh.collision_probability(s, bands, rows))
        sigma = np.sqrt(p * (1 - p) / trials)
        assert abs(hits / trials - p) <= 4 * sigma + 0.02, (s, hits / trials, p)
    # the brief's two pairs, on one seed: ~0.9 collides, ~0.5 does not
    near = _pair_with_jaccard(rng, 900, 50)
    far = _pair_with_jaccard(rng, 500, 250)
    near_keys = mh.band_keys(mh.signatures_from_hashes(near, num_perm=num_perm), bands, rows)
    far_keys = mh.band_keys(mh.signatures_from_hashes(far, num_perm=num_perm), bands, rows)
    assert (near_keys[0] == near_keys[1]).any()
    assert not (far_keys[0] == far_keys[1]).any()


def test_band_keys_compare_band_values():
    rng = np.random.default_rng(1)
    sig = rng.integers(0, 2**32, size=(4, 12), dtype=np.uint64).astype(np.uint32)
    sig[1, 4:8] = sig[0, 4:8]  # docs 0 and 1 share band 1 only
    sig[3] = sig[2]
    keys = mh.band_keys(sig, 3, 4)
    assert keys.shape == (4, 3) and keys.dtype == np.uint64
    assert (keys[0] == keys[1]).tolist() == [False, True, False]
    assert (keys[2] == keys[3]).all()
    assert len(np.unique(keys[:, 0])) == 3
    # columns past bands * rows are ignored
    sig2 = sig.copy()
    sig2[:, 9:] = 0
    assert np.array_equal(mh.band_keys(sig2, 3, 3), mh.band_keys(sig, 3, 3))


def test_candidate_pairs_link_to_bucket_minimum():
    frame = pl.DataFrame(
        {
            "doc_index": [10, 4, 7, 9, 4, 7, 3, 5],
            "band": [0, 0, 0, 0, 1, 1, 1, 1],
            "key": [1, 1, 1, 2, 5, 5, 6, 6],
        },
        schema={"doc_index": pl.Int64, "band": pl.UInt32, "key": pl.UInt64},
    )
    pairs = mh.candidate_pairs(frame)
    assert pairs.columns == ["a", "b"]
    assert pairs.rows() == [(3, 5), (4, 7), (4, 10)]  # (4, 7) twice -> once
    assert mh.candidate_pairs(frame.head(0)).height == 0


@pytest.mark.parametrize("scheme", schemes())
def test_lsh_clusters_equal_datasketch_minhashlsh(scheme):
    texts = list(sample_texts())
    num_perm, threshold = 128, 0.8
    sig = mh.signatures(texts, num_perm=num_perm, hash="sha1", scheme=scheme)
    bands, rows = mh.optimal_bands(threshold, num_perm)
    pairs = mh.candidate_pairs(mh.band_frame(mh.band_keys(sig, bands, rows)))
    ours = mh.union_find(len(texts), pairs)

    kwargs = {"scheme": scheme} if HAS_SCHEMES else {}
    lsh = datasketch.MinHashLSH(threshold=threshold, num_perm=num_perm)
    minhashes = [datasketch.MinHash(hashvalues=row, **kwargs) for row in sig]
    for i, m in enumerate(minhashes):
        lsh.insert(i, m)
    edges = [(i, j) for i, m in enumerate(minhashes) for j in lsh.query(m) if j > i]
    theirs = mh.union_find(len(texts), np.array(edges, dtype=np.int64).reshape(-1, 2))
    assert np.array_equal(ours, theirs)
    assert (ours != np.arange(len(texts))).sum() > 10  # the sample has planted duplicates


def test_band_frame_layout():
    keys = np.array([[1, 2], [3, 4], [5, 6]], dtype=np.uint64)
    frame = mh.band_frame(keys, doc_index=[100, 200, 300])
    assert frame.columns == ["doc_index", "band", "key"]
    assert frame.rows() == [
        (100, 0, 1),
        (100, 1, 2),
        (200, 0, 3),
        (200, 1, 4),
        (300, 0, 5),
        (300, 1, 6),
    ]


# ------------------------------------------------------------------------------ verification


def test_jaccard():
    assert reference.jaccard([1, 2, 3], [2, 3, 4]) == pytest.approx(0.5)
    assert reference.jaccard([1, 1, 2], [2, 1]) == 1.0
    assert reference.jaccard([], [1]) == 0.0
    assert reference.jaccard([], []) == 1.0


@pytest.mark.parametrize("bits", [32, 64])
def test_pair_jaccard_matches_sets(bits):
    texts = list(sample_texts()[:60]) + ["", "", "one two"]
    sh = mh.shingle_hashes(texts, bits=bits)
    rng = np.random.default_rng(2)
    a = rng.integers(0, len(texts), 200)
    b = rng.integers(0, len(texts), 200)
    a[:2], b[:2] = [60, 60], [61, 62]  # empty-empty, empty-nonempty
    a[2:5], b[2:5] = [3, 7, 7], [3, 8, 8]  # a document with itself; a repeated pair
    got = mh.pair_jaccard(sh, a, b)
    for k in range(len(a)):
        assert got[k] == reference.jaccard(sh.doc(a[k]), sh.doc(b[k])), k
    assert got[0] == 1.0 and got[1] == 0.0 and got[2] == 1.0
    # the result does not depend on how the pairs are cut into chunks
    assert np.array_equal(mh.pair_jaccard(sh, a, b, chunk_rows=50), got)
    assert np.array_equal(mh.pair_jaccard(sh, a, b, chunk_rows=1), got)
    assert mh.pair_jaccard(sh, [], []).shape == (0,)
    with pytest.raises(ValueError):
        mh.pair_jaccard(sh, [1], [1, 2])


def test_pair_jaccard_repeated_shingles_and_near_duplicates():
    base = " ".join(f"w{i}" for i in range(300))
    edited = base.replace("w150", "changed", 1) + " w1 w2 w3 w4 w5 w1 w2 w3 w4 w5"
    sh = mh.shingle_hashes([base, edited, base + " " + base])
    got = mh.pair_jaccard(sh, [0, 0, 1], [1, 2, 2])
    expected = [reference.jaccard(sh.doc(i), sh.doc(j)) for i, j in ((0, 1), (0, 2), (1, 2))]
    assert got.tolist() == expected
    assert 0.9 < got[0] < 1.0


# ------------------------------------------------------------------------------ union-find


def _reference_components(n: int, edges) -> list[int]:
    parent = list(range(n))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in edges:
        ra, rb = find(int(a)), find(int(b))
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    return [find(x) for x in range(n)]


@pytest.mark.parametrize(
    ("n", "edges", "expected"),
    [
        (4, [], [0, 1, 2, 3]),
        (5, [(3, 4), (2, 3), (1, 2), (0, 1)], [0, 0, 0, 0, 0]),  # chain, given backwards
        (6, [(5, 4), (4, 3), (2, 1)], [0, 1, 1, 3, 3, 3]),
        (6, [(3, 0), (3, 1), (3, 5), (3, 2)], [0, 0, 0, 0, 4, 0]),  # star around 3
        (4, [(0, 1), (1, 0), (0, 1), (2, 2), (1, 0)], [0, 0, 2, 3]),  # repeats, self-loop
        (5, [(4, 2), (2, 0), (4, 0), (3, 1)], [0, 1, 0, 1, 0]),  # already merged, cycles
    ],
)
def test_union_find_hand_made(n, edges, expected):
    assert mh.union_find(n, np.array(edges, dtype=np.int64).reshape(-1, 2)).tolist() == expected
    assert mh.union_find(n, pl.DataFrame(edges, schema=["a", "b"], orient="row")).tolist() == (
        expected
    )


def test_union_find_random_graphs_and_long_chain():
    rng = np.random.default_rng(3)
    for n, m in [(50, 30), (1000, 900), (2000, 4000)]:
        edges = rng.integers(0, n, size=(m, 2))
        assert mh.union_find(n, edges).tolist() == _reference_components(n, edges)
    n = 20000
    order = rng.permutation(n)
    chain = np.stack([order[:-1], order[1:]], axis=1)
    rng.shuffle(chain)
    assert (mh.union_find(n, chain) == 0).all()
    with pytest.raises(ValueError):
        mh.union_find(3, [(0, 3)])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_band_candidate_pairs_equal_polars_candidate_pairs(seed):
    """The numpy, band-at-a-time candidates equal the Polars group-by's on the same keys."""
    rng = np.random.default_rng(seed)
    n, bands = 3000, 9
    small = rng.integers(0, 40, (n, bands), dtype=np.uint64)  # buckets of ~75 documents
    unique = np.arange(1000, 1000 + n * bands, dtype=np.uint64).reshape(n, bands)
    keys = np.where(rng.random((n, bands)) < 0.9, unique, small)  # most keys in no bucket
    doc_index = np.sort(rng.choice(10 * n, n, replace=False)).astype(np.int64)
    expected = mh.candidate_pairs(mh.band_frame(keys, doc_index))
    a, b = mh.band_candidate_pairs(keys, doc_index)
    assert a.tolist() == expected["a"].to_list() and b.tolist() == expected["b"].to_list()
    assert len(a) > 0 and (a < b).all()
    texts = list(sample_texts())
    sig = mh.signatures(texts, num_perm=128)
    real = mh.band_keys(sig, 9, 13)
    a, b = mh.band_candidate_pairs(real)
    expected = mh.candidate_pairs(mh.band_frame(real))
    assert a.tolist() == expected["a"].to_list() and b.tolist() == expected["b"].to_list()
    with pytest.raises(ValueError, match="increasing"):
        mh.band_candidate_pairs(keys, doc_index[::-1])
    empty_a, empty_b = mh.band_candidate_pairs(np.arange(6, dtype=np.uint64).reshape(3, 2))
    assert len(empty_a) == len(empty_b) == 0


def test_band_candidate_pairs_of_engine_sized_doc_numbers():
    """The engine numbers documents batch << 20 | row: 10M documents in batches of 1,000 give
    numbers near 1e10, whose square overflows int64. Pairs must not depend on their size
    (a 10M-document run failed with an IndexError when pairs were encoded as a * max + b)."""
    rng = np.random.default_rng(3)
    n, bands = 2000, 4
    keys = np.where(
        rng.random((n, bands)) < 0.8,
        np.arange(n * bands, dtype=np.uint64).reshape(n, bands) + 100,
        rng.integers(0, 30, (n, bands), dtype=np.uint64),
    )
    small = np.arange(n, dtype=np.int64)
    huge = (np.arange(n, dtype=np.int64) + 10_000) << 20  # up to ~1.3e10
    a_small, b_small = mh.band_candidate_pairs(keys, small)
    a_huge, b_huge = mh.band_candidate_pairs(keys, huge)
    assert len(a_small) > 100
    assert a_huge.tolist() == huge[a_small].tolist()
    assert b_huge.tolist() == huge[b_small].tolist()
