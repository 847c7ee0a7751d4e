"""What a worker process does with one batch: run the pass's steps, write what comes out.

Workers are ``spawn``-ed processes of the local executor (Polars' thread pool must never be
forked) or Ray workers; before a task they set the pass up once (:func:`use_pass`), and then
receive batches: Arrow IPC bytes of input the driver read, a whole input file to read
(:func:`process_split`, the Ray executor), or the path of the previous pass's survivors. Each
batch is written under its sequence number (``part-0000003-0000042.parquet``,
:mod:`corpusclean.io.numbering`), so output files and their bytes do not depend on the
executor, how many workers there are or which finished first.

A pass applies a contiguous run of the rules' steps: optionally first a corpus-wide step whose
decision was resolved after the previous pass, then streaming steps; then, when a corpus-wide
step follows, its ``scan`` runs on the survivors, which are kept in the work folder for the
next pass. The last pass writes ``documents/``.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa

from corpusclean.io.numbering import DOC_SHIFT, batch_seq
from corpusclean.io.parts import part_name, rejected_part_name, write_parquet
from corpusclean.io.records import READ_REJECT_COLUMNS, WEB_COLUMNS, InputBatch
from corpusclean.observations import Groups, StepObservation, observe_step, tally_groups
from corpusclean.rules import StepSpec
from corpusclean.stats import BatchOutcome
from corpusclean.steps import Step
from corpusclean.steps.base import CorpusStep

#: Columns of ``rejected/*.parquet``, in order.
REJECTED_COLUMNS = ("id", "text", "reason", "detail", "source", "line")
#: What ``rejected/`` rows of a run with WARC or HTML input also carry (a run without keeps
#: REJECTED_COLUMNS exactly): the url and the web columns (:data:`WEB_COLUMNS`).
REJECTED_WEB_COLUMNS = ("url", *WEB_COLUMNS)


def rejected_columns(frame: pl.DataFrame) -> tuple[str, ...]:
    """The columns of ``rejected/`` for rows of ``frame``."""
    return REJECTED_COLUMNS + (REJECTED_WEB_COLUMNS if WEB_COLUMNS[0] in frame.columns else ())


#: Engine bookkeeping that is not part of a kept document.
BOOKKEEPING = ("source", "line", "_doc")


class StepFailure(RuntimeError):
    """A step raised on a batch; the message names the step, the file and the line range."""


@dataclass(frozen=True)
class PassSpec:
    """One pass over the corpus (picklable: it travels to every worker)."""

    index: int
    first_step: int  # global index of the first step applied in this pass
    steps: list[StepSpec]  # applied in order; steps[0] may be corpus-wide (its apply phase)
    entry_state: Path | None  # state folder of steps[0] when it is corpus-wide
    scan: StepSpec | None  # corpus-wide step whose scan runs on this pass's survivors
    output: Path
    work: Path  # this pass's work folder (survivors/, scan/)
    #: Columns (of any step of the run) by whose values outcomes are tallied for the report.
    groups: tuple[str, ...] = ()

    @property
    def last(self) -> bool:
        return self.scan is None


_pass: PassSpec | None = None
_steps: list[Step] = []
_scanner: CorpusStep | None = None


#: How often a worker checks that the run that started it is still alive.
PARENT_CHECK_SECONDS = 0.5


def _exit_with_parent(parent: int) -> None:
    """End this worker once the run's process is gone (its parent pid changes when the
    orphan is re-parented). A run killed outright (OOM killer, ``kill -9``) cannot shut its
    pool down, and spawned workers blocked on the task queue never notice: they would stay
    forever, holding their memory."""
    while os.getppid() == parent:
        time.sleep(PARENT_CHECK_SECONDS)
    os._exit(1)


def start_parent_watch() -> None:
    """Start the thread that ends this (local pool) worker when the run's process is gone."""
    threading.Thread(
        target=_exit_with_parent, args=(os.getppid(),), daemon=True, name="parent-watch"
    ).start()


