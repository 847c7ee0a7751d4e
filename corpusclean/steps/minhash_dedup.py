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
- *resolve* (a plan of parallel tasks, :meth:`MinhashDedupStep.resolve_stages`): documents
  sharing a key in a band are candidates, each bucket linked to its first member so that
  edges are linear in the bucket size. The ``documents x bands`` rows are hash-partitioned by
  ``(band, key)`` (every bucket in one partition), each partition's buckets give pairs, the
  pairs are partitioned again by the pair (a pair found in several bands meets itself once);
  with ``verify: true`` each pair partition keeps a pair only when the true Jaccard
  similarity of its shingle sets reaches ``threshold``. One task clusters the graph of the
  kept pairs (duplicates only, far smaller than the corpus): ``cluster: union_find`` keeps the
  first document (input order) of each connected component, as the issue and most peers do;
  the default ``greedy`` drops a document only when it is linked to an earlier document that
  is kept, which avoids chaining (A~B, B~C, A and C far apart: C survives) and raised
  precision on ../shared/data's webmix (docs/dedup.md). The decisions are the same, byte for
  byte, for any partition count.
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
from corpusclean.hashing import fmix64
from corpusclean.io.numbering import doc_range, seq_of
from corpusclean.minhash.bands import bucket_pairs
from corpusclean.shuffle import partition_of, read_partition, write_batches, write_partitioned
from corpusclean.steps.base import CorpusStep, ResolvePlan, StepOptions, run_plan_inline


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


