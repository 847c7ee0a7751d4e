"""WARC reading and main-text extraction: each extractor through the WARC reader, in one run.

    python benchmarks/extraction.py                        # ../shared/data/cc/sample-*.warc.gz
    python benchmarks/extraction.py crawl/*.warc.gz --repeat 3 --json out.json

Each variant runs in its own fresh interpreter (so its peak resident memory, VmHWM, is its
own, imports included), reading every file ``--repeat`` times after one untimed warm-up pass:

* ``fastwarc read``: FastWARC 2.0.1 splits the records and reads every block (no HTTP parsing,
  no decoding, no extraction): the record splitter the WARC reader uses;
* ``warcio read``: the same with warcio 1.8.2 (``ArchiveIterator`` + ``content_stream().read()``
  of every record), the other reader the issue names; warcio is no dependency of corpusclean:
  ``pip install warcio==1.8.2`` first (without it the script says so and stops);
* ``read_batches resiliparse`` / ``read_batches trafilatura``: ``corpusclean.io.read_batches``
  on the file with ``html_extractor`` set, i.e. everything a run's reading does: records,
  HTTP parsing, de-chunking, charset decoding, main-text extraction, host/domain columns.

Prints, per variant: HTML pages (response records that became documents; for the two
readers, records), seconds per pass, pages/s, MB/s of file (compressed) and of decompressed
WARC, MB/s of extracted text, peak MB; then the ratios (fastwarc over warcio,
resiliparse over trafilatura). Single process, single thread.
"""

from __future__ import annotations

import argparse
import gzip
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DEFAULT = sorted((ROOT.parent / "shared" / "data" / "cc").glob("sample-*.warc.gz"))
VARIANTS = ("fastwarc read", "warcio read", "read_batches resiliparse", "read_batches trafilatura")


def peak_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def one_pass(variant: str, paths: list[Path]) -> tuple[int, int]:
    """(pages or records, text bytes) of one pass over every file."""
    pages = text_bytes = 0
    if variant == "fastwarc read":
        from fastwarc.warc import ArchiveIterator, WarcRecordType

        for path in paths:
            with open(path, "rb") as f:
                for record in ArchiveIterator(
                    f, record_types=WarcRecordType.any_type, parse_http=False
                ):
                    record.reader.read()
                    pages += 1
    elif variant == "warcio read":
        from warcio.archiveiterator import ArchiveIterator as WarcioIterator

        for path in paths:
            with open(path, "rb") as f:
                for record in WarcioIterator(f):
                    record.content_stream().read()
                    pages += 1
    else:
        import pyarrow.compute as pc

        from corpusclean.io import read_batches

        extractor = variant.split()[-1]
        for path in paths:
            for batch in read_batches(path, html_extractor=extractor):
                table = batch.table
                if table.num_rows:
                    docs = table.filter(pc.is_null(table["_reject_reason"]))
                    pages += docs.num_rows
                    text_bytes += pc.sum(pc.binary_length(docs["text"])).as_py() or 0
    return pages, text_bytes


def child(variant: str, paths: list[Path], repeat: int) -> dict[str, float]:
    one_pass(variant, paths)  # warm-up: imports, first-call set-up
    start = time.perf_counter()
    for _ in range(repeat):
        pages, text_bytes = one_pass(variant, paths)
    seconds = (time.perf_counter() - start) / repeat
    return {
        "pages": pages,
        "seconds_per_pass": seconds,
        "text_bytes": text_bytes,
        "peak_mb": peak_mb(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", type=Path, default=DEFAULT)
    parser.add_argument("--repeat", type=int, default=10, help="timed passes (default 10)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if not args.paths:
        sys.exit("no WARC files (../shared/data/cc/sample-*.warc.gz is absent): pass some")
    try:
        import warcio  # noqa: F401
    except ImportError:
        sys.exit("benchmarks/extraction.py compares with warcio: pip install warcio==1.8.2")
    if args.child:
        print(json.dumps(child(args.child, args.paths, args.repeat)))
        return
    file_bytes = sum(p.stat().st_size for p in args.paths)
    warc_bytes = 0
    for p in args.paths:
        with gzip.open(p, "rb") if p.name.endswith(".gz") else open(p, "rb") as f:
            while chunk := f.read(1 << 20):
                warc_bytes += len(chunk)
    print(
        f"{len(args.paths)} file(s), {file_bytes / 1e6:.2f} MB on disk, "
        f"{warc_bytes / 1e6:.2f} MB of WARC; {args.repeat} timed passes each"
    )
    results: dict[str, dict[str, float]] = {}
    for variant in VARIANTS:
        cmd = [sys.executable, __file__, *map(str, args.paths), "--repeat", str(args.repeat)]
        done = subprocess.run([*cmd, "--child", variant], capture_output=True, text=True)
        if done.returncode:
            sys.exit(f"{variant} failed:\n{done.stderr}")
        results[variant] = json.loads(done.stdout.strip().splitlines()[-1])
    print(
        f"{'variant':<27}{'pages':>7}{'s/pass':>9}{'pages/s':>9}{'file MB/s':>11}"
        f"{'WARC MB/s':>11}{'text MB/s':>11}{'peak MB':>9}"
    )
    for variant, r in results.items():
        s = r["seconds_per_pass"]
        print(
            f"{variant:<27}{r['pages']:>7}{s:>9.4f}{r['pages'] / s:>9.0f}"
            f"{file_bytes / s / 1e6:>11.1f}{warc_bytes / s / 1e6:>11.1f}"
            f"{r['text_bytes'] / s / 1e6:>11.2f}{r['peak_mb']:>9.0f}"
        )
    fw, wi = results["fastwarc read"], results["warcio read"]
    rp, tf = results["read_batches resiliparse"], results["read_batches trafilatura"]
    print(
        f"fastwarc reads {wi['seconds_per_pass'] / fw['seconds_per_pass']:.2f}x faster than "
        f"warcio; with resiliparse, reading + extraction is "
        f"{tf['seconds_per_pass'] / rp['seconds_per_pass']:.2f}x faster than with trafilatura "
        f"and extracts {rp['text_bytes'] / max(tf['text_bytes'], 1):.2f}x the text"
    )
    if args.json:
        args.json.write_text(
            json.dumps(
                {"file_bytes": file_bytes, "warc_bytes": warc_bytes, "results": results}, indent=2
            )
            + "\n"
        )


if __name__ == "__main__":
    main()
