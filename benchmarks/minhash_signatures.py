"""MinHash signatures + LSH: datasketch versus corpusclean.minhash, same documents, one run.

    python benchmarks/minhash_signatures.py [PATH|GLOB ...] [--limit N] [--batch-docs 1000]

Input: JSONL(.gz) files with a ``text`` field; default ``../shared/data/webmix/*.jsonl.gz``
when present, else the embedded sample (``generate_sample(5000)``).

Both sides get the same normalised text (corpusclean's Polars ``normalize``, timed on both
sides) and produce the same signatures (checked, bit for bit):

* datasketch: word n-grams in Python, ``MinHash.bulk`` (its ``update_batch`` path) with its
  default ``sha1_hash32``, and again with a C hash (xxh3_64 truncated to 32 bits, the fastest
  ``hashfunc`` a datasketch user can give); LSH: ``MinHashLSH.insert`` + ``query`` per document.
* corpusclean: ``signatures(hash="sha1")`` (bit-identical to datasketch's default) and
  ``signatures(hash="fast")`` in batches of ``--batch-docs`` (as the engine feeds them); LSH:
  ``band_keys`` + ``candidate_pairs`` + ``union_find``.

Single process, single thread on our side (Polars string ops on one chunk). Prints documents/s
and ratios; the LSH clusters of both sides are compared too.
"""

from __future__ import annotations

import argparse
import glob
import gzip
import json
import sys
import time
from pathlib import Path

import numpy as np
import polars as pl

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from corpusclean import minhash as mh  # noqa: E402

WEBMIX = ROOT.parent / "shared" / "data" / "webmix"


def load_texts(patterns: list[str], limit: int | None) -> tuple[list[str], str]:
    if not patterns and WEBMIX.is_dir():
        patterns = [str(WEBMIX / "*.jsonl.gz")]
    if not patterns:
        from corpusclean.sample import generate_sample

        texts = [r["text"] for r in generate_sample(limit or 5000)]
        return texts, f"embedded sample ({len(texts)} docs)"
    paths = sorted({p for pattern in patterns for p in glob.glob(pattern)})
    if not paths:
        raise SystemExit(f"no file matches {patterns}")
    texts: list[str] = []
    for path in paths:
        opener = gzip.open if path.endswith(".gz") else open
        with opener(path, "rt", encoding="utf-8") as f:
            for line in f:
                texts.append(json.loads(line).get("text") or "")
                if limit and len(texts) >= limit:
                    return texts, f"{len(paths)} file(s) {patterns}"
    return texts, f"{len(paths)} file(s) {patterns}"


def xxh3_hash32(data: bytes) -> int:
    import xxhash

    return xxhash.xxh3_64_intdigest(data) & 0xFFFFFFFF


def datasketch_signatures(
    batches: list[list[str]], num_perm: int, ngram: int, seed: int, hashfunc
) -> tuple[list, float]:
    from datasketch import MinHash

    start = time.perf_counter()
    out = []
    for batch in batches:
        normalized = mh.normalize(batch).to_list()
        sets = [
            [s.encode("utf-8") for s in mh.shingles(t, ngram, normalized=True)] for t in normalized
        ]
        out.extend(MinHash.bulk(sets, num_perm=num_perm, seed=seed, hashfunc=hashfunc))
    return out, time.perf_counter() - start


def datasketch_lsh(minhashes: list, threshold: float, num_perm: int) -> tuple[np.ndarray, float]:
    from datasketch import MinHashLSH

    start = time.perf_counter()
    lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
    for i, m in enumerate(minhashes):
        lsh.insert(i, m, check_duplication=False)
    a, b = [], []
    for i, m in enumerate(minhashes):
        for j in lsh.query(m):
            if j > i:
                a.append(i)
                b.append(j)
    roots = mh.union_find(len(minhashes), (np.array(a, np.int64), np.array(b, np.int64)))
    return roots, time.perf_counter() - start


def ours_signatures(
    batches: list[list[str]], num_perm: int, ngram: int, seed: int, hash: str
) -> tuple[np.ndarray, float]:
    series = [pl.Series("text", b, dtype=pl.String) for b in batches]
    mh.signatures(series[0][:50], num_perm=num_perm, ngram=ngram, seed=seed, hash=hash)  # warm
    start = time.perf_counter()
    sigs = [mh.signatures(s, num_perm=num_perm, ngram=ngram, seed=seed, hash=hash) for s in series]
    out = np.concatenate(sigs)
    return out, time.perf_counter() - start


