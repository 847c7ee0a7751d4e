"""``minhash_dedup``: near-duplicate removal with MinHash LSH (Broder 1997; as OpenWebText,
Gopher, RefinedWeb and FineWeb do it).

Why: edited copies of a page (a changed word, an added footer, a truncation) escape exact
deduplication, and near-duplicates hurt a small model as much as exact ones.

How, in the engine's three corpus-wide phases:

- *scan* (workers, per batch, vectorised by :mod:`corpusclean.minhash`): the text is normalised
  as Penedo et al. 2023 (lowercase, punctuation removed, whitespace collapsed, accents stripped
  after NFD), cut into word ``ngram`` shingles and hashed; ``num_perm`` MinHash permutations
  give a signature bit-identical to ``datasketch.MinHash(num_perm, seed, hashfunc=H)``
  (``hash: sha1`` is datasketch's default hash; ``hash: fast`` a vectorised 64-bit polynomial
  hash); the signature is cut into ``bands`` x ``rows`` (given, or derived from ``threshold``
  as datasketch's ``MinHashLSH`` derives them) and each band hashed to a 64-bit key. Spilled:
  ``_doc, id, band keys, signature`` (+ shingle hashes with ``verify: true``).
- *resolve* (once): documents sharing a key in a band are candidates (a Polars group-by over
  ``documents x bands`` rows, each bucket linked to its first member, so edges are linear in
  the bucket size); with ``verify: true`` each candidate pair is kept only when the true
  Jaccard similarity of its shingle sets reaches ``threshold``. ``cluster: union_find`` keeps
  the first document (input order) of each connected component, as the issue and most peers
  do; the default ``greedy`` drops a document only when it is linked to an earlier document
  that is kept, which avoids chaining (A~B, B~C, A and C far apart: C survives) and raised
  precision on ../shared/data's webmix (docs/dedup.md).
- *apply*: the others are rejected with ``detail`` naming the survivor's id and the similarity
  to it (true Jaccard with ``verify``, else the signature estimate).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import numpy as np
import polars as pl
import pyarrow as pa
from pydantic import Field, model_validator

from corpusclean import minhash
from corpusclean.steps.base import CorpusStep, StepOptions


class MinhashDedupOptions(StepOptions):
    num_perm: int = Field(128, ge=2, le=1024, description="MinHash permutations")
    ngram: int = Field(5, ge=1, le=50, description="words per shingle (after normalisation)")
    threshold: float = Field(0.8, gt=0.0, le=1.0, description="Jaccard similarity threshold")
    bands: int | None = Field(
        None, ge=1, description="LSH bands (rows = num_perm // bands); default: from threshold"
    )
    seed: int = Field(1, ge=0, description="permutation seed (datasketch's `seed`)")
    hash: Literal["fast", "sha1"] = Field(
        "fast", description="shingle hash: fast (vectorised) | sha1 (datasketch's default)"
    )
    verify: bool = Field(
        False, description="keep only candidate pairs whose true Jaccard >= threshold"
    )
    cluster: Literal["greedy", "union_find"] = Field(
        "greedy",
        description="greedy: drop a doc only next to a kept one | union_find: whole components",
    )

    @model_validator(mode="after")
    def _bands_fit(self) -> MinhashDedupOptions:
        if self.bands is not None and self.bands > self.num_perm:
            raise ValueError("bands must be <= num_perm")
        return self

    def lsh(self) -> tuple[int, int]:
        """(bands, rows). Derived as datasketch's MinHashLSH does; with ``verify`` a false
        positive only costs a Jaccard check, so misses are weighted 99:1 (18 x 7 at 0.8/128
        instead of 9 x 13, which finds only 40% of pairs at Jaccard 0.8; docs/dedup.md)."""
        if self.bands is not None:
            return self.bands, self.num_perm // self.bands
        if self.verify:
            return minhash.optimal_bands(self.threshold, self.num_perm, 0.01, 0.99)
        return minhash.optimal_bands(self.threshold, self.num_perm)


def greedy_survivors(n: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per document, the index it is a duplicate of (itself when kept), deciding in input order.

    Edges ``a < b`` join candidate (or verified) pairs. A document is dropped only when it has
    an edge to an earlier document that is *kept*; unlike connected components, a chain
    A~B~C with A and C dissimilar keeps C when B was dropped for A. Edges are few next to the
    corpus (duplicates only), so one Python pass over them, sorted by ``(b, a)``, is cheap.
    """
    survivor = np.arange(n, dtype=np.int64)
    order = np.lexsort((a, b))
    for left, right in zip(a[order].tolist(), b[order].tolist(), strict=True):
        if survivor[right] == right and survivor[left] == left:
            survivor[right] = left
    return survivor


