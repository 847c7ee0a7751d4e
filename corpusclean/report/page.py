"""``report.html``: one self-contained page (styles and SVG charts inline, no script, no
network) with the funnel, languages, and per step its rules, histograms cut by its
thresholds, dropped documents, rewritten lines and duplicate clusters.

Document text is data, never markup: every string from the run goes through
:func:`html.escape` (quotes too), so a page holding ``<script>`` or ``onerror=`` shows it as
text. Tables are HTML tables with the same cells as ``report.md``
(:mod:`corpusclean.report.markdown` builds both from the same rows).
"""

from __future__ import annotations

from html import escape
from typing import Any

import corpusclean.report.charts as charts
import corpusclean.report.content as C
import corpusclean.report.markdown as M
from corpusclean.run_output import DuplicateClusters

STYLE = """
body{font-family:system-ui,sans-serif;max-width:72em;margin:1.5em auto;padding:0 1em;
color:#222;line-height:1.4}
h1{font-size:1.6em}h2{margin-top:1.8em;border-bottom:1px solid #ccc}
h3{margin-top:1.6em;background:#f3f3f3;padding:.2em .4em}
table{border-collapse:collapse;margin:.6em 0;font-size:.92em}
th,td{border:1px solid #ccc;padding:.2em .5em;vertical-align:top}
th{background:#f6f6f6}td.n{text-align:right;font-variant-numeric:tabular-nums}
figure{display:inline-block;margin:.4em 1em .8em 0;vertical-align:top}
figcaption{font-size:.9em;color:#333}
.doc{border-left:3px solid #dd8452;margin:.8em 0;padding:.2em .8em;background:#fcfaf8}
.doc .detail{font-weight:bold}.doc .where{color:#666;font-size:.9em}
pre{white-space:pre-wrap;word-break:break-word;font-size:.88em;margin:.3em 0;max-height:16em;
overflow:auto}
.removed{color:#a33;text-decoration:line-through}.added{color:#276}
nav{font-size:.92em}nav a{margin-right:.8em}
.ok{color:#276}.bad{color:#a33;font-weight:bold}
"""


def _e(value: object) -> str:
    return escape(str(value), quote=True)


