"""The streaming engine: inputs -> batches -> steps (in worker processes) -> parts -> tokens.

The parent process reads every input file as bounded Arrow batches, numbers them in input
order, and hands them to a pool of ``spawn``-ed workers with at most ``2 x workers`` batches in
flight, so memory is bounded whatever the corpus size. Workers write their kept and rejected
rows under the batch's number, so the output is byte-identical for any worker count. Reader
errors are written by the parent to ``errors/``. After the last batch the kept documents are
tokenized (:mod:`corpusclean.tokenization`), ``stats.json`` is written once the conservation
invariant holds, and the report is built.

The engine knows steps only through :class:`~corpusclean.steps.base.Step`; an executor other
than the local process pool (Ray) or corpus-wide steps (deduplication) plug in at
:func:`_dispatch`.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import sys
import time
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import pyarrow as pa
from tqdm import tqdm

from corpusclean import readers, worker
from corpusclean.readers import ErrorRecord, InputBatch
from corpusclean.rules import Rules
from corpusclean.stats import BatchOutcome, RunStats

#: Marks a folder as a corpusclean output, so a re-run may clear it.
MARKER = ".corpusclean"
OUTPUT_SUBDIRS = ("documents", "rejected", "errors", "tokens")


@dataclass(frozen=True)
class RunConfig:
    rules: Rules
    inputs: list[Path]
    output: Path
    workers: int = 0
    limit: int | None = None
    quiet: bool = False
    batch_docs: int = 1000
    batch_bytes: int = 16 << 20
    #: Optional truth labels (``id`` + a class column) to score the decisions against.
    labels: Path | None = None
    label_column: str = "truth"
    keep_classes: tuple[str, ...] = ("clean", "mojibake")

    @property
    def n_workers(self) -> int:
        return self.workers if self.workers > 0 else (os.cpu_count() or 1)


class OutputDirError(Exception):
    """The output folder exists and is not one of ours: refuse to overwrite it."""


def check_output(output: Path) -> None:
    """Refuse a folder that exists, is not empty and was not written by corpusclean."""
    if output.exists() and not output.is_dir():
        raise OutputDirError(f"{output}: output path exists and is not a folder")
    if output.exists() and any(output.iterdir()) and not (output / MARKER).exists():
        raise OutputDirError(
            f"{output}: output folder exists, is not empty and is not a corpusclean output; "
            "choose another --output"
        )


def prepare_output(output: Path) -> None:
    """Create ``output`` or clear a previous corpusclean run in it (never a foreign folder)."""
    check_output(output)
    output.mkdir(parents=True, exist_ok=True)
    (output / MARKER).write_text("corpusclean output folder\n", encoding="utf-8")
    for name in OUTPUT_SUBDIRS:
        shutil.rmtree(output / name, ignore_errors=True)
        (output / name).mkdir()
    for name in ("stats.json", "report.md", "report.html", "tokenizer.json"):
        (output / name).unlink(missing_ok=True)


def _numbered_batches(config: RunConfig) -> Iterator[tuple[int, InputBatch]]:
    """Every input batch in input order, numbered; honours ``--limit`` (documents)."""
    seq = 0
    remaining = config.limit
    text_field = config.rules.input.text_field
    id_field = config.rules.input.id_field
    for path in config.inputs:
        for batch in readers.read_batches(
            path,
            text_field=text_field,
            id_field=id_field,
            batch_docs=config.batch_docs,
            batch_bytes=config.batch_bytes,
        ):
            if remaining is not None:
                if remaining <= 0:
                    return
                if batch.table.num_rows > remaining:
                    batch.table = batch.table.slice(0, remaining)
                remaining -= batch.table.num_rows
            yield seq, batch
            seq += 1


def _ipc(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def _write_errors(output: Path, seq: int, errors: list[ErrorRecord]) -> None:
    path = output / "errors" / worker.part_name(seq, "jsonl")
    with path.open("w", encoding="utf-8") as fh:
        for error in errors:
            fh.write(json.dumps(asdict(error), ensure_ascii=False) + "\n")


def _progress(config: RunConfig, total_bytes: int) -> tqdm:
    disable = config.quiet or not sys.stderr.isatty()
    return tqdm(
        total=total_bytes or None,
        unit="B",
        unit_scale=True,
        unit_divisor=1024,
        desc="cleaning",
        disable=disable,
        dynamic_ncols=True,
    )


def _dispatch(config: RunConfig, stats: RunStats) -> None:
    """Run the streaming steps over every batch with a bounded number in flight."""
    specs = config.rules.steps
    total_bytes = sum(p.stat().st_size for p in config.inputs)
    bar = _progress(config, total_bytes)
    docs_seen = 0

    def account(batch: InputBatch, seq: int) -> None:
        nonlocal docs_seen
        stats.input_docs += batch.table.num_rows + len(batch.errors)
        stats.error_records += len(batch.errors)
        if batch.errors:
            _write_errors(config.output, seq, batch.errors)
        docs_seen += batch.table.num_rows
        bar.update(batch.bytes_read)
        bar.set_postfix(docs=docs_seen, refresh=False)

    if config.n_workers == 1:
        worker.init_worker(specs, config.output)
        for seq, batch in _numbered_batches(config):
            account(batch, seq)
            if batch.table.num_rows:
                stats.add(worker.process_ipc(seq, batch.source, _ipc(batch.table)))
        bar.close()
        return

    context = multiprocessing.get_context("spawn")
    in_flight: deque[Future[BatchOutcome]] = deque()
    with ProcessPoolExecutor(
        max_workers=config.n_workers,
        mp_context=context,
        initializer=worker.init_worker,
        initargs=(specs, config.output),
    ) as pool:
        for seq, batch in _numbered_batches(config):
            account(batch, seq)
            if batch.table.num_rows:
                in_flight.append(
                    pool.submit(worker.process_ipc, seq, batch.source, _ipc(batch.table))
                )
            while len(in_flight) >= 2 * config.n_workers:
                stats.add(in_flight.popleft().result())
        while in_flight:
            stats.add(in_flight.popleft().result())
    bar.close()


def run(config: RunConfig) -> RunStats:
    """Clean, tokenize and report; returns the stats after the invariant check."""
    from corpusclean import report, tokenization

    start = time.perf_counter()
    prepare_output(config.output)
    stats = RunStats(step_names=[s.name for s in config.rules.steps])
    stats.input_files = len(config.inputs)
    stats.input_bytes = sum(p.stat().st_size for p in config.inputs)
    _dispatch(config, stats)
    stats.check_invariant()
    if config.rules.tokenize is not None:
        stats.tokens = tokenization.tokenize_documents(
            config.output, config.rules.tokenize, rules_dir=Path(config.rules.path).parent
        )
    stats.seconds = time.perf_counter() - start
    stats.extra["rules"] = config.rules.resolved()
    stats.extra["inputs"] = [str(p) for p in config.inputs]
    stats.extra["workers"] = config.n_workers
    if config.labels is not None:
        from corpusclean import truth

        labels = truth.read_labels(config.labels, config.label_column)
        stats.extra["truth"] = truth.score(config.output, labels, config.keep_classes)
    stats.write(config.output / "stats.json")
    report.write_report(config.output)
    return stats