def _list_column(name: str, values: np.ndarray, offsets: np.ndarray) -> pl.Series:
    """A Polars list column from a flat array and per-row offsets (no Python loop)."""
    import pyarrow as pa

    array = pa.ListArray.from_arrays(pa.array(offsets.astype(np.int32)), pa.array(values))
    series = pl.from_arrow(array)
    assert isinstance(series, pl.Series)
    return series.alias(name)


class MinhashDedupStep(CorpusStep[MinhashDedupOptions]):
    name = "minhash_dedup"
    summary = "Near-duplicate removal: MinHash LSH (datasketch-identical), optional Jaccard check."
    source = "Broder 1997; OpenWebText; Penedo et al. 2023 (RefinedWeb) normalisation"

    def scan(self, batch: pl.DataFrame) -> pl.DataFrame:
        opts = self.options
        bands, rows = opts.lsh()
        shingles = minhash.shingle_hashes(
            batch.get_column("text"), ngram=opts.ngram, hash=opts.hash
        )
        sigs = minhash.signatures_from_hashes(shingles, num_perm=opts.num_perm, seed=opts.seed)
        keys = minhash.band_keys(sigs, bands, rows)
        n = len(sigs)
        frame = batch.select("_doc", "id").with_columns(
            pl.Series("n_shingles", shingles.counts, dtype=pl.Int64),
            _list_column("keys", keys.ravel(), np.arange(n + 1) * bands),
        )
        if opts.verify:  # the true Jaccard needs the shingles; equal texts skip them
            return frame.with_columns(
                pl.Series("fingerprint", shingles.fingerprints(), dtype=pl.UInt64),
                _list_column("shingles", shingles.hashes, shingles.offsets.astype(np.int64)),
            )
        return frame.with_columns(  # the similarity reported is the signature estimate
            _list_column("sig", sigs.ravel(), np.arange(n + 1) * opts.num_perm)
        )

    def resolve(self, scan_parts: list[Path], state_dir: Path) -> dict[str, int]:
        """Candidates from band collisions, optional verification, clusters, decisions.

        Memory: the band table (documents x bands rows: what LSH must hold, MMDS ch. 3.4)
        and, for the documents of candidate pairs only, their id, shingle count and
        fingerprint (or signature without ``verify``). Texts are never read; shingles are
        read per scan part, filtered to the documents a chunk of pairs needs, at most
        ``VERIFY_BUDGET`` hashes at a time (:class:`_Verifier`).
        """
        opts = self.options
        empty = pl.DataFrame(schema={"_doc": pl.Int64, "detail": pl.String})
        if not scan_parts:
            empty.write_parquet(state_dir / "decisions.parquet")
            return {"candidate_pairs": 0, "duplicates": 0}
        keys, key_docs, parts = _band_table(scan_parts)
        pair_a, pair_b = minhash.band_candidate_pairs(keys, key_docs)
        del keys, key_docs
        counters = {"candidate_pairs": len(pair_a)}
        if len(pair_a) == 0:
            empty.write_parquet(state_dir / "decisions.parquet")
            return {**counters, "verified_pairs": 0, "duplicates": 0, "clusters": 0}
        involved = _sorted_unique(np.concatenate([pair_a, pair_b]))
        columns = ["_doc", "id"] + (["n_shingles", "fingerprint"] if opts.verify else [])
        payload = parts.read(involved, columns)
        docs = payload.get_column("_doc").to_numpy()
        a = np.searchsorted(docs, pair_a)
        b = np.searchsorted(docs, pair_b)
        del pair_a, pair_b, involved
        verifier: _Verifier | None = None
        jaccard = np.empty(0)
        if opts.verify:
            verifier = _Verifier(
                parts,
                docs,
                payload.get_column("fingerprint").to_numpy(),
                payload.get_column("n_shingles").to_numpy(),
                state_dir,
            )
            jaccard = verifier.jaccard(a, b)
            similar = jaccard >= opts.threshold
            a, b, jaccard = a[similar], b[similar], jaccard[similar]
            counters["verified_pairs"] = int(similar.sum())
            counters["verified_identical"] = verifier.identical
            counters["verify_chunks"] = verifier.chunks
        if opts.cluster == "union_find":
            roots = minhash.union_find(len(docs), (a, b))
        else:
            roots = greedy_survivors(len(docs), a, b)
        dup = np.flatnonzero(roots != np.arange(len(docs)))
        survivors = roots[dup]
        if verifier is not None:
            similarity = _edge_values(len(docs), a, b, jaccard, survivors, dup)
            unknown = np.isnan(similarity)  # union_find: survivor and dup not a verified pair
            if unknown.any():
                similarity[unknown] = verifier.jaccard(survivors[unknown], dup[unknown])
        else:
            similarity = _estimated_similarity(parts, docs, survivors, dup)
        ids = payload.get_column("id")
        decisions = pl.DataFrame(
            {
                "_doc": docs[dup],
                "survivor": ids.gather(survivors),
                "similarity": similarity,
            }
        ).select(
            "_doc",
            pl.format(
                "near-duplicate of {} ({}={})",
                "survivor",
                pl.lit("jaccard" if opts.verify else "estimated_jaccard"),
                pl.col("similarity").round(3),
            ).alias("detail"),
        )
        decisions.sort("_doc").write_parquet(state_dir / "decisions.parquet")
        counters["duplicates"] = decisions.height
        counters["clusters"] = int(_sorted_unique(survivors).size)
        return counters


