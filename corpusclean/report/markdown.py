"""``report.md``: the report as Markdown tables, for a terminal, a pull request or a notebook.

The same numbers as ``report.html`` (both render :mod:`corpusclean.report.content`); the
histograms themselves are drawn only in the HTML page, here each signal's thresholds are
listed with the page to look at.
"""

from __future__ import annotations

from typing import Any

import corpusclean.report.content as C


def _cell(value: object) -> str:
    """A table cell: no line breaks, no pipes."""
    return " ".join(str(value).split()).replace("|", "\\|")


def _table(header: list[str], rows: list[list[object]], right: int = 1) -> list[str]:
    align = ["---"] * right + ["---:"] * (len(header) - right)
    return [
        "| " + " | ".join(header) + " |",
        "|" + "|".join(align) + "|",
        *("| " + " | ".join(_cell(c) for c in row) + " |" for row in rows),
    ]


def _summary(stats: dict[str, Any]) -> list[str]:
    docs, nbytes = C.input_counts(stats)
    ok, line = C.conservation(stats)
    return [
        f"- input: {stats['input_docs']:,} records in {stats.get('input_files', '?')} file(s) "
        f"({stats['input_bytes'] / 1e6:,.1f} MB on disk); {docs:,} documents, "
        f"{C.mb(nbytes)} MB of text",
        f"- kept: {stats['kept_docs']:,} documents ({C.pct(stats['kept_docs'], docs)}), "
        f"{C.mb(stats['kept_text_bytes'])} MB of text ({C.pct(stats['kept_text_bytes'], nbytes)})",
        f"- rejected: {sum(stats['rejected'].values()):,}; unreadable records (errors/): "
        f"{stats['error_records']:,}",
        f"- conservation: {line} ({'holds' if ok else 'FAILS'})",
        f"- time: {stats['seconds']:.1f} s with {stats.get('workers', '?')} worker(s), "
        f"executor {stats.get('executor', 'local')}",
    ]


def funnel_rows(stats: dict[str, Any]) -> list[list[object]]:
    docs, nbytes = C.input_counts(stats)

    def known(value: object, shown: str) -> str:
        return "-" if value is None else shown

    return [
        [
            row.name,
            f"{row.in_docs:,}",
            f"{row.out_docs:,}",
            f"{row.removed_docs:,}",
            C.pct(row.removed_docs, docs),
            known(row.in_bytes, C.mb(row.in_bytes or 0)),
            known(row.out_bytes, C.mb(row.out_bytes or 0)),
            known(row.removed_bytes, C.pct(row.removed_bytes or 0, nbytes)),
            known(row.seconds, f"{row.seconds or 0:.2f}"),
        ]
        for row in C.funnel(stats)
    ]


FUNNEL_HEADER = [
    "step",
    "docs in",
    "docs out",
    "docs removed",
    "share of input docs",
    "MB in",
    "MB out",
    "share of input bytes",
    "seconds (all workers)",
]


def language_rows(stats: dict[str, Any]) -> list[list[object]]:
    rows = []
    for row in C.languages(stats):
        by = ", ".join(f"{step} {d['docs']:,}" for step, d in row.dropped.items()) or "-"
        rows.append(
            [
                row.language,
                f"{row.docs:,}",
                C.mb(row.nbytes),
                f"{row.kept_docs:,}",
                C.mb(row.kept_bytes),
                f"{row.dropped_docs:,}",
                by,
            ]
        )
    return rows


LANGUAGE_HEADER = ["language", "docs", "MB", "kept docs", "kept MB", "dropped docs", "dropped by"]


def render_markdown(report: C.ReportContent) -> str:
    stats = report.stats
    lines = [f"# corpusclean report: {stats.get('rules', {}).get('name', '')}", ""]
    lines += _summary(stats)
    if C.funnel(stats):
        lines += ["", "## Funnel", "", *_table(FUNNEL_HEADER, funnel_rows(stats))]
    else:
        lines += ["", "## Funnel", "", "The rules have no step: every readable document is kept."]
    if C.languages(stats):
        lines += [
            "",
            "## Languages",
            "",
            "Documents by the language `language` gave them, and what became of them (bytes: "
            "the text as it left the pipeline or reached the step that dropped it).",
            "",
            *_table(LANGUAGE_HEADER, language_rows(stats)),
        ]
    for reason, n in C.reader_rejections(stats).items():
        lines += ["", f"## {reason} (reader)", "", f"The reader rejected {n:,} records."]
        lines += ["", *_examples(report.examples.get(reason, []))]
    lines += ["", "## Steps"]
    for step in stats["steps"]:
        lines += ["", *_step(step, report)]
    if stats.get("tokens"):
        t = stats["tokens"]
        lines += [
            "",
            "## Tokens",
            "",
            f"- tokenizer: {t['tokenizer']} (vocab {t['vocab_size']:,}, {t['dtype']}, "
            f"EOS id {t['eos_id']})",
            f"- train: {t['train_tokens']:,} tokens in {t['train_docs']:,} documents; "
            f"val: {t['val_tokens']:,} tokens in {t['val_docs']:,} documents",
        ]
    if stats.get("truth"):
        lines += ["", *truth_section(stats["truth"])]
    return "\n".join(lines).rstrip() + "\n"


