"""Inline SVG charts for ``report.html``: the funnel, a signal's histogram cut by its
thresholds, a categorical signal's values, and cluster sizes.

Why hand-written SVG and not matplotlib PNGs: a report with forty histograms stays a few
hundred kilobytes, renders crisp at any zoom, needs no plotting library or font cache, and
every bar carries a tooltip (``<title>``) with its exact numbers. Every piece of text that
comes from the data goes through :func:`html.escape`.
"""

from __future__ import annotations

import math
from html import escape
from typing import Any

KEPT = "#4c72b0"  # blue: documents the step kept
DROPPED = "#dd8452"  # orange: documents it dropped
CUT = "#c44e52"  # red: a threshold
FONT = "font-family='sans-serif' font-size='11'"


def _svg(width: int, height: int, body: list[str], label: str) -> str:
    return (
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' "
        f"viewBox='0 0 {width} {height}' role='img' aria-label='{escape(label, quote=True)}'>"
        + "".join(body)
        + "</svg>"
    )


def _rect(x: float, y: float, w: float, h: float, color: str, title: str) -> str:
    return (
        f"<rect x='{x:.1f}' y='{y:.1f}' width='{max(w, 0):.1f}' height='{max(h, 0):.1f}' "
        f"fill='{color}'><title>{escape(title)}</title></rect>"
    )


def _text(x: float, y: float, text: str, anchor: str = "start", extra: str = "") -> str:
    return (
        f"<text x='{x:.1f}' y='{y:.1f}' text-anchor='{anchor}' {FONT} {extra}>{escape(text)}</text>"
    )


def number(value: float) -> str:
    """A bin edge or threshold, short: 0.3, 50, 1.26k, 3.16M."""
    if value == 0:
        return "0"
    magnitude = abs(value)
    if magnitude >= 1e6:
        return f"{value / 1e6:.3g}M"
    if magnitude >= 1e4:
        return f"{value / 1e3:.3g}k"
    if magnitude >= 1e3:
        return f"{value:.0f}"
    return f"{value:.3g}"


def funnel(names: list[str], docs: list[int], nbytes: list[int]) -> str:
    """Documents and text bytes remaining after each step (first row: the input), as bars of
    the input's share; the label says both."""
    row, left, width = 22, 150, 380
    height = row * len(names) + 30
    body = [
        _text(left, 14, "share of the input's documents (blue) and text bytes (grey) remaining")
    ]
    top_docs, top_bytes = max(docs[0], 1), max(nbytes[0], 1)
    for i, (name, d, b) in enumerate(zip(names, docs, nbytes, strict=True)):
        y = 24 + i * row
        body.append(_text(left - 6, y + 13, name, "end"))
        body.append(_rect(left, y, width * d / top_docs, 9, KEPT, f"{name}: {d:,} documents"))
        body.append(
            _rect(left, y + 9, width * b / top_bytes, 7, "#999999", f"{name}: {b:,} text bytes")
        )
        body.append(
            _text(
                left + width + 6,
                y + 13,
                f"{d:,} docs ({100 * d / top_docs:.1f}%), {b / 1e6:,.1f} MB",
            )
        )
    return _svg(left + width + 190, height, body, "documents through the pipeline")


def _cut_position(edges: list[float], value: float, log: bool) -> float | None:
    """Where ``value`` falls on a numeric axis whose bins are equally wide: bin index plus
    the fraction into the bin (log-interpolated on a log scale); None when off the axis."""
    if value < edges[0] or value > edges[-1]:
        return None
    for i in range(len(edges) - 1):
        lo, hi = edges[i], edges[i + 1]
        if lo <= value <= hi:
            if log and lo > 0:
                return i + math.log(value / lo) / math.log(hi / lo)
            return i + (value - lo) / (hi - lo)
    return None