#: Most shingle hashes :class:`_Verifier` holds at once; more are verified in chunks of pairs,
#: fed by one sweep over the scan parts (:meth:`_Verifier._spilled`). A chunk's peak is about
#: 40 bytes per hash: the hashes as read (4), :func:`corpusclean.minhash.pair_jaccard`'s
#: sorted 64-bit keys and their temporaries (28, measured on 20M hashes), Polars' list column
#: and its explode (estimated). 2^27 hashes bound it near 5.4 GB: one chunk for 10M synthetic
#: documents with 20% planted duplicates (docs/dedup.md), several for long near-copy pages.
VERIFY_BUDGET = 1 << 27


def _sorted_unique(values: np.ndarray) -> np.ndarray:
    """``np.unique`` by sorting (numpy 2.x's hash-based ``unique`` is much slower on large
    integer arrays)."""
    values = np.sort(values)
    return values[np.diff(values, prepend=values[:1] - 1) != 0] if len(values) else values


class _ScanParts:
    """The scan parts and the range of ``_doc`` numbers each holds, so that reading the rows
    of some documents opens only the parts that hold any of them, and filters each with only
    its own share of the wanted numbers.

    Without the ranges every read opened every part and tested every row against all the
    wanted numbers: parts x wanted work, which made the resolve of 3M documents (3,000
    parts, 500k candidate pairs) take 6 minutes where 1M took 40 s.
    """

    def __init__(self, paths: list[Path], first: np.ndarray, last: np.ndarray) -> None:
        self.paths, self.first, self.last = paths, first, last

    def each(self, docs: np.ndarray, columns: list[str]) -> Iterator[pl.DataFrame]:
        """The rows of the sorted ``_doc`` numbers ``docs``, part by part (those with any),
        the filter running as each part is read."""
        lo = np.searchsorted(docs, self.first, side="left")
        hi = np.searchsorted(docs, self.last, side="right")
        for part in np.flatnonzero(hi > lo).tolist():
            wanted = pl.Series("_doc", docs[lo[part] : hi[part]], dtype=pl.Int64).implode()
            frame = (
                pl.scan_parquet(self.paths[part])
                .select(columns)
                .filter(pl.col("_doc").is_in(wanted))
                .collect()
            )
            if frame.height:
                yield frame

    def read(self, docs: np.ndarray, columns: list[str]) -> pl.DataFrame:
        """Rows of the sorted ``_doc`` numbers ``docs``, sorted by ``_doc``: the peak is one
        part's columns plus the rows kept, never every document's."""
        frames = list(self.each(docs, columns))
        if not frames:
            return pl.DataFrame(
                schema=pl.scan_parquet(self.paths[0]).select(columns).collect_schema()
            )
        frame = pl.concat(frames)
        return frame if _is_sorted(frame.get_column("_doc").to_numpy()) else frame.sort("_doc")


