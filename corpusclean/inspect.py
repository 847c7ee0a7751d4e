"""``corpusclean inspect``: read a finished run's dropped documents in the terminal.

Why: a rule is trusted when people look at what it took. ``--reason STEP`` prints documents a
step dropped, chosen reproducibly at random (:func:`corpusclean.run_output.choose_rejected`),
each as its detail first (why it went), then ``id`` and ``source:line`` (where to find it),
then the opening of its text, wrapped, cut after :data:`TEXT_LINES` lines and marked so.
``--id ID`` says where one document went and why, naming the survivor of a duplicate and
where that survivor went in turn (:func:`corpusclean.run_output.find_document`). In the manner
of datatrove's ``inspect_data`` (Penedo et al. 2024), for this project's output layout.

Output is wrapped with :mod:`textwrap` at the terminal's width, or :data:`PIPE_WIDTH` columns
when stdout is not a terminal (the same bytes in a pipe, a file or a test); the messages
saying nothing matched go to stderr. Control characters
of a document (an ANSI escape in a scraped page) are shown as ``\\x1b``, never sent to the
terminal. Exit status: 0 when something was shown, 1 when nothing matched (no dropped document,
no ``--grep`` match, an unknown id), as ``grep`` does; a folder without ``stats.json`` or a step
that is not the run's is a usage error (:class:`corpusclean.run_output.RunFolderError`, exit 2
in the CLI).
"""

from __future__ import annotations

import re
import shutil
import sys
import textwrap
from pathlib import Path
from typing import TextIO

import polars as pl

from corpusclean.run_output import (
    DocumentNotFound,
    Placement,
    check_step,
    choose_rejected,
    find_document,
    opening_line,
    read_rows,
    read_stats,
)

#: Columns when stdout is not a terminal.
PIPE_WIDTH = 100
#: Wrapped lines of a document's text shown before it is cut.
TEXT_LINES = 12
#: Narrowest width wrapped to, whatever the terminal says.
MIN_WIDTH = 40

#: C0 and C1 control characters but newline and tab (which wrapping handles).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def terminal_width(stream: TextIO | None = None) -> int:
    """The terminal's columns when ``stream`` is a terminal, else :data:`PIPE_WIDTH`."""
    stream = stream or sys.stdout
    if stream.isatty():
        return max(MIN_WIDTH, shutil.get_terminal_size((PIPE_WIDTH, 24)).columns)
    return PIPE_WIDTH


def visible(text: str) -> str:
    """``text`` with control characters written as escapes (``\\x1b``): shown, not obeyed."""
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


