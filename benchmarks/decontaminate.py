"""Memory and time of ``decontaminate``'s evaluation index as the evaluation set grows.

    python benchmarks/decontaminate.py [--ngrams 10000000 100000000] [--docs 20000]
                                       [--workdir DIR] [--json FILE]

Why: the step must stay bounded for evaluation sets of up to 10^8 n-grams. For each size N an
evaluation text of N + 12 words (13-grams: N distinct n-grams, words drawn at random from a
vocabulary of 20,000 made-up words, written in blocks of 10^6 words) is indexed, then a
batch of ``--docs`` documents of 200 words (a tenth of them with a 20-word passage of the
evaluation text planted) is matched against it, each phase in a fresh interpreter:

* ``build``: :func:`corpusclean.steps.decontaminate.build_index` from nothing (a new cache
  folder): seconds, peak RSS (``VmHWM``), the index's size on disk;
* ``apply``: a worker's life: ``setup()`` maps the index, ``apply()`` matches the batch.
  Reported: seconds of the apply, peak RSS, and from ``/proc/self/status`` after the apply
  ``RssAnon`` (private memory: what a worker really costs) and ``RssFile`` (pages of the
  mapped index that the lookups touched; they are the page cache's, shared by every worker
  that maps the same files and evictable under pressure, so they do not add up per worker).
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

NGRAM = 13
VOCABULARY = 20_000
BLOCK_WORDS = 1_000_000


def vocabulary(seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    letters = "abcdefghijklmnopqrstuvwxyz"
    words: set[str] = set()
    while len(words) < VOCABULARY:
        words.add("".join(rng.choice(letters) for _ in range(rng.randint(3, 9))))
    return sorted(words)


def write_eval(path: Path, ngrams: int, seed: int = 1) -> int:
    """An evaluation text with ``ngrams`` 13-grams (random words); returns its word count."""
    vocab = np.array(vocabulary())
    rng = np.random.default_rng(seed)
    total = ngrams + NGRAM - 1
    with open(path, "w", encoding="utf-8") as out:
        for start in range(0, total, BLOCK_WORDS):
            count = min(BLOCK_WORDS, total - start)
            words = vocab[rng.integers(0, VOCABULARY, count)]
            out.write(" ".join(words.tolist()))
            out.write("\n")
    return total


def _status(key: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024
    return -1


def _peak_rss() -> int:
    """This process's peak RSS (``VmHWM``). Not ``ru_maxrss``: Linux carries the pre-exec
    process's peak into it, so a child of a large process (pytest after other tests) would
    report its parent's peak."""
    return _status("VmHWM")


def child_build(eval_path: str, cache: str) -> dict[str, float]:
    from corpusclean.steps.decontaminate import build_index

    imported = _status("VmRSS")
    start = time.perf_counter()
    directory = build_index([Path(eval_path)], NGRAM, Path(cache))
    seconds = time.perf_counter() - start
    size = sum(p.stat().st_size for p in directory.iterdir())
    meta = json.loads((directory / "meta.json").read_text())
    return {
        "seconds": seconds,
        "peak_rss": _peak_rss(),
        "rss_after_imports": imported,
        "index_bytes": size,
        "count": meta["count"],
    }


def child_apply(eval_path: str, cache: str, docs: int) -> dict[str, float]:
    import polars as pl

    from corpusclean.steps.decontaminate import DecontaminateOptions, DecontaminateStep

    vocab = vocabulary()
    rng = random.Random(2)
    with open(eval_path, encoding="utf-8") as handle:
        passage_words = handle.read(1 << 16).split()[:5000]
    texts = []
    for i in range(docs):
        words = [rng.choice(vocab) for _ in range(200)]
        if i % 10 == 0:
            at = rng.randrange(0, len(passage_words) - 20)
            words[50:70] = passage_words[at : at + 20]
        texts.append(" ".join(words))
    batch = pl.DataFrame({"id": [str(i) for i in range(docs)], "text": texts})
    base_anon, base_file = _status("RssAnon"), _status("RssFile")
    step = DecontaminateStep(DecontaminateOptions(against=[eval_path], cache=cache))
    step.setup()
    start = time.perf_counter()
    result = step.apply(batch)
    seconds = time.perf_counter() - start
    assert result.reject is not None
    found = int(result.reject.is_not_null().sum())
    return {
        "seconds": seconds,
        "docs": docs,
        "matched_docs": found,
        "peak_rss": _peak_rss(),
        "rss_anon": _status("RssAnon"),
        "rss_anon_before_setup": base_anon,
        "rss_file": _status("RssFile"),
        "rss_file_before_setup": base_file,
    }


def measure(ngrams: int, workdir: Path, docs: int) -> dict[str, object]:
    """Build and apply for one size, each in a fresh interpreter."""
    eval_path = workdir / f"eval-{ngrams}.txt"
    start = time.perf_counter()
    write_eval(eval_path, ngrams)
    written = time.perf_counter() - start
    cache = workdir / f"cache-{ngrams}"
    results: dict[str, object] = {
        "ngrams": ngrams,
        "eval_bytes": eval_path.stat().st_size,
        "write_seconds": written,
    }
    for phase, extra in (("build", []), ("apply", [str(docs)])):
        output = subprocess.run(
            [sys.executable, __file__, "--child", phase, str(eval_path), str(cache), *extra],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        results[phase] = json.loads(output.strip().splitlines()[-1])
    eval_path.unlink()
    return results


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        phase, eval_path, cache, *rest = sys.argv[2:]
        if phase == "build":
            print(json.dumps(child_build(eval_path, cache)))
        else:
            print(json.dumps(child_apply(eval_path, cache, int(rest[0]))))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ngrams", type=int, nargs="+", default=[10_000_000])
    parser.add_argument("--docs", type=int, default=20_000)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        rows = [measure(n, Path(tmp), args.docs) for n in args.ngrams]
    mb = 1 << 20
    print("| eval n-grams | index MB | build s | build peak RSS MB (after imports) "
          "| apply s (docs) | apply peak RSS MB | RssAnon MB (before setup) "
          "| RssFile MB (before setup) |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        b, a = r["build"], r["apply"]
        assert isinstance(b, dict) and isinstance(a, dict)
        print(
            f"| {r['ngrams']:,} | {b['index_bytes'] / mb:,.0f} | {b['seconds']:.1f} "
            f"| {b['peak_rss'] / mb:,.0f} ({b['rss_after_imports'] / mb:,.0f}) "
            f"| {a['seconds']:.2f} ({a['docs']:,}) | {a['peak_rss'] / mb:,.0f} "
            f"| {a['rss_anon'] / mb:,.0f} ({a['rss_anon_before_setup'] / mb:,.0f}) "
            f"| {a['rss_file'] / mb:,.0f} ({a['rss_file_before_setup'] / mb:,.0f}) |"
        )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
