"""The corpus report in a real browser: every chart of ``report.html`` drawn, every table an
HTML table with rows, the funnel's numbers those of ``stats.json`` (issue 13, "Done when").

    python benchmarks/report_render.py                          # sample + all of webmix
    python benchmarks/report_render.py ../shared/data/webmix    # the webmix folder to use
    python benchmarks/report_render.py --no-webmix              # the sample only

What it runs, per corpus (the embedded sample, 600 documents, seed 3; every part of webmix):

1. ``corpusclean run rules/openwebtext.yaml --workers 2`` into a temporary folder (the sample
   with its truth labels, so the page has its truth table too);
2. ``corpusclean report DIR`` again, timed (wall clock of the command, process start to exit):
   the rebuild from what the run left;
3. a copy of ``report.html`` with one test-only ``<script>`` injected before ``</body>``
   (:data:`CHECK_SCRIPT`; the report itself has no script), opened in headless Chromium
   (``chromium --headless --no-sandbox --disable-gpu --virtual-time-budget=5000 --dump-dom``).
   On ``load`` the script measures, in the laid-out page, every ``<svg>``: its box
   (``getBoundingClientRect``) has width and height > 0, lies inside the document (not cut off
   at the left or top, not wider than the page), no ancestor is ``display: none`` /
   ``visibility: hidden``, it holds a ``<rect>`` drawn with height > 0 (a bar), and no
   ``<text>`` of it runs past its edge (where the svg's viewport cuts it off); and every
   ``<table>``: its body rows. It writes the measurements as JSON into ``<pre id='verdict'>``,
   which is read back from the dumped DOM (:func:`browser_verdict`);
4. a screenshot of the original page (``--screenshot --window-size=1300,8000``) into the
   temporary folder (printed; never into the repository);
5. :func:`check_page`: the verdict against ``stats.json`` -- one chart per expected figure
   (:func:`expected_charts`), each visible with bars -- and the page's tables parsed with
   :mod:`html.parser`: the funnel table (class ``funnel``) cell by cell against
   ``stats.json``'s ``steps``, the languages table against ``breakdown.language``.

Printed per corpus: the problems found (none when the page is right), the number of charts
and tables, the sizes of ``report.html`` and ``report.md``, the seconds ``corpusclean report``
took and the screenshot's path. ``tests/test_report_render.py`` runs the same checks (slow).
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu")
VERDICT_ID = "corpusclean-render-verdict"

#: Injected into a copy of the page only. Runs once the page is laid out (``load``), measures
#: what a reader would see, and writes it as JSON into a ``<pre>``; --dump-dom then prints the
#: DOM with that element in it.
CHECK_SCRIPT = (
    """<script>
