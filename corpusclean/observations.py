"""What the report shows of each step beyond its counts, gathered while the run runs.

The report (:mod:`corpusclean.report`) is rebuilt from what a run leaves, without reading the
input again, so whatever it shows that the output folder cannot tell must be recorded during
the run: the text bytes each step took (a rewriting step removes bytes without removing
documents), each signal's histogram kept against dropped (:mod:`corpusclean.histograms`), the
thresholds the rules cut at, a few documents whose text a step rewrote (the lines it removed
or changed), and what became of the documents of each value of a grouping column (language).

Each batch's observations are small (fixed bins, at most :data:`EDIT_EXAMPLES` edits a step)
and merge by adding (histograms, bytes, groups) or by keeping the smallest keys (edits), so
the merged result is the same for any number of workers, any executor and any order of
completion; nothing grows with the corpus.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from corpusclean.hashing import fmix64
from corpusclean.histograms import Histogram, count
from corpusclean.steps.base import Step, StepResult

#: Rewritten documents kept per step for the report: the ones whose seeded hash of ``_doc`` is
#: smallest, a reproducible random choice that does not depend on how the run was cut.
EDIT_EXAMPLES = 5
#: Removed (and added) lines kept per example, and characters kept per line.
EDIT_LINES = 8
EDIT_LINE_CHARS = 300
#: Mixed into ``_doc`` before hashing, so the choice is not the first documents of the input.
_EDIT_SEED = np.uint64(0x9E3779B97F4A7C15)


@dataclass(frozen=True)
class Edit:
    """One document a step rewrote and kept: which lines went, which came instead."""

    key: int  # the choice key (smallest kept)
    id: str
    bytes_before: int
    bytes_after: int
    lines_removed: int
    lines_added: int
    removed: tuple[str, ...]  # at most EDIT_LINES, each at most EDIT_LINE_CHARS characters
    added: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "id": self.id,
            "bytes_before": self.bytes_before,
            "bytes_after": self.bytes_after,
            "lines_removed": self.lines_removed,
            "lines_added": self.lines_added,
            "removed": list(self.removed),
            "added": list(self.added),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Edit:
        return cls(
            **{k: v for k, v in data.items() if k not in ("removed", "added")},
            removed=tuple(data["removed"]),
            added=tuple(data["added"]),
        )


def line_changes(before: str, after: str) -> tuple[list[str], list[str]]:
    """Lines of ``before`` missing from ``after`` and lines of ``after`` that ``before`` did
    not have, each in its text's order, counted as multisets (a line that occurs twice and
    survives once was removed once). Blank lines are layout, not content: left out."""
    old = [line for line in before.splitlines() if line.strip()]
    new = [line for line in after.splitlines() if line.strip()]
    surviving, fresh = Counter(new), Counter(old)
    removed: list[str] = []
    for line in old:
        if surviving[line] > 0:
            surviving[line] -= 1
        else:
            removed.append(line)
    added: list[str] = []
    for line in new:
        if fresh[line] > 0:
            fresh[line] -= 1
        else:
            added.append(line)
    return removed, added


def _clip(lines: list[str]) -> tuple[str, ...]:
    return tuple(line[:EDIT_LINE_CHARS] for line in lines[:EDIT_LINES])


@dataclass
class StepObservation:
    """What one step showed over a batch, or (merged) over the run."""

    in_bytes: int = 0
    out_bytes: int = 0
    histograms: dict[str, Histogram] = field(default_factory=dict)
    cuts: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # signal column -> cuts
    edits: list[Edit] = field(default_factory=list)  # sorted by key, at most EDIT_EXAMPLES

    def merge(self, other: StepObservation) -> None:
        self.in_bytes += other.in_bytes
        self.out_bytes += other.out_bytes
        for column, hist in other.histograms.items():
            if column in self.histograms:
                self.histograms[column].merge(hist)
            else:
                self.histograms[column] = Histogram.from_dict(hist.as_dict())
        for column, cuts in other.cuts.items():
            self.cuts.setdefault(column, cuts)
        if other.edits:
            self.edits = sorted([*self.edits, *other.edits], key=lambda e: e.key)[:EDIT_EXAMPLES]

    def as_dict(self) -> dict[str, Any]:
        return {
            "in_bytes": self.in_bytes,
            "out_bytes": self.out_bytes,
            "histograms": {
                column: {**hist.as_dict(), "cuts": self.cuts.get(column, [])}
                for column, hist in sorted(self.histograms.items())
            },
            "edits": [e.as_dict() for e in self.edits],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StepObservation:
        return cls(
            in_bytes=data["in_bytes"],
            out_bytes=data["out_bytes"],
            histograms={c: Histogram.from_dict(h) for c, h in data["histograms"].items()},
            cuts={c: h["cuts"] for c, h in data["histograms"].items() if h["cuts"]},
            edits=[Edit.from_dict(e) for e in data["edits"]],
        )


def observe_step(
    step: Step[Any], before: pl.DataFrame, result: StepResult, dropped: np.ndarray
) -> StepObservation:
    """A batch's observation of ``step``: ``before`` is the batch it was given, ``result``
    what it returned, ``dropped`` the rows it rejected (a boolean mask)."""
    nbytes = before.get_column("text").str.len_bytes().to_numpy()
    after = result.frame.get_column("text")
    after_bytes = after.str.len_bytes().to_numpy()
    seen = StepObservation(in_bytes=int(nbytes.sum()), out_bytes=int(after_bytes[~dropped].sum()))
    if result.signals is not None:
        for column in result.signals.columns:
            bins = step.bins_of(column)
            if bins is not None:
                values = result.signals.get_column(column)
                seen.histograms[column] = count(bins, values, dropped, nbytes)
    for cut in result.cuts:
        seen.cuts.setdefault(cut.column, []).append(cut.as_dict())
    changed = (before.get_column("text") != after).fill_null(True).to_numpy() & ~dropped
    if changed.any():
        seen.edits = _edits(before, after, changed)
    return seen


def _edits(before: pl.DataFrame, after: pl.Series, changed: np.ndarray) -> list[Edit]:
    """The :data:`EDIT_EXAMPLES` rewritten rows of the batch with the smallest keys.

    Python per row, for at most EDIT_EXAMPLES rows a batch: the line diff of two texts."""
    rows = np.flatnonzero(changed)
    keys = fmix64(before.get_column("_doc").to_numpy()[rows].astype(np.uint64) ^ _EDIT_SEED)
    chosen = rows[np.argsort(keys, kind="stable")[:EDIT_EXAMPLES]]
    key_of = dict(zip(rows.tolist(), keys.tolist(), strict=True))
    ids, texts = before.get_column("id"), before.get_column("text")
    edits = []
    for row in chosen.tolist():
        old, new = texts[row], after[row]
        removed, added = line_changes(old, new)
        edits.append(
            Edit(
                key=int(key_of[row]),
                id=ids[row],
                bytes_before=len(old.encode("utf-8")),
                bytes_after=len(new.encode("utf-8")),
                lines_removed=len(removed),
                lines_added=len(added),
                removed=_clip(removed),
                added=_clip(added),
            )
        )
    return edits


#: {group column: {value: {"kept": [docs, bytes], "dropped": {step: [docs, bytes]}}}}
Groups = dict[str, dict[str, dict[str, Any]]]


def tally_groups(
    groups: Groups, frame: pl.DataFrame, columns: tuple[str, ...], outcome: str | None
) -> None:
    """Add ``frame``'s documents to ``groups`` by the value of each grouping column it has:
    as kept (``outcome`` None) or as dropped by step ``outcome``. Bytes are the text's as
    the documents left the pipeline or reached the step that dropped them."""
    for column in columns:
        if column not in frame.columns or frame.height == 0:
            continue
        counts = (
            frame.group_by(pl.col(column).cast(pl.String).fill_null("(none)").alias("v"))
            .agg(pl.len().alias("docs"), pl.col("text").str.len_bytes().sum().alias("bytes"))
            .sort("v")
        )
        by_value = groups.setdefault(column, {})
        for value, docs, nbytes in counts.iter_rows():
            entry = by_value.setdefault(value, {"kept": [0, 0], "dropped": {}})
            slot = (
                entry["kept"] if outcome is None else entry["dropped"].setdefault(outcome, [0, 0])
            )
            slot[0] += int(docs)
            slot[1] += int(nbytes)


def merge_groups(into: Groups, other: Groups) -> None:
    for column, values in other.items():
        by_value = into.setdefault(column, {})
        for value, entry in values.items():
            mine = by_value.setdefault(value, {"kept": [0, 0], "dropped": {}})
            mine["kept"] = [a + b for a, b in zip(mine["kept"], entry["kept"], strict=True)]
            for step, (docs, nbytes) in entry["dropped"].items():
                slot = mine["dropped"].setdefault(step, [0, 0])
                slot[0] += docs
                slot[1] += nbytes


def groups_as_dict(groups: Groups, step_order: list[str]) -> dict[str, Any]:
    """For ``stats.json``: values by documents (most first), steps in ``step_order``."""
    rank = {name: i for i, name in reversed(list(enumerate(step_order)))}
    out: dict[str, Any] = {}
    for column, values in sorted(groups.items()):

        def total(entry: dict[str, Any]) -> int:
            return entry["kept"][0] + sum(d for d, _ in entry["dropped"].values())

        ordered = sorted(values.items(), key=lambda kv: (-total(kv[1]), kv[0]))
        out[column] = {
            value: {
                "docs": total(entry),
                "bytes": entry["kept"][1] + sum(b for _, b in entry["dropped"].values()),
                "kept_docs": entry["kept"][0],
                "kept_bytes": entry["kept"][1],
                "dropped": {
                    step: {"docs": d, "bytes": b}
                    for step, (d, b) in sorted(
                        entry["dropped"].items(), key=lambda kv: (rank.get(kv[0], 0), kv[0])
                    )
                },
            }
            for value, entry in ordered
        }
    return out