def wrap_text(text: str, width: int, max_lines: int = TEXT_LINES, prefix: str = "  | ") -> str:
    """The opening of ``text``: its lines wrapped to ``width`` behind ``prefix``, runs of blank
    lines shown as one, cut after ``max_lines`` lines with a last line saying so."""
    inner = max(MIN_WIDTH // 2, width - len(prefix))
    blank_line = prefix.rstrip()
    shown: list[str] = []
    for line in visible(text.expandtabs(4)).split("\n"):
        pieces = textwrap.wrap(line, inner)
        if not pieces:
            if shown and shown[-1] != blank_line:
                shown.append(blank_line)
            continue
        for piece in pieces:
            if len(shown) == max_lines:
                shown.append(
                    f"{prefix}[... cut after {max_lines} lines of {len(text):,} characters]"
                )
                return "\n".join(shown)
            shown.append(prefix + piece)
    while shown and shown[-1] == blank_line:
        shown.pop()
    return "\n".join(shown) if shown else prefix + "(empty text)"


def _fill(line: str, width: int) -> str:
    """One line of a report wrapped to ``width``, continuation lines indented under it."""
    indent = " " * (len(line) - len(line.lstrip()) + 2)
    return textwrap.fill(line, width, subsequent_indent=indent, break_on_hyphens=False)


def render_rejected(rows: pl.DataFrame, width: int, max_lines: int = TEXT_LINES) -> str:
    """Chosen dropped documents (:func:`choose_rejected`'s columns) as text for a terminal."""
    blocks = []
    total = rows.height
    for number, row in enumerate(rows.iter_rows(named=True), 1):  # n rows, n small: a loop
        head = f"[{number}/{total}] {row['reason']}: "
        detail = textwrap.fill(
            visible(row["detail"] or ""),
            width,
            initial_indent=head,
            subsequent_indent=" " * min(len(head), width // 2),
        )
        where = _fill(
            f"  id {visible(row['id'])}  {visible(row['source'] or '?')}:{row['line']}", width
        )
        blocks.append("\n".join([detail, where, wrap_text(row["text"] or "", width, max_lines)]))
    return "\n\n".join(blocks)


def inspect_reason(
    directory: Path | str,
    step: str,
    n: int = 10,
    seed: int = 0,
    grep: str | None = None,
    out: TextIO | None = None,
) -> int:
    """Print ``n`` documents dropped by ``step``; the exit status (0 shown, 1 none to show)."""
    out = out or sys.stdout
    check_step(directory, step)
    rows = choose_rejected(directory, step, n, seed=seed, grep=grep)
    if rows.is_empty():
        dropped = read_stats(directory).get("rejected", {}).get(step, 0)
        if grep is not None and dropped:
            message = f"none of the {dropped:,} documents {step} dropped contains {grep!r}"
        else:
            message = f"{step} dropped no document in this run"
        print(message, file=sys.stderr)
        return 1
    width = terminal_width(out)
    print(render_rejected(rows, width), file=out)
    return 0


def _describe(placement: Placement, indent: str) -> list[str]:
    where = f"{placement.part}, row {placement.row}"
    if placement.outcome == "kept":
        lines = [f"{indent}{visible(placement.id)}: kept ({where})"]
    else:
        lines = [
            f"{indent}{visible(placement.id)}: dropped by {placement.reason} ({where})",
            f"{indent}  detail: {visible(placement.detail or '')}",
            f"{indent}  source: {visible(placement.source or '?')}:{placement.line}",
        ]
    if placement.survivor is not None:
        similarity = (
            f" ({placement.measure} {placement.similarity:.3f})"
            if placement.similarity is not None
            else ""
        )
        lines.append(f"{indent}  survivor: {visible(placement.survivor)}{similarity}")
        if not placement.survivor_placements:
            lines.append(f"{indent}    (the survivor is not in this run's documents/ or rejected/)")
        for survivor in placement.survivor_placements:
            lines += _describe(survivor, indent + "    ")
    return lines


def render_placements(
    directory: Path | str, placements: list[Placement], width: int, max_lines: int = 4
) -> str:
    """Where a document went (every occurrence, survivors followed), and its opening lines."""
    blocks = []
    if len(placements) > 1:
        blocks.append(f"id {visible(placements[0].id)} occurs {len(placements)} times in the run")
    for placement in placements:
        lines = [_fill(line, width) for line in _describe(placement, "")]
        text = read_rows(directory, placement.part, [placement.row], ["text"]).get_column("text")
        lines.append("  text:")
        lines.append(wrap_text((text[0] if text.len() else None) or "", width, max_lines))
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def inspect_id(directory: Path | str, doc_id: str, out: TextIO | None = None) -> int:
    """Print where document ``doc_id`` went and why; the exit status (1: no such id)."""
    out = out or sys.stdout
    try:
        placements = find_document(directory, doc_id)
    except DocumentNotFound as exc:
        print(str(exc), file=sys.stderr)
        return 1
    print(render_placements(directory, placements, terminal_width(out)), file=out)
    return 0


__all__ = [
    "inspect_id",
    "inspect_reason",
    "opening_line",
    "render_placements",
    "render_rejected",
    "terminal_width",
    "visible",
    "wrap_text",
]
