"""Run statistics: per-batch outcomes merged into ``stats.json``, and the conservation check.

The invariant every run checks before it reports success (docs/contract.md):
``input_docs == kept_docs + sum(rejected) + error_records``.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from corpusclean.observations import Groups, StepObservation, groups_as_dict, merge_groups


@dataclass
class StepTally:
    """What one step did over the whole run (summed over batches and workers)."""

    name: str
    in_docs: int = 0
    out_docs: int = 0
    seconds: float = 0.0
    counters: Counter[str] = field(default_factory=Counter)
    seen: StepObservation = field(default_factory=StepObservation)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "in_docs": self.in_docs,
            "out_docs": self.out_docs,
            "rejected": self.in_docs - self.out_docs,
            "seconds": round(self.seconds, 3),
        }
        if self.counters:
            out["counters"] = dict(sorted(self.counters.items()))
        out.update(self.seen.as_dict())  # in_bytes, out_bytes, histograms, edits
        return out


@dataclass
class BatchOutcome:
    """What a worker reports back for one batch (small and picklable)."""

    seq: int
    in_docs: int
    kept_docs: int
    first_step: int  # global index of step_in[0]'s step
    step_in: list[int]
    step_out: list[int]
    step_seconds: list[float]
    step_counters: list[dict[str, int]]
    kept_bytes: int = 0
    scan_seconds: float = 0.0  # time spent scanning for the corpus-wide step that follows
    read_rejected: dict[str, int] = field(default_factory=dict)  # by a reader (io.warc), by reason
    step_seen: list[StepObservation] = field(default_factory=list)  # for the report
    groups: Groups = field(default_factory=dict)  # outcomes by language (observations.py)


class InvariantError(RuntimeError):
    """The run lost or invented documents: a bug, never a user error."""


@dataclass
class RunStats:
    step_names: list[str]
    input_docs: int = 0
    kept_docs: int = 0
    error_records: int = 0
    input_bytes: int = 0
    input_files: int = 0
    kept_text_bytes: int = 0
    seconds: float = 0.0
    steps: list[StepTally] = field(default_factory=list)
    tokens: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    #: Rows a reader rejected (a WARC record that is no HTML page), by reason ("warc").
    read_rejected: Counter[str] = field(default_factory=Counter)
    groups: Groups = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.steps:
            self.steps = [StepTally(name) for name in self.step_names]

    def add(self, outcome: BatchOutcome) -> None:
        self.kept_docs += outcome.kept_docs
        self.kept_text_bytes += outcome.kept_bytes
        self.read_rejected.update(outcome.read_rejected)
        for tally, n_in, n_out, secs, counters in zip(
            self.steps[outcome.first_step : outcome.first_step + len(outcome.step_in)],
            outcome.step_in,
            outcome.step_out,
            outcome.step_seconds,
            outcome.step_counters,
            strict=True,
        ):
            tally.in_docs += n_in
            tally.out_docs += n_out
            tally.seconds += secs
            tally.counters.update(counters)
        if outcome.scan_seconds:
            self.steps[outcome.first_step + len(outcome.step_in)].seconds += outcome.scan_seconds
        for tally, seen in zip(self.steps[outcome.first_step :], outcome.step_seen, strict=False):
            tally.seen.merge(seen)
        merge_groups(self.groups, outcome.groups)

    @property
    def rejected(self) -> dict[str, int]:
        """Rejections per step name (a step used twice adds up under its name), after the
        readers' own (reason ``warc``)."""
        out: Counter[str] = Counter(self.read_rejected)
        for tally in self.steps:
            out[tally.name] += tally.in_docs - tally.out_docs
        return dict(out)

    def to_state(self) -> dict[str, Any]:
        """Everything needed to continue the tally after a resumed pass."""
        return {
            "input_docs": self.input_docs,
            "kept_docs": self.kept_docs,
            "error_records": self.error_records,
            "kept_text_bytes": self.kept_text_bytes,
            "read_rejected": dict(self.read_rejected),
            "steps": [
                {
                    "in": t.in_docs,
                    "out": t.out_docs,
                    "s": t.seconds,
                    "c": dict(t.counters),
                    "seen": t.seen.as_dict(),
                }
                for t in self.steps
            ],
            "groups": self.groups,
        }

    def restore(self, state: dict[str, Any]) -> None:
        self.input_docs = state["input_docs"]
        self.kept_docs = state["kept_docs"]
        self.error_records = state["error_records"]
        self.kept_text_bytes = state["kept_text_bytes"]
        self.read_rejected = Counter(state.get("read_rejected", {}))
        for tally, saved in zip(self.steps, state["steps"], strict=True):
            tally.in_docs, tally.out_docs, tally.seconds = saved["in"], saved["out"], saved["s"]
            tally.counters = Counter(saved["c"])
            tally.seen = StepObservation.from_dict(saved["seen"])
        self.groups = state["groups"]

    def check_invariant(self) -> None:
        total = self.kept_docs + sum(self.rejected.values()) + self.error_records
        if self.input_docs != total:
            raise InvariantError(
                f"conservation check failed: input_docs={self.input_docs} but kept "
                f"{self.kept_docs} + rejected {sum(self.rejected.values())} + errors "
                f"{self.error_records} = {total}"
            )

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "input_docs": self.input_docs,
            "kept_docs": self.kept_docs,
            "error_records": self.error_records,
            "rejected": self.rejected,
            "steps": [s.as_dict() for s in self.steps],
            "input_bytes": self.input_bytes,
            "input_files": self.input_files,
            "kept_text_bytes": self.kept_text_bytes,
            "seconds": round(self.seconds, 3),
        }
        if self.groups:
            out["breakdown"] = groups_as_dict(self.groups, [t.name for t in self.steps])
        if self.tokens is not None:
            out["tokens"] = self.tokens
        out.update(self.extra)
        return out

    def write(self, path: Path) -> None:
        path.write_text(json.dumps(self.as_dict(), indent=2) + "\n", encoding="utf-8")


def load_stats(directory: Path) -> dict[str, Any]:
    return json.loads((directory / "stats.json").read_text(encoding="utf-8"))