def _is_sorted(values: np.ndarray) -> bool:
    return len(values) < 2 or bool((values[1:] >= values[:-1]).all())


def _band_table(scan_parts: list[Path]) -> tuple[np.ndarray, np.ndarray, _ScanParts]:
    """The band keys ``(n, bands)`` and ``_doc`` numbers of every document with a shingle
    (wordless documents share the empty signature and are never candidates), read part by
    part into one preallocated table: 8 bytes per band and document, nothing else; and the
    parts with their ``_doc`` ranges."""
    sizes = [pl.scan_parquet(part).select(pl.len()).collect().item() for part in scan_parts]
    total = sum(sizes)
    keys: np.ndarray | None = None
    docs = np.empty(total, dtype=np.int64)
    first = np.full(len(scan_parts), np.iinfo(np.int64).max, dtype=np.int64)
    last = np.full(len(scan_parts), np.iinfo(np.int64).min, dtype=np.int64)
    filled = 0
    for i, part in enumerate(scan_parts):
        frame = pl.read_parquet(part, columns=["_doc", "n_shingles", "keys"])
        if frame.height:
            part_docs = frame.get_column("_doc")
            first[i], last[i] = part_docs.min(), part_docs.max()
        frame = frame.filter(pl.col("n_shingles") > 0)
        if frame.height == 0:
            continue
        values = frame.get_column("keys").explode().to_numpy()
        block = values.reshape(frame.height, -1)
        if keys is None:
            keys = np.empty((total, block.shape[1]), dtype=np.uint64)
        keys[filled : filled + frame.height] = block
        docs[filled : filled + frame.height] = frame.get_column("_doc").to_numpy()
        filled += frame.height
    parts = _ScanParts(scan_parts, first, last)
    if keys is None:
        return np.empty((0, 1), dtype=np.uint64), docs[:0], parts
    keys, docs = keys[:filled], docs[:filled]
    if filled > 1 and not (np.diff(docs) > 0).all():  # parts come in input order: never
        order = np.argsort(docs, kind="stable")
        keys, docs = keys[order], docs[order]
    return keys, docs, parts


def _estimated_similarity(
    parts: _ScanParts, docs: np.ndarray, survivors: np.ndarray, dup: np.ndarray
) -> np.ndarray:
    """Signature estimate of the Jaccard similarity of each ``dup`` to its survivor (the
    fraction of equal MinHash values, Broder 1997), holding only the survivors' signatures:
    the duplicates' are read part by part."""
    out = np.empty(len(dup), dtype=np.float64)
    if len(dup) == 0:
        return out
    kept = _sorted_unique(survivors)
    kept_sig = parts.read(docs[kept], ["_doc", "sig"]).get_column("sig")
    kept_matrix = np.stack(kept_sig.to_numpy())
    del kept_sig
    order = np.argsort(docs[dup])
    dup_docs = docs[dup][order]
    for rows in parts.each(dup_docs, ["_doc", "sig"]):
        sig = np.stack(rows.get_column("sig").to_numpy())
        at = order[np.searchsorted(dup_docs, rows.get_column("_doc").to_numpy())]
        own = kept_matrix[np.searchsorted(kept, survivors[at])]
        out[at] = (own == sig).mean(axis=1)
    return out