window.addEventListener('load', function () {
  var doc = document.documentElement;
  var width = Math.max(doc.scrollWidth, document.body.scrollWidth);
  var height = Math.max(doc.scrollHeight, document.body.scrollHeight);
  function hidden(el) {
    for (var e = el; e && e.nodeType === 1; e = e.parentNode) {
      var cs = getComputedStyle(e);
      if (cs.display === 'none' || cs.visibility === 'hidden' || cs.opacity === '0') {
        return true;
      }
    }
    return false;
  }
  var svgs = [];
  document.querySelectorAll('svg').forEach(function (svg) {
    var r = svg.getBoundingClientRect();
    var bars = 0;
    svg.querySelectorAll('rect').forEach(function (rect) {
      var b = rect.getBoundingClientRect();
      if (b.height > 0 && b.width > 0 && !hidden(rect)) { bars += 1; }
    });
    var clipped = [];  // text drawn past the svg's edge is cut off by its viewport
    svg.querySelectorAll('text').forEach(function (text) {
      var b = text.getBoundingClientRect();
      if (b.left < r.left - 0.5 || b.right > r.right + 0.5 || b.top < r.top - 0.5 ||
          b.bottom > r.bottom + 0.5) { clipped.push(text.textContent); }
    });
    var top = r.top + window.scrollY, left = r.left + window.scrollX;
    svgs.push({
      label: svg.getAttribute('aria-label') || '',
      width: r.width, height: r.height,
      hidden: hidden(svg),
      inside: left >= 0 && top >= 0 && left + r.width <= width + 1 && top + r.height <= height + 1,
      rects: svg.querySelectorAll('rect').length,
      bars: bars,
      clipped: clipped
    });
  });
  var tables = [];
  document.querySelectorAll('table').forEach(function (t) {
    var r = t.getBoundingClientRect();
    tables.push({
      cls: t.getAttribute('class') || '',
      rows: t.querySelectorAll('tbody tr').length,
      header: t.querySelectorAll('thead th').length,
      width: r.width, height: r.height, hidden: hidden(t)
    });
  });
  var pre = document.createElement('pre');
  pre.id = '"""
    + VERDICT_ID
    + """';
  pre.textContent = JSON.stringify({svgs: svgs, tables: tables, page: [width, height]});
  document.body.appendChild(pre);
});
</script>"""
)


def chromium() -> str | None:
    """The Chromium binary (Debian's ``chromium``), or None."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


def inject_check(html: str) -> str:
    """The page with :data:`CHECK_SCRIPT` before ``</body>`` (the copy the browser checks)."""
    at = html.rfind("</body>")
    if at < 0:
        raise ValueError("report.html has no </body>")
    return html[:at] + CHECK_SCRIPT + html[at:]


class _VerdictParser(HTMLParser):
    """The text of ``<pre id=VERDICT_ID>`` in a dumped DOM."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.inside = False
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "pre" and dict(attrs).get("id") == VERDICT_ID:
            self.inside = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "pre":
            self.inside = False

    def handle_data(self, data: str) -> None:
        if self.inside:
            self.text.append(data)


def browser_verdict(page: Path, workdir: Path, screenshot: Path | None = None) -> dict[str, Any]:
    """Open a checked copy of ``page`` in headless Chromium and return the script's verdict;
    with ``screenshot``, also save a screenshot of the page itself there."""
    binary = chromium()
    if binary is None:
        raise RuntimeError("chromium is not installed")
    workdir.mkdir(parents=True, exist_ok=True)
    copy = workdir / "report-checked.html"
    copy.write_text(inject_check(page.read_text(encoding="utf-8")), encoding="utf-8")
    profile = workdir / "chromium-profile"
    common = [binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--window-size=1300,8000"]
    dumped = subprocess.run(
        [*common, "--virtual-time-budget=5000", "--dump-dom", copy.resolve().as_uri()],
        capture_output=True,
        text=True,
        timeout=180,
        check=True,
    ).stdout
    parser = _VerdictParser()
    parser.feed(dumped)
    if not parser.text:
        raise RuntimeError(f"no verdict in the dumped DOM of {copy} ({len(dumped)} characters)")
    if screenshot is not None:
        subprocess.run(
            [*common, f"--screenshot={screenshot}", page.resolve().as_uri()],
            capture_output=True,
            timeout=180,
            check=True,
        )
    return json.loads("".join(parser.text))


# --- the page's tables, parsed ----------------------------------------------------------------


@dataclass
class Table:
    cls: str
    header: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)


class _TableParser(HTMLParser):
    """Every ``<table>``: its class, header cells and body rows as text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tables: list[Table] = []
        self.cell: list[str] | None = None
        self.in_head = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self.tables.append(Table(cls=dict(attrs).get("class") or ""))
        elif tag == "thead":
            self.in_head = True
        elif tag == "tbody":
            self.in_head = False
        elif tag == "tr" and self.tables and not self.in_head:
            self.tables[-1].rows.append([])
        elif tag in ("td", "th") and self.tables:
            self.cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self.cell is not None and self.tables:
            text = "".join(self.cell)
            table = self.tables[-1]
            if self.in_head:
                table.header.append(text)
            elif table.rows:
                table.rows[-1].append(text)
            self.cell = None

    def handle_data(self, data: str) -> None:
        if self.cell is not None:
            self.cell.append(data)


def parse_tables(html: str) -> list[Table]:
    parser = _TableParser()
    parser.feed(html)
    return parser.tables


# --- what the page must show ------------------------------------------------------------------


def expected_charts(stats: dict[str, Any]) -> list[str]:
    """The ``aria-label`` of every chart the page must hold, in page order: the funnel; per
    step, one histogram per signal in ``histograms`` that holds a document with a value
    (``values of`` for a categorical one; a chart of nothing is no plot: see
    :func:`has_values`), then, for a document deduplication step that dropped documents, its
    cluster sizes (``corpusclean/report/page.py``)."""
    from corpusclean.run_output import dedup_steps

    labels = ["documents through the pipeline"]
    for step in stats["steps"]:
        for column, hist in step.get("histograms", {}).items():
            if not has_values(hist):
                continue
            kind = "values of" if hist["scale"] == "category" else "histogram of"
            labels.append(f"{kind} {column}")
        if step["name"] in dedup_steps() and step["rejected"] > 0:
            labels.append("cluster sizes")
    return labels


def has_values(hist: dict[str, Any]) -> bool:
    """Whether a histogram of ``stats.json`` counts any document with a value: a categorical
    one a value (``html_tags.element`` has none when no page holds a forbidden tag), a numeric
    one a document in a bin (under, inside or over its edges)."""
    if hist["scale"] == "category":
        return any(v["kept_docs"] + v["dropped_docs"] for v in hist["values"].values())
    return sum(hist["kept"]["docs"]) + sum(hist["dropped"]["docs"]) > 0


def _int(cell: str) -> int:
    return int(cell.replace(",", ""))


def _close(cell: str, value: float, digits: int) -> bool:
    """A cell printed with ``digits`` decimals (thousands separated) shows ``value``."""
    return math.isclose(float(cell.replace(",", "")), value, abs_tol=0.51 * 10**-digits)


def _share(cell: str, part: float, whole: float) -> bool:
    if not whole:
        return cell == "n/a"
    return cell.endswith("%") and _close(cell[:-1], 100 * part / whole, 1)


def check_funnel(stats: dict[str, Any], table: Table) -> list[str]:
    """The funnel table against ``stats.json``: one row per step, in order, every cell."""
    problems: list[str] = []
    steps = stats["steps"]
    docs = stats["input_docs"] - stats["error_records"]
    nbytes = steps[0]["in_bytes"] if steps else stats["kept_text_bytes"]
    if len(table.rows) != len(steps):
        return [f"funnel table: {len(table.rows)} rows for {len(steps)} steps"]
    for row, step in zip(table.rows, steps, strict=True):
        name = step["name"]
        want_removed = step["in_docs"] - step["out_docs"]
        checks = {
            "step": row[0] == name,
            "docs in": _int(row[1]) == step["in_docs"],
            "docs out": _int(row[2]) == step["out_docs"],
            "docs removed": _int(row[3]) == want_removed == step["rejected"],
            "share of docs": _share(row[4], want_removed, docs),
            "MB in": _close(row[5], step["in_bytes"] / 1e6, 2),
            "MB out": _close(row[6], step["out_bytes"] / 1e6, 2),
            "share of bytes": _share(row[7], step["in_bytes"] - step["out_bytes"], nbytes),
            "seconds": _close(row[8], step["seconds"], 2),
        }
        problems += [f"funnel {name}: {k} {row} vs stats" for k, ok in checks.items() if not ok]
    return problems


def check_languages(stats: dict[str, Any], table: Table) -> list[str]:
    """The languages table against ``stats.json``'s ``breakdown.language``."""
    want = stats.get("breakdown", {}).get("language", {})
    got = {row[0]: row for row in table.rows}
    if set(got) != set(want):
        return [f"languages table: {sorted(got)} vs stats {sorted(want)}"]
    problems = []
    for lang, v in want.items():
        row = got[lang]
        ok = (
            _int(row[1]) == v["docs"]
            and _close(row[2], v["bytes"] / 1e6, 2)
            and _int(row[3]) == v["kept_docs"]
            and _close(row[4], v["kept_bytes"] / 1e6, 2)
            and _int(row[5]) == v["docs"] - v["kept_docs"]
        )
        if not ok:
            problems.append(f"languages {lang}: {row} vs {v}")
    return problems


def check_charts(stats: dict[str, Any], verdict: dict[str, Any]) -> list[str]:
    """The browser's measurements of the page's charts against the charts ``stats.json``
    calls for: the same list, each laid out, shown, inside the page, with a bar drawn."""
    problems: list[str] = []
    labels = [s["label"] for s in verdict["svgs"]]
    want = expected_charts(stats)
    if labels != want:
        extra = [x for x in labels if x not in want]
        missing = [x for x in want if x not in labels]
        problems.append(
            f"charts: page has {len(labels)}, stats.json calls for {len(want)} "
            f"(not called for: {extra}; missing: {missing})"
        )
    for i, svg in enumerate(verdict["svgs"]):
        name = f"svg {i} ({svg['label']})"
        if not (svg["width"] > 0 and svg["height"] > 0):
            problems.append(f"{name}: box {svg['width']} x {svg['height']}")
        if svg["hidden"] or not svg["inside"]:
            problems.append(f"{name}: hidden={svg['hidden']} inside={svg['inside']}")
        if svg["bars"] == 0:
            problems.append(f"{name}: no bar drawn ({svg['rects']} rect elements)")
    return problems


def check_labels(verdict: dict[str, Any]) -> list[str]:
    """Chart text that runs past its svg's edge (cut off on screen): one line per chart."""
    return [
        f"svg {i} ({svg['label']}): text cut off at the edge: {svg['clipped']}"
        for i, svg in enumerate(verdict["svgs"])
        if svg["clipped"]
    ]


def check_tables(stats: dict[str, Any], html: str, verdict: dict[str, Any]) -> list[str]:
    """The page's tables: each shown with body rows in the browser, and, parsed from the HTML,
    the funnel and languages tables cell by cell against ``stats.json``."""
    problems: list[str] = []
    for t in verdict["tables"]:
        if t["rows"] == 0 or t["hidden"] or not (t["width"] > 0 and t["height"] > 0):
            problems.append(f"table {t}: empty or not shown")
    tables = parse_tables(html)
    if len(tables) != len(verdict["tables"]):
        problems.append(f"{len(tables)} tables parsed, {len(verdict['tables'])} in the browser")
    funnels = [t for t in tables if t.cls == "funnel"]
    names = {step["name"] for step in stats["steps"]}
    has_rows = bool(names) or any(n for r, n in stats["rejected"].items() if r not in names)
    if len(funnels) != (1 if has_rows else 0):  # no step and no reader rejection: no table
        problems.append(f"{len(funnels)} funnel tables")
    elif funnels:
        problems += check_funnel(stats, funnels[0])
    languages = [t for t in tables if t.cls == "languages"]
    if stats.get("breakdown", {}).get("language"):
        if len(languages) != 1:
            problems.append(f"{len(languages)} languages tables")
        else:
            problems += check_languages(stats, languages[0])
    return problems


def check_page(run: Path, verdict: dict[str, Any]) -> list[str]:
    """Everything wrong with the run's page (empty when it is right)."""
    stats = json.loads((run / "stats.json").read_text(encoding="utf-8"))
    html = (run / "report.html").read_text(encoding="utf-8")
    return check_charts(stats, verdict) + check_labels(verdict) + check_tables(stats, html, verdict)


# --- runs -------------------------------------------------------------------------------------


def corpusclean(*args: str) -> float:
    """Run the ``corpusclean`` command (this interpreter's); seconds, start to exit."""
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "corpusclean.cli", *args],
        check=True,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
    )
    return time.perf_counter() - start


