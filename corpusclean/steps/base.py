"""The contract every cleaning step keeps.

A step is a transform over one Polars DataFrame batch of documents (columns ``id``, ``text``
and whatever earlier steps added). It may add signal columns, rewrite ``text``, and mark rows
as rejected with a human-readable ``detail``. The engine, not the step, moves rejected rows to
``rejected/`` under the step's name as ``reason``: so a step never drops a row silently, and
the conservation invariant (every input document is kept, rejected or an error) holds by
construction.

Modelled on datatrove's filters: one small class per rule, a shared base, stats per step.
Options are a pydantic model with ``extra="forbid"``, so an unknown or mistyped key in a rules
file is an error that names the key, never a silent default.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Generic, TypeAlias, TypeVar, get_args, get_origin

import polars as pl
from pydantic import BaseModel, ConfigDict

from corpusclean.histograms import Bins
from corpusclean.text import Cut, Rule, cuts, rule_counters


class StepOptions(BaseModel):
    """Base of every step's options: strict (unknown keys are errors) and immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=False)


@dataclass(frozen=True)
class RunContext:
    """What a step may need to know about the run beyond its own options (see :meth:`Step.bind`).

    ``tokenizer`` is the rules' ``tokenize.tokenizer``: a path made absolute against the rules'
    folder, or ``{"train": {...}}`` for a tokenizer trained by the run, or ``None`` when the
    rules do not tokenize.
    """

    rules_path: str
    tokenizer: str | dict[str, Any] | None = None

    @property
    def rules_dir(self) -> Path:
        return Path(self.rules_path).resolve().parent


@dataclass
class StepResult:
    """What a step returns for one batch.

    ``frame`` holds every row of the input batch, in order, with new or changed columns.
    ``reject`` is a Utf8 Series aligned with ``frame``: null keeps the row, a string rejects it
    and is the row's ``detail`` (e.g. ``"words=12<50"``). ``None`` means nothing was rejected.
    ``counters`` are summed over batches and workers into ``stats.json``.

    For the report (:mod:`corpusclean.histograms`): ``signals`` holds the values the step
    measured, one column per signal (``<step>.<signal>``), aligned with ``frame``, whether or
    not ``keep_signals`` keeps them in ``frame``; ``cuts`` are the thresholds its rules applied
    (:func:`corpusclean.text.cuts` of its rules list).
    """

    frame: pl.DataFrame
    reject: pl.Series | None = None
    counters: dict[str, int] = field(default_factory=dict)
    signals: pl.DataFrame | None = None
    cuts: list[Cut] = field(default_factory=list)


OptionsT = TypeVar("OptionsT", bound=StepOptions)


