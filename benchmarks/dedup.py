"""Corpus-wide near-duplicate removal: corpusclean ``minhash_dedup`` vs datasketch vs datatrove.

    python benchmarks/dedup.py [INPUT ...] [--labels labels.parquet] [--json FILE]
                               [--workers 2] [--skip-datatrove] [--keep-work DIR]

One corpus with planted duplicates of known Jaccard similarity is deduplicated, in one run, by

1. corpusclean: ``corpusclean run`` (CLI, subprocess, ``--workers N``) with a rules file holding
   only ``minhash_dedup: {num_perm: 128, ngram: 5, threshold: 0.8, verify: true}``, and again
   with ``verify: false``;
2. datasketch: ``MinHash.bulk`` (default ``sha1_hash32``) + ``MinHashLSH(threshold=0.8,
   num_perm=128)`` in a plain Python loop (subprocess, one process): the shingles are
   corpusclean's (``corpusclean.minhash.normalize`` + ``minhash.reference.shingles``), so both
   see the same sets; every document is inserted, then queried; the survivor of each connected
   component of the query results is its first document in input order;
3. datatrove: its four MinHash stages (``MinhashDedupSignature``, ``MinhashDedupBuckets``,
   ``MinhashDedupCluster``, ``MinhashDedupFilter``, default ``MinhashConfig``) with
   ``LocalPipelineExecutor(tasks=N, workers=N)`` reading the same JSONL files, in the
   benchmarks' one datatrove environment (``filters.ensure_venv``, under
   ``~/.cache/corpusclean/bench-datatrove/venv``; never a project dependency). Skipped with a
   message when it cannot be installed.

Input: ``../shared/data/webmix/*.jsonl.gz`` when present (labels: ``labels.parquet`` beside the
files: ``id, category, dup_of, jaccard_5gram``), else the embedded sample (labels: the
generator's ``truth`` and source id of every copy; the Jaccard of a copy to its source is
computed with ``corpusclean.minhash``). Other inputs need ``--labels`` in webmix's format.

Scoring (per tool; see docs/dedup.md for the reasoning):

* a tool's output is, for every removed document, the document it was clustered with and that
  survived (corpusclean: the ``detail`` of ``rejected/``; datasketch: the component's first
  document; datatrove: the kept document with the same ``minhash_cluster_id``);
* recall, per planted pair (copy, original) and per true-Jaccard band: the pair counts as found
  when both ended in the same cluster (one survives, the other was removed as its duplicate),
  whichever of the two comes first in the input; exact copies have Jaccard 1.0;
* precision, per removed document, from the true Jaccard of the document to its survivor (the
  planted value for a planted pair, 1.0 for byte-identical texts, else computed exactly with
  corpusclean's normalisation: natural near-duplicates the corpus already had):
  ``P@0.8`` counts a removal as correct when that Jaccard is >= 0.8; ``P planted`` also
  accepts any removal inside a planted group (a planted copy of any similarity);
* F1@0.8 combines P@0.8 with R@0.8, the recall over planted pairs of true Jaccard >= 0.8.

Also timed, in this process (one thread but Polars'): MinHash signatures alone, corpusclean's
``minhash.signatures`` (from raw text: normalise, shingle, hash, permute) against datasketch's
``MinHash.bulk`` on the same shingles already built (the strict reading of the target), and
against datasketch's shingling + ``bulk`` (the same work on both sides); both ratios print.
"""

from __future__ import annotations

import argparse
import datetime
import gzip
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from corpusclean import minhash as mh  # noqa: E402
from corpusclean.io import expand_inputs  # noqa: E402
from corpusclean.minhash import reference  # noqa: E402

WEBMIX = ROOT.parent / "shared" / "data" / "webmix"
#: The datatrove environment every benchmark shares (``filters.py`` makes it; never a
#: corpusclean dependency).
DATATROVE_VENV = (
    Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    / "corpusclean"
    / "bench-datatrove"
    / "venv"
)

NUM_PERM, NGRAM, THRESHOLD, SEED = 128, 5, 0.8, 1
BATCH_DOCS = 1000  # the engine's batch size, used for the in-process signature timing
DATASKETCH_BULK = "datasketch MinHash.bulk (sha1_hash32)"
DATASKETCH_FULL = "datasketch shingling + MinHash.bulk"
BANDS = [(">=0.9", 0.9, 1.01), ("0.8-0.9", 0.8, 0.9), ("0.5-0.8", 0.5, 0.8), ("<0.5", 0.0, 0.5)]


