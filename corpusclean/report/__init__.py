"""The human report of a run: ``report.md`` and ``report.html``, rebuilt from what the run left.

What a reader wants first: how many documents and bytes went in and came out, which step
removed how many and why, where each threshold cuts its signal's distribution, what the dropped
documents and the removed lines look like, what the duplicate clusters are, and, when the input
carries truth labels (the embedded sample does), how the decisions compare with the truth.
``corpusclean report DIR`` rebuilds both files without reading the input again.

    content.py    what the report says, gathered once (stats.json, run_output) into rows
    markdown.py   report.md
    page.py       report.html (self-contained; every string from the run escaped)
    charts.py     the page's inline SVG charts
"""

from __future__ import annotations

from pathlib import Path

from corpusclean.report.content import gather
from corpusclean.report.markdown import render_markdown
from corpusclean.report.page import render_html

__all__ = ["render_html", "render_markdown", "write_report"]


def write_report(directory: Path) -> Path:
    """(Re)build ``report.md`` and ``report.html`` in ``directory``; returns report.md's path."""
    report = gather(Path(directory))
    (directory / "report.md").write_text(render_markdown(report), encoding="utf-8")
    (directory / "report.html").write_text(render_html(report), encoding="utf-8")
    return directory / "report.md"
