"""url_filter: list files (domains, subdomains, URLs, comments), allowlist, regexes, missing
URLs, details, a million-entry list in bounded memory, and runs through the engine."""

from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from corpusclean.cli import main
from corpusclean.steps import STEPS
from corpusclean.steps.base import RunContext
from corpusclean.steps.url_filter import (
    EntryTable,
    UrlFilterOptions,
    UrlFilterStep,
    load_entries,
    url_key_expr,
)

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
import url_filter as bench  # noqa: E402  (benchmarks/ is not a package)

BLOCK = """\
# ads and trackers
ads.example.com

*.tracker.net   # a leading *. means the same as the bare domain
.cdn.example.org
HTTP://News.Example.org:80/bad/page?x=1#top
example.net/only/this
bücher.de
Example.COM.
"""


def step_for(tmp_path: Path, **options: object) -> UrlFilterStep:
    """A step bound as the engine binds it, with lists relative to ``tmp_path``."""
    (tmp_path / "lists").mkdir(exist_ok=True)
    (tmp_path / "lists" / "block.txt").write_text(BLOCK, encoding="utf-8")
    (tmp_path / "lists" / "allow.txt").write_text("good.org\nwiki.example.com\n")
    bound = UrlFilterStep.bind(
        UrlFilterOptions.model_validate(options), RunContext(str(tmp_path / "rules.yaml"))
    )
    step = UrlFilterStep(bound)
    step.setup()
    return step


def decide(step: UrlFilterStep, urls: list[str | None]) -> list[str | None]:
    batch = pl.DataFrame(
        {"id": [str(i) for i in range(len(urls))], "text": "t", "url": urls},
        schema={"id": pl.String, "text": pl.String, "url": pl.String},
    )
    result = step.apply(batch)
    assert result.frame.equals(batch)
    return [None] * len(urls) if result.reject is None else result.reject.to_list()


def test_domains_block_their_subdomains_only(tmp_path: Path) -> None:
    step = step_for(tmp_path, blocklist="lists/block.txt")
    urls = [
        "http://ads.example.com/x",
        "https://deep.sub.ADS.example.com:8443/",
        "http://badtracker.net/",  # not under tracker.net
        "http://example.com/",  # Example.COM. is listed: the domain itself
        "http://www.example.com/page",
        "http://a.tracker.net/",
        "http://tracker.net/",
        "http://x.cdn.example.org/",
        "http://example.org/",
        "ads.example.com",  # no scheme
    ]
    got = decide(step, urls)
    assert got == [
        "blocklist=ads.example.com (lists/block.txt:2)",
        "blocklist=ads.example.com (lists/block.txt:2)",
        None,
        "blocklist=example.com (lists/block.txt:9)",
        "blocklist=example.com (lists/block.txt:9)",
        "blocklist=tracker.net (lists/block.txt:4)",
        "blocklist=tracker.net (lists/block.txt:4)",
        "blocklist=cdn.example.org (lists/block.txt:5)",
        None,
        "blocklist=ads.example.com (lists/block.txt:2)",
    ]


def test_most_specific_entry_is_named(tmp_path: Path) -> None:
    (tmp_path / "l.txt").write_text("example.com\nads.example.com\nexample.com/a\n")
    step = UrlFilterStep(UrlFilterOptions(blocklist=str(tmp_path / "l.txt")))
    step.setup()
    got = decide(step, ["http://x.ads.example.com/", "http://example.com/a", "http://example.com/"])
    assert [g.split(" ")[0] for g in got if g] == [
        "blocklist=ads.example.com",
        "blocklist=example.com/a",
        "blocklist=example.com",
    ]


def test_url_entries_block_that_page(tmp_path: Path) -> None:
    step = step_for(tmp_path, blocklist="lists/block.txt")
    got = decide(
        step,
        [
            "https://news.example.org/bad/page?x=1",  # scheme, port, fragment, case of host
            "http://NEWS.example.org/bad/page?x=1#other",
            "http://news.example.org/bad/page",  # no query: another page
            "http://news.example.org/bad/page?x=2",
            "http://news.example.org/BAD/page?x=1",  # the path is case-sensitive
            "http://example.net/only/this",
            "http://example.net/only/this/",
            "http://example.net/",
            "http://sub.example.net/only/this",
        ],
    )
    url_entry = "blocklist=news.example.org/bad/page?x=1 (lists/block.txt:6)"
    assert got == [
        url_entry,
        url_entry,
        None,
        None,
        None,
        "blocklist=example.net/only/this (lists/block.txt:7)",
        None,
        None,
        None,
    ]


