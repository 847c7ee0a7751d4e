"""minhash_dedup's resolve as a partitioned plan: the same decisions, byte for byte, and the same
counters as the single-process resolve it replaced, for every option combination and any
partition count.

``_reference_resolve`` is that single-process resolve as it was (one band table of every
document, :func:`corpusclean.minhash.band_candidate_pairs` over it, the part ranges read from
the data), kept here as the oracle; it shares with the plan only the part reader and the
verifier, whose exact Jaccard of a pair does not depend on which pairs it is given with.
"""

from __future__ import annotations

import pickle
import random
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa
import pytest

from corpusclean import minhash
from corpusclean.io.numbering import batch_seq, part_stem
from corpusclean.minhash.bands import bucket_pairs
from corpusclean.shuffle import partition_of, read_partition, write_batches
from corpusclean.steps import minhash_dedup
from corpusclean.steps.base import ResolvePlan
from corpusclean.steps.minhash_dedup import (
    MinhashDedupOptions,
    MinhashDedupStep,
    _edge_values,
    _ScanParts,
    _sorted_unique,
    _Verifier,
    greedy_survivors,
)

# --- the reference: the single-process resolve before the plan ------------------------------


def _band_table(scan_parts: list[Path]) -> tuple[np.ndarray, np.ndarray, _ScanParts]:
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
    if filled > 1 and not (np.diff(docs) > 0).all():
        order = np.argsort(docs, kind="stable")
        keys, docs = keys[order], docs[order]
    return keys, docs, parts


def _estimated_similarity(
    parts: _ScanParts, docs: np.ndarray, survivors: np.ndarray, dup: np.ndarray
) -> np.ndarray:
    out = np.empty(len(dup), dtype=np.float64)
    if len(dup) == 0:
        return out
    kept = _sorted_unique(survivors)
    kept_sig = parts.read(docs[kept], ["_doc", "sig"]).get_column("sig")
    kept_matrix = np.stack(kept_sig.to_numpy())
    order = np.argsort(docs[dup])
    dup_docs = docs[dup][order]
    for rows in parts.each(dup_docs, ["_doc", "sig"]):
        sig = np.stack(rows.get_column("sig").to_numpy())
        at = order[np.searchsorted(dup_docs, rows.get_column("_doc").to_numpy())]
        own = kept_matrix[np.searchsorted(kept, survivors[at])]
        out[at] = (own == sig).mean(axis=1)
    return out