def _step(step: dict[str, Any], report: C.ReportContent) -> list[str]:
    name = step["name"]
    docs, nbytes = C.input_counts(report.stats)
    removed = step["in_docs"] - step["out_docs"]
    lines = [
        f"### {name}",
        "",
        f"Removed {removed:,} of {step['in_docs']:,} documents ({C.pct(removed, docs)} of the "
        f"input) and {C.mb(step['in_bytes'] - step['out_bytes'])} MB of text "
        f"({C.pct(step['in_bytes'] - step['out_bytes'], nbytes)} of the input's bytes).",
    ]
    rules = C.rule_counts(step)
    if rules:
        lines += ["", *_table(["rule (first failing)", "docs"], [[r, f"{n:,}"] for r, n in rules])]
    others = C.other_counters(step)
    if others:
        lines += ["", *_table(["counter", "value"], [[k, f"{v:,}"] for k, v in others])]
    cuts = [
        (C.signal_name(column), cut)
        for column, hist in step.get("histograms", {}).items()
        for cut in hist.get("cuts", [])
    ]
    if step.get("histograms"):
        shown = ", ".join(
            f"{signal} {'>=' if cut['side'] == 'min' else '<='} {cut['value']:g}"
            for signal, cut in cuts
        )
        lines += [
            "",
            f"Signals with histograms in report.html: {len(step['histograms'])}"
            + (f"; thresholds (kept when): {shown}." if shown else "."),
        ]
    examples = _examples(report.examples.get(name, []))
    if examples:
        lines += ["", *examples]
    if step.get("edits"):
        lines += ["", "Lines removed from kept documents (chosen at random):", ""]
        for edit in step["edits"]:
            lines.append(
                f"- `{edit['id']}`: {edit['lines_removed']:,} line(s) removed, "
                f"{edit['lines_added']:,} added, {edit['bytes_before']:,} -> "
                f"{edit['bytes_after']:,} bytes"
            )
            lines += [f"  - removed: {_cell(line)}" for line in edit["removed"]]
            lines += [f"  - added: {_cell(line)}" for line in edit["added"]]
    clusters = report.clusters.get(name)
    if clusters is not None and clusters.clusters:
        lines += [
            "",
            f"{clusters.duplicates:,} duplicates in {clusters.clusters:,} clusters. "
            "Cluster sizes (documents: clusters): "
            + ", ".join(f"{size}: {n:,}" for size, n in sorted(clusters.size_counts.items())),
            "",
        ]
        for cluster in clusters.largest:
            lines.append(
                f"- survivor `{cluster.survivor}` (cluster of {cluster.size}): "
                f"{_cell(cluster.survivor_opening or '(text not in the run)')}"
            )
            for member in cluster.members:
                similarity = "" if member.similarity is None else f" ({member.similarity:.3f})"
                lines.append(f"  - `{member.id}`{similarity}: {_cell(member.opening)}")
    return lines


def _examples(rows: list[dict[str, Any]]) -> list[str]:
    if not rows:
        return []
    lines = [f"Dropped documents (chosen at random, seed {C.EXAMPLE_SEED}):", ""]
    for row in rows:
        lines.append(
            f"- **{_cell(row['detail'])}**: `{row['id']}` ({row['source']}:{row['line']}): "
            f"{_cell(C.opening(row['text'], 200))}"
        )
    return lines


def truth_section(truth: dict[str, Any]) -> list[str]:
    def fmt(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.3f}"

    lines = [
        "## Decisions against the truth labels",
        "",
        f"{truth['labelled_docs']:,} labelled documents; classes that should be kept: "
        f"{', '.join(truth['keep_classes'])}. Drop precision {fmt(truth['drop_precision'])} "
        f"(dropped documents that should go), drop recall {fmt(truth['drop_recall'])} "
        "(should-go documents that went).",
        "",
    ]
    return lines + _table(
        ["class", "should", "docs", "kept", "dropped", "dropped by"], truth_rows(truth), right=2
    )


def truth_rows(truth: dict[str, Any]) -> list[list[object]]:
    rows: list[list[object]] = []
    for name, row in truth["classes"].items():
        by = ", ".join(f"{k} {v:,}" for k, v in row["by_step"].items()) or "-"
        should = "drop" if row["should_drop"] else "keep"
        rows.append(
            [name, should, f"{row['docs']:,}", f"{row['kept']:,}", f"{row['dropped']:,}", by]
        )
    return rows
