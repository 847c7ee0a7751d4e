"""The corpus report: document text is shown as text (never markup), the tables are HTML
tables whose numbers equal stats.json, report.md says the same, and `corpusclean report`
rebuilds both from the output alone."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path

import pytest

from corpusclean.cli import main

WORDS = "the quick brown fox jumps over the lazy dog near the river bank today".split()


def _sentence(i: int) -> str:
    return " ".join(WORDS[(i + k) % len(WORDS)] for k in range(9)).capitalize() + "."


def _page(i: int, lines: int = 6) -> str:
    return "\n".join(_sentence(i + j) + f" Line {i}-{j} ends here." for j in range(lines))


HOSTILE = [
    ("script", _page(1) + '\n<script>alert("owned")</script> is in this page.'),
    ("onerror", _page(2) + "\nA picture <img src=x onerror=alert(1)> sits here too."),
    ("<b>bold-id</b>", "short <i>page</i>"),
]


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attributes: list[str] = []
        self.text: list[str] = []
        self.tables: dict[str, list[list[str]]] = {}
        self._table: str | None = None
        self._cell: list[str] | None = None
        self._row: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attributes += [name for name, _ in attrs]
        if tag == "table":
            self._table = dict(attrs).get("class") or f"table-{len(self.tables)}"
            self.tables[self._table] = []
        elif tag == "tr" and self._table is not None:
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append("".join(self._cell))
            self._cell = None
        elif tag == "tr" and self._row is not None and self._table is not None:
            self.tables[self._table].append(self._row)
            self._row = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._cell is not None:
            self._cell.append(data)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("report")
    records = [{"id": f"doc-{i}", "text": _page(i * 3)} for i in range(12)]
    records += [{"id": "copy-1", "text": records[0]["text"]}]
    records += [{"id": "rewritten", "text": _page(40) + "\nEnable javascript <script>x()</script>"}]
    records += [{"id": doc_id, "text": text} for doc_id, text in HOSTILE]
    source = folder / "in.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    rules = folder / "rules.yaml"
    rules.write_text(
        "version: 1\nname: hostile\nsteps:\n"
        "  - length: {min_words: 5}\n"
        "  - c4_quality: {min_num_sentences: null, filter_curly_bracket: false}\n"
        "  - html_tags: {}\n"
        "  - exact_dedup: {}\n",
        encoding="utf-8",
    )
    out = folder / "out"
    args = ["run", str(rules), "--input", str(source), "--output", str(out), "--quiet"]
    assert main(args) == 0
    source.unlink()  # `corpusclean report` must not need the input
    return out


def _page_of(run: Path) -> _Collector:
    collector = _Collector()
    collector.feed((run / "report.html").read_text(encoding="utf-8"))
    return collector


def test_document_text_is_text_never_markup(run: Path) -> None:
    stats = json.loads((run / "stats.json").read_text())
    assert stats["rejected"]["html_tags"] >= 2 and stats["rejected"]["length"] == 1
    page = _page_of(run)
    assert "script" not in page.tags and "img" not in page.tags and "b" in page.tags
    assert not [a for a in page.attributes if a.lower().startswith("on")]
    text = "".join(page.text)
    assert '<script>alert("owned")</script>' in text  # shown, as text
    assert "<img src=x onerror=alert(1)>" in text
    assert "<b>bold-id</b>" in text
    raw = (run / "report.html").read_text(encoding="utf-8")
    assert "<script" not in raw.lower() and "<img" not in raw.lower()
    assert "&lt;img src=x onerror=alert(1)&gt;" in raw


def test_rewritten_lines_are_shown_escaped(run: Path) -> None:
    stats = json.loads((run / "stats.json").read_text())
    c4 = next(s for s in stats["steps"] if s["name"] == "c4_quality")
    edit = next(e for e in c4["edits"] if e["id"] == "rewritten")
    assert edit["removed"] == ["Enable javascript <script>x()</script>"]
    assert "Enable javascript <script>x()</script>" in "".join(_page_of(run).text)


def test_tables_are_html_tables_equal_to_stats(run: Path) -> None:
    stats = json.loads((run / "stats.json").read_text())
    funnel = _page_of(run).tables["funnel"]
    header, rows = funnel[0], funnel[1:]
    assert header[:4] == ["step", "docs in", "docs out", "docs removed"]
    assert [r[0] for r in rows] == [s["name"] for s in stats["steps"]]
    for row, step in zip(rows, stats["steps"], strict=True):
        numbers = [int(c.replace(",", "")) for c in row[1:4]]
        assert numbers == [step["in_docs"], step["out_docs"], step["rejected"]]
        assert float(row[5]) == pytest.approx(step["in_bytes"] / 1e6, abs=0.005)
    markdown = (run / "report.md").read_text(encoding="utf-8")
    for step in stats["steps"]:
        cells = f"| {step['name']} | {step['in_docs']:,} | {step['out_docs']:,} | "
        assert cells in markdown


def test_report_command_rebuilds_the_same_files(run: Path) -> None:
    before = {n: (run / n).read_bytes() for n in ("report.md", "report.html")}
    for name in before:
        (run / name).unlink()
    assert main(["report", str(run)]) == 0
    assert {n: (run / n).read_bytes() for n in before} == before


def test_every_histogram_is_drawn(run: Path) -> None:
    stats = json.loads((run / "stats.json").read_text())
    histograms = sum(len(s["histograms"]) for s in stats["steps"])
    assert histograms >= 5
    page = _page_of(run)
    clusters = sum(1 for s in stats["steps"] if s["name"] == "exact_dedup" and s["rejected"])
    assert page.tags.count("svg") == 1 + histograms + clusters