def _reference_resolve(
    opts: MinhashDedupOptions, scan_parts: list[Path], state_dir: Path
) -> dict[str, int]:
    empty = pl.DataFrame(schema={"_doc": pl.Int64, "detail": pl.String})
    if not scan_parts:
        empty.write_parquet(state_dir / "decisions.parquet")
        return {"candidate_pairs": 0, "duplicates": 0}
    keys, key_docs, parts = _band_table(scan_parts)
    pair_a, pair_b = minhash.band_candidate_pairs(keys, key_docs)
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
        unknown = np.isnan(similarity)
        if unknown.any():
            similarity[unknown] = verifier.jaccard(survivors[unknown], dup[unknown])
    else:
        similarity = _estimated_similarity(parts, docs, survivors, dup)
    ids = payload.get_column("id")
    decisions = pl.DataFrame(
        {"_doc": docs[dup], "survivor": ids.gather(survivors), "similarity": similarity}
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


# --- the corpus: planted near-duplicates across splits and batches ---------------------------


def _words(rng: random.Random, n: int) -> list[str]:
    return [f"w{rng.randrange(10**9)}" for _ in range(n)]


def _edit(words: list[str], target: float, rng: random.Random, head: bool = False) -> list[str]:
    """Replace a tail (or head) of ``words`` so that the word-5-gram Jaccard is ~``target``."""
    k = round((len(words) - 4) * (1 - target) / (1 + target))
    return _words(rng, k) + words[k:] if head else words[: len(words) - k] + _words(rng, k)


def _corpus(seed: int = 3) -> list[tuple[str, str]]:
    """``(id, text)`` rows: originals, exact copies, near copies (0.95 to 0.6: some pass the
    0.8 check, some only collide), chains A ~ B ~ C with A and C apart (greedy keeps C,
    union_find drops it with a similarity that no verified pair holds), wordless and short
    texts; copies come later in the input, many in other splits."""
    rng = random.Random(seed)
    originals, later = [], []
    for i in range(24):
        base = _words(rng, rng.randrange(60, 200))
        originals.append((f"orig{i}", " ".join(base)))
        if i % 3 == 0:
            later.append((f"exact{i}", " ".join(base)))
        target = (0.95, 0.9, 0.85, 0.75, 0.6)[i % 5]
        later.append((f"near{i}", " ".join(_edit(base, target, rng))))
        if i % 4 == 0:  # a chain: B from A's tail, C from B's head
            b = _edit(base, 0.86, rng)
            later.append((f"chainb{i}", " ".join(b)))
            later.append((f"chainc{i}", " ".join(_edit(b, 0.86, rng, head=True))))
    for i in range(30):
        originals.append((f"solo{i}", " ".join(_words(rng, rng.randrange(20, 80)))))
    for i, text in enumerate(["", "!!! ???", "--- ...", "", "one", "one", "a b", "a b"]):
        later.append((f"odd{i}", text))
    rng.shuffle(originals)
    rng.shuffle(later)
    return originals + later


#: Batches as (split, batch, rows): uneven sizes, gaps in the batch numbers, several splits.
LAYOUT = [(0, 0, 17), (0, 1, 25), (0, 3, 9), (2, 0, 30), (2, 1, 4), (5, 0, 40), (5, 7, 200)]


def _scan_parts(opts: MinhashDedupOptions, folder: Path) -> list[Path]:
    """Scan parts as the engine names them (``_doc = seq << 20 | row``), in input order."""
    rows = _corpus()
    step = MinhashDedupStep(opts)
    folder.mkdir(parents=True)
    paths, at = [], 0
    for split, batch, size in LAYOUT:
        chunk = rows[at : at + size]
        at += size
        if not chunk:
            continue
        seq = batch_seq(split, batch)
        frame = pl.DataFrame(
            {
                "_doc": [seq << 20 | r for r in range(len(chunk))],
                "id": [i for i, _ in chunk],
                "text": [t for _, t in chunk],
            },
            schema={"_doc": pl.Int64, "id": pl.String, "text": pl.String},
        )
        path = folder / f"{part_stem(seq)}.parquet"
        step.scan(frame).write_parquet(path)
        paths.append(path)
    assert at >= len(rows), "LAYOUT holds every row"
    return paths


class _Scans(dict[tuple[str, bool, int | None], list[Path]]):
    """Scan parts per (hash, verify, bands), made on first use under ``root``."""

    def __init__(self, root: Path) -> None:
        super().__init__()
        self.root = root

    def __missing__(self, key: tuple[str, bool, int | None]) -> list[Path]:
        hash_name, verify, bands = key
        opts = MinhashDedupOptions(hash=hash_name, verify=verify, bands=bands)
        self[key] = _scan_parts(opts, self.root / f"{hash_name}-{verify}-{bands}")
        return self[key]


@pytest.fixture(scope="module")
def scans(tmp_path_factory: pytest.TempPathFactory) -> _Scans:
    """Scan parts per options that change the scan: the resolve reads nothing else."""
    return _Scans(tmp_path_factory.mktemp("scans"))


def _run_pickled(plan: ResolvePlan) -> tuple[dict[str, int], list[int]]:
    """Run a plan as a distributed executor would see it: every task and result pickled (so
    module-level functions and picklable arguments only); also the stage sizes."""
    results: list[Any] | None = None
    sizes = []
    try:
        while True:
            stage = plan.send(results)  # type: ignore[arg-type]
            sizes.append(len(stage))
            results = []
            for task in stage:
                function, args = pickle.loads(pickle.dumps(task))
                results.append(pickle.loads(pickle.dumps(function(*args))))
    except StopIteration as done:
        return done.value, sizes


def _reference(opts: MinhashDedupOptions, parts: list[Path], folder: Path) -> tuple[Any, bytes]:
    folder.mkdir(parents=True)
    counters = _reference_resolve(opts, parts, folder)
    return counters, (folder / "decisions.parquet").read_bytes()


def _plan(
    opts: MinhashDedupOptions, parts: list[Path], folder: Path, partitions: int
) -> tuple[dict[str, int], bytes, list[int]]:
    folder.mkdir(parents=True)
    plan = MinhashDedupStep(opts).resolve_stages(parts, folder, partitions)
    counters, sizes = _run_pickled(plan)
    assert not any((folder / name).exists() for name in ("bands", "pairs", "join"))
    assert not list(folder.glob("verify-*")) and not list(folder.rglob("*.tmp"))
    return counters, (folder / "decisions.parquet").read_bytes(), sizes


def _without_chunks(counters: dict[str, int]) -> dict[str, int]:
    return {k: v for k, v in counters.items() if k != "verify_chunks"}


def _stages(parts: int, partitions: int, tasks: int, verify: bool) -> list[int]:
    """The plan's stage sizes: map, buckets, [join needs, join map,] verify, cluster."""
    join = [tasks, parts] if verify and tasks > 1 else []
    return [parts, partitions, *join, tasks, 1]


# --- the tests ------------------------------------------------------------------------------


@pytest.mark.parametrize("hash_name", ["fast", "sha1"])
@pytest.mark.parametrize("cluster", ["greedy", "union_find"])
@pytest.mark.parametrize("verify", [True, False])
def test_plan_equals_the_single_process_resolve(
    scans, tmp_path: Path, monkeypatch, verify: bool, cluster: str, hash_name: str
) -> None:
    """Partitions 1, 2 and 7, the pairs verified in one task (few pairs) or in one task per
    pair partition: the reference's decision bytes and counters (``verify_chunks`` aside)."""
    opts = MinhashDedupOptions(hash=hash_name, verify=verify, cluster=cluster)
    parts = scans[hash_name, verify, None]
    ref_counters, ref_bytes = _reference(opts, parts, tmp_path / "ref")
    decisions = pl.read_parquet(tmp_path / "ref" / "decisions.parquet")
    assert ref_counters["duplicates"] >= 20 and ref_counters["candidate_pairs"] > 20
    if verify:
        assert ref_counters["verified_identical"] >= 8  # exact copies and equal short texts
        assert ref_counters["verified_pairs"] < ref_counters["candidate_pairs"]  # 0.6, 0.75
    resolved = MinhashDedupStep(opts).resolve(parts, tmp_path / "resolve")
    assert list(resolved.items()) == list(ref_counters.items())  # the same keys, same order
    assert (tmp_path / "resolve" / "decisions.parquet").read_bytes() == ref_bytes
    for pairs_per_task in (minhash_dedup.VERIFY_PAIRS, 3):
        monkeypatch.setattr(minhash_dedup, "VERIFY_PAIRS", pairs_per_task)
        for partitions in (1, 2, 7):
            state = tmp_path / f"p{partitions}-{pairs_per_task}"
            counters, data, sizes = _plan(opts, parts, state, partitions)
            assert data == ref_bytes, f"partitions={partitions}"
            assert list(_without_chunks(counters)) == list(_without_chunks(ref_counters))
            assert _without_chunks(counters) == _without_chunks(ref_counters)
            tasks = 1 if pairs_per_task > 1000 else partitions
            assert sizes == _stages(len(parts), partitions, tasks, verify)
            if verify:  # one chunk per verify task (each has some work here)
                assert counters["verify_chunks"] == tasks
    if verify and cluster == "union_find":  # a chain's end, verified against its root only
        chained = decisions.filter(pl.col("detail").str.contains(r"jaccard=0\.[0-7]"))
        assert chained.height >= 1


@pytest.mark.parametrize("cluster", ["greedy", "union_find"])
def test_chunked_verification_gives_the_same_bytes(scans, tmp_path, monkeypatch, cluster):
    """With a verify budget of a few documents every task verifies in several chunks (the
    spill path): decisions still equal the reference's; the chunks differ only in number."""
    monkeypatch.setattr(minhash_dedup, "VERIFY_BUDGET", 400)
    monkeypatch.setattr(minhash_dedup, "VERIFY_PAIRS", 3)  # and a verify task per partition
    opts = MinhashDedupOptions(verify=True, cluster=cluster)
    parts = scans["fast", True, None]
    ref_counters, ref_bytes = _reference(opts, parts, tmp_path / "ref")
    assert ref_counters["verify_chunks"] > 5
    for partitions in (1, 2, 7):
        counters, data, _ = _plan(opts, parts, tmp_path / f"p{partitions}", partitions)
        assert data == ref_bytes
        assert _without_chunks(counters) == _without_chunks(ref_counters)
        if partitions == 1:
            assert counters == ref_counters


def test_candidates_that_all_fail_verification(scans, tmp_path: Path) -> None:
    """Short bands (64 x 2) make the near copies collide; without exact copies and with a
    threshold of 0.99 none is kept: the same empty decision and counters as the reference."""
    opts = MinhashDedupOptions(verify=True, bands=64, threshold=0.99)
    folder = tmp_path / "scan"
    folder.mkdir()
    parts = []
    for part in scans["fast", True, 64]:
        frame = pl.read_parquet(part).filter(pl.col("id").str.contains("^(orig|near|solo)"))
        frame.write_parquet(folder / part.name)
        parts.append(folder / part.name)
    ref_counters, ref_bytes = _reference(opts, parts, tmp_path / "ref")
    assert ref_counters["candidate_pairs"] > 10 and ref_counters["verified_pairs"] == 0
    for partitions in (1, 2, 7):
        counters, data, _ = _plan(opts, parts, tmp_path / f"p{partitions}", partitions)
        assert data == ref_bytes
        assert list(counters) == list(ref_counters)
        assert _without_chunks(counters) == _without_chunks(ref_counters)


@pytest.mark.parametrize("verify", [True, False])
def test_no_candidates_and_no_parts(scans, tmp_path: Path, verify: bool) -> None:
    opts = MinhashDedupOptions(verify=verify)
    parts = scans["fast", verify, None]
    lone = tmp_path / "lone"
    lone.mkdir()
    frame = pl.read_parquet(parts[0]).head(3)  # three distinct originals or solos
    frame.write_parquet(lone / parts[0].name)
    wordless = tmp_path / "wordless"  # parts whose documents have no shingle: no band row
    wordless.mkdir()
    for part in parts[:2]:
        pl.read_parquet(part).with_columns(n_shingles=0).write_parquet(wordless / part.name)
    cases = [("none", []), ("lone", [lone / parts[0].name])]
    cases.append(("wordless", [wordless / part.name for part in parts[:2]]))
    for name, chosen in cases:
        ref_counters, ref_bytes = _reference(opts, chosen, tmp_path / f"ref-{name}")
        assert ref_counters["duplicates"] == 0
        for partitions in (1, 2, 7):
            counters, data, _ = _plan(opts, chosen, tmp_path / f"{name}{partitions}", partitions)
            assert list(counters.items()) == list(ref_counters.items())
            assert data == ref_bytes


def test_plan_runs_in_spawned_processes(scans, tmp_path: Path, monkeypatch) -> None:
    """Tasks run in other processes (spawned: polars must not be forked) and communicate only
    through the files under the state folder."""
    monkeypatch.setattr(minhash_dedup, "VERIFY_PAIRS", 3)  # read by the plan, in this process
    opts = MinhashDedupOptions(verify=True, cluster="union_find")
    parts = scans["fast", True, None]
    ref_counters, ref_bytes = _reference(opts, parts, tmp_path / "ref")
    state = tmp_path / "spawned"
    state.mkdir()
    plan = MinhashDedupStep(opts).resolve_stages(parts, state, 5)
    results: list[Any] | None = None
    sizes: list[int] = []
    with ProcessPoolExecutor(2, mp_context=get_context("spawn")) as pool:
        try:
            while True:
                stage = plan.send(results)  # type: ignore[arg-type]
                sizes.append(len(stage))
                futures = [pool.submit(function, *args) for function, args in stage]
                results = [f.result() for f in futures]
        except StopIteration as done:
            counters = done.value
    assert (state / "decisions.parquet").read_bytes() == ref_bytes
    assert _without_chunks(counters) == _without_chunks(ref_counters)
    assert sizes == _stages(len(parts), 5, 5, True)


@pytest.mark.parametrize("budget", [None, 400])
@pytest.mark.parametrize("pairs_per_task", [3, None])
def test_verify_reads_each_scan_part_once(scans, tmp_path, monkeypatch, pairs_per_task, budget):
    """The verify phase reads each scan part's shingles once, however many verify tasks (7:
    the shuffle-join; 1: the direct read) and chunks (a budget of a few documents: several
    per task). Counted at :func:`minhash_dedup._read_scan`, through which every read of a
    scan part in the plan goes; the join's verify tasks read no scan part at all."""
    if pairs_per_task is not None:
        monkeypatch.setattr(minhash_dedup, "VERIFY_PAIRS", pairs_per_task)
    if budget is not None:
        monkeypatch.setattr(minhash_dedup, "VERIFY_BUDGET", budget)
    opts = MinhashDedupOptions(verify=True)  # greedy: the cluster task reads no shingles
    parts = scans["fast", True, None]
    _, ref_bytes = _reference(opts, parts, tmp_path / "ref")
    reads: list[tuple[int, str, tuple[str, ...]]] = []  # (stage, part, columns)
    stage_now = -1
    read_scan = minhash_dedup._read_scan

    def recorded(path: Path, columns: list[str], docs: np.ndarray | None = None) -> pl.DataFrame:
        reads.append((stage_now, Path(path).name, tuple(columns)))
        return read_scan(path, columns, docs)

    monkeypatch.setattr(minhash_dedup, "_read_scan", recorded)
    state = tmp_path / "plan"
    state.mkdir()
    plan = MinhashDedupStep(opts).resolve_stages(parts, state, 7)
    results: list[Any] | None = None
    sizes: list[int] = []
    try:
        while True:
            stage = plan.send(results)  # type: ignore[arg-type]
            stage_now, results = len(sizes), []
            sizes.append(len(stage))
            for task in stage:
                function, args = pickle.loads(pickle.dumps(task))
                results.append(function(*args))
    except StopIteration as done:
        counters = done.value
    assert (state / "decisions.parquet").read_bytes() == ref_bytes
    tasks = 7 if pairs_per_task is not None else 1
    assert sizes == _stages(len(parts), 7, tasks, True)
    if budget is not None:
        assert counters["verify_chunks"] > 2 * tasks
    keys, key_docs, _ = _band_table(parts)
    a, b = minhash.band_candidate_pairs(keys, key_docs)
    holding = {f"{part_stem(int(doc) >> 20)}.parquet" for doc in np.concatenate([a, b])}
    by_part: dict[str, list[int]] = {}  # the stages that read a part's shingles
    for stage, name, columns in reads:
        if "shingles" in columns:
            by_part.setdefault(name, []).append(stage)
    assert all(len(stages) == 1 for stages in by_part.values()), by_part
    assert {s for stages in by_part.values() for s in stages} == {3 if tasks > 1 else 2}
    assert set(by_part) <= holding and len(by_part) > len(parts) // 2
    if tasks > 1:
        assert set(by_part) == holding  # the map reads a part iff a task needs its rows
        assert not [r for r in reads if r[0] in (2, 4)]  # needs and verify: no scan read
        assert {r[1] for r in reads if r[0] == 3} == holding


def test_write_batches_a_row_in_several_batches(tmp_path: Path) -> None:
    """:func:`write_batches`: exactly one batch per table, empty ones included, a row in as
    many as hold it; :func:`read_partition` gives batch k of each file in file order."""
    frame = pl.DataFrame({"_doc": [1, 2, 3], "shingles": [[1, 2], [3], []]})
    table = frame.to_arrow()
    wanted = [[0, 2], [], [0, 1, 2], [1]]
    paths = [tmp_path / "first.arrow", tmp_path / "second.arrow"]
    for path in paths:
        write_batches([table.take(np.array(r, dtype=np.int64)) for r in wanted], table.schema, path)
        assert pa.ipc.open_file(str(path)).num_record_batches == len(wanted)
    assert not list(tmp_path.glob("*.tmp"))
    assert read_partition(paths, 1) is None
    for k, rows in enumerate(wanted):
        got = read_partition(paths, k)
        if rows:
            assert got is not None and got.equals(pl.concat([frame[rows], frame[rows]]))


@pytest.mark.parametrize("partitions", [1, 2, 7])
def test_bucket_pairs_partitioned_union_is_band_candidate_pairs(partitions: int) -> None:
    """The pairs of hash partitions of the band rows, united, are
    :func:`band_candidate_pairs`'s over the whole table (each bucket in one partition)."""
    rng = np.random.default_rng(partitions)
    n, bands = 3000, 6
    keys = rng.integers(0, 400, size=(n, bands)).astype(np.uint64)  # many collisions
    keys[:, 3] = keys[:, 2]  # equal keys in different bands are different buckets
    docs = np.cumsum(rng.integers(1, 1 << 30, size=n)).astype(np.int64)
    want_a, want_b = minhash.band_candidate_pairs(keys, docs)
    band = np.tile(np.arange(bands, dtype=np.uint16), n)
    key, doc = keys.ravel(), np.repeat(docs, bands)
    part = np.concatenate([partition_of(keys[:, j], partitions, salt=j) for j in range(bands)])
    part = part.reshape(bands, n).T.ravel()
    found = [bucket_pairs(band[part == p], key[part == p], doc[part == p]) for p in range(7)]
    a = np.concatenate([f[0] for f in found])
    b = np.concatenate([f[1] for f in found])
    assert (a < b).all()
    got = np.unique(np.stack([a, b], axis=1), axis=0)
    assert np.array_equal(got, np.stack([want_a, want_b], axis=1))
    # rows in any order give the same pairs (they are taken in doc order first)
    shuffled = rng.permutation(len(doc))
    a2, b2 = bucket_pairs(band[shuffled], key[shuffled], doc[shuffled])
    got2 = np.unique(np.stack([a2, b2], axis=1), axis=0)
    assert np.array_equal(got2, np.stack([want_a, want_b], axis=1))
