"""The engine: inputs -> batches -> passes of steps (in tasks) -> parts -> tokens.

The rules' steps are cut into *passes* at every corpus-wide step (deduplication must see every
document before it decides). Every pass is a stage of independent tasks that an executor runs
(:mod:`corpusclean.executors`: ``spawn``-ed worker processes here, or Ray tasks on a cluster),
with a bounded number in flight, so memory is bounded whatever the corpus size. The first pass
reads the input files: with the local pool the driver reads them in order and ships bounded
Arrow batches to the workers; under Ray each task reads and cleans one input file. Either way a
batch is numbered by its file and its place in it (:mod:`corpusclean.io.numbering`), never by
arrival. Later passes read the previous pass's survivors, one task per part. Between passes
the corpus-wide step resolves its decision from the scan parts the tasks spilled to Parquet,
in stages of tasks too (hash-partitioned group-bys, :mod:`corpusclean.shuffle`): the driver
holds nothing that grows with the corpus. Tasks write everything under the batch's number, so
the output is byte-identical for any worker count and either executor.

Runs resume: ``DIR/_work/state.json`` records the run's fingerprint (rules, inputs, batch
sizes) and the passes that finished, with their tallies. Started again on the same output
folder with the same fingerprint, a run skips the finished passes and redoes only the
interrupted one (whichever executor ran the first attempt).

Before anything is written, every step may complete its options from the run
(:meth:`Step.bind <corpusclean.steps.base.Step.bind>`: ``min_tokens`` takes the rules'
tokenizer). After the last pass, ``stats.json`` is written once the conservation invariant
holds, the kept documents are tokenized in tasks, one per part (:mod:`corpusclean.io.shards`)
with the tokenizer a corpus-wide step published if one did (``CorpusStep.RUN_TOKENIZER``), and
the report is built. The engine knows steps only through
:class:`~corpusclean.steps.base.Step` and :class:`~corpusclean.steps.base.CorpusStep`.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
from tqdm import tqdm

from corpusclean import worker
from corpusclean.executors import Executor, Setup, Task, make_executor
from corpusclean.io import InputBatch
from corpusclean.io.errors import write_errors
from corpusclean.io.numbering import seq_of
from corpusclean.io.paths import WEB_KINDS, input_format
from corpusclean.io.shards import tokenize_documents
from corpusclean.rules import Rules, RulesError, StepSpec
from corpusclean.shuffle import PARTITION_BYTES, partition_count
from corpusclean.stats import RunStats
from corpusclean.steps import STEPS
from corpusclean.steps.base import CorpusStep, RunContext
from corpusclean.worker import PassSpec

#: Marks a folder as a corpusclean output, so a re-run may clear it.
MARKER = ".corpusclean"
OUTPUT_SUBDIRS = ("documents", "rejected", "errors", "tokens")
WORK = "_work"


@dataclass(frozen=True)
class RunConfig:
    rules: Rules
    inputs: list[Path]
    output: Path
    workers: int = 0
    #: ``local`` (worker processes here) or ``ray`` (:mod:`corpusclean.executors`).
    executor: str = "local"
    #: Ray cluster to join (``auto`` or ``HOST:PORT``); None starts a local Ray instance.
    address: str | None = None
    limit: int | None = None
    quiet: bool = False
    batch_docs: int = 1000
    batch_bytes: int = 16 << 20
    #: A shuffle partition's share of a corpus-wide step's scan (:mod:`corpusclean.shuffle`).
    partition_bytes: int = PARTITION_BYTES
    #: Optional truth labels (``id`` + a class column) to score the decisions against.
    labels: Path | None = None
    label_column: str = "truth"
    keep_classes: tuple[str, ...] = ("clean", "mojibake")

    @property
    def n_workers(self) -> int:
        return self.workers if self.workers > 0 else (os.cpu_count() or 1)

    def fingerprint(self) -> str:
        """What must match for a run to resume another's finished passes."""
        inputs = [(str(p), p.stat().st_size, p.stat().st_mtime_ns) for p in self.inputs]
        blob = json.dumps(
            [
                self.rules.resolved(),
                inputs,
                self.limit,
                self.batch_docs,
                self.batch_bytes,
                self.partition_bytes,
                pl.__version__,  # corpus-wide keys use Polars' hash, stable within a version
            ],
            sort_keys=True,
            default=str,
        )
        return hashlib.sha256(blob.encode()).hexdigest()


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
    for name in (*OUTPUT_SUBDIRS, WORK):
        shutil.rmtree(output / name, ignore_errors=True)
    for name in OUTPUT_SUBDIRS:
        (output / name).mkdir()
    for name in ("stats.json", "report.md", "report.html", "tokenizer.json"):
        (output / name).unlink(missing_ok=True)