class Step(Generic[OptionsT]):
    """Base class of a streaming step.

    A step is declared as ``class LengthStep(Step[LengthOptions])``: the type argument is the
    step's options model, so ``self.options`` is a ``LengthOptions`` to the type checker and
    ``LengthStep.Options`` (what the rules parser validates against) is set from it.
    Subclasses set ``name``, ``summary`` and ``source`` (the paper or project the rule comes
    from), and implement :meth:`apply`. Expensive resources (models) are loaded in
    :meth:`setup`, which the engine calls once in each worker process, never in the parent,
    so that steps stay cheap to construct and picklable.
    """

    name: ClassVar[str]
    Options: ClassVar[type[StepOptions]] = StepOptions
    summary: ClassVar[str] = ""
    source: ClassVar[str] = ""
    #: True for :class:`CorpusStep`: the engine must run a corpus-wide pass for it.
    corpus_wide: ClassVar[bool] = False
    #: Columns the step always adds to kept documents (``corpusclean steps`` lists them).
    adds_columns: ClassVar[tuple[str, ...]] = ()
    #: Columns it adds only with ``keep_signals: true`` (listed in that option's help).
    signal_columns: ClassVar[tuple[str, ...]] = ()
    #: Bins of the report's histogram of each signal column in :attr:`StepResult.signals`;
    #: a column not listed gets ``default_bins`` (None: no histogram for it).
    signal_bins: ClassVar[Mapping[str, Bins]] = {}
    default_bins: ClassVar[Bins | None] = None
    #: Columns the step adds by whose values the report breaks down what became of the
    #: documents (``language``: documents and bytes per language, kept and dropped by step).
    outcome_groups: ClassVar[tuple[str, ...]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for base in cls.__dict__.get("__orig_bases__", ()):  # this class's own bases only
            origin = get_origin(base)
            if isinstance(origin, type) and issubclass(origin, Step):
                (options,) = get_args(base)
                if isinstance(options, type) and issubclass(options, StepOptions):
                    cls.Options = options

    def __init__(self, options: OptionsT) -> None:
        self.options: OptionsT = options

    def __getnewargs__(self) -> tuple[OptionsT]:
        """Steps travel to tasks by pickle; a step whose ``__new__`` picks its class from
        the options (``min_tokens``) needs them there too."""
        return (self.options,)

    @classmethod
    def bind(cls, options: OptionsT, context: RunContext) -> OptionsT:
        """Complete the options from the run's settings before the run starts.

        Called once by the engine, in the parent, before anything is written; the options it
        returns are the ones every worker gets. The default returns them unchanged. A step
        whose meaning depends on the run (``min_tokens`` counts with the run's tokenizer)
        fills in what the rules left implicit here, and raises ``ValueError("key: message")``
        for a combination that cannot work (the run then exits 2 naming the step and key).
        """
        return options

    def bins_of(self, column: str) -> Bins | None:
        """The histogram bins of signal column ``column`` (see :attr:`signal_bins`)."""
        return self.signal_bins.get(column, self.default_bins)

    def setup(self) -> None:
        """Load models or tables; called once per worker before the first batch."""

    def apply(self, batch: pl.DataFrame) -> StepResult:
        raise NotImplementedError


def first_failure(
    batch: pl.DataFrame, rules: Sequence[tuple[pl.Expr, pl.Expr]]
) -> pl.Series | None:
    """Per row, the message of the first rule whose condition holds (null when none does).

    ``rules`` are ``(condition, message)`` pairs in priority order. The result is the
    ``reject`` column of a :class:`StepResult` (``None`` when there is no rule to apply), so a
    rejected row's ``detail`` always names the first failing sub-rule and its value. Every
    filter builds its decision this way, as one Polars expression over the batch.
    """
    if not rules:
        return None
    (condition, message), *rest = rules
    chain = pl.when(condition).then(message)
    for condition, message in rest:
        chain = chain.when(condition).then(message)
    return batch.select(chain.otherwise(None).cast(pl.String).alias("detail")).to_series()


def threshold_result(
    batch: pl.DataFrame,
    rules: Sequence[Rule | None],
    signals: Sequence[str],
    keep_signals: bool,
) -> StepResult:
    """The result of a filter that decides by its rules alone (Gopher's, FineWeb's): the first
    failing rule's detail, rejections counted by rule, the signal columns handed to the report
    and kept in the frame only with ``keep_signals``, and the rules' thresholds."""
    reject = first_failure(batch, [r for r in rules if r is not None])
    return StepResult(
        frame=batch if keep_signals else batch.drop(signals),
        reject=reject,
        counters=rule_counters(reject),
        signals=batch.select(signals),
        cuts=cuts(rules),
    )


#: One unit of a resolve stage: a module-level function and its (picklable) arguments. It
#: runs in a worker process or a Ray task, reads and writes files under the state folder, and
#: returns something small (counters), never rows.
ResolveTask: TypeAlias = tuple[Callable[..., Any], tuple[Any, ...]]
#: A resolve as stages of independent tasks (see :meth:`CorpusStep.resolve_stages`): it yields
#: a stage, receives the stage's results in task order, and returns the counters.
ResolvePlan: TypeAlias = Generator[list[ResolveTask], list[Any], dict[str, int]]


def resolve_in_task(step: CorpusStep[Any], scan_parts: list[Path], state_dir: Path) -> Any:
    """The default plan's one task: the step's whole :meth:`CorpusStep.resolve`."""
    return step.resolve(scan_parts, state_dir)


def run_plan_inline(plan: ResolvePlan) -> dict[str, int]:
    """Run a resolve plan's tasks one after another in this process (tests, one worker)."""
    results: list[Any] | None = None
    try:
        while True:
            stage = plan.send(results)  # type: ignore[arg-type]  # the first send is None
            results = [function(*args) for function, args in stage]
    except StopIteration as done:
        return done.value


class CorpusStep(Step[OptionsT]):
    """A step that must see every document that reaches it before it decides (deduplication).

    The engine runs it in three phases, each resumable:

    1. :meth:`scan` runs in the workers on every batch that reaches the step and returns a
       small frame of keys (hashes, signatures, counts) that the engine spills to Parquet;
       it must carry the engine's ``_doc`` column (the document's position in input order).
    2. :meth:`resolve_stages` decides from all scan parts, as stages of tasks that the
       executor runs in parallel (worker processes, or Ray tasks on a cluster), and writes
       whatever the decision needs into ``state_dir`` (e.g. ``decisions.parquet``:
       ``_doc, detail``). The default is one stage of one task, :meth:`resolve`; the
       deduplication steps partition their group-bys by key (:mod:`corpusclean.shuffle`) so
       that no process holds every document's keys.
    3. :meth:`load` runs in each worker of the next pass, then :meth:`apply` is called on every
       batch like a streaming step's.

    The steps before it stream as usual; the steps after it see only its survivors.

    A :meth:`resolve` that trains the run's tokenizer (``min_tokens`` with a trained
    tokenizer) *publishes* it by saving it as ``state_dir / RUN_TOKENIZER``: the engine's
    tokenize stage then uses that file instead of training another, so the tokenizer a step
    counted with is the one the run writes to ``DIR/tokenizer.json`` and ``DIR/tokens/``.
    """

    corpus_wide: ClassVar[bool] = True
    #: File name under which a resolve publishes the run's tokenizer (``tokenizers`` JSON).
    RUN_TOKENIZER: ClassVar[str] = "run_tokenizer.json"

    def scan(self, batch: pl.DataFrame) -> pl.DataFrame:
        raise NotImplementedError

    def resolve(self, scan_parts: list[Path], state_dir: Path) -> dict[str, int]:
        """Decide from every scan part in one process; returns counters for ``stats.json``."""
        raise NotImplementedError

    def resolve_stages(
        self, scan_parts: list[Path], state_dir: Path, partitions: int
    ) -> ResolvePlan:
        """The resolve as stages of independent tasks; returns the counters.

        A generator: ``results = yield [task, ...]`` hands the executor one stage (tasks that
        may run at once, anywhere) and receives their results in task order; the next stage
        may use what the previous wrote under ``state_dir``. ``partitions`` is how many hash
        partitions a shuffle should use (:func:`corpusclean.shuffle.partition_count`: it
        depends only on the scan's size, so the decision and every counter are the same for
        any worker count and executor). The driver that runs the plan holds only what the
        generator holds: it must keep nothing per document.
        """
        (counters,) = yield [(resolve_in_task, (self, scan_parts, state_dir))]
        return counters

    def load(self, state_dir: Path) -> None:
        """Read the decision the resolve wrote (once per worker): ``decisions.parquet``, or
        the parts of ``decisions/`` (one per partition), sorted by ``_doc``."""
        decisions = state_dir / "decisions.parquet"
        parts = sorted((state_dir / "decisions").glob("part-*.parquet"))
        if decisions.exists():
            self._decisions = pl.read_parquet(decisions)
        elif parts:
            self._decisions = pl.read_parquet(parts).sort("_doc")
        else:
            self._decisions = None

    def apply(self, batch: pl.DataFrame) -> StepResult:
        """Default: reject the documents listed in ``decisions.parquet`` with their detail."""
        decisions: pl.DataFrame | None = getattr(self, "_decisions", None)
        if decisions is None or decisions.height == 0:
            return StepResult(frame=batch)
        low, high = batch.get_column("_doc").min(), batch.get_column("_doc").max()
        relevant = decisions.filter(pl.col("_doc").is_between(low, high))
        detail = batch.select("_doc").join(relevant, on="_doc", how="left", maintain_order="left")
        return StepResult(frame=batch, reject=detail.get_column("detail").cast(pl.String))
