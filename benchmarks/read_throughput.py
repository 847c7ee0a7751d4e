"""Input readers: read files with ``corpusclean.io.read_batches`` and print their throughput.

    python benchmarks/read_throughput.py FILE|GLOB|DIR ... [--plain]

For each input file: documents, errors, seconds, documents/s, MB/s of file and MB/s of text.
``--plain`` also times the loop a user would write (``gzip.open`` or ``open`` + ``json.loads``
per line, JSONL and JSONL.gz only) on the same file and prints how many times faster
``read_batches`` is. Single process; compressed input is decompressed by the reader's
background thread.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import pyarrow.compute as pc

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from corpusclean.io import expand_inputs, input_format, read_batches  # noqa: E402


def bench(paths: Sequence[str], plain: bool, out: Callable[[str], object] = print) -> None:
    for p in expand_inputs(paths):
        size = p.stat().st_size
        t0 = time.perf_counter()
        docs = errors = text_bytes = 0
        for batch in read_batches(p):
            docs += batch.table.num_rows
            errors += len(batch.errors)
            text_bytes += pc.sum(pc.binary_length(batch.table.column("text"))).as_py() or 0
        dt = time.perf_counter() - t0
        out(
            f"{p}: {docs} docs, {errors} errors, {dt:.2f} s, {docs / dt:,.0f} docs/s, "
            f"{size / dt / 1e6:.1f} MB/s of file, {text_bytes / dt / 1e6:.1f} MB/s of text"
        )
        if plain and input_format(p) in (("jsonl", "gzip"), ("jsonl", None)):
            t0 = time.perf_counter()
            n = 0
            opener = gzip.open if p.name.endswith(".gz") else open
            with opener(p, "rb") as f:
                for line in f:
                    if line.strip():
                        json.loads(line)
                        n += 1
            dt_plain = time.perf_counter() - t0
            out(
                f"{p}: plain loop {n} docs, {dt_plain:.2f} s, {n / dt_plain:,.0f} docs/s, "
                f"{size / dt_plain / 1e6:.1f} MB/s of file; read_batches is "
                f"{dt_plain / dt:.2f}x faster"
            )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="+")
    parser.add_argument("--plain", action="store_true", help="also time a gzip+json.loads loop")
    args = parser.parse_args()
    bench(args.paths, args.plain)
