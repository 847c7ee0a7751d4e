"""``minhash_dedup``'s verification when it needs several chunks: time against chunk count.

    python benchmarks/dedup_verify_chunks.py [INPUT ...] [--budgets 0 1000000 200000 50000]

Why: with ``verify: true`` the candidate documents' shingle hashes are checked in chunks of at
most ``VERIFY_BUDGET`` hashes (memory). Chunks are fed by one sweep over the scan parts (each
chunk's rows spilled to its own file), so more chunks must cost little more time: the parts
are read once whatever the count. Before that (up to commit 70c9e72) every chunk read the
parts again.

How: the inputs (default webmix) are scanned as the engine does (``MinhashDedupStep.scan`` on
batches of 250 documents: 75 parts for webmix), then ``resolve`` runs on those parts once per
budget (0: the default, ``VERIFY_BUDGET``), in this process. Printed per budget: resolve
seconds, verification chunks, candidate pairs and duplicates; the decisions must be identical
for every budget (checked).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import polars as pl

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT.parent))
sys.path.insert(0, str(ROOT))

from dedup import WEBMIX, read_jsonl  # noqa: E402

from corpusclean.io.numbering import DOC_SHIFT  # noqa: E402
from corpusclean.io.parts import part_name  # noqa: E402
from corpusclean.steps import minhash_dedup  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("inputs", nargs="*", help="JSONL(.gz) files (default: webmix)")
    p.add_argument("--budgets", type=int, nargs="+", default=[0, 1_000_000, 200_000, 50_000])
    p.add_argument("--batch-docs", type=int, default=250)
    args = p.parse_args(argv)
    files = [Path(f) for f in args.inputs] or sorted(WEBMIX.glob("part-*.jsonl.gz"))
    if not files:
        raise SystemExit("no input: give JSONL files (../shared/data/webmix is absent)")
    ids, texts = read_jsonl(files)
    frame = pl.DataFrame({"id": ids, "text": texts}, schema={"id": pl.String, "text": pl.String})
    options = minhash_dedup.MinhashDedupOptions(verify=True)
    default_budget = minhash_dedup.VERIFY_BUDGET
    work = Path(tempfile.mkdtemp(prefix="corpusclean-verify-chunks-"))
    try:
        parts_dir = work / "scan"
        parts_dir.mkdir()
        step = minhash_dedup.MinhashDedupStep(options)
        for k, start in enumerate(range(0, frame.height, args.batch_docs)):
            batch = frame.slice(start, args.batch_docs)
            batch = batch.with_columns(  # the engine's numbering: batch k, row i
                (pl.int_range(batch.height, dtype=pl.Int64) + (k << DOC_SHIFT)).alias("_doc")
            )
            step.scan(batch).write_parquet(parts_dir / part_name(k))
        parts = sorted(parts_dir.glob("*.parquet"))
        print(f"{len(ids)} documents in {len(parts)} scan parts")
        print(
            f"{'budget (hashes)':>16} {'chunks':>7} {'resolve s':>10} {'pairs':>7} {'removed':>8}"
        )
        reference = None
        for budget in args.budgets:
            minhash_dedup.VERIFY_BUDGET = budget or default_budget
            state = work / f"state-{budget}"
            state.mkdir()
            start = time.perf_counter()
            counters = minhash_dedup.MinhashDedupStep(options).resolve(parts, state)
            seconds = time.perf_counter() - start
            decisions = pl.read_parquet(state / "decisions.parquet")
            if reference is None:
                reference = decisions
            elif not decisions.equals(reference):
                raise SystemExit(f"budget {budget}: decisions differ from the first budget's")
            print(
                f"{budget or default_budget:>16,} {counters['verify_chunks']:>7} {seconds:>10.2f} "
                f"{counters['candidate_pairs']:>7} {counters['duplicates']:>8}"
            )
        print("decisions identical for every budget: True")
    finally:
        minhash_dedup.VERIFY_BUDGET = default_budget
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
