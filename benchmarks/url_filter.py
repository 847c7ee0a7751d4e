"""url_filter with a large blocklist: load time, memory, filter throughput; domains.py speed.

    .venv/bin/python benchmarks/url_filter.py [--entries 1000000] [--docs 200000]

Writes a synthetic list of ``--entries`` lines (domains like ``site123.example-7.com``, one in
ten a URL entry, one in fifty a comment or blank line) to a temporary folder, then in a fresh
interpreter (``python -c``, so the figures are the list's own and not this script's): the time
to load the list (:meth:`UrlFilterStep.setup`), the process's resident memory before and its
peak after (``ru_maxrss``), the table's own bytes, and ``apply`` on ``--docs`` documents in
batches of 1,000 (the engine's default ``batch_docs``), a tenth of them blocked. Also the
throughput of :func:`corpusclean.domains.hosts_and_domains` on the same URLs. Prints one
JSON object.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]

#: Run in a fresh interpreter: argv = list file, docs.
MEASURE = r"""
import json, resource, sys, time
from pathlib import Path

import numpy as np
import polars as pl

from corpusclean.domains import hosts_and_domains
from corpusclean.steps.url_filter import UrlFilterOptions, UrlFilterStep


def rss() -> int:
    return int(Path("/proc/self/statm").read_text().split()[1]) * resource.getpagesize()


path, docs = sys.argv[1], int(sys.argv[2])
step = UrlFilterStep(UrlFilterOptions(blocklist=path))
pl.DataFrame({"url": ["http://a.b/"]}).select(pl.col("url").hash())  # start Polars' pool
before = rss()
start = time.perf_counter()
step.setup()
load_s = time.perf_counter() - start
after = rss()
# VmHWM, not ru_maxrss: Linux carries the pre-exec process's peak into ru_maxrss, so a child
# of a large process (pytest after other tests) would report its parent's peak
peak = next(
    int(line.split()[1]) * 1024
    for line in Path("/proc/self/status").read_text().splitlines()
    if line.startswith("VmHWM:")
)
table = step._block
rng = np.random.default_rng(1)
ids = rng.integers(0, 10 * len(table), size=docs)
urls = [f"https://www.site{i}.example-{i % 97}.com/page/{i}" for i in ids]
batch_docs = 1_000
start = time.perf_counter()
rejected = 0
for low in range(0, docs, batch_docs):
    frame = pl.DataFrame({"id": [str(i) for i in range(low, min(docs, low + batch_docs))],
                          "text": "x", "url": urls[low:low + batch_docs]})
    result = step.apply(frame)
    rejected += result.reject.drop_nulls().len() if result.reject is not None else 0
filter_s = time.perf_counter() - start
series = pl.Series(urls)
start = time.perf_counter()
hosts_and_domains(series)
domains_s = time.perf_counter() - start
print(json.dumps({
    "entries": len(table), "load_s": round(load_s, 2),
    "rss_before_mb": round(before / 2**20, 1), "rss_after_mb": round(after / 2**20, 1),
    "rss_growth_mb": round((after - before) / 2**20, 1),
    "peak_growth_mb": round((peak - before) / 2**20, 1),
    "table_mb": round(table.nbytes / 2**20, 1),
    "docs": docs, "rejected": rejected, "filter_docs_per_s": round(docs / filter_s),
    "domains_urls_per_s": round(docs / domains_s),
}))
"""


def write_list(path: Path, entries: int, seed: int = 0) -> int:
    """A list of ``entries`` entries (and some comment/blank lines); returns lines written.

    Entry ``i`` is ``site{i}.example-{i % 97}.com`` (one in ten: a URL on it instead), so
    documents of ``www.site{i}...`` with ``i < entries`` and ``i`` not a URL entry are blocked.
    """
    rng = np.random.default_rng(seed)
    lines = 0
    with path.open("w", encoding="utf-8") as out:
        for low in range(0, entries, 100_000):
            chunk = []
            for i in range(low, min(entries, low + 100_000)):
                if i % 50 == 0:
                    chunk.append("# a comment" if rng.random() < 0.5 else "")
                if i % 10 == 9:
                    chunk.append(f"http://site{i}.example-{i % 97}.com/page/{i}")
                else:
                    chunk.append(f"site{i}.example-{i % 97}.com")
            out.write("\n".join(chunk) + "\n")
            lines += len(chunk)
    return lines


def measure(path: Path, docs: int) -> dict[str, float]:
    """Run :data:`MEASURE` in a fresh interpreter on list ``path``."""
    done = subprocess.run(
        [sys.executable, "-c", MEASURE, str(path), str(docs)],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(done.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--docs", type=int, default=200_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "block.txt"
        lines = write_list(path, args.entries)
        result = measure(path, args.docs)
        result["list_lines"] = lines
        result["list_mb"] = round(path.stat().st_size / 2**20, 1)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
