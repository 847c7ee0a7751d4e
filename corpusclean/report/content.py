"""What the report says, gathered once from a run's folder and shaped into rows that
``report.md`` and ``report.html`` both render, so the two cannot disagree with each other or
with ``stats.json``.

Everything comes from what the run left: ``stats.json`` (counts, bytes, histograms, edits,
languages; :mod:`corpusclean.observations`) and the ``rejected/`` and ``documents/`` parts,
read in bounded memory by :mod:`corpusclean.run_output` (examples chosen by a seeded hash of
the id, duplicate clusters). The input is never read again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from corpusclean import run_output
from corpusclean.run_output import DuplicateClusters

#: Dropped documents shown per step, chosen with this seed (``corpusclean inspect`` shows
#: more, with any seed).
EXAMPLES_PER_STEP = 5
EXAMPLE_SEED = 0
#: Clusters shown per deduplication step, and members shown per cluster.
TOP_CLUSTERS = 5
CLUSTER_MEMBERS = 8
#: Characters of a dropped document's text shown after its detail.
OPENING_CHARS = 600


@dataclass
class ReportContent:
    stats: dict[str, Any]
    examples: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # step -> rows
    clusters: dict[str, DuplicateClusters] = field(default_factory=dict)  # step -> clusters


def gather(directory: Path) -> ReportContent:
    """Read what the report needs from a finished run's folder."""
    stats = run_output.read_stats(directory)
    content = ReportContent(stats=stats)
    reasons = [reason for reason, n in stats["rejected"].items() if n]  # readers' too (warc)
    chosen = run_output.choose_rejected_by_reason(
        directory, reasons, EXAMPLES_PER_STEP, EXAMPLE_SEED
    )
    content.examples = {reason: frame.to_dicts() for reason, frame in chosen.items()}
    for name in run_output.dedup_steps():
        if stats["rejected"].get(name):
            content.clusters[name] = run_output.duplicate_clusters(
                directory, name, top=TOP_CLUSTERS, members=CLUSTER_MEMBERS
            )
    return content


def pct(part: float, whole: float) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "n/a"


def mb(nbytes: int) -> str:
    return f"{nbytes / 1e6:,.2f}"


def opening(text: str, limit: int = OPENING_CHARS) -> str:
    """The start of a text for display: its lines kept, cut at ``limit`` characters."""
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + " …"


@dataclass(frozen=True)
class FunnelRow:
    """A step's row of the funnel; a reader's own rejections (``warc``: records that are no
    HTML page) come first, without bytes or time (the reader measures neither)."""

    name: str
    in_docs: int
    out_docs: int
    in_bytes: int | None
    out_bytes: int | None
    seconds: float | None

    @property
    def removed_docs(self) -> int:
        return self.in_docs - self.out_docs

    @property
    def removed_bytes(self) -> int | None:
        if self.in_bytes is None or self.out_bytes is None:
            return None
        return self.in_bytes - self.out_bytes


def reader_rejections(stats: dict[str, Any]) -> dict[str, int]:
    """Rejections by a reader (reasons of ``rejected`` that are no step of the run)."""
    steps = {s["name"] for s in stats["steps"]}
    return {k: v for k, v in stats["rejected"].items() if k not in steps and v}


def funnel(stats: dict[str, Any]) -> list[FunnelRow]:
    """One row per step, in order (the steps' own counts and bytes from ``stats.json``),
    after the readers' rejections."""
    rows = []
    remaining = stats["input_docs"] - stats["error_records"]
    for reason, n in reader_rejections(stats).items():
        rows.append(FunnelRow(f"{reason} (reader)", remaining, remaining - n, None, None, None))
        remaining -= n
    return rows + [
        FunnelRow(
            s["name"], s["in_docs"], s["out_docs"], s["in_bytes"], s["out_bytes"], s["seconds"]
        )
        for s in stats["steps"]
    ]


def input_counts(stats: dict[str, Any]) -> tuple[int, int]:
    """Documents read (readable records, a reader's rejections included) and the text bytes
    that reached the first step."""
    docs = stats["input_docs"] - stats["error_records"]
    nbytes = stats["steps"][0]["in_bytes"] if stats["steps"] else stats["kept_text_bytes"]
    return docs, nbytes


def conservation(stats: dict[str, Any]) -> tuple[bool, str]:
    rejected = sum(stats["rejected"].values())
    total = stats["kept_docs"] + rejected + stats["error_records"]
    line = (
        f"input {stats['input_docs']:,} = kept {stats['kept_docs']:,} + rejected "
        f"{rejected:,} + unreadable {stats['error_records']:,}"
    )
    return total == stats["input_docs"], line


def rule_counts(step: dict[str, Any]) -> list[tuple[str, int]]:
    """The step's rejections by sub-rule (``rejected.<rule>`` counters), most first."""
    counters = step.get("counters", {})
    rows = [
        (k.removeprefix("rejected."), v) for k, v in counters.items() if k.startswith("rejected.")
    ]
    return sorted(rows, key=lambda kv: (-kv[1], kv[0]))


def other_counters(step: dict[str, Any]) -> list[tuple[str, int]]:
    """Counters that are not rejections by sub-rule (lines in and kept, tokens, ...); the
    per-language tags of ``language`` are in the languages table instead."""
    counters = step.get("counters", {})
    return [
        (k, v)
        for k, v in counters.items()
        if not k.startswith("rejected.") and not k.startswith("language.")
    ]


@dataclass(frozen=True)
class LanguageRow:
    language: str
    docs: int
    nbytes: int
    kept_docs: int
    kept_bytes: int
    dropped: dict[str, dict[str, int]]  # step -> {docs, bytes}

    @property
    def dropped_docs(self) -> int:
        return self.docs - self.kept_docs


def languages(stats: dict[str, Any]) -> list[LanguageRow]:
    table = stats.get("breakdown", {}).get("language", {})
    return [
        LanguageRow(lang, v["docs"], v["bytes"], v["kept_docs"], v["kept_bytes"], v["dropped"])
        for lang, v in table.items()
    ]


def signal_name(column: str) -> str:
    """``gopher_quality.words`` -> ``words``."""
    return column.split(".", 1)[1] if "." in column else column


def has_values(hist: dict[str, Any]) -> bool:
    """Whether any document had a value of the signal (else there is nothing to draw)."""
    if hist["scale"] == "category":
        return bool(hist["values"])
    return any(hist["kept"]["docs"]) or any(hist["dropped"]["docs"])