def bind_steps(rules: Rules) -> list[StepSpec]:
    """The rules' steps with their options completed from the run (:meth:`Step.bind`).

    Runs before anything is written; a step's ``ValueError("key: message")`` becomes a
    :class:`RulesError` naming the file, the step and the key (exit code 2).
    """
    tokenizer: str | dict[str, Any] | None = None
    if rules.tokenize is not None:
        spec = rules.tokenize.tokenizer
        if isinstance(spec, str):
            path = Path(spec)
            if not path.is_absolute() and not path.exists():
                path = Path(rules.path).parent / path
            tokenizer = str(path.resolve())
        else:
            tokenizer = spec.model_dump(mode="json")
    context = RunContext(rules_path=str(rules.path), tokenizer=tokenizer)
    bound = []
    for index, spec in enumerate(rules.steps):
        try:
            options = STEPS[spec.name].bind(spec.options, context)
        except ValueError as exc:
            key, _, message = str(exc).partition(": ")
            raise RulesError(
                f"{rules.path}: steps[{index}] ({spec.name}): key '{key}': {message}"
            ) from None
        bound.append(StepSpec(name=spec.name, options=options))
    return bound


def plan_passes(steps: list[StepSpec], output: Path) -> list[PassSpec]:
    """Cut the steps into passes at each corpus-wide step."""
    built = [spec.build() for spec in steps]
    cuts = [i for i, step in enumerate(built) if step.corpus_wide]
    groups = tuple(dict.fromkeys(c for step in built for c in step.outcome_groups))
    bounds = [0, *cuts, len(steps)]
    passes = []
    for index in range(len(bounds) - 1):
        first, end = bounds[index], bounds[index + 1]
        scan = steps[end] if end < len(steps) else None
        entry_state = _state_dir(output, first) if index > 0 else None
        passes.append(
            PassSpec(
                index=index,
                first_step=first,
                steps=steps[first:end],
                entry_state=entry_state,
                scan=scan,
                output=output,
                work=output / WORK / f"pass-{index}",
                groups=groups,
            )
        )
    return passes


def _state_dir(output: Path, step_index: int) -> Path:
    return output / WORK / f"step-{step_index}"


# -- reading ----------------------------------------------------------------------------------


def _read_spec(config: RunConfig) -> worker.ReadSpec:
    return worker.ReadSpec(
        text_field=config.rules.input.text_field,
        id_field=config.rules.input.id_field,
        batch_docs=config.batch_docs,
        batch_bytes=config.batch_bytes,
        html_extractor=config.rules.input.html_extractor,
        web=any((input_format(p) or ("",))[0] in WEB_KINDS for p in config.inputs),
    )


def _numbered_batches(config: RunConfig) -> Iterator[tuple[int, InputBatch]]:
    """Every input batch in input order, numbered by (file, batch) (the numbering a task
    reading one file gives, :mod:`corpusclean.io.numbering`); honours ``--limit``."""
    remaining = config.limit
    read = _read_spec(config)
    for split, path in enumerate(config.inputs):
        for seq, batch in worker.numbered_batches(read, split, path, remaining):
            if remaining is not None:
                remaining -= batch.table.num_rows
            yield seq, batch
        if remaining is not None and remaining <= 0:
            return