def _table(
    header: list[str],
    rows: list[list[object]],
    left: int = 1,
    cls: str = "",
    text_last: bool = False,
) -> str:
    """An HTML table: the first ``left`` columns (and the last with ``text_last``) are text,
    the others numbers (right-aligned)."""
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    last = len(header) - 1 if text_last else len(header)
    body = "".join(
        "<tr>"
        + "".join(
            f"<td>{_e(c)}</td>" if i < left or i >= last else f"<td class='n'>{_e(c)}</td>"
            for i, c in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    attr = f" class='{cls}'" if cls else ""
    return f"<table{attr}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def render_html(report: C.ReportContent) -> str:
    stats = report.stats
    name = stats.get("rules", {}).get("name", "")
    docs, nbytes = C.input_counts(stats)
    ok, conservation = C.conservation(stats)
    steps = stats["steps"]
    nav = ["<a href='#funnel'>funnel</a>"]
    if C.languages(stats):
        nav.append("<a href='#languages'>languages</a>")
    nav += [f"<a href='#step-{i}'>{_e(s['name'])}</a>" for i, s in enumerate(steps)]
    if stats.get("truth"):
        nav.append("<a href='#truth'>truth</a>")
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width, initial-scale=1'>",
        f"<title>corpusclean report: {_e(name)}</title><style>{STYLE}</style></head><body>",
        f"<h1>corpusclean report: {_e(name)}</h1>",
        f"<nav>{''.join(nav)}</nav>",
        "<ul id='summary'>",
        f"<li>input: {stats['input_docs']:,} records in {_e(stats.get('input_files', '?'))} "
        f"file(s) ({stats['input_bytes'] / 1e6:,.1f} MB on disk); {docs:,} documents, "
        f"{C.mb(nbytes)} MB of text</li>",
        f"<li>kept: <b>{stats['kept_docs']:,}</b> documents ({C.pct(stats['kept_docs'], docs)}), "
        f"{C.mb(stats['kept_text_bytes'])} MB of text "
        f"({C.pct(stats['kept_text_bytes'], nbytes)})</li>",
        f"<li>rejected: {sum(stats['rejected'].values()):,}; unreadable records (errors/): "
        f"{stats['error_records']:,}</li>",
        f"<li>conservation: {_e(conservation)} "
        + ("<span class='ok'>holds</span>" if ok else "<span class='bad'>FAILS</span>")
        + "</li>",
        f"<li>time: {stats['seconds']:.1f} s with {_e(stats.get('workers', '?'))} worker(s), "
        f"executor {_e(stats.get('executor', 'local'))}</li></ul>",
        "<h2 id='funnel'>Funnel</h2>",
        _funnel_chart(stats),
        _table(M.FUNNEL_HEADER, M.funnel_rows(stats), cls="funnel")
        if C.funnel(stats)
        else "<p>The rules have no step: every readable document is kept.</p>",
    ]
    for reason, n in C.reader_rejections(stats).items():
        parts.append(_reader_section(reason, n, report))
    if C.languages(stats):
        parts += [
            "<h2 id='languages'>Languages</h2>",
            "<p>Documents by the language <code>language</code> gave them, and what became "
            "of them (bytes: the text as it left the pipeline or reached the step that "
            "dropped it).</p>",
            _table(M.LANGUAGE_HEADER, M.language_rows(stats), cls="languages", text_last=True),
        ]
    parts.append("<h2>Steps</h2>")
    for index, step in enumerate(steps):
        parts.append(_step(index, step, report))
    if stats.get("tokens"):
        t = stats["tokens"]
        parts += [
            "<h2 id='tokens'>Tokens</h2><ul>",
            f"<li>tokenizer: {_e(t['tokenizer'])} (vocab {t['vocab_size']:,}, {_e(t['dtype'])}, "
            f"EOS id {t['eos_id']})</li>",
            f"<li>train: {t['train_tokens']:,} tokens in {t['train_docs']:,} documents; val: "
            f"{t['val_tokens']:,} tokens in {t['val_docs']:,} documents</li></ul>",
        ]
    if stats.get("truth"):
        parts.append(_truth(stats["truth"]))
    parts.append("</body></html>\n")
    return "".join(parts)


def _funnel_chart(stats: dict[str, Any]) -> str:
    docs, nbytes = C.input_counts(stats)
    rows = C.funnel(stats)
    svg = charts.funnel(
        ["input", *(r.name for r in rows)],
        [docs, *(r.out_docs for r in rows)],
        [nbytes, *(nbytes if r.out_bytes is None else r.out_bytes for r in rows)],
    )
    return f"<figure class='chart'>{svg}</figure>"


def _step(index: int, step: dict[str, Any], report: C.ReportContent) -> str:
    name = step["name"]
    docs, nbytes = C.input_counts(report.stats)
    removed = step["in_docs"] - step["out_docs"]
    removed_bytes = step["in_bytes"] - step["out_bytes"]
    out = [
        f"<section id='step-{index}'><h3>{index + 1}. {_e(name)}</h3>",
        f"<p>Removed <b>{removed:,}</b> of {step['in_docs']:,} documents "
        f"({C.pct(removed, docs)} of the input) and {C.mb(removed_bytes)} MB of text "
        f"({C.pct(removed_bytes, nbytes)} of the input's bytes) in {step['seconds']:.2f} s.</p>",
    ]
    rules = C.rule_counts(step)
    if rules:
        out.append(_table(["rule (first failing)", "docs"], [[r, f"{n:,}"] for r, n in rules]))
    others = C.other_counters(step)
    if others:
        out.append(_table(["counter", "value"], [[k, f"{v:,}"] for k, v in others]))
    histograms = step.get("histograms", {})
    if histograms:
        out.append("<div class='histograms'>")
        for column, hist in histograms.items():
            if not C.has_values(hist):
                missing = hist["missing"]["kept"] + hist["missing"]["dropped"]
                out.append(
                    f"<p><b>{_e(C.signal_name(column))}</b>: no document had a value "
                    f"({missing:,} without one).</p>"
                )
                continue
            if hist["scale"] == "category":
                svg = charts.categories(column, hist)
            else:
                svg = charts.histogram(column, hist)
            cuts = ", ".join(
                f"kept when {'>=' if c['side'] == 'min' else '<='} {c['value']:g}"
                for c in hist.get("cuts", [])
            )
            caption = f"<b>{_e(C.signal_name(column))}</b>" + (f": {_e(cuts)}" if cuts else "")
            out.append(f"<figure class='chart'>{svg}<figcaption>{caption}</figcaption></figure>")
        out.append("</div>")
    out += _examples(name, report.examples.get(name, []))
    if step.get("edits"):
        out.append("<h4>Lines it removed from kept documents</h4>")
        for edit in step["edits"]:
            lines = "".join(f"<div class='removed'>{_e(x)}</div>" for x in edit["removed"])
            lines += "".join(f"<div class='added'>{_e(x)}</div>" for x in edit["added"])
            out.append(
                "<div class='doc'>"
                f"<div class='where'>{_e(edit['id'])}: {edit['lines_removed']:,} line(s) "
                f"removed, {edit['lines_added']:,} added, {edit['bytes_before']:,} → "
                f"{edit['bytes_after']:,} bytes</div><pre>{lines}</pre></div>"
            )
    clusters = report.clusters.get(name)
    if clusters is not None and clusters.clusters:
        out.append(_clusters(clusters))
    out.append("</section>")
    return "".join(out)


def _examples(name: str, examples: list[dict[str, Any]]) -> list[str]:
    """Dropped documents, the detail first, then where it came from and its opening."""
    if not examples:
        return []
    out = [
        f"<h4>Dropped documents</h4><p>{len(examples)} chosen at random (seed "
        f"{C.EXAMPLE_SEED}; <code>corpusclean inspect DIR --reason {_e(name)}</code> shows "
        "more).</p>"
    ]
    for row in examples:
        out.append(
            "<div class='doc'>"
            f"<div class='detail'>{_e(row['detail'])}</div>"
            f"<div class='where'>{_e(row['id'])} · {_e(row['source'])}:{_e(row['line'])}</div>"
            f"<pre>{_e(C.opening(row['text']))}</pre></div>"
        )
    return out


def _reader_section(reason: str, n: int, report: C.ReportContent) -> str:
    """A reader's own rejections (``warc``: records that are no HTML page)."""
    return "".join(
        [
            f"<section id='reader-{_e(reason)}'><h3>{_e(reason)} (reader)</h3>",
            f"<p>The reader rejected {n:,} records before the first step.</p>",
            *_examples(reason, report.examples.get(reason, [])),
            "</section>",
        ]
    )


def _clusters(clusters: DuplicateClusters) -> str:
    rows: list[list[object]] = []
    for cluster in clusters.largest:
        rows.append(
            [
                f"{cluster.survivor} (survivor, cluster of {cluster.size})",
                "",
                cluster.survivor_opening or "(text not in the run)",
            ]
        )
        for member in cluster.members:
            similarity = "" if member.similarity is None else f"{member.similarity:.3f}"
            rows.append([f"  {member.id}", similarity, member.opening])
    sizes = sorted(clusters.size_counts.items())
    return (
        f"<h4>Duplicate clusters</h4><p>{clusters.duplicates:,} duplicates in "
        f"{clusters.clusters:,} clusters; the {len(clusters.largest)} largest:</p>"
        + _table(["document", "similarity", "opening line"], rows, cls="clusters", text_last=True)
        + f"<figure class='chart'>{charts.sizes(clusters.size_counts)}</figure>"
        + _table(["cluster size", "clusters"], [[s, f"{n:,}"] for s, n in sizes], left=0)
    )


def _truth(truth: dict[str, Any]) -> str:
    lines = M.truth_section(truth)
    intro = next(line for line in lines[2:] if line)
    header = ["class", "should", "docs", "kept", "dropped", "dropped by"]
    return f"<h2 id='truth'>Decisions against the truth labels</h2><p>{_e(intro)}</p>" + _table(
        header, M.truth_rows(truth), left=2, cls="truth", text_last=True
    )