def test_idna_entries_match_both_spellings(tmp_path: Path) -> None:
    step = step_for(tmp_path, blocklist="lists/block.txt")
    got = decide(step, ["http://www.bücher.de/", "http://www.xn--bcher-kva.de/", "http://b.de/"])
    assert got[0] == "blocklist=bücher.de (lists/block.txt:8)"
    assert got[1] == "blocklist=xn--bcher-kva.de (lists/block.txt:8)"
    assert got[2] is None


def test_comments_and_blank_lines_are_no_entries(tmp_path: Path) -> None:
    path = tmp_path / "l.txt"
    path.write_text("# only\n\n   \n#x.com\n  # indented\r\nreal.com # trailing\r\n")
    table = load_entries([path], ["l.txt"])
    assert table.keys.to_pylist() == ["real.com"]
    assert table.lines.tolist() == [6]
    assert load_entries([tmp_path / "l.txt"], ["l"]).describe(0) == "real.com (l:6)"
    (tmp_path / "empty.txt").write_text("# nothing\n")
    assert len(load_entries([tmp_path / "empty.txt"], ["e"])) == 0


def test_bad_entries_name_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "l.txt").write_text("ok.com\n0.0.0.0 ads.com\n")
    with pytest.raises(ValueError, match=r"l\.txt:2: whitespace inside an entry"):
        load_entries([tmp_path / "l.txt"], ["l.txt"])
    (tmp_path / "m.txt").write_text("ok.com\nhttp://\n")
    with pytest.raises(ValueError, match=r"m\.txt:2: no host"):
        load_entries([tmp_path / "m.txt"], ["m.txt"])


def test_several_lists_and_line_numbers_across_chunks(tmp_path: Path, monkeypatch) -> None:
    import corpusclean.steps.url_filter as uf

    monkeypatch.setattr(uf, "CHUNK_BYTES", 64)  # many chunks, lines cut across them
    lines = [f"host{i}.example.com" for i in range(200)]
    (tmp_path / "a.txt").write_text("\n".join(lines))  # no final newline
    (tmp_path / "b.txt").write_text("other.org\n")
    table = load_entries([tmp_path / "a.txt", tmp_path / "b.txt"], ["a.txt", "b.txt"])
    assert len(table) == 201
    found = table.lookup(pl.Series(["host137.example.com", "other.org", "host200.example.com"]))
    assert table.describe(int(found[0])) == "host137.example.com (a.txt:138)"
    assert table.describe(int(found[1])) == "other.org (b.txt:1)"
    assert found[2] == -1


def test_hash_collisions_cannot_block_a_wrong_page() -> None:
    """A table whose stored hash equals the lookup key's but whose text differs: no match."""
    keys = pl.Series(["innocent.org"])
    fake = EntryTable(
        sources=["forged"],
        hashes=np.sort(np.array([keys.hash(seed=0x5EED)[0]], dtype=np.uint64)),
        keys=__import__("pyarrow").array(["blocked.com"], __import__("pyarrow").large_string()),
        files=np.zeros(1, np.uint16),
        lines=np.ones(1, np.uint32),
        max_labels=2,
    )
    assert fake.lookup(keys).tolist() == [-1]


def test_allowlist(tmp_path: Path) -> None:
    step = step_for(tmp_path, allowlist="lists/allow.txt")
    got = decide(
        step,
        [
            "http://good.org/",
            "http://x.good.org/a",
            "http://notgood.org/",
            "http://example.com/",
            "http://wiki.example.com/Page",
            None,
        ],
    )
    assert got == [
        None,
        None,
        "allowlist: host=notgood.org not in allowlist",
        "allowlist: host=example.com not in allowlist",
        None,
        None,  # missing_url: keep
    ]


