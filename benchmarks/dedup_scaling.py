"""Peak memory of ``minhash_dedup`` as the corpus grows: webmix at 1x and Kx, replicated.

    python benchmarks/dedup_scaling.py [INPUT ...] [--replicas 1 5] [--modes exact distinct]
                                       [--verify true false] [--workers 2] [--json FILE]
    python benchmarks/dedup_scaling.py --synthetic 1000000 10000000 [--verify true]

Why: the corpus-wide resolve runs in one process; what it holds must grow with what LSH needs
(band keys of every document, the rows of candidate documents), never with the texts. Each
input is written K times as JSONL with new ids (``<id>~r<k>``), in one of two ways:

* ``exact``: every replica is the same text under a new id. The worst case for duplicates:
  each document has K-1 byte-identical copies, so every document is a candidate.
* ``distinct``: replica ``k > 0`` appends ``q<k>`` to every word (``\\w+``), so replicas share
  no shingle; the corpus keeps webmix's duplicate structure K times over (K times the
  documents, candidates and planted pairs).

``--synthetic N [N ...]`` instead writes corpora of N short documents (60 words drawn from
a 50,000-word vocabulary of made-up words, files of 1M documents) with webmix's duplicate
rate planted: 10% of the documents are exact copies and 10% near copies (one word of 60
changed: 5-gram Jaccard 51/61 = 0.84) of an earlier document. That reaches the issue's
10 million documents on this machine's disk and time, where replicating webmix 500 times
would not; the resolve's memory depends on documents, bands and candidates, not on how
long the texts are.

Each corpus is deduplicated by ``corpusclean run`` with only ``minhash_dedup: {num_perm: 128,
ngram: 5, threshold: 0.8, verify: ...}`` (subprocess, ``--workers N``). Reported per run:
wall seconds, peak RSS of the parent process (it reads the inputs, then runs the resolve:
candidate pairs, verification, clustering) and of the whole process tree (sampled every 50 ms,
as ``benchmarks/dedup.py`` does), and the step's counters.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))

from dedup import WEBMIX, read_jsonl, run_measured  # noqa: E402


def write_replicas(ids: list[str], texts: list[str], replicas: int, mode: str, out: Path) -> Path:
    """``replicas`` copies of the corpus as one JSONL file per replica, new ids."""
    folder = out / f"{mode}-x{replicas}"
    folder.mkdir(parents=True)
    base = pl.DataFrame({"id": ids, "text": texts}, schema={"id": pl.String, "text": pl.String})
    for k in range(replicas):
        frame = base.with_columns(pl.col("id") + f"~r{k}")
        if mode == "distinct" and k > 0:
            frame = frame.with_columns(pl.col("text").str.replace_all(r"(\w+)", f"${{1}}q{k}"))
        frame.write_ndjson(folder / f"replica-{k:03d}.jsonl")
    return folder


SYNTHETIC_WORDS = 60
SYNTHETIC_VOCAB = 50_000
SYNTHETIC_FILE_DOCS = 1_000_000


def write_synthetic(docs: int, out: Path, seed: int = 0) -> Path:
    """``docs`` documents with planted exact (10%) and near (10%) copies, as JSONL files of
    ``SYNTHETIC_FILE_DOCS`` documents; copies point at an earlier document of their file."""
    folder = out / f"synthetic-{docs}"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    letters = np.frombuffer(b"abcdefghijklmnopqrstuvwxyz", dtype=np.uint8)
    vocab = pl.Series(
        [
            bytes(letters[rng.integers(0, 26, rng.integers(3, 10))]).decode()
            for _ in range(SYNTHETIC_VOCAB)
        ]
    )
    for start in range(0, docs, SYNTHETIC_FILE_DOCS):
        n = min(SYNTHETIC_FILE_DOCS, docs - start)
        words = rng.integers(0, SYNTHETIC_VOCAB, (n, SYNTHETIC_WORDS), dtype=np.int32)
        kind = rng.random(n)
        kind[0] = 1.0  # the first document is an original
        copy = np.flatnonzero(kind < 0.2)
        originals = np.flatnonzero(kind >= 0.2)
        earlier = np.searchsorted(originals, copy)  # originals before each copy (>= 1)
        source = originals[(rng.random(len(copy)) * earlier).astype(np.int64)]
        words[copy] = words[source]
        near = copy[kind[copy] >= 0.1]
        position = rng.integers(0, SYNTHETIC_WORDS, len(near))
        words[near, position] = (words[near, position] + 1) % SYNTHETIC_VOCAB
        frame = (
            pl.DataFrame({"w": vocab.gather(words.ravel())})
            .with_row_index("i")
            .group_by(pl.col("i") // SYNTHETIC_WORDS, maintain_order=True)
            .agg(pl.col("w").str.join(" ").alias("text"))
            .select(pl.format("syn-{}", pl.col("i") + start).alias("id"), "text")
        )
        frame.write_ndjson(folder / f"part-{start // SYNTHETIC_FILE_DOCS:04d}.jsonl")
    return folder


def run_one(folder: Path, work: Path, workers: int, verify: bool) -> dict[str, Any]:
    rules = work / f"rules-{verify}.yaml"
    rules.write_text(
        "version: 1\nname: dedup-scaling\nsteps:\n"
        "  - minhash_dedup: {num_perm: 128, ngram: 5, threshold: 0.8, "
        f"verify: {'true' if verify else 'false'}}}\n"
    )
    out = work / f"out-{folder.name}-{verify}"
    command = [sys.executable, "-m", "corpusclean", "run", str(rules)]
    for path in sorted(folder.glob("*.jsonl")):
        command += ["--input", str(path)]
    command += ["--output", str(out), "--workers", str(workers), "--quiet"]
    run = run_measured(command, work / f"log-{folder.name}-{verify}.txt")
    if run.error:
        raise SystemExit(run.error)
    stats = json.loads((out / "stats.json").read_text())
    result = {
        "docs": stats["input_docs"],
        "input_mb": round(sum(p.stat().st_size for p in folder.glob("*.jsonl")) / 1e6, 1),
        "seconds": round(run.seconds, 2),
        "engine_seconds": stats["seconds"],
        "peak_rss_parent_mb": round(run.peak_rss_root / 1e6),
        "peak_rss_tree_mb": round(run.peak_rss / 1e6),
        "counters": stats["steps"][0].get("counters", {}),
        "removed": sum(stats["rejected"].values()),
    }
    shutil.rmtree(out)
    return result


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("inputs", nargs="*", help="JSONL(.gz) files (default: webmix)")
    p.add_argument("--replicas", type=int, nargs="+", default=[1, 5])
    p.add_argument("--modes", nargs="+", default=["exact", "distinct"])
    p.add_argument("--verify", nargs="+", default=["true"], choices=["true", "false"])
    p.add_argument(
        "--synthetic",
        type=int,
        nargs="+",
        metavar="N",
        help=(
            "instead of replicas: synthetic corpora of N documents each (see the module docstring)"
        ),
    )
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--json", help="write the results to this file")
    args = p.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="corpusclean-dedup-scaling-"))
    results: list[dict[str, Any]] = []
    try:
        for row_base, folder in corpora(args, work):
            for verify in args.verify:
                row = {**row_base, "verify": verify == "true"}
                row |= run_one(folder, work, args.workers, verify == "true")
                results.append(row)
                print(json.dumps(row), flush=True)
            shutil.rmtree(folder)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print_table(results)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    return 0


def corpora(args: argparse.Namespace, work: Path) -> Iterator[tuple[dict[str, Any], Path]]:
    """(what names the corpus in a result row, its folder), written one at a time."""
    if args.synthetic:
        for docs in args.synthetic:
            yield {"replicas": 1, "mode": f"synthetic {docs:,}"}, write_synthetic(docs, work)
        return
    files = [Path(f) for f in args.inputs] or sorted(WEBMIX.glob("part-*.jsonl.gz"))
    if not files:
        raise SystemExit("no input: give JSONL files (../shared/data/webmix is absent)")
    ids, texts = read_jsonl(files)
    for replicas in args.replicas:
        for mode in args.modes if replicas > 1 else ["exact"]:
            row = {"replicas": replicas, "mode": mode if replicas > 1 else "-"}
            yield row, write_replicas(ids, texts, replicas, mode, work)


def print_table(results: list[dict[str, Any]]) -> None:
    print()
    print(
        f"{'input':<20} {'verify':>6} {'docs':>7} {'input MB':>8} {'wall s':>7} "
        f"{'parent MB':>9} {'tree MB':>8} {'cand.':>7} {'identical':>9} {'removed':>7}"
    )
    for row in results:
        if row["mode"].startswith("synthetic"):
            name = row["mode"]
        else:
            name = f"x{row['replicas']} {row['mode']}" if row["replicas"] > 1 else "x1"
        c = row["counters"]
        print(
            f"{name:<20} {str(row['verify']).lower():>6} {row['docs']:>7} {row['input_mb']:>8} "
            f"{row['seconds']:>7} {row['peak_rss_parent_mb']:>9} {row['peak_rss_tree_mb']:>8} "
            f"{c.get('candidate_pairs', 0):>7} {c.get('verified_identical', '-'):>9} "
            f"{row['removed']:>7}"
        )


if __name__ == "__main__":
    raise SystemExit(main())
