"""Human reports of a run: ``report.md`` and ``report.html`` (with plots), from ``stats.json``.

What a reader wants first: how many documents and bytes went in, how many came out, which step
removed how many and why (with examples of what it removed), and, when the input carries a
``truth`` label (the embedded sample does), how the decisions compare with the truth.
"""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path
from typing import Any

import polars as pl

from corpusclean.stats import load_stats

EXAMPLES_PER_REASON = 3
SNIPPET_CHARS = 160


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "n/a"


def _snippet(text: str) -> str:
    flat = " ".join(text.split())
    return flat[:SNIPPET_CHARS] + ("…" if len(flat) > SNIPPET_CHARS else "")


def _examples(directory: Path) -> dict[str, list[dict[str, Any]]]:
    """A few rejected documents per reason, in output order.

    One part at a time, and a part's texts only when it holds a reason that still needs
    examples, so memory is bounded by a batch, not by the corpus (``rejected/`` holds the text
    of every dropped document: on a large run, far more than fits in memory).
    """
    out: dict[str, list[dict[str, Any]]] = {}
    for part in sorted((directory / "rejected").glob("part-*.parquet")):
        reasons = pl.read_parquet(part, columns=["reason"]).get_column("reason")
        needed = [
            r
            for r in reasons.unique(maintain_order=True).to_list()
            if len(out.get(r, [])) < EXAMPLES_PER_REASON
        ]
        if not needed:
            continue
        frame = (
            pl.read_parquet(part, columns=["id", "reason", "detail", "text"])
            .filter(pl.col("reason").is_in(needed))
            .group_by("reason", maintain_order=True)
            .head(EXAMPLES_PER_REASON)
        )
        for row in frame.iter_rows(named=True):
            examples = out.setdefault(row["reason"], [])
            if len(examples) < EXAMPLES_PER_REASON:
                examples.append(row)
    return out


def _funnel_png(stats: dict[str, Any]) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = ["input"] + [s["name"] for s in stats["steps"]]
    values = [stats["input_docs"] - stats["error_records"]] + [
        s["out_docs"] for s in stats["steps"]
    ]
    fig, ax = plt.subplots(figsize=(7, 0.5 * len(names) + 1.2))
    ax.barh(names[::-1], values[::-1], color="#4c72b0")
    for y, value in enumerate(values[::-1]):
        ax.text(value, y, f" {value:,}", va="center", fontsize=9)
    ax.set_xlabel("documents remaining after the step")
    ax.set_title("Documents through the pipeline")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    return buffer.getvalue()


def render_markdown(stats: dict[str, Any], examples: dict[str, list[dict[str, Any]]]) -> str:
    n_in = stats["input_docs"]
    lines = [
        f"# corpusclean report: {stats.get('rules', {}).get('name', '')}",
        "",
        f"- input: {n_in:,} documents in {stats.get('input_files', '?')} file(s) "
        f"({stats['input_bytes'] / 1e6:.1f} MB on disk)",
        f"- kept: {stats['kept_docs']:,} documents ({_pct(stats['kept_docs'], n_in)}), "
        f"{stats.get('kept_text_bytes', 0) / 1e6:.1f} MB of text",
        f"- rejected: {sum(stats['rejected'].values()):,}; unreadable records (errors/): "
        f"{stats['error_records']:,}",
        f"- time: {stats['seconds']:.1f} s with {stats.get('workers', '?')} worker(s)",
        "",
        "## Steps",
        "",
        "| step | in | out | removed | share of input | seconds (all workers) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for step in stats["steps"]:
        removed = step["in_docs"] - step["out_docs"]
        lines.append(
            f"| {step['name']} | {step['in_docs']:,} | {step['out_docs']:,} | {removed:,} | "
            f"{_pct(removed, n_in)} | {step['seconds']:.2f} |"
        )
    counters = [(s["name"], s["counters"]) for s in stats["steps"] if s.get("counters")]
    if counters:
        lines += ["", "## Step counters", ""]
        for name, values in counters:
            shown = ", ".join(f"{k}={v:,}" for k, v in values.items())
            lines.append(f"- **{name}**: {shown}")
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
        lines += ["", *_truth_section(stats["truth"])]
    if examples:
        lines += ["", "## Examples of rejected documents", ""]
        for reason, rows in examples.items():
            lines.append(f"### {reason}")
            lines.append("")
            for row in rows:
                lines.append(f"- `{row['id']}` ({row['detail']}): {_snippet(row['text'])}")
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def _truth_section(truth: dict[str, Any]) -> list[str]:
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
        "| class | should | docs | kept | dropped | dropped by |",
        "|---|---|---:|---:|---:|---|",
    ]
    for name, row in truth["classes"].items():
        by = ", ".join(f"{k} {v:,}" for k, v in row["by_step"].items()) or "-"
        should = "drop" if row["should_drop"] else "keep"
        lines.append(
            f"| {name} | {should} | {row['docs']:,} | {row['kept']:,} | {row['dropped']:,} | {by} |"
        )
    return lines


def render_html(markdown: str, png: bytes) -> str:
    """A self-contained page: the markdown shown as preformatted text plus the plot."""
    image = base64.b64encode(png).decode("ascii")
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>corpusclean report</title>"
        "<style>body{font-family:sans-serif;max-width:60em;margin:2em auto}"
        "pre{white-space:pre-wrap}</style></head><body>"
        f"<img alt='documents through the pipeline' src='data:image/png;base64,{image}'>"
        f"<pre>{html.escape(markdown)}</pre></body></html>\n"
    )


def write_report(directory: Path) -> Path:
    """(Re)build ``report.md`` and ``report.html`` in ``directory`` from its ``stats.json``."""
    stats = load_stats(directory)
    markdown = render_markdown(stats, _examples(directory))
    (directory / "report.md").write_text(markdown, encoding="utf-8")
    (directory / "report.html").write_text(render_html(markdown, _funnel_png(stats)), "utf-8")
    return directory / "report.md"