def use_pass(spec: PassSpec, run_token: str = "") -> None:
    """Build and set up the pass's steps in this process (the executors' task setup).

    Called before a task by :func:`corpusclean.executors.call_task`, which skips it when this
    process already set up this very pass of this very run (``run_token``), so models load
    once per worker and pass, and a worker reused by a later run never keeps a stale decision.
    """
    global _pass, _steps, _scanner
    _pass = spec
    _steps = [s.build() for s in spec.steps]
    for step in _steps:
        step.setup()
        if isinstance(step, CorpusStep):
            assert spec.entry_state is not None
            step.load(spec.entry_state)
    _scanner = None
    if spec.scan is not None:
        scanner = spec.scan.build()
        assert isinstance(scanner, CorpusStep)
        scanner.setup()
        _scanner = scanner


def process_input(seq: int, source: str, ipc: bytes) -> BatchOutcome:
    """First pass, the driver reading: decode the Arrow IPC input batch and process it."""
    return process_table(seq, source, pa.ipc.open_stream(ipc).read_all())


def process_table(seq: int, source: str, table: pa.Table) -> BatchOutcome:
    """First pass: number an input batch's documents (``_doc``), process it."""
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    frame = frame.with_columns(
        pl.lit(source, dtype=pl.String).alias("source"),
        ((pl.int_range(pl.len(), dtype=pl.Int64)) + (seq << DOC_SHIFT)).alias("_doc"),
    )
    read_rejected = None
    if READ_REJECT_COLUMNS[0] in frame.columns:  # a reader's own rejections (io.warc)
        reason, detail = READ_REJECT_COLUMNS
        read_rejected = frame.filter(pl.col(reason).is_not_null()).rename(
            {reason: "reason", detail: "detail"}
        )
        frame = frame.filter(pl.col(reason).is_null()).drop(READ_REJECT_COLUMNS)
    return process_frame(seq, frame, read_rejected)


@dataclass(frozen=True)
class ReadSpec:
    """How input files are read: the same for the driver and for tasks, so that both cut
    the same batches (and so number them the same, :mod:`corpusclean.io.numbering`)."""

    text_field: str
    id_field: str
    batch_docs: int
    batch_bytes: int
    html_extractor: str = "resiliparse"
    web: bool = False  # some input is WARC or HTML: every batch gets the web columns

    def batches(self, path: Path) -> Iterator[InputBatch]:
        from corpusclean.io import read_batches  # here: a worker of a later pass reads none
        from corpusclean.io.batching import to_web_schema

        batches = read_batches(
            path,
            text_field=self.text_field,
            id_field=self.id_field,
            batch_docs=min(self.batch_docs, 1 << DOC_SHIFT),
            batch_bytes=self.batch_bytes,
            html_extractor=self.html_extractor,
        )
        if not self.web:
            return batches
        return (replace(b, table=to_web_schema(b.table)) for b in batches)


def numbered_batches(
    read: ReadSpec, split: int, path: Path, limit: int | None = None
) -> Iterator[tuple[int, InputBatch]]:
    """The batches of input split ``split`` (one file), numbered by the split and their place
    in it; at most ``limit`` documents (the last batch cut short)."""
    remaining = limit
    for index, batch in enumerate(read.batches(path)):
        if remaining is not None:
            if remaining <= 0:
                return
            if batch.table.num_rows > remaining:
                batch.table = batch.table.slice(0, remaining)
            remaining -= batch.table.num_rows
        yield batch_seq(split, index), batch


@dataclass
class SplitOutcome:
    """What reading and cleaning one input file in a task gave (:func:`process_split`)."""

    batches: list[BatchOutcome]
    input_docs: int = 0  # documents and unreadable records read (the limit counts documents)
    error_records: int = 0
    docs: int = 0


def process_split(read: ReadSpec, split: int, path: str, limit: int | None) -> SplitOutcome:
    """First pass, reading in tasks: read input file ``path`` (split ``split``), clean every
    batch, write its parts and its errors; exactly what the driver-reading path writes."""
    from corpusclean.io.errors import write_errors

    assert _pass is not None, "use_pass was not called"
    outcome = SplitOutcome(batches=[])
    for seq, batch in numbered_batches(read, split, Path(path), limit):
        outcome.input_docs += batch.table.num_rows + len(batch.errors)
        outcome.error_records += len(batch.errors)
        outcome.docs += batch.table.num_rows
        if batch.errors:
            write_errors(_pass.output, seq, batch.errors)
        if batch.table.num_rows:
            outcome.batches.append(process_table(seq, batch.source, batch.table))
    return outcome


