"""Heuristic filters: corpusclean versus datatrove, decisions and speed, in one run.

    python benchmarks/filters.py                       # the embedded sample corpus
    python benchmarks/filters.py ../shared/data/webmix/part-*.jsonl.gz
    python benchmarks/filters.py DATA --json out.json --threads 1

Runs corpusclean's ``gopher_quality``, ``gopher_repetition``, ``c4_quality`` and
``fineweb_quality`` in this process (batches of ``--batch-docs`` documents, as the engine sends
them) and datatrove's ``GopherQualityFilter``, ``GopherRepetitionFilter``, ``C4QualityFilter``
and ``FineWebQualityFilter`` in a separate virtual environment that this script creates under
the cache folder (``$XDG_CACHE_HOME/corpusclean/bench-datatrove``, ``pip install
"datatrove[processing]" spacy pyarrow orjson aiohttp``; datatrove is never a dependency of
corpusclean). Each
filter sees every document (they are not chained) and is timed on its own.

Prints, per rule: documents/s, MB/s (UTF-8 text), peak resident memory while the rule ran, the
speed ratio ours/datatrove, and the keep/drop agreement:

* ``agree``: same decision as datatrove's filter with its defaults (FineWeb's
  duplicated-line threshold is set to the paper's 0.1, corpusclean's default, on both sides);
* ``agree*``: with the deliberate differences neutralised (Gopher's alphabetic-word rule off on
  both sides; stop words counted distinct on ours, as datatrove 0.10.1 counts them, where our
  default counts occurrences), i.e. agreement outside documented causes;
* ``same words``: datatrove run again with corpusclean's words and sentence counts substituted
  for spaCy's; disagreements left there are not caused by word splitting.

Then the disagreements per cause: the deliberate definitions (alphabetic words, stop-word
occurrences), word splitting (ours agrees with datatrove-on-our-words), and other.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

RULES = ["gopher_quality", "gopher_repetition", "c4_quality", "fineweb_quality"]

# The datatrove side, run inside the datatrove virtual environment. It reads the documents and
# corpusclean's words from a Parquet file and writes decisions and timings as JSON.
WORKER = r"""
import json, resource, sys, time
import pyarrow.parquet as pq

def reset_peak():
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
    except OSError:
        pass

def peak_mb():
    try:
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

from datatrove.data import Document
import datatrove.pipeline.filters.gopher_quality_filter as gq
import datatrove.pipeline.filters.gopher_repetition_filter as gr
import datatrove.pipeline.filters.c4_filters as c4
import datatrove.pipeline.filters.fineweb_quality_filter as fw

data, out = sys.argv[1], sys.argv[2]
table = pq.read_table(data, columns=["id", "text"])
ids = table.column("id").to_pylist()
texts = table.column("text").to_pylist()
del table
our_words, our_sentences = {}, {}


def load_ours():
    # corpusclean's words and sentence counts, loaded after datatrove's own runs so that
    # they do not count in those runs' peak memory
    words = pq.read_table(data, columns=["text", "words"])
    our_words.update(zip(words.column("text").to_pylist(), words.column("words").to_pylist()))
    lines = pq.read_table(data.replace(".parquet", ".sentences.parquet"))
    our_sentences.update(zip(lines.column("line").to_pylist(), lines.column("n").to_pylist()))

FILTERS = {
    "gopher_quality": lambda: gq.GopherQualityFilter(),
    "gopher_quality_noalpha": lambda: gq.GopherQualityFilter(max_non_alpha_words_ratio=None),
    "gopher_repetition": lambda: gr.GopherRepetitionFilter(),
    "c4_quality": lambda: c4.C4QualityFilter(),
    "fineweb_quality": lambda: fw.FineWebQualityFilter(char_duplicates_ratio=0.1),
}
MODULES = {"gopher_quality": gq, "gopher_quality_noalpha": gq, "gopher_repetition": gr,
           "c4_quality": c4, "fineweb_quality": fw}

def run(name, ours):
    flt = FILTERS[name]()
    module = MODULES[name]
    saved = {k: getattr(module, k) for k in ("split_into_words", "split_into_sentences")
             if hasattr(module, k)}
    if ours:
        if "split_into_words" in saved:
            module.split_into_words = lambda text, language=None: our_words[text]
        if "split_into_sentences" in saved:
            module.split_into_sentences = lambda text, language=None: [""] * our_sentences[text]
    decisions = []
    reset_peak()
    start = time.perf_counter()
    for doc_id, text in zip(ids, texts):
        try:
            res = flt.filter(Document(text=text, id=doc_id))
        except Exception as exc:  # datatrove divides by zero on some empty documents
            res = (False, f"error:{type(exc).__name__}")
        keep, reason = (res, None) if not isinstance(res, tuple) else res
        decisions.append([bool(keep), reason])
    seconds = time.perf_counter() - start
    for k, v in saved.items():
        setattr(module, k, v)
    return {"seconds": seconds, "peak_mb": peak_mb(), "decisions": decisions}