def histogram(column: str, hist: dict[str, Any]) -> str:
    """One numeric signal: stacked bars (kept below, dropped above) per bin, trimmed to the
    bins that hold documents, with a red line at each threshold and its value."""
    edges: list[float] = hist["edges"]
    kept, dropped = hist["kept"]["docs"], hist["dropped"]["docs"]
    kept_b, dropped_b = hist["kept"]["bytes"], hist["dropped"]["bytes"]
    n = len(edges) - 1  # inner bins are entries 1..n; entry 0 is below, n + 1 above
    filled = [i for i in range(1, n + 1) if kept[i] + dropped[i]]
    cut_bins = [
        p
        for c in hist.get("cuts", [])
        if (p := _cut_position(edges, c["value"], hist["scale"] == "log")) is not None
    ]
    if filled or cut_bins:
        first = min([*(i - 1 for i in filled), *(math.floor(p) for p in cut_bins)])
        last = max([*(i - 1 for i in filled), *(min(math.ceil(p), n) - 1 for p in cut_bins)])
        first, last = max(first - 1, 0), min(last + 1, n - 1)
    else:
        first, last = 0, n - 1
    slots: list[tuple[str, int, int, int, int]] = []  # label, kept, dropped, kept B, dropped B
    if kept[0] + dropped[0]:
        slots.append((f"< {number(edges[0])}", kept[0], dropped[0], kept_b[0], dropped_b[0]))
    for b in range(first, last + 1):
        i = b + 1
        label = f"[{number(edges[b])}, {number(edges[b + 1])})"
        slots.append((label, kept[i], dropped[i], kept_b[i], dropped_b[i]))
    if kept[n + 1] + dropped[n + 1]:
        a = n + 1
        slots.append((f">= {number(edges[-1])}", kept[a], dropped[a], kept_b[a], dropped_b[a]))
    offset = 1 if kept[0] + dropped[0] else 0  # slot index of inner bin `first`

    width, height, left, bottom, top = 520, 190, 48, 150, 18
    plot = width - left - 10
    bar = plot / max(len(slots), 1)
    peak = max([max(k, d) for _, k, d, _, _ in slots] + [1])
    scale = math.log10(peak + 1)

    def y_of(n: int) -> float:  # a log axis: a bin of 3 dropped pages is as visible as 3,000
        return bottom - (bottom - top) * math.log10(n + 1) / scale

    body = [f"<line x1='{left}' y1='{bottom}' x2='{width - 10}' y2='{bottom}' stroke='#333'/>"]
    tick = 1
    while tick <= peak:
        body.append(
            f"<line x1='{left - 3}' y1='{y_of(tick):.1f}' x2='{width - 10}' "
            f"y2='{y_of(tick):.1f}' stroke='#eee'/>"
        )
        body.append(_text(left - 5, y_of(tick) + 4, f"{tick:,}", "end"))
        tick *= 10
    for s, (label, k, d, kb, db) in enumerate(slots):
        x = left + s * bar
        tip = f"{column} {label}: kept {k:,} ({kb:,} B), dropped {d:,} ({db:,} B)"
        half = (bar - 1) / 2
        body.append(_rect(x + 0.5, y_of(k), half, bottom - y_of(k), KEPT, tip))
        body.append(_rect(x + 0.5 + half, y_of(d), half, bottom - y_of(d), DROPPED, tip))
    # axis labels: the first, middle and last slot
    last_slot = len(slots) - 1
    for s in sorted({0, len(slots) // 2, last_slot}):
        if s == last_slot and s > 0:  # the last label ends at the axis' end, inside the chart
            body.append(_text(left + (s + 1) * bar, bottom + 14, slots[s][0], "end"))
        elif s == 0:
            body.append(_text(left + s * bar, bottom + 14, slots[s][0], "start"))
        else:
            body.append(_text(left + (s + 0.5) * bar, bottom + 14, slots[s][0], "middle"))
    for c in hist.get("cuts", []):
        p = _cut_position(edges, c["value"], hist["scale"] == "log")
        if p is None or not (first <= p <= last + 1):
            continue
        x = left + (offset + p - first) * bar
        body.append(
            f"<line x1='{x:.1f}' y1='{top - 6}' x2='{x:.1f}' y2='{bottom}' stroke='{CUT}' "
            "stroke-width='2' stroke-dasharray='4 2'/>"
        )
        keeps = "keeps >=" if c["side"] == "min" else "keeps <="
        label = f"{c['rule']} {keeps} {number(c['value'])}"
        right = x > left + 0.6 * plot  # near the right edge the label goes left of the line
        anchor = "end" if right else "start"
        body.append(_text(x - 3 if right else x + 3, top + 4, label, anchor, f"fill='{CUT}'"))
    missing = hist["missing"]["kept"] + hist["missing"]["dropped"]
    bins = "log bins" if hist["scale"] == "log" else "linear bins"
    note = f"documents per bin (log axis), {bins}; kept blue, dropped orange" + (
        f"; {missing:,} without a value" if missing else ""
    )
    body.append(_text(left, height - 6, note, extra="fill='#555'"))
    return _svg(width, height, body, f"histogram of {column}")


def categories(column: str, hist: dict[str, Any], limit: int = 20) -> str:
    """A categorical signal: horizontal stacked bars of the ``limit`` most frequent values."""
    values = list(hist["values"].items())[:limit]
    row, left, width = 16, 90, 330
    peak = max([v["kept_docs"] + v["dropped_docs"] for _, v in values] + [1])
    body = []
    for i, (value, v) in enumerate(values):
        y = 6 + i * row
        k, d = v["kept_docs"], v["dropped_docs"]
        tip = (
            f"{column}={value}: kept {k:,} ({v['kept_bytes']:,} B), "
            f"dropped {d:,} ({v['dropped_bytes']:,} B)"
        )
        body.append(_text(left - 6, y + 11, value, "end"))
        body.append(_rect(left, y, width * k / peak, row - 3, KEPT, tip))
        body.append(_rect(left + width * k / peak, y, width * d / peak, row - 3, DROPPED, tip))
        body.append(_text(left + width * (k + d) / peak + 4, y + 11, f"{k:,} / {d:,}"))
    shown = len(values)
    more = len(hist["values"]) - shown
    note = "kept / dropped documents" + (f"; {more} more values in stats.json" if more > 0 else "")
    body.append(_text(left, 6 + shown * row + 12, note, extra="fill='#555'"))
    return _svg(left + width + 110, 6 + shown * row + 20, body, f"values of {column}")


def sizes(size_counts: dict[int, int]) -> str:
    """Cluster sizes (survivor + duplicates): clusters per size, on a log count axis."""
    items = sorted(size_counts.items())[:40]
    width, height, left, bottom, top = 520, 150, 48, 112, 12
    bar = (width - left - 10) / max(len(items), 1)
    peak = math.log10(max([n for _, n in items] + [1]) + 1)
    body = [f"<line x1='{left}' y1='{bottom}' x2='{width - 10}' y2='{bottom}' stroke='#333'/>"]
    for s, (size, n) in enumerate(items):
        h = (bottom - top) * math.log10(n + 1) / peak if peak else 0
        x = left + s * bar
        body.append(_rect(x + 0.5, bottom - h, bar - 1, h, KEPT, f"{n:,} clusters of {size}"))
        body.append(_text(x + bar / 2, bottom + 12, str(size), "middle"))
    body.append(
        _text(
            left,
            height - 6,
            "clusters per size (documents in the cluster), log scale",
            extra="fill='#555'",
        )
    )
    return _svg(width, height, body, "cluster sizes")