# --------------------------------------------------------------------------------------------
# Input and planted truth
# --------------------------------------------------------------------------------------------


@dataclass
class Corpus:
    files: list[Path]
    ids: list[str]
    texts: list[str]
    description: str
    pairs: pl.DataFrame  # copy, original, category, jaccard (the planted truth), jaccard_ours
    index: dict[str, int] = field(default_factory=dict)  # id -> position in input order
    shingles: mh.ShingleHashes | None = None  # 64-bit word 5-gram hashes, our normalisation

    @property
    def n_docs(self) -> int:
        return len(self.ids)


def read_jsonl(files: list[Path]) -> tuple[list[str], list[str]]:
    """ids and texts of every record, in the engine's order (sorted files, line order)."""
    ids: list[str] = []
    texts: list[str] = []
    for path in files:
        opener = gzip.open if path.name.endswith(".gz") else open
        with opener(path, "rt", encoding="utf-8") as f:
            for line_no, line in enumerate(f, 1):
                record = json.loads(line)
                if "id" not in record:
                    raise SystemExit(f"{path}:{line_no}: record without an id (needed to score)")
                ids.append(str(record["id"]))
                texts.append(record.get("text") or "")
    return ids, texts


def labelled_pairs(labels: Path) -> pl.DataFrame:
    """Planted pairs from a webmix-style labels.parquet (exact copies: Jaccard 1.0)."""
    frame = pl.read_parquet(labels, columns=["id", "category", "dup_of", "jaccard_5gram"])
    return frame.filter(pl.col("category").is_in(["exact_dup", "near_dup"])).select(
        pl.col("id").alias("copy"),
        pl.col("dup_of").alias("original"),
        "category",
        pl.when(pl.col("category") == "exact_dup")
        .then(1.0)
        .otherwise(pl.col("jaccard_5gram"))
        .alias("jaccard"),
    )


def sample_pairs() -> pl.DataFrame:
    """Planted pairs of the embedded sample, from the generator's notes (Jaccard added later)."""
    from corpusclean.cli import SAMPLE_DOCS, SAMPLE_SEED
    from corpusclean.sample import generate_annotated

    rows = [
        (record["id"], note.source_id, note.truth)
        for record, note in generate_annotated(SAMPLE_DOCS, SAMPLE_SEED)
        if note.truth in ("exact_dup", "near_dup")
    ]
    copy, original, category = zip(*rows, strict=True) if rows else ((), (), ())
    return pl.DataFrame(
        {"copy": list(copy), "original": list(original), "category": list(category)},
        schema={"copy": pl.String, "original": pl.String, "category": pl.String},
    )


def load_corpus(inputs: list[str], labels: str | None) -> Corpus:
    from corpusclean.cli import sample_path

    if inputs:
        patterns, description = inputs, " ".join(inputs)
    elif WEBMIX.is_dir():
        patterns, description = [str(WEBMIX / "*.jsonl.gz")], str(WEBMIX / "*.jsonl.gz")
    else:
        patterns, description = [str(sample_path())], "the embedded sample"
    files = expand_inputs(patterns)
    ids, texts = read_jsonl(files)
    if labels is None and (files[0].parent / "labels.parquet").is_file():
        labels = str(files[0].parent / "labels.parquet")
    if labels is not None:
        pairs = labelled_pairs(Path(labels))
    elif files == [sample_path()]:
        pairs = sample_pairs()
    else:
        raise SystemExit("no labels: pass --labels FILE (id, category, dup_of, jaccard_5gram)")
    corpus = Corpus(files, ids, texts, description, pairs)
    corpus.index = {doc_id: i for i, doc_id in enumerate(ids)}
    missing = pairs.filter(
        ~pl.col("copy").is_in(list(corpus.index)) | ~pl.col("original").is_in(list(corpus.index))
    )
    if missing.height:
        raise SystemExit(f"{missing.height} labelled pairs name documents not in the input")
    # Our normalisation's exact Jaccard of every pair (the truth for the sample).
    corpus.shingles = mh.shingle_hashes(
        pl.Series("text", texts, dtype=pl.String), ngram=NGRAM, hash="fast", bits=64
    )
    a = np.array([corpus.index[i] for i in corpus.pairs["copy"]], dtype=np.int64)
    b = np.array([corpus.index[i] for i in corpus.pairs["original"]], dtype=np.int64)
    ours = mh.pair_jaccard(corpus.shingles, a, b)
    corpus.pairs = corpus.pairs.with_columns(pl.Series("jaccard_ours", ours))
    if "jaccard" not in corpus.pairs.columns:
        corpus.pairs = corpus.pairs.with_columns(pl.col("jaccard_ours").alias("jaccard"))
    return corpus