def ours_lsh(sigs: np.ndarray, threshold: float, num_perm: int) -> tuple[np.ndarray, float, int]:
    start = time.perf_counter()
    bands, rows = mh.optimal_bands(threshold, num_perm)
    pairs = mh.candidate_pairs(mh.band_frame(mh.band_keys(sigs, bands, rows)))
    roots = mh.union_find(len(sigs), pairs)
    return roots, time.perf_counter() - start, pairs.height


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("inputs", nargs="*", help="JSONL(.gz) paths or globs")
    p.add_argument("--limit", type=int, default=None, help="at most N documents")
    p.add_argument("--batch-docs", type=int, default=1000)
    p.add_argument("--num-perm", type=int, default=128)
    p.add_argument("--ngram", type=int, default=5)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--threshold", type=float, default=0.8)
    args = p.parse_args(argv)

    import datasketch

    texts, what = load_texts(args.inputs, args.limit)
    n = len(texts)
    mb = sum(len(t.encode("utf-8")) for t in texts) / 1e6
    batches = [texts[i : i + args.batch_docs] for i in range(0, n, args.batch_docs)]
    bands, rows = mh.optimal_bands(args.threshold, args.num_perm)
    print(f"input: {what}: {n} docs, {mb:.1f} MB; datasketch {datasketch.__version__}")
    print(
        f"num_perm={args.num_perm} ngram={args.ngram} seed={args.seed} scheme=affine32 "
        f"threshold={args.threshold} -> bands={bands} rows={rows}; batches of {args.batch_docs}"
    )

    ds_sha1, t_ds_sha1 = datasketch_signatures(
        batches, args.num_perm, args.ngram, args.seed, mh.sha1_hash32
    )
    ds_roots, t_ds_lsh = datasketch_lsh(ds_sha1, args.threshold, args.num_perm)
    _, t_ds_xxh = datasketch_signatures(batches, args.num_perm, args.ngram, args.seed, xxh3_hash32)

    ours_sha1, t_sha1 = ours_signatures(batches, args.num_perm, args.ngram, args.seed, "sha1")
    ours_fast, t_fast = ours_signatures(batches, args.num_perm, args.ngram, args.seed, "fast")
    roots_sha1, t_lsh, n_pairs = ours_lsh(ours_sha1, args.threshold, args.num_perm)
    roots_fast, t_lsh_fast, _ = ours_lsh(ours_fast, args.threshold, args.num_perm)

    identical = np.array_equal(np.stack([m.hashvalues for m in ds_sha1]), ours_sha1)
    # fast mode against datasketch given the same hash as a Python function (slow: a sample)
    from datasketch import MinHash

    check = texts[: min(n, 200)]
    ref = [
        MinHash(num_perm=args.num_perm, seed=args.seed, hashfunc=mh.fast_hash32)
        for _ in range(len(check))
    ]
    for m, t in zip(ref, check, strict=True):
        m.update_batch([s.encode("utf-8") for s in mh.shingles(t, args.ngram)])
    identical_fast = np.array_equal(np.stack([m.hashvalues for m in ref]), ours_fast[: len(check)])

    def rate(seconds: float) -> str:
        return f"{n / seconds:10,.0f} docs/s ({seconds:6.2f} s)"

    base = t_ds_sha1
    base_lsh = t_ds_sha1 + t_ds_lsh
    print()
    print("signatures only")
    print(f"  datasketch bulk, sha1_hash32      {rate(t_ds_sha1)}   1.00x")
    print(f"  datasketch bulk, xxh3 (C) hash    {rate(t_ds_xxh)}   {base / t_ds_xxh:.2f}x")
    print(f"  corpusclean hash=sha1             {rate(t_sha1)}   {base / t_sha1:.2f}x")
    print(f"  corpusclean hash=fast             {rate(t_fast)}   {base / t_fast:.2f}x")
    print("signatures + LSH (candidates, clusters)")
    print(f"  datasketch sha1 + MinHashLSH      {rate(base_lsh)}   1.00x")
    print(
        f"  corpusclean sha1 + bands          {rate(t_sha1 + t_lsh)}   "
        f"{base_lsh / (t_sha1 + t_lsh):.2f}x"
    )
    print(
        f"  corpusclean fast + bands          {rate(t_fast + t_lsh_fast)}   "
        f"{base_lsh / (t_fast + t_lsh_fast):.2f}x"
    )
    print()
    print(f"sha1 signatures bit-identical to datasketch (all {n} docs): {identical}")
    print(
        f"fast signatures bit-identical to datasketch(hashfunc=fast_hash32) "
        f"(first {len(check)} docs): {identical_fast}"
    )
    same = np.array_equal(ds_roots, roots_sha1)
    dups = int((roots_sha1 != np.arange(n)).sum())
    print(
        f"LSH clusters equal to datasketch MinHashLSH's: {same} "
        f"({n_pairs} candidate edges, {dups} docs not their cluster's root)"
    )
    return 0 if identical and identical_fast and same else 1


if __name__ == "__main__":
    raise SystemExit(main())