def test_blocklist_before_allowlist(tmp_path: Path) -> None:
    (tmp_path / "lists").mkdir()
    step = step_for(tmp_path, blocklist="lists/block.txt", allowlist="lists/allow.txt")
    (tmp_path / "x").touch()
    got = decide(step, ["http://ads.example.com/", "http://wiki.example.com/", "http://a.b/"])
    assert got == [
        "blocklist=ads.example.com (lists/block.txt:2)",
        "blocklist=example.com (lists/block.txt:9)",  # listed on both: blocked
        "allowlist: host=a.b not in allowlist",
    ]


def test_regexes(tmp_path: Path) -> None:
    step = UrlFilterStep(
        UrlFilterOptions(block_regex=[r"/casino/", r"(?i)poker"], allow_regex=[r"^https://"])
    )
    got = decide(
        step,
        ["https://a.com/casino/x", "https://a.com/POKER", "http://a.com/", "https://a.com/", None],
    )
    assert got == [
        "block_regex=/casino/",
        "block_regex=(?i)poker",
        "allow_regex: url matches none",
        None,
        None,
    ]
    with pytest.raises(ValueError, match="bad regex"):
        UrlFilterOptions(block_regex=["(unclosed"])
    with pytest.raises(ValueError, match="at least one pattern"):
        UrlFilterOptions(allow_regex=[])


def test_missing_urls(tmp_path: Path) -> None:
    urls = [None, "", "   ", "http://ads.example.com/", "http://ok.com/"]
    keep = step_for(tmp_path, blocklist="lists/block.txt", allowlist="lists/allow.txt")
    assert decide(keep, urls)[:3] == [None, None, None]
    drop = step_for(tmp_path, blocklist="lists/block.txt", missing_url="drop")
    got = decide(drop, urls)
    assert got == ["missing_url: no url"] * 3 + [
        "blocklist=ads.example.com (lists/block.txt:2)",
        None,
    ]
    result = drop.apply(
        pl.DataFrame(
            {"id": ["a"], "text": ["t"], "url": [None]},
            schema={"id": pl.String, "text": pl.String, "url": pl.String},
        )
    )
    assert result.counters == {"rejected.missing_url": 1, "missing_url": 1}
    # a batch without a url column at all: every document has no url
    no_column = UrlFilterStep(UrlFilterOptions(missing_url="drop"))
    result = no_column.apply(pl.DataFrame({"id": ["a"], "text": ["t"]}))
    assert result.reject is not None and result.reject.to_list() == ["missing_url: no url"]


def test_no_options_keeps_everything() -> None:
    step = UrlFilterStep(UrlFilterOptions())
    assert decide(step, ["http://a.com/", None]) == [None, None]


def test_url_key() -> None:
    urls = pl.Series(
        ["HTTP://u:p@Ex.com:80/A/b?q=1#f", "ex.com", "//ex.com?x", "ex.com/", "http://", None]
    )
    keys = pl.DataFrame({"u": urls}).select(url_key_expr(pl.col("u"))).to_series().to_list()
    assert keys == ["ex.com/A/b?q=1", "ex.com/", "ex.com/?x", "ex.com/", None, None]


def test_bind_resolves_against_the_rules_folder(tmp_path: Path) -> None:
    step = step_for(tmp_path, blocklist=["lists/block.txt"], allowlist="lists/allow.txt")
    assert step.options.blocklist == [str((tmp_path / "lists" / "block.txt").resolve())]
    assert step.options.allowlist == str((tmp_path / "lists" / "allow.txt").resolve())
    with pytest.raises(ValueError, match="blocklist: file not found"):
        UrlFilterStep.bind(
            UrlFilterOptions(blocklist="nope.txt"), RunContext(str(tmp_path / "r.yaml"))
        )


def test_million_entries_in_bounded_memory(tmp_path: Path) -> None:
    """A 1,000,000-entry list loads in a fresh interpreter growing its RSS by under 300 MB
    (the table itself: under 64 MB; a Python set of the same strings alone is ~100 MB), and
    blocks exactly the documents of listed domains."""
    path = tmp_path / "big.txt"
    bench.write_list(path, 1_000_000)
    result = bench.measure(path, 20_000)
    assert result["entries"] == 1_000_000
    assert result["table_mb"] < 64
    assert result["peak_growth_mb"] < 300, result
    # documents are www.site{i}...; i < 1e6 and i % 10 != 9 is a listed domain (9% of them)
    assert 0.07 * 20_000 < result["rejected"] < 0.11 * 20_000