#: The decisions when nothing is a duplicate.
_EMPTY_DECISIONS = pl.DataFrame(schema={"_doc": pl.Int64, "detail": pl.String})
#: The edges the verify tasks write (``edges/``): a kept pair, ``a < b`` as ``_doc`` numbers;
#: with ``verify`` also its Jaccard and what the cluster task needs of its ends.
_EDGE_SCHEMA: dict[str, type[pl.DataType]] = {"a": pl.Int64, "b": pl.Int64}
_VERIFIED_EDGE_SCHEMA: dict[str, type[pl.DataType]] = {
    "jaccard": pl.Float64,
    "a_id": pl.String,
    "a_n": pl.Int64,
    "a_fp": pl.UInt64,
    "b_n": pl.Int64,
    "b_fp": pl.UInt64,
}


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
        """:meth:`resolve_stages` with one partition, its tasks run in this process."""
        return run_plan_inline(self.resolve_stages(scan_parts, state_dir, 1))

    def resolve_stages(
        self, scan_parts: list[Path], state_dir: Path, partitions: int
    ) -> ResolvePlan:
        """Candidates from band collisions, optional verification, clusters, decisions: four
        stages, the first three of ``partitions``-way parallel tasks (the MapReduce plan of
        Leskovec et al., MMDS ch. 3.4 and 2.3; as datatrove's bucket and cluster stages).

        What each holds (texts are never read; ``D`` documents, ``B`` bands, ``P`` partitions):

        1. *map*, one task per scan part (:func:`_map_bands`): the part's ``(band, key, _doc)``
           rows, written to ``bands/`` partitioned by ``(band, key)``: every bucket lies wholly
           in one partition.
        2. *buckets*, one task per partition (:func:`_partition_pairs`): ``D x B / P`` band rows
           and their sort, the candidate pairs of its buckets (each member linked to its
           bucket's first document, :func:`corpusclean.minhash.bands.bucket_pairs`), written to
           ``pairs/`` partitioned by the pair, so that a pair found in buckets of several
           partitions meets itself in one.
        3. *verify*, one task per range of pair partitions, ``VERIFY_PAIRS`` pairs or more
           each (:func:`_verify_pairs`): their distinct pairs, with ``verify`` the id, shingle
           count and fingerprint of their documents and the :class:`_Verifier`'s chunks
           (``VERIFY_BUDGET``); writes ``edges/``: the pairs kept, with their Jaccard. One task
           reads its documents' rows from the scan parts directly (each part once). Several
           get them by a shuffle-join (the reduce-side join of MapReduce, Dean & Ghemawat
           2004; MMDS ch. 2.3.7), so that the scan's shingles are read once, not once per
           task: (a) one task per verify task (:func:`_task_needs`) writes its distinct pairs
           and the sorted ``_doc`` numbers they hold to ``join/``; (b) one map task per scan
           part (:func:`_map_rows`) reads the part's rows once and writes, for every verify
           task, the rows it needs (the part's share of the task's numbers, found from the
           part's ``_doc`` range without reading the lists whole) as batch ``k`` of an IPC
           file; (c) verify task ``k`` (:func:`_verify_joined`) reads batch ``k`` of every map
           file, memory-mapped, only the rows of each chunk it verifies.
        4. *cluster*, one task (:func:`_cluster`): the candidate graph, far smaller than the
           corpus (duplicates only), the ids of the survivors, and the signatures (without
           ``verify``) or shingles (``union_find``'s pairs that were not verified) of the
           documents it decides about; writes ``decisions.parquet``.

        The driver holds the scan parts' names and counters, never a per-document array. The
        pair set is a union over buckets and each task's result is partition-free, so
        decisions and counters equal those of ``partitions = 1`` (:meth:`resolve`), except
        ``verify_chunks``, summed over the verify tasks: it depends on how many there are,
        which depends on ``partitions`` and the number of pairs, both only on the input.
        """
        opts = self.options
        if not scan_parts:
            _write_parquet(_EMPTY_DECISIONS, state_dir / "decisions.parquet")
            return {"candidate_pairs": 0, "duplicates": 0}
        band_files = [state_dir / "bands" / f"{Path(part).stem}.arrow" for part in scan_parts]
        yield [
            (_map_bands, (part, out, partitions))
            for part, out in zip(scan_parts, band_files, strict=True)
        ]
        pair_files = [state_dir / "pairs" / f"part-{p:05d}.arrow" for p in range(partitions)]
        found = yield [
            (_partition_pairs, (band_files, p, partitions, out)) for p, out in enumerate(pair_files)
        ]
        tasks = min(partitions, max(1, -(-sum(found) // VERIFY_PAIRS)))
        bounds = [partitions * k // tasks for k in range(tasks + 1)]
        ranges = [range(lo, hi) for lo, hi in zip(bounds[:-1], bounds[1:], strict=True)]
        edge_files = [state_dir / "edges" / f"part-{k:05d}.parquet" for k in range(tasks)]
        if opts.verify and tasks > 1:  # the shuffle-join: each scan part read once
            join = state_dir / "join"
            task_pairs = [join / "pairs" / f"task-{k:05d}.parquet" for k in range(tasks)]
            needs = [join / "needs" / f"task-{k:05d}.npy" for k in range(tasks)]
            yield [
                (_task_needs, (pair_files, r, pairs_out, needs_out))
                for r, pairs_out, needs_out in zip(ranges, task_pairs, needs, strict=True)
            ]
            row_files = [join / "rows" / f"{Path(part).stem}.arrow" for part in scan_parts]
            yield [
                (_map_rows, (part, needs, out))
                for part, out in zip(scan_parts, row_files, strict=True)
            ]
            verified = yield [
                (_verify_joined, (opts, pairs, row_files, k, state_dir, out))
                for k, (pairs, out) in enumerate(zip(task_pairs, edge_files, strict=True))
            ]
        else:
            verified = yield [
                (_verify_pairs, (opts, pair_files, r, scan_parts, state_dir, out))
                for r, out in zip(ranges, edge_files, strict=True)
            ]
        counters = {"candidate_pairs": sum(r["candidate_pairs"] for r in verified)}
        if counters["candidate_pairs"] == 0:
            counters["verified_pairs"] = 0
        elif opts.verify:
            for name in ("verified_pairs", "verified_identical", "verify_chunks"):
                counters[name] = sum(r[name] for r in verified)
        (clustered,) = yield [
            (_cluster, (opts, edge_files, scan_parts, state_dir, counters["candidate_pairs"]))
        ]
        return {**counters, **clustered}


#: Fewest candidate pairs (as the bucket tasks count them) per verify task. One task reads its
#: documents' rows from the scan parts directly, each part once; several need the shuffle-join
#: (:meth:`MinhashDedupStep.resolve_stages`, stage 3): a map stage that reads every part once
#: and writes the rows the tasks need, which the tasks read again. Few pairs (duplicates are a
#: small share of a corpus) thus go to one task, whatever ``partitions`` is; webmix's 4,697 to
#: one. Before the join every task read the scan's shingles (nearly every part holds one of a
#: task's documents, and a part's column is read whole to be filtered): tasks x corpus.
VERIFY_PAIRS = 1 << 20

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


def _read_scan(path: Path, columns: list[str], docs: np.ndarray | None = None) -> pl.DataFrame:
    """``columns`` of the scan part ``path``, only the rows of the ``_doc`` numbers ``docs``
    when given: every read of a scan part in the resolve, the filter running as it is read."""
    query = pl.scan_parquet(path).select(columns)
    if docs is not None:
        query = query.filter(pl.col("_doc").is_in(pl.Series(docs, dtype=pl.Int64).implode()))
    return query.collect()


class _Rows:
    """Files of document rows, one per scan part, and the range of ``_doc`` numbers each may
    hold, so that reading the rows of some documents opens only the files that may hold any
    of them, and filters each with only its own share of the wanted numbers.

    Without the ranges every read opened every part and tested every row against all the
    wanted numbers: parts x wanted work, which made the resolve of 3M documents (3,000
    parts, 500k candidate pairs) take 6 minutes where 1M took 40 s.
    """

    #: Whether reading some rows costs about their size (not a file's whole columns), so that
    #: a verification in chunks may read each chunk's rows on its own (:class:`_Verifier`).
    rereadable = False

    def __init__(self, paths: list[Path], first: np.ndarray, last: np.ndarray) -> None:
        self.paths, self.first, self.last = paths, first, last

    def _rows(self, index: int, docs: np.ndarray, columns: list[str]) -> pl.DataFrame:
        """The rows of the sorted ``_doc`` numbers ``docs`` in file ``index``."""
        raise NotImplementedError

    def _empty(self, columns: list[str]) -> pl.DataFrame:
        raise NotImplementedError

    def each(self, docs: np.ndarray, columns: list[str]) -> Iterator[pl.DataFrame]:
        """The rows of the sorted ``_doc`` numbers ``docs``, file by file (those with any)."""
        lo = np.searchsorted(docs, self.first, side="left")
        hi = np.searchsorted(docs, self.last, side="right")
        for index in np.flatnonzero(hi > lo).tolist():
            frame = self._rows(index, docs[lo[index] : hi[index]], columns)
            if frame.height:
                yield frame

    def read(self, docs: np.ndarray, columns: list[str]) -> pl.DataFrame:
        """Rows of the sorted ``_doc`` numbers ``docs``, sorted by ``_doc``: the peak is one
        file's columns plus the rows kept, never every document's."""
        frames = list(self.each(docs, columns))
        if not frames:
            return self._empty(columns)
        frame = pl.concat(frames)
        return frame if _is_sorted(frame.get_column("_doc").to_numpy()) else frame.sort("_doc")


class _ScanParts(_Rows):
    """The scan parts themselves: a part's column is decoded whole to be filtered."""

    def _rows(self, index: int, docs: np.ndarray, columns: list[str]) -> pl.DataFrame:
        return _read_scan(self.paths[index], columns, docs)

    def _empty(self, columns: list[str]) -> pl.DataFrame:
        return pl.DataFrame(schema=pl.scan_parquet(self.paths[0]).select(columns).collect_schema())


class _JoinedRows(_Rows):
    """Batch ``k`` of the shuffle-join's map files (:func:`_map_rows`): the rows verify task
    ``k`` needs, sorted by ``_doc`` in each file. Memory-mapped: a read touches the ``_doc``
    column and the rows it takes, so each chunk of a verification reads only its own."""

    rereadable = True

    def __init__(self, paths: list[Path], k: int) -> None:
        ranges = np.array([doc_range(seq_of(path)) for path in paths], dtype=np.int64)
        super().__init__(list(paths), ranges[:, 0], ranges[:, 1])
        self.k = k

    def _rows(self, index: int, docs: np.ndarray, columns: list[str]) -> pl.DataFrame:
        with pa.memory_map(str(self.paths[index])) as source:
            batch = pa.ipc.open_file(source).get_batch(self.k)
            held = batch.column("_doc").to_numpy()
            at = np.minimum(np.searchsorted(held, docs), max(len(held) - 1, 0))
            found = at[held[at] == docs] if len(held) else at[:0]
            table = pa.Table.from_batches([batch]).select(columns).take(found)
        frame = pl.from_arrow(table)  # a copy: `take` gathered the rows out of the map
        assert isinstance(frame, pl.DataFrame)
        return frame

    def _empty(self, columns: list[str]) -> pl.DataFrame:
        with pa.memory_map(str(self.paths[0])) as source:
            schema = pa.ipc.open_file(source).schema
        frame = pl.from_arrow(schema.empty_table())
        assert isinstance(frame, pl.DataFrame)
        return frame.select(columns)


def _is_sorted(values: np.ndarray) -> bool:
    return len(values) < 2 or bool((values[1:] >= values[:-1]).all())


def _scan_parts(paths: list[Path]) -> _ScanParts:
    """The scan parts with the ``_doc`` range of each from its name (nothing read)."""
    ranges = np.array([doc_range(seq_of(path)) for path in paths], dtype=np.int64)
    return _ScanParts(list(paths), ranges[:, 0], ranges[:, 1])


def _write_parquet(frame: pl.DataFrame, path: Path) -> None:
    """Write to ``.tmp`` and rename: a retried task never sees a half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    frame.write_parquet(tmp)
    tmp.replace(path)


def _unique_pairs(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct pairs ``(a, b)``, sorted by ``(a, b)``: ranked to dense numbers, so that
    ``a * n + b`` fits int64 where the ``_doc`` numbers themselves would not."""
    if len(a) == 0:
        return a.astype(np.int64), b.astype(np.int64)
    docs = _sorted_unique(np.concatenate([a, b]))
    n = len(docs)
    code = _sorted_unique(np.searchsorted(docs, a) * n + np.searchsorted(docs, b))
    return docs[code // n], docs[code % n]


def _read_docs(parts: _Rows, docs: np.ndarray, columns: list[str]) -> pl.DataFrame:
    """The rows of the sorted ``_doc`` numbers ``docs``: every one must be in the scan."""
    rows = parts.read(docs, ["_doc", *columns])
    if rows.height != len(docs):
        raise RuntimeError(f"{len(docs) - rows.height} documents missing from the scan parts")
    return rows


def _map_bands(part: Path, out: Path, partitions: int) -> int:
    """Stage 1 (a scan part): the ``(band, key, _doc)`` rows of its documents that have a
    shingle (wordless documents share the empty signature and are never candidates), in
    ``_doc`` order, hash-partitioned by ``(band, key)`` into ``out``; returns the rows."""
    frame = _read_scan(part, ["_doc", "n_shingles", "keys"])
    frame = frame.filter(pl.col("n_shingles") > 0)
    n = frame.height
    keys = frame.get_column("keys").explode().to_numpy().astype(np.uint64)
    keys = keys.reshape(n, -1) if n else keys.reshape(0, 0)
    bands = keys.shape[1]
    partition = np.empty(keys.shape, dtype=np.int64)
    for band in range(bands):  # the band salts the hash: a band's keys spread over partitions
        partition[:, band] = partition_of(keys[:, band], partitions, salt=band)
    rows = pl.DataFrame(
        {
            "band": np.tile(np.arange(bands, dtype=np.uint16), n),
            "key": keys.ravel(),
            "_doc": np.repeat(frame.get_column("_doc").to_numpy().astype(np.int64), bands),
        },
        schema={"band": pl.UInt16, "key": pl.UInt64, "_doc": pl.Int64},
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    write_partitioned(rows, partition.ravel(), partitions, out)
    return rows.height


def _partition_pairs(band_files: list[Path], p: int, partitions: int, out: Path) -> int:
    """Stage 2 (band partition ``p``): the distinct candidate pairs of its buckets, ``a < b``
    as ``_doc`` numbers, hash-partitioned by the pair into ``out``; returns their number."""
    rows = read_partition(band_files, p)
    if rows is None:
        a = b = np.empty(0, dtype=np.int64)
    else:
        a, b = bucket_pairs(
            rows.get_column("band").to_numpy(),
            rows.get_column("key").to_numpy(),
            rows.get_column("_doc").to_numpy(),
        )
        del rows
        a, b = _unique_pairs(a, b)
    pair_key = fmix64(a.astype(np.uint64)) ^ b.astype(np.uint64)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_partitioned(
        pl.DataFrame({"a": a, "b": b}, schema={"a": pl.Int64, "b": pl.Int64}),
        partition_of(pair_key, partitions),
        partitions,
        out,
    )
    return len(a)


#: What the shuffle-join carries of a verify task's documents: all that the task reads.
_JOIN_COLUMNS = ["_doc", "id", "n_shingles", "fingerprint", "shingles"]


def _task_pairs(pair_files: list[Path], pair_partitions: range) -> tuple[np.ndarray, np.ndarray]:
    """The distinct pairs of the pair partitions ``pair_partitions``, sorted by ``(a, b)``."""
    found = [read_partition(pair_files, p) for p in pair_partitions]
    rows = pl.concat([f for f in found if f is not None] or [pl.DataFrame(schema=_EDGE_SCHEMA)])
    del found
    return _unique_pairs(rows.get_column("a").to_numpy(), rows.get_column("b").to_numpy())


def _task_needs(
    pair_files: list[Path], pair_partitions: range, pairs_out: Path, needs_out: Path
) -> int:
    """Stage 3a of the shuffle-join, for one verify task: its distinct pairs to ``pairs_out``
    and the sorted ``_doc`` numbers they hold to ``needs_out`` (``.npy``: the map tasks
    memory-map it and read only their part's range); returns the number of pairs."""
    a, b = _task_pairs(pair_files, pair_partitions)
    _write_parquet(pl.DataFrame({"a": a, "b": b}, schema=_EDGE_SCHEMA), pairs_out)
    needs_out.parent.mkdir(parents=True, exist_ok=True)
    tmp = needs_out.with_name(needs_out.name + ".tmp")
    with tmp.open("wb") as sink:
        np.save(sink, _sorted_unique(np.concatenate([a, b])).astype(np.int64))
    tmp.replace(needs_out)
    return len(a)


def _map_rows(part: Path, needs: list[Path], out: Path) -> int:
    """Stage 3b of the shuffle-join (a scan part): the part's rows (``_JOIN_COLUMNS``) read
    once, and for each verify task ``k`` the rows of the documents it needs, sorted by
    ``_doc``, written as batch ``k`` of ``out`` (a row goes to every task that needs it);
    returns the rows written. Of each task's list only the part's ``_doc`` range is read (two
    binary searches in the memory-mapped file), so a map task's work is its own share of the
    needed documents, not the tasks' whole lists; a part that holds none is not read.

    Copies of a text go too: which document represents it (:class:`_Verifier`) is known only
    to the task, once it has every fingerprint, and the task then reads only its
    representatives' shingles out of the memory-mapped batches."""
    first, last = doc_range(seq_of(part))
    bounds = np.array([first, last + 1], dtype=np.int64)
    wanted = []
    for path in needs:
        needed = np.load(path, mmap_mode="r")
        lo, hi = np.searchsorted(needed, bounds)
        wanted.append(np.array(needed[lo:hi]))
    out.parent.mkdir(parents=True, exist_ok=True)
    if not any(len(w) for w in wanted):
        schema = pl.scan_parquet(part).select(_JOIN_COLUMNS).collect_schema()
        empty = pl.DataFrame(schema=schema).to_arrow()
        write_batches([empty] * len(needs), empty.schema, out)
        return 0
    frame = _read_scan(part, _JOIN_COLUMNS, _sorted_unique(np.concatenate(wanted)))
    docs = frame.get_column("_doc").to_numpy()
    if not _is_sorted(docs):
        frame = frame.sort("_doc")
        docs = frame.get_column("_doc").to_numpy()
    table = frame.to_arrow()
    del frame
    tables = []
    for w in wanted:  # each wanted number's row, if the part has it (else the task says so)
        at = np.minimum(np.searchsorted(docs, w), max(len(docs) - 1, 0))
        tables.append(table.take(at[docs[at] == w] if len(docs) else at[:0]))
    write_batches(tables, table.schema, out)
    return sum(t.num_rows for t in tables)


def _verify_pairs(
    opts: MinhashDedupOptions,
    pair_files: list[Path],
    pair_partitions: range,
    scan_parts: list[Path],
    state_dir: Path,
    out: Path,
) -> dict[str, int]:
    """Stage 3 (the pair partitions ``pair_partitions`` of the bucket tasks' ``pair_files``),
    without the join: :func:`_verify` with the documents' rows read from the scan parts."""
    a, b = _task_pairs(pair_files, pair_partitions)
    return _verify(opts, a, b, _scan_parts(scan_parts), state_dir, out)


def _verify_joined(
    opts: MinhashDedupOptions,
    task_pairs: Path,
    row_files: list[Path],
    k: int,
    state_dir: Path,
    out: Path,
) -> dict[str, int]:
    """Stage 3c of the shuffle-join (verify task ``k``): :func:`_verify` of the pairs
    :func:`_task_needs` wrote, with the rows the map tasks wrote as batch ``k``."""
    pairs = pl.read_parquet(task_pairs)
    a, b = pairs.get_column("a").to_numpy(), pairs.get_column("b").to_numpy()
    del pairs
    return _verify(opts, a, b, _JoinedRows(row_files, k), state_dir, out)


def _verify(
    opts: MinhashDedupOptions,
    a: np.ndarray,
    b: np.ndarray,
    rows: _Rows,
    state_dir: Path,
    out: Path,
) -> dict[str, int]:
    """A verify task's distinct pairs ``(a, b)``: with ``verify`` only those whose exact
    Jaccard reaches the threshold, written to ``out``; returns the counters of this share of
    the pairs. ``rows`` gives the rows of their documents.

    With ``verify`` an edge also carries what the cluster task needs of its documents and
    this task has read anyway, so that it reads the scan parts no more: ``a``'s id (every
    survivor is the smaller end of an edge) and both ends' shingle count and fingerprint
    (for ``union_find``'s pairs that were not verified)."""
    counters = {"candidate_pairs": len(a)}
    if not opts.verify:
        _write_parquet(pl.DataFrame({"a": a, "b": b}, schema=_EDGE_SCHEMA), out)
        return counters
    schema = {**_EDGE_SCHEMA, **_VERIFIED_EDGE_SCHEMA}
    edges = pl.DataFrame(schema=schema)
    identical = chunks = 0
    if len(a):
        docs = _sorted_unique(np.concatenate([a, b]))
        payload = _read_docs(rows, docs, ["id", "n_shingles", "fingerprint"])
        n = payload.get_column("n_shingles").to_numpy()
        fingerprint = payload.get_column("fingerprint").to_numpy()
        verifier = _Verifier(rows, docs, fingerprint, n, state_dir)
        ia, ib = np.searchsorted(docs, a), np.searchsorted(docs, b)
        jaccard = verifier.jaccard(ia, ib)
        similar = np.flatnonzero(jaccard >= opts.threshold)
        ia, ib = ia[similar], ib[similar]
        identical, chunks = verifier.identical, verifier.chunks
        edges = pl.DataFrame(
            {
                "a": a[similar],
                "b": b[similar],
                "jaccard": jaccard[similar],
                "a_id": payload.get_column("id").gather(ia),
                "a_n": n[ia],
                "a_fp": fingerprint[ia],
                "b_n": n[ib],
                "b_fp": fingerprint[ib],
            },
            schema=schema,
        )
    _write_parquet(edges, out)
    return {
        **counters,
        "verified_pairs": edges.height,
        "verified_identical": identical,
        "verify_chunks": chunks,
    }


def _cluster(
    opts: MinhashDedupOptions,
    edge_files: list[Path],
    scan_parts: list[Path],
    state_dir: Path,
    candidates: int,
) -> dict[str, int]:
    """Stage 4 (one task): removes the shuffle's files; clusters over the graph of the kept
    pairs, the similarity of each removed document to its survivor, ``decisions.parquet``
    sorted by ``_doc``. Returns ``duplicates`` and ``clusters``.

    Reads the scan parts only for what the edges do not carry: the shingles of
    ``union_find``'s pairs that were not verified, or (without ``verify``) the survivors'
    ids and signatures and the duplicates' signatures."""
    for folder in ("bands", "pairs", "join"):  # the shuffles' files, read no more; edges stay
        shutil.rmtree(state_dir / folder, ignore_errors=True)
    decisions_path = state_dir / "decisions.parquet"
    if candidates == 0:
        _write_parquet(_EMPTY_DECISIONS, decisions_path)
        return {"duplicates": 0, "clusters": 0}
    edges = pl.read_parquet(edge_files)
    a_doc = edges.get_column("a").to_numpy()
    b_doc = edges.get_column("b").to_numpy()
    docs = _sorted_unique(np.concatenate([a_doc, b_doc]))
    a, b = np.searchsorted(docs, a_doc), np.searchsorted(docs, b_doc)
    del a_doc, b_doc
    if opts.cluster == "union_find":
        roots = minhash.union_find(len(docs), (a, b))
    else:
        roots = greedy_survivors(len(docs), a, b)
    dup = np.flatnonzero(roots != np.arange(len(docs)))
    survivors = roots[dup]
    kept = _sorted_unique(survivors)
    parts = _scan_parts(scan_parts)
    if opts.verify:
        similarity = _edge_values(
            len(docs), a, b, edges.get_column("jaccard").to_numpy(), survivors, dup
        )
        unknown = np.flatnonzero(np.isnan(similarity))  # union_find: not a verified pair
        if len(unknown):
            ends = np.concatenate([a, b])
            n = np.empty(len(docs), dtype=np.int64)
            n[ends] = np.concatenate([edges.get_column(c).to_numpy() for c in ("a_n", "b_n")])
            fingerprint = np.empty(len(docs), dtype=np.uint64)
            fingerprint[ends] = np.concatenate(
                [edges.get_column(c).to_numpy() for c in ("a_fp", "b_fp")]
            )
            verifier = _Verifier(parts, docs, fingerprint, n, state_dir)
            similarity[unknown] = verifier.jaccard(survivors[unknown], dup[unknown])
        by_a = np.argsort(a, kind="stable")  # an edge of each survivor, which is its `a`
        ids = edges.get_column("a_id").gather(by_a[np.searchsorted(a[by_a], kept)])
    else:
        kept_rows = _read_docs(parts, docs[kept], ["id", "sig"])
        ids = kept_rows.get_column("id")
        kept_sig = np.stack(kept_rows.get_column("sig").to_numpy())
        del kept_rows
        similarity = _estimated_similarity(parts, docs, survivors, dup, kept, kept_sig)
    decisions = pl.DataFrame(
        {
            "_doc": docs[dup],
            "survivor": ids.gather(np.searchsorted(kept, survivors)),
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
    _write_parquet(decisions.sort("_doc"), decisions_path)
    return {"duplicates": decisions.height, "clusters": int(kept.size)}


def _estimated_similarity(
    parts: _ScanParts,
    docs: np.ndarray,
    survivors: np.ndarray,
    dup: np.ndarray,
    kept: np.ndarray,
    kept_sig: np.ndarray,
) -> np.ndarray:
    """Signature estimate of the Jaccard similarity of each ``dup`` to its survivor (the
    fraction of equal MinHash values, Broder 1997), given the signatures ``kept_sig`` of the
    survivors ``kept`` (sorted): the duplicates' are read part by part."""
    out = np.empty(len(dup), dtype=np.float64)
    if len(dup) == 0:
        return out
    order = np.argsort(docs[dup])
    dup_docs = docs[dup][order]
    for rows in parts.each(dup_docs, ["_doc", "sig"]):
        sig = np.stack(rows.get_column("sig").to_numpy())
        at = order[np.searchsorted(dup_docs, rows.get_column("_doc").to_numpy())]
        own = kept_sig[np.searchsorted(kept, survivors[at])]
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
      chunk reads its documents' shingles from ``parts`` directly, and so does each of
      several when ``parts`` reads rows at the cost of their size (the shuffle-join's
      memory-mapped files, :class:`_JoinedRows`); from the scan parts, several chunks are
      fed by one sweep over the parts that appends each chunk's rows to its own spill file
      in ``spill_dir``, so the parts' shingles are read once, not once per chunk.
    """

    def __init__(
        self,
        parts: _Rows,
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
        if len(bounds) == 1 or self.parts.rereadable:
            chunk_rows = self._each_read(needed)
        else:
            chunk_rows = self._spilled(needed)
        values = np.empty(len(pair), dtype=np.float64)
        for (i, j), want, rows in zip(bounds, needed, chunk_rows, strict=True):
            values[i:j] = self._exact(rows, want, ua[i:j], ub[i:j])
        out[todo] = values[inverse.reshape(-1)]
        return out

    def _each_read(self, needed: list[np.ndarray]) -> Iterator[pl.DataFrame]:
        """The rows (``_doc``, ``shingles``) of each chunk's documents, sorted by ``_doc``,
        chunk after chunk, each read from ``parts`` when its turn comes."""
        for k, want in enumerate(needed):
            rows = self.parts.read(self.docs[want], ["_doc", "shingles"])
            if rows.height != len(want):
                raise RuntimeError(f"verification chunk {k}: rows missing from the scan")
            yield rows

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