def _ipc(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def _progress(config: RunConfig, total: int | None, desc: str, unit: str) -> tqdm:
    return tqdm(
        total=total or None,
        unit=unit,
        unit_scale=unit == "B",
        unit_divisor=1024,
        desc=desc,
        disable=config.quiet or not sys.stderr.isatty(),
        dynamic_ncols=True,
    )


# -- executing --------------------------------------------------------------------------------


def _setup(spec: PassSpec, run_token: str) -> Setup:
    return (worker.use_pass, (spec, run_token))


def _input_tasks(config: RunConfig, stats: RunStats) -> Iterator[Task]:
    """First pass, the driver reading: account for reader errors, one task per batch."""
    bar = _progress(config, stats.input_bytes, "cleaning", "B")
    docs = 0
    for seq, batch in _numbered_batches(config):
        stats.input_docs += batch.table.num_rows + len(batch.errors)
        stats.error_records += len(batch.errors)
        if batch.errors:
            write_errors(config.output, seq, batch.errors)
        docs += batch.table.num_rows
        bar.update(batch.bytes_read)
        bar.set_postfix(docs=docs, refresh=False)
        if batch.table.num_rows:
            yield worker.process_input, (seq, batch.source, _ipc(batch.table))
    bar.close()


def _run_first_pass(
    config: RunConfig, executor: Executor, spec: PassSpec, token: str, stats: RunStats
) -> None:
    """Pass 1. The local pool: the driver reads, workers clean its batches. Ray: each task
    reads and cleans one input file; with ``--limit`` the files go one at a time, each told
    how many documents are left (the limit is for trying rules on a small prefix). WARC and
    HTML input is read in tasks by the local pool too when there are several files and
    workers: extracting the main text is most of the reading's cost (Resiliparse: ~580
    pages/s on one core), and the driver alone would be the run's bottleneck."""
    setup = _setup(spec, token)
    read = _read_spec(config)
    several = config.n_workers > 1 and len(config.inputs) > 1
    if not (executor.reads_in_tasks or (read.web and several)):
        for outcome in executor.run(_input_tasks(config, stats), setup):
            stats.add(outcome)
        return
    bar = _progress(config, len(config.inputs), "cleaning", "file")
    remaining = config.limit
    if remaining is None:
        tasks: Iterator[Task] = (
            (worker.process_split, (read, split, str(path), None))
            for split, path in enumerate(config.inputs)
        )
        results = executor.run(tasks, setup)
    else:

        def one_at_a_time() -> Iterator[worker.SplitOutcome]:
            nonlocal remaining
            for split, path in enumerate(config.inputs):
                assert remaining is not None
                task = (worker.process_split, (read, split, str(path), remaining))
                (result,) = executor.run([task], setup)
                remaining -= result.docs
                yield result
                if remaining <= 0:
                    return

        results = one_at_a_time()
    for result in results:
        stats.input_docs += result.input_docs
        stats.error_records += result.error_records
        for outcome in result.batches:
            stats.add(outcome)
        bar.update(1)
    bar.close()


def _part_tasks(config: RunConfig, previous: PassSpec, desc: str) -> Iterator[Task]:
    """Later passes: one task per survivors part of the previous pass, in order."""
    parts = sorted((previous.work / "survivors").glob("part-*.parquet"))
    bar = _progress(config, len(parts), desc, "batch")
    for part in parts:
        yield worker.process_part, (seq_of(part), str(part))
        bar.update(1)
    bar.close()


def _published_tokenizer(output: Path, passes: list[PassSpec]) -> tuple[Path, str] | None:
    """The run's tokenizer if a corpus-wide step's resolve published one (the last wins)."""
    found = None
    for spec in passes:
        if spec.scan is not None:
            path = _state_dir(output, spec.first_step + len(spec.steps)) / CorpusStep.RUN_TOKENIZER
            if path.is_file():
                found = (path, spec.scan.name)
    return found


def _resolve(config: RunConfig, executor: Executor, spec: PassSpec, stats: RunStats) -> None:
    """Between passes: the corpus-wide step decides from every scan part, in stages of tasks
    (:meth:`CorpusStep.resolve_stages`) the executor runs; the driver passes results on."""
    assert spec.scan is not None
    step = spec.scan.build()
    assert isinstance(step, CorpusStep)
    index = spec.first_step + len(spec.steps)
    state = _state_dir(config.output, index)
    shutil.rmtree(state, ignore_errors=True)
    state.mkdir(parents=True)
    start = time.perf_counter()
    parts = sorted((spec.work / "scan").glob("part-*.parquet"))
    plan = step.resolve_stages(parts, state, partition_count(parts, config.partition_bytes))
    results: list[Any] | None = None
    try:
        while True:
            stage = plan.send(results)  # type: ignore[arg-type]  # the first send is None
            results = list(executor.run(stage))
    except StopIteration as done:
        counters: dict[str, int] = done.value
    stats.steps[index].seconds += time.perf_counter() - start
    stats.steps[index].counters.update(counters)


# -- resuming ---------------------------------------------------------------------------------


def _load_state(config: RunConfig) -> dict[str, Any] | None:
    path = config.output / WORK / "state.json"
    if not path.is_file():
        return None
    state = json.loads(path.read_text())
    return state if state.get("fingerprint") == config.fingerprint() else None


def _save_state(config: RunConfig, finished: int, stats: RunStats) -> None:
    path = config.output / WORK / "state.json"
    state = {"fingerprint": config.fingerprint(), "finished": finished, "stats": stats.to_state()}
    tmp = path.with_name("state.json.tmp")
    tmp.write_text(json.dumps(state))
    tmp.replace(path)


def _clear_pass_outputs(config: RunConfig, spec: PassSpec) -> None:
    """Remove what an interrupted pass may have written, before it runs again."""
    shutil.rmtree(spec.work, ignore_errors=True)
    for sub in ("survivors", "scan"):
        (spec.work / sub).mkdir(parents=True)
    if spec.index == 0:
        for name in ("documents", "rejected", "errors"):
            shutil.rmtree(config.output / name, ignore_errors=True)
            (config.output / name).mkdir()
    else:
        for path in (config.output / "rejected").glob(f"part-*-p{spec.index}.parquet"):
            path.unlink()
        if spec.last:
            shutil.rmtree(config.output / "documents", ignore_errors=True)
            (config.output / "documents").mkdir()


# -- the run ----------------------------------------------------------------------------------


def run(config: RunConfig) -> RunStats:
    """Clean, tokenize and report; returns the stats after the invariant check."""
    from corpusclean import report

    start = time.perf_counter()
    stats = RunStats(step_names=[s.name for s in config.rules.steps])
    stats.input_files = len(config.inputs)
    stats.input_bytes = sum(p.stat().st_size for p in config.inputs)
    passes = plan_passes(bind_steps(config.rules), config.output)
    state = _load_state(config)
    finished = 0
    if state is not None:
        finished = state["finished"]
        stats.restore(state["stats"])
    else:
        prepare_output(config.output)
        (config.output / WORK).mkdir()
    token = uuid.uuid4().hex  # tells a reused worker that this run's passes are new
    with make_executor(config.executor, config.n_workers, config.address) as executor:
        for spec in passes[finished:]:
            _clear_pass_outputs(config, spec)
            if spec.index == 0:
                _run_first_pass(config, executor, spec, token, stats)
            else:
                tasks = _part_tasks(config, passes[spec.index - 1], f"pass {spec.index + 1}")
                for outcome in executor.run(tasks, _setup(spec, token)):
                    stats.add(outcome)
            if spec.scan is not None:
                _resolve(config, executor, spec, stats)
            _save_state(config, spec.index + 1, stats)
        stats.check_invariant()
        for spec in passes:  # survivors are a full copy of the corpus: free the disk
            shutil.rmtree(spec.work, ignore_errors=True)
        if config.rules.tokenize is not None:
            stats.tokens = tokenize_documents(
                config.output,
                config.rules.tokenize,
                rules_dir=Path(config.rules.path).parent,
                published=_published_tokenizer(config.output, passes),
                run_tasks=executor.run,
            )
    stats.seconds = time.perf_counter() - start
    stats.extra["rules"] = config.rules.resolved()
    stats.extra["inputs"] = [str(p) for p in config.inputs]
    stats.extra["workers"] = config.n_workers
    stats.extra["executor"] = config.executor
    stats.extra["passes"] = len(passes)
    if config.labels is not None:
        from corpusclean import truth

        labels = truth.read_labels(config.labels, config.label_column)
        stats.extra["truth"] = truth.score(config.output, labels, config.keep_classes)
    stats.write(config.output / "stats.json")
    report.write_report(config.output)
    return stats