def clean(inputs: list[Path], out: Path, labels: Path | None = None) -> float:
    """``corpusclean run rules/openwebtext.yaml`` on ``inputs``; seconds."""
    args = ["run", str(ROOT / "rules" / "openwebtext.yaml"), "--output", str(out)]
    for path in inputs:
        args += ["--input", str(path)]
    args += ["--workers", "2", "--quiet"]
    if labels is not None:
        args += ["--labels", str(labels)]
    return corpusclean(*args)


def measure(name: str, run: Path, workdir: Path) -> dict[str, Any]:
    """Rebuild the report (timed), check it in the browser, and summarise."""
    seconds = corpusclean("report", str(run))
    shot = workdir / f"{name}.png"
    verdict = browser_verdict(run / "report.html", workdir / name, screenshot=shot)
    return {
        "corpus": name,
        "problems": check_page(run, verdict),
        "charts": len(verdict["svgs"]),
        "tables": len(verdict["tables"]),
        "html_bytes": (run / "report.html").stat().st_size,
        "md_bytes": (run / "report.md").stat().st_size,
        "report_seconds": seconds,
        "screenshot": str(shot),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("webmix", nargs="?", default=str(ROOT.parent / "shared/data/webmix"))
    parser.add_argument("--no-webmix", action="store_true")
    parser.add_argument("--keep", help="work folder to keep (default: a temporary one, kept)")
    args = parser.parse_args(argv)
    if chromium() is None:
        print("chromium is not installed")
        return 2
    from corpusclean.sample import write_sample

    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="report-render-"))
    work.mkdir(parents=True, exist_ok=True)
    results = []
    sample = work / "sample.jsonl.gz"
    write_sample(sample, docs=600, seed=3)
    run_seconds = clean([sample], work / "sample-run", labels=sample)
    results.append({**measure("sample", work / "sample-run", work), "run_seconds": run_seconds})
    webmix = Path(args.webmix)
    if not args.no_webmix:
        files = sorted(webmix.glob("part-*.jsonl.gz"))
        if not files:
            print(f"{webmix}: no part-*.jsonl.gz; webmix skipped")
        else:
            run_seconds = clean(files, work / "webmix-run")
            results.append(
                {**measure("webmix", work / "webmix-run", work), "run_seconds": run_seconds}
            )
    for r in results:
        print(
            f"{r['corpus']}: {len(r['problems'])} problem(s); {r['charts']} charts, "
            f"{r['tables']} tables; report.html {r['html_bytes'] / 1e3:,.0f} kB, report.md "
            f"{r['md_bytes'] / 1e3:,.0f} kB; run {r['run_seconds']:.1f} s; "
            f"`corpusclean report` {r['report_seconds']:.2f} s; screenshot {r['screenshot']}"
        )
        for p in r["problems"]:
            print(f"  - {p}")
    print(f"work folder: {work}")
    return 1 if any(r["problems"] for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