def _edge_values(
    n: int, a: np.ndarray, b: np.ndarray, values: np.ndarray, left: np.ndarray, right: np.ndarray
) -> np.ndarray:
    """``values`` of the edges ``(left[i], right[i])`` among the edges ``(a, b)``; NaN where
    there is no such edge."""
    out = np.full(len(left), np.nan)
    if len(a) == 0 or len(left) == 0:
        return out
    keys = a.astype(np.int64) * n + b
    order = np.argsort(keys, kind="stable")
    keys = keys[order]
    wanted = left.astype(np.int64) * n + right
    at = np.minimum(np.searchsorted(keys, wanted), len(keys) - 1)
    found = keys[at] == wanted
    out[found] = values[order[at[found]]]
    return out


class _Verifier:
    """Exact Jaccard of candidate pairs with bounded memory (the check LSH candidates need,
    MMDS ch. 3.4; datasketch's MinHashLSH has none, datatrove neither).

    * Documents with equal shingle-sequence fingerprints and shingle counts have the same
      shingle set: Jaccard 1.0 without reading anything (exact copies, replicated pages).
    * Every other document is represented by the first document with its fingerprint, so a
      text present k times is read once.
    * Pairs are taken in chunks whose documents hold at most ``VERIFY_BUDGET`` hashes, and
      :func:`corpusclean.minhash.pair_jaccard` computes a chunk's exact similarities. One
      chunk reads its documents' shingles from the scan parts directly; several chunks are
      fed by one sweep over the parts that appends each chunk's rows to its own spill file
      in ``spill_dir``, so the parts' shingles are read once, not once per chunk.
    """

    def __init__(
        self,
        parts: _ScanParts,
        docs: np.ndarray,
        fingerprint: np.ndarray,
        n: np.ndarray,
        spill_dir: Path,
    ) -> None:
        self.parts = parts
        self.spill_dir = spill_dir
        self.docs = docs
        self.fingerprint = fingerprint
        self.n = n.astype(np.int64)
        # representative of each document: the first one with its (fingerprint, count)
        order = np.lexsort((np.arange(len(docs)), self.n, fingerprint))
        key_f, key_n = fingerprint[order], self.n[order]
        new = np.ones(len(order), dtype=bool)
        new[1:] = (key_f[1:] != key_f[:-1]) | (key_n[1:] != key_n[:-1])
        self.rep = np.empty(len(docs), dtype=np.int64)
        self.rep[order] = order[np.flatnonzero(new)][np.cumsum(new) - 1]
        self.identical = 0
        self.chunks = 0

    def jaccard(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        out = np.ones(len(a), dtype=np.float64)
        ra, rb = self.rep[a], self.rep[b]
        todo = np.flatnonzero(ra != rb)
        self.identical += len(a) - len(todo)
        if len(todo) == 0:
            return out
        # each distinct pair of representatives once (Jaccard is symmetric)
        low = np.minimum(ra[todo], rb[todo])
        high = np.maximum(ra[todo], rb[todo])
        pair, inverse = np.unique(low * len(self.docs) + high, return_inverse=True)
        ua, ub = pair // len(self.docs), pair % len(self.docs)  # sorted by (ua, ub)
        first_of_a = np.ones(len(pair), dtype=bool)
        first_of_a[1:] = ua[1:] != ua[:-1]
        cost = np.cumsum(self.n[ub] + first_of_a * self.n[ua])
        bounds: list[tuple[int, int]] = []
        start = 0
        while start < len(pair):
            base = cost[start - 1] if start else 0
            stop = max(int(np.searchsorted(cost, base + VERIFY_BUDGET, side="right")), start + 1)
            bounds.append((start, stop))
            start = stop
        self.chunks += len(bounds)
        needed = [_sorted_unique(np.concatenate([ua[i:j], ub[i:j]])) for i, j in bounds]
        if len(bounds) == 1:
            chunk_rows: Iterator[pl.DataFrame] = iter(
                [self.parts.read(self.docs[needed[0]], ["_doc", "shingles"])]
            )
        else:
            chunk_rows = self._spilled(needed)
        values = np.empty(len(pair), dtype=np.float64)
        for (i, j), want, rows in zip(bounds, needed, chunk_rows, strict=True):
            values[i:j] = self._exact(rows, want, ua[i:j], ub[i:j])
        out[todo] = values[inverse.reshape(-1)]
        return out

    def _spilled(self, needed: list[np.ndarray]) -> Iterator[pl.DataFrame]:
        """The rows (``_doc``, ``shingles``) of each chunk's documents, sorted by ``_doc``,
        chunk after chunk, from one sweep over the scan parts: each part's rows go to the
        spill file of every chunk that needs them, then each file is read back alone."""
        member_doc = np.concatenate(needed)
        member_chunk = np.repeat(np.arange(len(needed)), [len(x) for x in needed])
        order = np.argsort(member_doc, kind="stable")
        member_doc, member_chunk = member_doc[order], member_chunk[order]
        folder = Path(tempfile.mkdtemp(prefix="verify-", dir=self.spill_dir))
        files = [folder / f"chunk-{k:06d}.arrow" for k in range(len(needed))]
        writers: dict[int, pa.ipc.RecordBatchFileWriter] = {}
        try:
            for frame in self.parts.each(
                self.docs[_sorted_unique(member_doc)], ["_doc", "shingles"]
            ):
                at = np.searchsorted(self.docs, frame.get_column("_doc").to_numpy())
                lo = np.searchsorted(member_doc, at, side="left")
                counts = np.searchsorted(member_doc, at, side="right") - lo
                row = np.repeat(np.arange(len(at)), counts)
                member = np.arange(len(row)) - np.repeat(np.cumsum(counts) - counts, counts)
                chunk = member_chunk[member + np.repeat(lo, counts)]
                by_chunk = np.argsort(chunk, kind="stable")
                row, chunk = row[by_chunk], chunk[by_chunk]
                starts = np.flatnonzero(np.diff(chunk, prepend=-1) != 0)
                for first, last in zip(starts, [*starts[1:], len(chunk)], strict=True):
                    k = int(chunk[first])
                    table = frame[row[first:last]].to_arrow()
                    if k not in writers:
                        writers[k] = pa.ipc.new_file(files[k], table.schema)
                    writers[k].write_table(table)
            for writer in writers.values():
                writer.close()
            writers.clear()
            for k, path in enumerate(files):
                rows = pl.read_ipc(path).sort("_doc")  # a sorted copy: the file can go
                path.unlink()
                if rows.height != len(needed[k]):
                    raise RuntimeError(f"verification chunk {k}: rows missing from the scan")
                yield rows
        finally:
            for writer in writers.values():
                writer.close()
            shutil.rmtree(folder, ignore_errors=True)

    def _exact(
        self, rows: pl.DataFrame, needed: np.ndarray, ra: np.ndarray, rb: np.ndarray
    ) -> np.ndarray:
        """Exact Jaccard of the pairs (ra, rb), given the rows of the ``needed`` documents."""
        column = rows.get_column("shingles")
        lengths = column.list.len().to_numpy().astype(np.int64)
        offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        hashes = column.explode().drop_nulls().to_numpy()
        del rows, column
        shingles = minhash.ShingleHashes(hashes, offsets)
        return minhash.pair_jaccard(
            shingles, np.searchsorted(needed, ra), np.searchsorted(needed, rb)
        )