from importlib.metadata import version
result = {"version": version("datatrove"),
          "spacy": __import__("spacy").__version__, "runs": {}}
for name in FILTERS:
    result["runs"][name] = run(name, ours=False)
    print(f"  datatrove {name}: {result['runs'][name]['seconds']:.1f} s", file=sys.stderr)
load_ours()
for name in FILTERS:
    result["runs"][name + "@ours"] = run(name, ours=True)
json.dump(result, open(out, "w"))
"""


def cache_dir() -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return base / "corpusclean" / "bench-datatrove"


#: What the datatrove environment holds: datatrove's filters and their word splitter (spaCy),
#: pyarrow for this script's worker; for filter_chain.py, orjson (datatrove's JsonlReader) and
#: aiohttp (fsspec's HTTP file system, which datatrove needs to name its language model's file).
DATATROVE_PACKAGES = ["datatrove[processing]", "spacy", "pyarrow", "orjson", "aiohttp"]
#: Marker contents: the package list it was built with, so that a new package is added once.
_MARKER = "ok " + " ".join(DATATROVE_PACKAGES) + "\n"


def ensure_venv(path: Path) -> Path:
    """A virtual environment with datatrove and spaCy (created once, then reused)."""
    python = path / "bin" / "python"
    marker = path / ".ready"
    if marker.exists() and marker.read_text() == _MARKER:
        return python
    if not python.exists():
        print(f"creating the datatrove environment in {path} (once) ...", file=sys.stderr)
        venv.EnvBuilder(with_pip=True, clear=True).create(path)
    subprocess.run([str(python), "-m", "pip", "install", "-q", *DATATROVE_PACKAGES], check=True)
    marker.write_text(_MARKER)
    return python


def reset_peak() -> None:
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


def peak_mb() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def load(paths: list[str], limit: int | None):
    import polars as pl

    from corpusclean.io import expand_inputs, read_batches

    frames = []
    for path in expand_inputs(paths):
        for batch in read_batches(path):
            frame = pl.from_arrow(batch.table)
            frames.append(frame.select("id", "text"))
    docs = pl.concat(frames)
    return docs.head(limit) if limit else docs


def run_ours(docs, batch_docs: int) -> dict[str, dict]:
    """Each rule over every document, batch by batch; decisions, seconds, peak memory."""
    from corpusclean.steps import STEPS

    variants = {
        "gopher_quality": ("gopher_quality", {}),
        # the deliberate differences neutralised: no alphabetic-word rule, and stop words
        # counted as datatrove 0.10.1 counts them (distinct: a set intersection)
        "gopher_quality_noalpha": (
            "gopher_quality",
            {"min_alpha_words_ratio": None, "stop_words_count": "distinct"},
        ),
        "gopher_repetition": ("gopher_repetition", {}),
        "c4_quality": ("c4_quality", {}),
        "fineweb_quality": ("fineweb_quality", {}),
    }
    out = {}
    for variant, (name, options) in variants.items():
        step = STEPS[name](STEPS[name].Options(**options))
        step.setup()
        details: list[str | None] = []
        reset_peak()
        start = time.perf_counter()
        for offset in range(0, docs.height, batch_docs):
            batch = docs.slice(offset, batch_docs)
            result = step.apply(batch)
            reject = result.reject
            details += [None] * batch.height if reject is None else reject.to_list()
        seconds = time.perf_counter() - start
        out[variant] = {"seconds": seconds, "peak_mb": peak_mb(), "details": details}
        print(f"  corpusclean {variant}: {seconds:.1f} s", file=sys.stderr)
    return out


def our_words_and_sentences(docs, workdir: Path) -> Path:
    """The Parquet files the datatrove worker reads: documents, our words, our sentences."""
    import polars as pl

    from corpusclean import text as T
    from corpusclean.line_table import one_row_per_item
    from corpusclean.steps.c4_quality import CITATION

    data = workdir / "docs.parquet"
    docs.with_columns(T.words(pl.col("text")).alias("words")).write_parquet(data)
    lines = (
        one_row_per_item(docs, T.lines(pl.col("text")), "line")
        .select(pl.col("line").str.strip_chars().str.replace_all(CITATION, ""))
        .unique()
    )
    lines = lines.with_columns(T.sentence_count(T.words(pl.col("line"))).alias("n"))
    lines.write_parquet(workdir / "docs.sentences.parquet")
    return data


def agreement(a: list[bool], b: list[bool]) -> float:
    return sum(x == y for x, y in zip(a, b, strict=True)) / max(len(a), 1)


def report(docs, ours: dict, theirs: dict, threads: str) -> dict:
    n_docs = docs.height
    megabytes = docs.get_column("text").str.len_bytes().sum() / 1e6
    keep = {k: [d is None for d in v["details"]] for k, v in ours.items()}
    dt = {k: [d[0] for d in v["decisions"]] for k, v in theirs["runs"].items()}
    rows = []
    print()
    print(
        f"{n_docs} documents, {megabytes:.1f} MB; corpusclean in-process (Polars threads: "
        f"{threads}); datatrove {theirs['version']} + spaCy {theirs['spacy']}, one process"
    )
    head = (
        f"{'rule':<19}{'ours docs/s':>12}{'MB/s':>7}{'peak MB':>9}{'dt docs/s':>11}{'MB/s':>7}"
        f"{'peak MB':>9}{'speed x':>9}{'agree':>9}{'agree*':>9}{'same words':>12}"
    )
    print(head)
    print("-" * len(head))
    for rule in RULES:
        o, t = ours[rule], theirs["runs"][rule]
        neutral = "gopher_quality_noalpha" if rule == "gopher_quality" else rule
        row = {
            "rule": rule,
            "ours_docs_s": n_docs / o["seconds"],
            "ours_mb_s": megabytes / o["seconds"],
            "ours_peak_mb": o["peak_mb"],
            "dt_docs_s": n_docs / t["seconds"],
            "dt_mb_s": megabytes / t["seconds"],
            "dt_peak_mb": t["peak_mb"],
            "speed_ratio": t["seconds"] / o["seconds"],
            "agreement": agreement(keep[rule], dt[rule]),
            "agreement_outside_documented": agreement(keep[neutral], dt[neutral]),
            "agreement_same_words": agreement(keep[neutral], dt[neutral + "@ours"]),
        }
        rows.append(row)
        print(
            f"{rule:<19}{row['ours_docs_s']:>12.0f}{row['ours_mb_s']:>7.2f}"
            f"{row['ours_peak_mb']:>9.0f}{row['dt_docs_s']:>11.0f}{row['dt_mb_s']:>7.2f}"
            f"{row['dt_peak_mb']:>9.0f}{row['speed_ratio']:>9.1f}"
            f"{row['agreement']:>9.2%}{row['agreement_outside_documented']:>9.2%}"
            f"{row['agreement_same_words']:>12.2%}"
        )
    print()
    print("disagreements by cause (documents):")
    causes = {}
    for rule in RULES:
        neutral = "gopher_quality_noalpha" if rule == "gopher_quality" else rule
        total = sum(a != b for a, b in zip(keep[rule], dt[rule], strict=True))
        residual = [
            i for i, (a, b) in enumerate(zip(keep[neutral], dt[neutral], strict=True)) if a != b
        ]
        words = sum(keep[neutral][i] == dt[neutral + "@ours"][i] for i in residual)
        cause = {
            "total": total,
            "alphabetic_word_definition": total - len(residual),
            "word_splitting": words,
            "other": len(residual) - words,
        }
        causes[rule] = cause
        print(
            f"  {rule:<19} total {total:>5}  deliberate definitions "
            f"{cause['alphabetic_word_definition']:>5}  word splitting {words:>4}  "
            f"other {cause['other']:>3}"
        )
    return {
        "docs": n_docs,
        "megabytes": megabytes,
        "threads": threads,
        "datatrove": theirs["version"],
        "spacy": theirs["spacy"],
        "rules": rows,
        "causes": causes,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("inputs", nargs="*", help="JSONL/Parquet files or globs (default: sample)")
    parser.add_argument("--batch-docs", type=int, default=1000)
    parser.add_argument("--limit", type=int, default=None, help="first N documents only")
    parser.add_argument("--threads", type=int, default=None, help="POLARS_MAX_THREADS")
    parser.add_argument("--venv", type=Path, default=None, help="datatrove venv folder")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args(argv)
    if args.threads:
        os.environ["POLARS_MAX_THREADS"] = str(args.threads)
    import polars as pl

    from corpusclean.cli import sample_path

    inputs = args.inputs or [str(sample_path())]
    python = ensure_venv(args.venv or cache_dir() / "venv")
    docs = load(inputs, args.limit)
    print(f"{docs.height} documents from {', '.join(inputs)}", file=sys.stderr)
    # ours first, so that its peak memory is not that of the preparation below
    ours = run_ours(docs, args.batch_docs)
    with tempfile.TemporaryDirectory(prefix="bench-filters-") as tmp:
        workdir = Path(tmp)
        data = our_words_and_sentences(docs, workdir)
        worker = workdir / "worker.py"
        worker.write_text(WORKER)
        out = workdir / "datatrove.json"
        subprocess.run([str(python), str(worker), str(data), str(out)], check=True)
        theirs = json.loads(out.read_text())
    results = report(docs, ours, theirs, str(pl.thread_pool_size()))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