def process_part(seq: int, path: str) -> BatchOutcome:
    """Later passes: the previous pass's survivors of batch ``seq``."""
    return process_frame(seq, pl.read_parquet(path))


def process_frame(
    seq: int, frame: pl.DataFrame, read_rejected: pl.DataFrame | None = None
) -> BatchOutcome:
    """Apply the pass's steps in order; rows a step rejects leave with that step's name
    (``read_rejected``: rows the reader rejected, with their reason and detail)."""
    assert _pass is not None, "use_pass was not called"
    in_docs = frame.height
    rejected: list[pl.DataFrame] = []
    by_reader: dict[str, int] = {}
    if read_rejected is not None and read_rejected.height:
        rejected.append(read_rejected.select(rejected_columns(read_rejected)))
        counts = read_rejected.get_column("reason").value_counts(sort=True, name="n")
        by_reader = dict(zip(counts["reason"], counts["n"], strict=True))
        in_docs += read_rejected.height
    step_in: list[int] = []
    step_out: list[int] = []
    step_seconds: list[float] = []
    step_counters: list[dict[str, int]] = []
    step_seen: list[StepObservation] = []
    groups: Groups = {}
    for step in _steps:
        step_in.append(frame.height)
        start = time.perf_counter()
        counters: dict[str, int] = {}
        seen = StepObservation()
        if frame.height:
            try:
                result = step.apply(frame)
            except Exception as exc:
                lines = frame.get_column("line")
                raise StepFailure(
                    f"step '{step.name}' failed on {frame.get_column('source')[0]} "
                    f"(lines {lines.min()}-{lines.max()}): {type(exc).__name__}: {exc}"
                ) from exc
            before, frame, counters = frame, result.frame, result.counters
            mask = (
                result.reject.is_not_null().to_numpy()
                if result.reject is not None
                else np.zeros(frame.height, dtype=bool)
            )
            seen = observe_step(step, before, result, mask)
            if result.reject is not None:
                reject = result.reject.alias("detail")
                dropped = frame.filter(reject.is_not_null())
                tally_groups(groups, dropped, _pass.groups, step.name)
                if dropped.height:
                    rejected.append(
                        dropped.with_columns(
                            pl.lit(step.name).alias("reason"),
                            reject.filter(reject.is_not_null()),
                        ).select(rejected_columns(dropped))
                    )
                frame = frame.filter(reject.is_null())
        step_seconds.append(time.perf_counter() - start)
        step_out.append(frame.height)
        step_counters.append(counters)
        step_seen.append(seen)

    scan_seconds = 0.0
    if _scanner is not None:
        start = time.perf_counter()
        if frame.height:
            write_parquet(_scanner.scan(frame), _pass.work / "scan" / part_name(seq))
            write_parquet(frame, _pass.work / "survivors" / part_name(seq))
        scan_seconds = time.perf_counter() - start
        kept_docs, kept_bytes = 0, 0
    else:
        kept = frame.drop([c for c in BOOKKEEPING if c in frame.columns])
        if kept.height:
            write_parquet(kept, _pass.output / "documents" / part_name(seq))
        kept_docs = kept.height
        tally_groups(groups, kept, _pass.groups, None)
        kept_bytes = int(kept.get_column("text").str.len_bytes().sum() or 0) if kept.height else 0
    if rejected:
        name = rejected_part_name(seq, _pass.index)
        write_parquet(pl.concat(rejected), _pass.output / "rejected" / name)
    return BatchOutcome(
        seq=seq,
        in_docs=in_docs,
        kept_docs=kept_docs,
        first_step=_pass.first_step,
        step_in=step_in,
        step_out=step_out,
        step_seconds=step_seconds,
        step_counters=step_counters,
        kept_bytes=kept_bytes,
        scan_seconds=scan_seconds,
        read_rejected=by_reader,
        step_seen=step_seen,
        groups=groups,
    )