def _jsonl(path: Path, docs: list[dict[str, object]]) -> None:
    with gzip.open(path, "wt", encoding="utf-8") as out:
        for doc in docs:
            out.write(json.dumps(doc) + "\n")


def test_engine_one_and_two_workers(tmp_path: Path) -> None:
    (tmp_path / "lists").mkdir()
    (tmp_path / "lists" / "block.txt").write_text(BLOCK, encoding="utf-8")
    text = "A sentence long enough to be a document of its own, kept unless its URL is listed."
    hosts = ["ads.example.com", "www.example.com", "good.org", "x.tracker.net", "safe.io"]
    docs = [
        {
            "id": f"d{i}",
            "text": f"{text} {i}",
            **({"url": f"http://{hosts[i % 5]}/p{i}"} if i % 7 else {}),
        }
        for i in range(300)
    ]
    _jsonl(tmp_path / "in-0.jsonl.gz", docs[:150])
    _jsonl(tmp_path / "in-1.jsonl.gz", docs[150:])
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        "version: 1\nsteps:\n  - url_filter: {blocklist: lists/block.txt, "
        "block_regex: ['/p1\\d$'], missing_url: drop}\n"
    )
    digests = []
    for workers in (1, 2):
        out = tmp_path / f"out{workers}"
        inputs = [str(tmp_path / "in-0.jsonl.gz"), str(tmp_path / "in-1.jsonl.gz")]
        args = ["run", str(rules), "--input", *inputs, "--output", str(out)]
        assert main([*args, "--workers", str(workers), "--quiet"]) == 0
        rejected = pl.read_parquet(out / "rejected" / "*.parquet")
        kept = pl.read_parquet(out / "documents" / "*.parquet")
        assert kept.height + rejected.height == 300
        assert set(kept.get_column("url").str.extract(r"//([^/]+)/", 1)) <= {"good.org", "safe.io"}
        details = dict(zip(rejected.get_column("id"), rejected.get_column("detail"), strict=True))
        assert details["d0"] == "missing_url: no url"
        assert details["d1"] == "blocklist=example.com (lists/block.txt:9)"  # www.example.com
        assert details["d3"] == "blocklist=tracker.net (lists/block.txt:4)"
        assert details["d12"] == "block_regex=/p1\\d$"  # good.org, caught by the regex
        stats = json.loads((out / "stats.json").read_text())
        (step,) = stats["steps"]
        assert step["counters"]["missing_url"] == len([d for d in docs if "url" not in d])
        digests.append(
            {
                p.relative_to(out).as_posix(): p.read_bytes()
                for p in sorted(out.rglob("*.parquet"))
                if p.parts[-2] in ("documents", "rejected")
            }
        )
    assert digests[0] == digests[1]


def test_bad_key_or_missing_file_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _jsonl(tmp_path / "in.jsonl.gz", [{"id": "a", "text": "t", "url": "http://a.com/"}])
    rules = tmp_path / "rules.yaml"
    args = ["run", str(rules), "--input", str(tmp_path / "in.jsonl.gz"), "--quiet"]
    rules.write_text("version: 1\nsteps:\n  - url_filter: {blocklst: lists/block.txt}\n")
    assert main([*args, "--output", str(tmp_path / "o1")]) == 2
    err = capsys.readouterr().err
    assert "blocklst" in err and len(err.strip().splitlines()) == 1
    rules.write_text("version: 1\nsteps:\n  - url_filter: {blocklist: lists/missing.txt}\n")
    assert main([*args, "--output", str(tmp_path / "o2")]) == 2
    err = capsys.readouterr().err
    assert "missing.txt" in err and "blocklist" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "o2").exists()


def test_registered_and_listed(capsys: pytest.CaptureFixture[str]) -> None:
    assert STEPS["url_filter"] is UrlFilterStep
    assert main(["steps"]) == 0
    out = capsys.readouterr().out
    assert "url_filter" in out and "blocklist" in out and "UT1" in out