# --------------------------------------------------------------------------------------------
# Running a tool in a subprocess: wall time and peak memory of its whole process tree
# --------------------------------------------------------------------------------------------


@dataclass
class Run:
    tool: str
    seconds: float = 0.0
    peak_rss: int = 0  # bytes: the largest sum of RSS over the process tree (sampled)
    peak_rss_single: int = 0  # bytes: the largest single process of the tree
    peak_rss_root: int = 0  # bytes: the process started (corpusclean: the parent, resolve)
    removed: dict[str, str | None] = field(default_factory=dict)  # removed id -> survivor id
    extra: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


def _descendants(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        try:
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children") as f:
                    todo.extend(int(c) for c in f.read().split())
        except OSError:
            continue
    return found


def _rss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, IndexError, ValueError):
        return 0


def run_measured(command: list[str], log: Path, env: dict[str, str] | None = None) -> Run:
    """Run ``command``, sampling the RSS of its process tree every 50 ms; stdout+stderr -> log."""
    run = Run(tool="")
    with open(log, "wb") as out:
        start = time.perf_counter()
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
        done = threading.Event()

        def sample() -> None:
            while not done.is_set():
                sizes = [_rss(p) for p in _descendants(proc.pid)]
                run.peak_rss = max(run.peak_rss, sum(sizes))
                run.peak_rss_root = max(run.peak_rss_root, sizes[0] if sizes else 0)
                run.peak_rss_single = max(run.peak_rss_single, max(sizes, default=0))
                done.wait(0.05)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        code = proc.wait()
        run.seconds = time.perf_counter() - start
        done.set()
        sampler.join()
    if code != 0:
        tail = log.read_text(errors="replace")[-2000:]
        run.error = f"exit status {code}; end of {log}:\n{tail}"
    return run


# --------------------------------------------------------------------------------------------
# 1. corpusclean
# --------------------------------------------------------------------------------------------

_DETAIL = re.compile(r"^near-duplicate of (.*) \((?:estimated_)?jaccard=")


def run_ours(corpus: Corpus, work: Path, workers: int, verify: bool) -> Run:
    name = f"corpusclean verify={'true' if verify else 'false'}"
    folder = work / ("ours-verify" if verify else "ours-noverify")
    folder.mkdir(parents=True)
    rules = folder / "rules.yaml"
    rules.write_text(
        "version: 1\nname: dedup-bench\nsteps:\n"
        f"  - minhash_dedup: {{num_perm: {NUM_PERM}, ngram: {NGRAM}, threshold: {THRESHOLD}, "
        f"verify: {'true' if verify else 'false'}}}\n"
    )
    command = [sys.executable, "-m", "corpusclean", "run", str(rules)]
    for path in corpus.files:
        command += ["--input", str(path)]
    command += ["--output", str(folder / "out"), "--workers", str(workers), "--quiet"]
    run = run_measured(command, folder / "log.txt")
    run.tool = name
    if run.error:
        return run
    rejected = pl.read_parquet(folder / "out" / "rejected" / "*.parquet", columns=["id", "detail"])
    survivors = rejected["detail"].str.extract(_DETAIL.pattern, 1)
    run.removed = dict(zip(rejected["id"].to_list(), survivors.to_list(), strict=True))
    stats = json.loads((folder / "out" / "stats.json").read_text())
    run.extra = {
        "counters": stats["steps"][0].get("counters", {}),
        "engine_seconds": stats["seconds"],
    }
    return run


# --------------------------------------------------------------------------------------------
# 2. datasketch (runs as `python benchmarks/dedup.py _datasketch OUT FILE...`)
# --------------------------------------------------------------------------------------------


