"""Local executor against Ray, side by side, and the driver's memory as the input grows.

    python benchmarks/ray_scaling.py [--workers 1 2] [--scales 1 5 10] [--json FILE]
    python benchmarks/ray_scaling.py --skip-scaling        # only the webmix comparison

1. **Webmix, the bundled rules** (``rules/openwebtext.yaml``: every filter, exact and MinHash
   deduplication, ``min_tokens`` with the trained tokenizer, tokenization): ``corpusclean run``
   with ``--executor local`` and ``--executor ray`` (a local Ray instance the run starts) at
   each ``--workers``, one after the other in this one invocation; the outputs are compared
   file by file (``documents/ rejected/ errors/ tokens/`` and ``stats.json`` less timings) and
   the wall-time ratio ray/local printed with documents/s per worker.
2. **The driver's memory from 1x to 10x input** with only ``minhash_dedup`` (verify on): webmix
   replicated K times, each replica's words suffixed (``word`` -> ``wordq3``) so replicas share
   no shingle and the corpus keeps webmix's duplicate structure K times over (the ``distinct``
   mode of ``benchmarks/dedup_scaling.py``), eight files per replica. Per run: wall seconds,
   the peak RSS of the driver process alone and of the largest task process (Ray workers,
   ``ray::...``; local pool workers), sampled every 50 ms from ``/proc``.
3. **The model**: seconds per document per worker and bytes per document of the largest task,
   from those runs, extrapolated to 1 billion documents on N nodes of C cores.

Every figure docs/scaling.md quotes comes from this script (machine idle, 2 cores).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from dedup import _descendants, _rss  # noqa: E402  (the process-tree sampler dedup.py uses)

WEBMIX = ROOT.parent / "shared" / "data" / "webmix"
RULES = ROOT / "rules" / "openwebtext.yaml"
RUN_FIELDS = {"seconds", "workers", "executor"}


@dataclass
class Measured:
    seconds: float = 0.0
    driver_rss: int = 0  # bytes: the peak of the driver process alone
    task_rss: int = 0  # bytes: the peak of the largest task process
    task_name: str = ""  # what that process was running at its peak (Ray: the task's function)
    tree_rss: int = 0  # bytes: the peak sum over the whole process tree


def _task_name(pid: int, driver: int) -> str | None:
    """What a task process runs: a Ray worker's title is ``ray::<task function>`` (or
    ``ray::IDLE``; Ray's ``ray::DashboardAgent`` and ``ray::RuntimeEnvAgent`` are not tasks);
    a local pool worker is a child of the driver run by multiprocessing (``pool worker``).
    None for anything else (the driver, Ray's own services)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            cmdline = f.read()
        with open(f"/proc/{pid}/stat") as f:
            parent = int(f.read().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None
    if cmdline.startswith(b"ray::"):
        title = cmdline.split(b"\0")[0].decode(errors="replace").split()[0]
        # our tasks are functions (snake_case) or IDLE; Ray's agents are CamelCase classes
        return title if title == "ray::IDLE" or not title[5:6].isupper() else None
    return "pool worker" if parent == driver and b"multiprocessing" in cmdline else None


def run_measured(command: list[str], log: Path) -> Measured:
    """Run ``command``; sample the RSS of the driver, of each task process and of the tree."""
    measured = Measured()
    with open(log, "wb") as out:
        start = time.perf_counter()
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
        done = threading.Event()

        def sample() -> None:
            while not done.is_set():
                pids = _descendants(proc.pid)
                sizes = {pid: _rss(pid) for pid in pids}
                measured.driver_rss = max(measured.driver_rss, sizes.get(proc.pid, 0))
                measured.tree_rss = max(measured.tree_rss, sum(sizes.values()))
                for pid, size in sizes.items():
                    name = _task_name(pid, proc.pid) if size > measured.task_rss else None
                    if name is not None:
                        measured.task_rss, measured.task_name = size, name
                done.wait(0.05)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        code = proc.wait()
        measured.seconds = time.perf_counter() - start
        done.set()
        sampler.join()
    if code != 0:
        raise SystemExit(f"{' '.join(command)}: exit {code}\n{log.read_text()[-3000:]}")
    return measured


def corpusclean(
    rules: Path, inputs: list[Path], out: Path, executor: str, workers: int, log: Path
) -> tuple[Measured, dict[str, Any]]:
    command = [sys.executable, "-m", "corpusclean", "run", str(rules), "--input", *map(str, inputs)]
    command += ["--output", str(out), "--workers", str(workers), "--executor", executor]
    measured = run_measured([*command, "--quiet"], log)
    return measured, json.loads((out / "stats.json").read_text())


def digest(out: Path) -> dict[str, str]:
    files = {}
    for sub in ("documents", "rejected", "errors", "tokens"):
        for path in sorted((out / sub).rglob("*")):
            if path.is_file():
                files[str(path.relative_to(out))] = hashlib.sha256(path.read_bytes()).hexdigest()
    stats = json.loads((out / "stats.json").read_text())

    def strip(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if k not in RUN_FIELDS}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    files["stats.json (less timings)"] = hashlib.sha256(
        json.dumps(strip(stats), sort_keys=True).encode()
    ).hexdigest()
    return files


def compare_executors(work: Path, inputs: list[Path], workers_list: list[int]) -> list[dict]:
    rows = []
    for workers in workers_list:
        outs, row = {}, {"workers": workers}
        for executor in ("local", "ray"):
            out = work / f"webmix-{executor}-{workers}"
            shutil.rmtree(out, ignore_errors=True)
            measured, stats = corpusclean(
                RULES, inputs, out, executor, workers, work / f"{out.name}.log"
            )
            outs[executor] = out
            docs = stats["input_docs"]
            row[executor] = {
                "seconds": round(measured.seconds, 2),
                "docs_per_s_per_worker": round(docs / measured.seconds / workers),
                "driver_mb": round(measured.driver_rss / 1e6),
                "task_mb": round(measured.task_rss / 1e6),
                "tree_mb": round(measured.tree_rss / 1e6),
            }
            row["docs"] = docs
        row["identical"] = digest(outs["local"]) == digest(outs["ray"])
        row["ratio"] = round(row["ray"]["seconds"] / row["local"]["seconds"], 3)
        print(json.dumps(row), flush=True)
        rows.append(row)
        for out in outs.values():
            shutil.rmtree(out)
    return rows


def write_scaled(inputs: list[Path], scale: int, folder: Path) -> list[Path]:
    """``scale`` replicas of ``inputs``, replica k > 0 with every word suffixed ``q<k>``."""
    folder.mkdir(parents=True)
    paths = []
    for k in range(scale):
        for index, path in enumerate(inputs):
            frame = pl.read_ndjson(path).select("id", "text")
            frame = frame.with_columns(pl.col("id") + f"~r{k}")
            if k:
                frame = frame.with_columns(pl.col("text").str.replace_all(r"(\w+)", f"${{1}}q{k}"))
            target = folder / f"part-{k:03d}-{index:03d}.jsonl"
            frame.write_ndjson(target)
            paths.append(target)
    return paths


def memory_scaling(work: Path, inputs: list[Path], scales: list[int], workers: int) -> list[dict]:
    rules = work / "minhash.yaml"
    rules.write_text(
        "version: 1\nname: ray-scaling\nsteps:\n"
        "  - minhash_dedup: {num_perm: 128, ngram: 5, threshold: 0.8, verify: true}\n"
    )
    rows = []
    for scale in scales:
        folder = work / f"x{scale}"
        paths = write_scaled(inputs, scale, folder)
        for executor in ("local", "ray"):
            out = work / f"scaled-{executor}-{scale}"
            measured, stats = corpusclean(
                rules, paths, out, executor, workers, work / f"{out.name}.log"
            )
            row = {
                "scale": scale,
                "executor": executor,
                "docs": stats["input_docs"],
                "input_mb": round(sum(p.stat().st_size for p in paths) / 1e6),
                "seconds": round(measured.seconds, 2),
                "driver_mb": round(measured.driver_rss / 1e6),
                "task_mb": round(measured.task_rss / 1e6),
                "task": measured.task_name,
                "tree_mb": round(measured.tree_rss / 1e6),
                "duplicates": stats["steps"][0]["counters"].get("duplicates"),
            }
            print(json.dumps(row), flush=True)
            rows.append(row)
            shutil.rmtree(out)
        shutil.rmtree(folder)
    return rows


def model(compare: list[dict], scaling: list[dict]) -> dict[str, Any]:
    """Per-document costs measured here, and what they give for 1e9 documents."""
    best = max(compare, key=lambda r: r["workers"]) if compare else None
    out: dict[str, Any] = {}
    if best:
        per_doc = 1 / best["ray"]["docs_per_s_per_worker"]
        out["seconds_per_doc_per_worker"] = per_doc
        out["core_hours_per_1e9_docs"] = round(per_doc * 1e9 / 3600)
        out["hours_1e9_docs"] = {
            f"{nodes} nodes x 64 cores": round(per_doc * 1e9 / (nodes * 64) / 3600, 1)
            for nodes in (10, 100)
        }
    ray_rows = [r for r in scaling if r["executor"] == "ray"]
    if len(ray_rows) >= 2:
        lo, hi = ray_rows[0], ray_rows[-1]
        out["driver_growth_1x_to_max"] = round(hi["driver_mb"] / lo["driver_mb"] - 1, 3)
        out["largest_task"] = {f"x{r['scale']}": f"{r['task_mb']} MB {r['task']}" for r in ray_rows}
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("inputs", nargs="*", help="JSONL(.gz) files (default: ../shared/data/webmix)")
    p.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    p.add_argument("--scales", type=int, nargs="+", default=[1, 5, 10])
    p.add_argument("--skip-scaling", action="store_true")
    p.add_argument("--skip-compare", action="store_true")
    p.add_argument("--json", help="write the results here")
    args = p.parse_args(argv)
    inputs = [Path(f) for f in args.inputs] or sorted(WEBMIX.glob("part-*.jsonl.gz"))
    if not inputs:
        raise SystemExit("no input: give JSONL files (../shared/data/webmix is absent)")
    work = Path(tempfile.mkdtemp(prefix="corpusclean-ray-scaling-"))
    try:
        compare = [] if args.skip_compare else compare_executors(work, inputs, args.workers)
        scaling = (
            []
            if args.skip_scaling
            else memory_scaling(work, inputs, args.scales, max(args.workers))
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    result = {"compare": compare, "scaling": scaling, "model": model(compare, scaling)}
    print()
    for row in compare:
        print(
            f"webmix, {row['workers']} worker(s): local {row['local']['seconds']:.1f} s, "
            f"ray {row['ray']['seconds']:.1f} s (ratio {row['ratio']:.2f}), identical: "
            f"{row['identical']}; docs/s per worker local "
            f"{row['local']['docs_per_s_per_worker']}, ray {row['ray']['docs_per_s_per_worker']}"
        )
    for row in scaling:
        print(
            f"minhash_dedup x{row['scale']:<3} {row['executor']:<5} {row['docs']:>9,} docs "
            f"{row['seconds']:7.1f} s  driver {row['driver_mb']:5} MB  largest task "
            f"{row['task_mb']:5} MB ({row['task']})  tree {row['tree_mb']:5} MB"
        )
    print(json.dumps(result["model"], indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
