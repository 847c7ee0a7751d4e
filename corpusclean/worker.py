"""What a worker process does with one batch: run the steps, write kept and rejected rows.

Workers are started with the ``spawn`` method (Polars' thread pool must never be forked), get
the step specifications once in :func:`init_worker`, and then receive batches as Arrow IPC
bytes. Each batch is written under its sequence number (``part-000042.parquet``), so the output
files and their bytes do not depend on how many workers there are or which finished first.
"""

from __future__ import annotations

import time
from pathlib import Path

import polars as pl
import pyarrow as pa

from corpusclean.rules import StepSpec
from corpusclean.stats import BatchOutcome
from corpusclean.steps import Step

#: Columns of ``rejected/*.parquet``, in order.
REJECTED_COLUMNS = ("id", "text", "reason", "detail", "source", "line")
#: Reader bookkeeping that is not part of a kept document.
_READER_ONLY = ("source", "line")


class StepFailure(RuntimeError):
    """A step raised on a batch; the message names the step, the file and the line range."""


_steps: list[Step] = []
_output: Path | None = None


def init_worker(specs: list[StepSpec], output: Path) -> None:
    """Build and set up the steps once per process."""
    global _steps, _output
    _steps = [spec.build() for spec in specs]
    for step in _steps:
        step.setup()
    _output = output


def part_name(seq: int, suffix: str = "parquet") -> str:
    return f"part-{seq:06d}.{suffix}"


def write_parquet(frame: pl.DataFrame, path: Path) -> None:
    """Deterministic Parquet: same frame, same bytes (zstd, one row group per batch)."""
    tmp = path.with_suffix(".tmp")
    frame.write_parquet(tmp, compression="zstd", statistics=False)
    tmp.replace(path)


def process_ipc(seq: int, source: str, ipc: bytes) -> BatchOutcome:
    """Entry point in a worker: decode the Arrow IPC batch and process it."""
    table = pa.ipc.open_stream(ipc).read_all()
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    return process_frame(seq, source, frame)


def process_frame(seq: int, source: str, frame: pl.DataFrame) -> BatchOutcome:
    """Apply every step in order; rows a step rejects leave the batch with that step's name."""
    assert _output is not None, "init_worker was not called"
    frame = frame.with_columns(pl.lit(source, dtype=pl.String).alias("source"))
    in_docs = frame.height
    rejected: list[pl.DataFrame] = []
    step_in: list[int] = []
    step_out: list[int] = []
    step_seconds: list[float] = []
    step_counters: list[dict[str, int]] = []
    for step in _steps:
        step_in.append(frame.height)
        start = time.perf_counter()
        counters: dict[str, int] = {}
        if frame.height:
            try:
                result = step.apply(frame)
            except Exception as exc:
                lines = frame.get_column("line")
                raise StepFailure(
                    f"step '{step.name}' failed on {source} (lines {lines.min()}-{lines.max()}): "
                    f"{type(exc).__name__}: {exc}"
                ) from exc
            frame, counters = result.frame, result.counters
            if result.reject is not None:
                reject = result.reject.alias("detail")
                dropped = frame.filter(reject.is_not_null())
                if dropped.height:
                    rejected.append(
                        dropped.with_columns(
                            pl.lit(step.name).alias("reason"),
                            reject.filter(reject.is_not_null()),
                        ).select(REJECTED_COLUMNS)
                    )
                frame = frame.filter(reject.is_null())
        step_seconds.append(time.perf_counter() - start)
        step_out.append(frame.height)
        step_counters.append(counters)
    kept = frame.drop([c for c in _READER_ONLY if c in frame.columns])
    if kept.height:
        write_parquet(kept, _output / "documents" / part_name(seq))
    if rejected:
        write_parquet(pl.concat(rejected), _output / "rejected" / part_name(seq))
    return BatchOutcome(
        seq=seq,
        in_docs=in_docs,
        kept_docs=kept.height,
        step_in=step_in,
        step_out=step_out,
        step_seconds=step_seconds,
        step_counters=step_counters,
        kept_bytes=int(kept.get_column("text").str.len_bytes().sum() or 0) if kept.height else 0,
    )