def datasketch_peer(out: Path, files: list[Path]) -> None:
    """The datasketch side, in its own process: MinHash.bulk + MinHashLSH insert/query."""
    from datasketch import MinHash, MinHashLSH

    timings: dict[str, float] = {}
    start = time.perf_counter()
    ids, texts = read_jsonl(files)
    timings["read"] = time.perf_counter() - start

    t = time.perf_counter()
    sets: list[list[bytes]] = []
    for i in range(0, len(texts), BATCH_DOCS):
        for norm in mh.normalize(texts[i : i + BATCH_DOCS]).to_list():
            sets.append(
                [s.encode("utf-8") for s in reference.shingles(norm, NGRAM, normalized=True)]
            )
    timings["shingles"] = time.perf_counter() - t

    t = time.perf_counter()
    minhashes = MinHash.bulk(sets, num_perm=NUM_PERM, seed=SEED)
    timings["signatures"] = time.perf_counter() - t

    t = time.perf_counter()
    lsh = MinHashLSH(threshold=THRESHOLD, num_perm=NUM_PERM)
    indexed = [i for i, s in enumerate(sets) if s]  # a document without words is never matched
    for i in indexed:
        lsh.insert(i, minhashes[i], check_duplication=False)
    a: list[int] = []
    b: list[int] = []
    for i in indexed:
        for j in lsh.query(minhashes[i]):
            if j != i:
                a.append(i)
                b.append(j)
    roots = mh.union_find(len(ids), (np.array(a, dtype=np.int64), np.array(b, dtype=np.int64)))
    timings["lsh"] = time.perf_counter() - t

    removed = np.flatnonzero(roots != np.arange(len(ids)))
    pl.DataFrame(
        {"id": [ids[i] for i in removed], "survivor": [ids[r] for r in roots[removed]]},
        schema={"id": pl.String, "survivor": pl.String},
    ).write_parquet(out)
    out.with_suffix(".json").write_text(json.dumps(timings))


def run_datasketch(corpus: Corpus, work: Path) -> Run:
    folder = work / "datasketch"
    folder.mkdir(parents=True)
    out = folder / "removed.parquet"
    command = [sys.executable, str(Path(__file__).resolve()), "_datasketch", str(out)]
    run = run_measured(command + [str(p) for p in corpus.files], folder / "log.txt")
    run.tool = "datasketch MinHashLSH"
    if run.error:
        return run
    removed = pl.read_parquet(out)
    run.removed = dict(zip(removed["id"].to_list(), removed["survivor"].to_list(), strict=True))
    run.extra = {"phase_seconds": json.loads(out.with_suffix(".json").read_text())}
    return run


# --------------------------------------------------------------------------------------------
# 3. datatrove (own virtual environment, generated pipeline script)
# --------------------------------------------------------------------------------------------

DATATROVE_SCRIPT = '''\
"""datatrove's MinHash deduplication, four stages, default MinhashConfig (generated)."""
import json
import sys
import time

from datatrove.executor import LocalPipelineExecutor
from datatrove.pipeline.dedup.minhash import (
    MinhashConfig,
    MinhashDedupBuckets,
    MinhashDedupCluster,
    MinhashDedupFilter,
    MinhashDedupSignature,
)
from datatrove.pipeline.readers import JsonlReader
from datatrove.pipeline.writers import JsonlWriter


def main() -> None:
    work, tasks = sys.argv[1], int(sys.argv[2])
    config = MinhashConfig()

    def reader():
        return JsonlReader(f"{work}/input", glob_pattern="*.jsonl*", text_key="text", id_key="id")

    stages = {
        "signatures": LocalPipelineExecutor(
            [reader(), MinhashDedupSignature(f"{work}/signatures", config=config)],
            tasks=tasks, workers=tasks, logging_dir=f"{work}/logs/signatures",
        ),
        "buckets": LocalPipelineExecutor(
            [MinhashDedupBuckets(f"{work}/signatures", f"{work}/buckets", config=config)],
            tasks=config.num_buckets, workers=tasks, logging_dir=f"{work}/logs/buckets",
        ),
        "cluster": LocalPipelineExecutor(
            [MinhashDedupCluster(f"{work}/buckets", f"{work}/remove", config=config,
                                 save_cluster_id=True)],
            tasks=1, logging_dir=f"{work}/logs/cluster",
        ),
        "filter": LocalPipelineExecutor(
            [
                reader(),
                MinhashDedupFilter(f"{work}/remove", load_cluster_ids=True,
                                   exclusion_writer=JsonlWriter(f"{work}/removed")),
                JsonlWriter(f"{work}/kept"),
            ],
            tasks=tasks, workers=tasks, logging_dir=f"{work}/logs/filter",
        ),
    }
    seconds = {}
    for name, stage in stages.items():
        start = time.perf_counter()
        stage.run()
        seconds[name] = time.perf_counter() - start
    with open(f"{work}/stage_seconds.json", "w") as f:
        json.dump(seconds, f)


if __name__ == "__main__":
    main()
'''


def datatrove_python() -> tuple[Path | None, str]:
    """datatrove's python and version, from the one benchmark environment ``filters.py`` makes
    (created and filled on first use), or None and why not."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import filters

    try:
        python = filters.ensure_venv(DATATROVE_VENV)
        version = subprocess.run(
            [str(python), "-c", "import importlib.metadata as m; print(m.version('datatrove'))"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError) as exc:
        detail = getattr(exc, "stderr", None) or str(exc)
        return None, f"could not install datatrove: {detail.strip()[-1500:]}"
    return python, version


def read_datatrove_output(folder: Path) -> list[tuple[str, int]]:
    """(id, minhash_cluster_id) of every document a JsonlWriter wrote under ``folder``."""
    rows = []
    for path in sorted(folder.glob("*.jsonl.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as f:
            for line in f:
                record = json.loads(line)
                rows.append((str(record["id"]), int(record["metadata"]["minhash_cluster_id"])))
    return rows


def run_datatrove(corpus: Corpus, work: Path, workers: int) -> Run:
    python, version = datatrove_python()
    if python is None:
        return Run(tool="datatrove MinHash", error=version)
    folder = work / "datatrove"
    (folder / "input").mkdir(parents=True)
    for i, path in enumerate(corpus.files):  # numbered links keep the input order
        (folder / "input" / f"{i:05d}-{path.name}").symlink_to(path.resolve())
    script = folder / "pipeline.py"
    script.write_text(DATATROVE_SCRIPT)
    env = {**os.environ, "PYTHONPATH": "", "VIRTUAL_ENV": str(DATATROVE_VENV)}
    command = [str(python), str(script), str(folder), str(workers)]
    run = run_measured(command, folder / "log.txt", env=env)
    run.tool = "datatrove MinHash"
    if run.error:
        return run
    kept = read_datatrove_output(folder / "kept")
    removed = read_datatrove_output(folder / "removed")
    survivor_of_cluster = {cluster: doc for doc, cluster in kept if cluster >= 0}
    run.removed = {doc: survivor_of_cluster.get(cluster) for doc, cluster in removed}
    run.extra = {
        "datatrove_version": version,
        "stage_seconds": json.loads((folder / "stage_seconds.json").read_text()),
        "kept_docs": len(kept),
    }
    return run


# --------------------------------------------------------------------------------------------
# Scoring against the planted truth
# --------------------------------------------------------------------------------------------


def exact_groups(corpus: Corpus) -> np.ndarray:
    """For every document, the index of the first document with byte-identical text."""
    frame = pl.DataFrame({"text": corpus.texts}).with_row_index("i")
    first = frame.group_by("text").agg(pl.col("i").min().alias("first"))
    joined = frame.join(first, on="text").sort("i")
    return joined["first"].to_numpy().astype(np.int64)


def truth_components(corpus: Corpus) -> np.ndarray:
    """Connected components of planted pairs and byte-identical texts (root index per doc)."""
    copy = np.array([corpus.index[i] for i in corpus.pairs["copy"]], dtype=np.int64)
    original = np.array([corpus.index[i] for i in corpus.pairs["original"]], dtype=np.int64)
    exact = exact_groups(corpus)
    a = np.concatenate([copy, exact])
    b = np.concatenate([original, np.arange(corpus.n_docs)])
    return mh.union_find(corpus.n_docs, (a, b))


def score(run: Run, corpus: Corpus, components: np.ndarray) -> dict[str, Any]:
    index = corpus.index
    cluster = np.arange(corpus.n_docs)  # the surviving document of each document's cluster
    for doc, survivor in run.removed.items():
        cluster[index[doc]] = index[survivor] if survivor is not None else -1 - index[doc]

    # Recall: a planted pair is found when both documents ended in the same cluster.
    copy = np.array([index[i] for i in corpus.pairs["copy"]], dtype=np.int64)
    original = np.array([index[i] for i in corpus.pairs["original"]], dtype=np.int64)
    found = cluster[copy] == cluster[original]
    jaccard = corpus.pairs["jaccard"].to_numpy()
    bands = {}
    for name, low, high in BANDS:
        in_band = (jaccard >= low) & (jaccard < high)
        bands[name] = {
            "pairs": int(in_band.sum()),
            "found": int(found[in_band].sum()),
            "recall": float(found[in_band].mean()) if in_band.any() else None,
        }
    target = jaccard >= THRESHOLD
    recall = float(found[target].mean()) if target.any() else 0.0

    # Precision. The true Jaccard of each removed document to its survivor: the planted value
    # when the two are a planted pair, 1.0 when byte-identical, else computed exactly with
    # corpusclean's normalisation (natural near-duplicates, or two copies of one original).
    removed_ids = list(run.removed)
    d = np.array([index[i] for i in removed_ids], dtype=np.int64)
    s = np.array([cluster[index[i]] for i in removed_ids], dtype=np.int64)
    known = s >= 0  # datatrove: a removed document whose cluster has no kept member (never seen)
    s_known = np.where(known, s, d)
    planted: dict[tuple[int, int], tuple[float, float]] = {}
    for c, o, j, ours in zip(
        copy.tolist(),
        original.tolist(),
        jaccard.tolist(),
        corpus.pairs["jaccard_ours"],
        strict=True,
    ):
        planted[(c, o)] = planted[(o, c)] = (j, ours)
    similarity = np.full(len(d), np.nan)
    normalisation_only = np.zeros(len(d), dtype=bool)  # planted J < 0.8 <= our normalisation's
    for k, (doc, survivor) in enumerate(zip(d.tolist(), s_known.tolist(), strict=True)):
        if (doc, survivor) in planted:
            similarity[k], ours = planted[(doc, survivor)]
            normalisation_only[k] = similarity[k] < THRESHOLD <= ours
    exact = exact_groups(corpus)
    similarity[known & (exact[d] == exact[s_known])] = 1.0
    todo = np.flatnonzero(known & np.isnan(similarity))
    assert corpus.shingles is not None
    similarity[todo] = mh.pair_jaccard(corpus.shingles, d[todo], s[todo])
    similarity[~known] = 0.0
    same_group = known & (components[d] == components[s_known])
    correct = same_group | (similarity >= THRESHOLD)  # planted copies of any similarity count
    correct_at_threshold = similarity >= THRESHOLD
    precision = float(correct.mean()) if len(d) else 1.0
    precision_at = float(correct_at_threshold.mean()) if len(d) else 1.0
    f1 = 2 * precision_at * recall / (precision_at + recall) if precision_at + recall else 0.0

    wrong = np.flatnonzero(~correct_at_threshold)
    false_positives = [
        {
            "id": removed_ids[i],
            "survivor": corpus.ids[s[i]] if known[i] else None,
            "jaccard": round(float(similarity[i]), 3),
            "planted_group": bool(same_group[i]),
        }
        for i in wrong[:30]
    ]
    members = np.flatnonzero(exact != np.arange(corpus.n_docs))
    collapsed = cluster[members] == cluster[exact[members]]
    return {
        "removed": len(d),
        "removed_in_planted_or_identical_group": int(same_group.sum()),
        "removed_natural_near_dup": int((~same_group & correct).sum()),
        "removed_below_threshold": int((~correct_at_threshold).sum()),
        "removed_below_threshold_planted": int((~correct_at_threshold & same_group).sum()),
        "removed_below_threshold_by_normalisation_only": int(normalisation_only.sum()),
        "precision": precision,
        "precision_at_threshold": precision_at,
        "recall_at_threshold": recall,
        "f1_at_threshold": f1,
        "recall_all_planted": float(found.mean()) if len(found) else None,
        "recall_by_band": bands,
        "byte_identical_copies_collapsed": float(collapsed.mean()) if len(members) else None,
        "false_positive_examples": false_positives,
    }


# --------------------------------------------------------------------------------------------
# Signatures alone (this process)
# --------------------------------------------------------------------------------------------


def time_signatures(corpus: Corpus) -> dict[str, Any]:
    from datasketch import MinHash

    batches = [corpus.texts[i : i + BATCH_DOCS] for i in range(0, corpus.n_docs, BATCH_DOCS)]
    series = [pl.Series("text", b, dtype=pl.String) for b in batches]
    mh.signatures(series[0][:20], num_perm=NUM_PERM, ngram=NGRAM, seed=SEED)  # warm caches

    seconds: dict[str, float] = {}
    ours: dict[str, np.ndarray] = {}
    for hash_name in ("fast", "sha1"):
        start = time.perf_counter()
        parts = [
            mh.signatures(b, num_perm=NUM_PERM, ngram=NGRAM, seed=SEED, hash=hash_name)
            for b in series
        ]
        seconds[f"corpusclean hash={hash_name}"] = time.perf_counter() - start
        ours[hash_name] = np.concatenate(parts)

    shingling_seconds = bulk_seconds = 0.0
    theirs = []
    for batch in batches:
        start = time.perf_counter()
        sets = [
            [s.encode("utf-8") for s in reference.shingles(t, NGRAM, normalized=True)]
            for t in mh.normalize(batch).to_list()
        ]
        shingling_seconds += time.perf_counter() - start
        start = time.perf_counter()
        minhashes = MinHash.bulk(sets, num_perm=NUM_PERM, seed=SEED)
        bulk_seconds += time.perf_counter() - start
        theirs.append(np.stack([m.hashvalues for m in minhashes]))
    seconds[DATASKETCH_BULK] = bulk_seconds
    seconds[DATASKETCH_FULL] = shingling_seconds + bulk_seconds
    identical = bool(np.array_equal(np.concatenate(theirs), ours["sha1"]))
    return {"seconds": seconds, "sha1_signatures_identical_to_datasketch": identical}


# --------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------


def fmt(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def print_table(results: dict[str, Any]) -> None:
    runs = results["tools"]
    n = results["input"]["docs"]
    ours = runs.get("corpusclean verify=true", {})
    band_heads = " ".join(f"{'R ' + b[0]:>9}" for b in BANDS)
    print()
    print(
        f"{'tool':<25} {'removed':>7} {'P@0.8':>6} {'P plan':>6} {'R@0.8':>6} {'F1@0.8':>6} "
        f"{band_heads} {'wall s':>6} {'docs/s':>6} {'peak MB':>7} {'t/ours':>6} {'m/ours':>6}"
    )
    for name, entry in runs.items():
        if entry.get("error"):
            print(f"{name:<25} skipped: {entry['error'].splitlines()[0]}")
            continue
        m = entry["metrics"]
        bands = " ".join(f"{fmt(m['recall_by_band'][b[0]]['recall']):>9}" for b in BANDS)
        slower = entry["seconds"] / ours["seconds"] if ours.get("seconds") else None
        memory = entry["peak_rss"] / ours["peak_rss"] if ours.get("peak_rss") else None
        print(
            f"{name:<25} {m['removed']:>7} {fmt(m['precision_at_threshold']):>6} "
            f"{fmt(m['precision']):>6} {fmt(m['recall_at_threshold']):>6} "
            f"{fmt(m['f1_at_threshold']):>6} {bands} {entry['seconds']:>6.1f} "
            f"{n / entry['seconds']:>6.0f} {entry['peak_rss'] / 1e6:>7.0f} {fmt(slower, 2):>6} "
            f"{fmt(memory, 2):>6}"
        )
    pairs = results["input"]["planted_pairs_by_band"]
    counts = " ".join(f"{pairs[b[0]]:>9}" for b in BANDS)
    print(f"{'planted pairs per band':<25} {'':>36} {counts}")
    print("t/ours, m/ours: the tool's wall time, peak memory / corpusclean verify=true's;")
    print("peak MB: RSS summed over the tool's process tree, sampled every 50 ms")

    sig = results["signatures"]["seconds"]
    base = sig[DATASKETCH_BULK]
    full = sig[DATASKETCH_FULL]
    print()
    print(
        f"signatures only, {n} docs, this process      seconds    docs/s   x bulk   "
        "x shingling+bulk"
    )
    for name, seconds in sig.items():
        print(
            f"  {name:<42} {seconds:>7.2f} {n / seconds:>9.0f} {base / seconds:>8.2f} "
            f"{full / seconds:>8.2f}"
        )
    print(
        "  x bulk: datasketch MinHash.bulk on shingles already built (corpusclean starts from"
        " text);\n  x shingling+bulk: the same work on both sides (text in, signatures out)"
    )
    identical = results["signatures"]["sha1_signatures_identical_to_datasketch"]
    print(f"  corpusclean hash=sha1 signatures bit-identical to datasketch's: {identical}")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["_datasketch"]:  # the datasketch subprocess
        datasketch_peer(Path(argv[1]), [Path(p) for p in argv[2:]])
        return 0

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("inputs", nargs="*", help="JSONL(.gz) files or globs (default: webmix)")
    p.add_argument("--labels", help="labels.parquet: id, category, dup_of, jaccard_5gram")
    p.add_argument("--json", help="write the results as JSON to this file")
    p.add_argument("--workers", type=int, default=2, help="processes for corpusclean/datatrove")
    p.add_argument("--skip-datatrove", action="store_true", help="do not run datatrove")
    p.add_argument("--keep-work", help="keep every tool's output in this folder")
    args = p.parse_args(argv)

    corpus = load_corpus(args.inputs, args.labels)
    mb = sum(path.stat().st_size for path in corpus.files) / 1e6
    text_mb = sum(len(t.encode("utf-8")) for t in corpus.texts) / 1e6
    jaccard = corpus.pairs["jaccard"].to_numpy()
    by_band = {name: int(((jaccard >= lo) & (jaccard < hi)).sum()) for name, lo, hi in BANDS}
    print(
        f"input: {corpus.description}: {corpus.n_docs} docs, {text_mb:.1f} MB of text "
        f"({mb:.1f} MB on disk), {corpus.pairs.height} planted pairs {by_band}"
    )
    components = truth_components(corpus)

    if args.keep_work:
        work = Path(args.keep_work)
        if work.exists():
            shutil.rmtree(work)
        work.mkdir(parents=True)
    else:
        work = Path(tempfile.mkdtemp(prefix="corpusclean-dedup-bench-"))
    results: dict[str, Any] = {
        "date": datetime.date.today().isoformat(),
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "load_average_at_start": os.getloadavg(),
        },
        "settings": {"num_perm": NUM_PERM, "ngram": NGRAM, "threshold": THRESHOLD},
        "workers": args.workers,
        "input": {
            "description": corpus.description,
            "docs": corpus.n_docs,
            "text_mb": round(text_mb, 1),
            "planted_pairs": corpus.pairs.height,
            "planted_pairs_by_band": by_band,
        },
        "tools": {},
    }
    try:
        runners = [
            lambda: run_ours(corpus, work, args.workers, verify=True),
            lambda: run_ours(corpus, work, args.workers, verify=False),
            lambda: run_datasketch(corpus, work),
        ]
        if args.skip_datatrove:
            print("datatrove: skipped (--skip-datatrove)")
        else:
            runners.append(lambda: run_datatrove(corpus, work, args.workers))
        for runner in runners:
            run = runner()
            print(
                f"{run.tool}: " + (f"failed: {run.error}" if run.error else f"{run.seconds:.1f} s")
            )
            entry: dict[str, Any] = {"error": run.error}
            if not run.error:
                entry |= {
                    "seconds": run.seconds,
                    "docs_per_second": corpus.n_docs / run.seconds,
                    "peak_rss": run.peak_rss,
                    "peak_rss_single_process": run.peak_rss_single,
                    "metrics": score(run, corpus, components),
                    **run.extra,
                }
            results["tools"][run.tool] = entry
    finally:
        if not args.keep_work:
            shutil.rmtree(work, ignore_errors=True)

    ours = results["tools"].get("corpusclean verify=true", {})
    results["ratios_to_ours_verify"] = {
        name: {
            "wall_seconds_peer_over_ours": entry["seconds"] / ours["seconds"],
            "peak_memory_ours_over_peer": ours["peak_rss"] / entry["peak_rss"],
        }
        for name, entry in results["tools"].items()
        if not entry.get("error") and ours.get("seconds")
    }
    print("timing signatures alone ...")
    results["signatures"] = time_signatures(corpus)
    results["machine"]["load_average_at_end"] = os.getloadavg()
    print_table(results)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
        print(f"\nresults: {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
