"""Hosts and registered domains (corpusclean/domains.py) against tldextract, URL by URL.

tldextract (the splitter datatrove and FineWeb use) is the reference: it reads the very list
file corpusclean ships (publicsuffixlist's snapshot, through a ``file://`` URL, offline), so
every difference is a difference in parsing or matching, never in list versions. The URLs:
every rule of the list under one and two extra labels (wildcards filled in, exceptions
included), the real URLs of ../shared/data/cc when present, and hand-made tricky ones.
"""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

import polars as pl
import pytest

from corpusclean.domains import (
    host_expr,
    host_suffixes,
    hosts_and_domains,
    parse_suffix_list,
    suffix_list_text,
    suffix_rules,
    with_url_columns,
)

tldextract = pytest.importorskip("tldextract")

SHARED_CC = Path(__file__).resolve().parents[2] / "shared" / "data" / "cc"

TRICKY = [
    "http://www.Example.CO.UK:8080/path?q=1#frag",
    "https://user:pass@sub.example.com/",
    "example.com/no/scheme",
    "//protocol.relative.org/x",
    "HTTP://UPPER.EXAMPLE.ORG",
    "foo.ck",
    "a.foo.ck",
    "www.ck",
    "a.www.ck",
    "ck",
    "co.uk",
    "a.co.uk",
    "city.kawasaki.jp",
    "a.city.kawasaki.jp",
    "a.b.kawasaki.jp",
    "kawasaki.jp",
    "http://127.0.0.1:8000/admin",
    "http://[::1]:80/",
    "http://[2001:db8::7]/index",
    "http://localhost/",
    "http://intranet.corp/",
    "example.com.",
    "http://example.com./",
    "a..com",
    ".com",
    "mailto:someone@mail.example.net",
    "http://xn--80aswg.xn--p1ai/",
    "http://сайт.рф/",
    "http://www.BÜCHER.de/",
    "http://example。com/",
    "  http://padded.example.com/  ",
    "http://foo.blogspot.com/",
    "http://a.b.c.d.e.f.example.com/",
    "ftp://files.example.org:21/pub",
    "http:/broken.example.com",
    "not a url at all",
    "?",
    "http://",
]


def reference(urls: list[str], private: bool, cache: Path) -> list[str | None]:
    """tldextract's ``top_domain_under_public_suffix`` per URL (empty -> None), lowercased.

    URLs are stripped first: corpusclean strips surrounding whitespace (a URL field padded
    with a space is still that URL), tldextract keeps it in the scheme.
    """
    list_file = Path(__import__("publicsuffixlist").__file__).parent / "public_suffix_list.dat"
    extract = tldextract.TLDExtract(
        suffix_list_urls=(list_file.as_uri(),),
        cache_dir=str(cache),
        fallback_to_snapshot=False,
        include_psl_private_domains=private,
    )
    out: list[str | None] = []
    for url in urls:  # the reference is per URL by nature
        domain = extract(url.strip()).top_domain_under_public_suffix
        out.append(domain.lower() if domain else None)
    return out


def rule_urls(private: bool) -> list[str]:
    """Hosts one and two labels under every rule (wildcards filled with a label)."""
    text = suffix_list_text()
    if not private:
        text = text.split("// ===BEGIN PRIVATE DOMAINS===")[0]
    urls: list[str] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("//"):
            continue
        rule = line.split()[0].lstrip("!").replace("*", "wild")
        urls += [f"http://{rule}/", f"http://d.{rule}/", f"https://s.d.{rule.upper()}:443/x"]
    return urls


def real_urls() -> list[str]:
    urls: list[str] = []
    for path in sorted(SHARED_CC.glob("*.jsonl.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as lines:
            urls += [json.loads(line)["metadata"]["url"] for line in lines]
    for path in sorted(SHARED_CC.glob("*.warc.gz")):
        with gzip.open(path, "rb") as warc:
            urls += [
                m.decode("utf-8", "replace")
                for m in re.findall(rb"^WARC-Target-URI: ?(\S+)", warc.read(), re.M)
            ]
    return urls


@pytest.mark.parametrize("private", [False, True])
def test_registered_domain_matches_tldextract(private: bool, tmp_path: Path) -> None:
    urls = TRICKY + rule_urls(private) + real_urls()
    assert len(urls) > 10_000
    ours = hosts_and_domains(pl.Series(urls), private=private).get_column("domain").to_list()
    expected = reference(urls, private, tmp_path)
    differ = [(u, o, e) for u, o, e in zip(urls, ours, expected, strict=True) if o != e]
    assert not differ, differ[:20]


def test_real_urls_are_read() -> None:
    if not SHARED_CC.is_dir():
        pytest.skip("../shared/data/cc is absent")
    assert len(real_urls()) >= 50


def test_hosts() -> None:
    urls = pl.Series(
        [
            "http://www.Example.CO.UK:8080/path?q=1#frag",
            "https://user:p@ss@sub.example.com/",
            "example.com/no/scheme",
            "//protocol.relative.org/x",
            "http://[::1]:80/",
            "http://example.com./",
            "http://example。com/",
            "http://www.BÜCHER.de/",
            "",
            "http://",
            None,
        ],
        dtype=pl.String,
    )
    frame = hosts_and_domains(urls)
    assert frame.get_column("host").to_list() == [
        "www.example.co.uk",
        "sub.example.com",
        "example.com",
        "protocol.relative.org",
        "[::1]",
        "example.com",
        "example.com",
        "www.bücher.de",
        None,
        None,
        None,
    ]
    assert frame.get_column("domain").to_list() == [
        "example.co.uk",
        "example.com",
        "example.com",
        "relative.org",
        None,
        "example.com",
        "example.com",
        "bücher.de",
        None,
        None,
        None,
    ]


def test_wildcard_and_exception_rules() -> None:
    hosts = ["foo.ck", "a.foo.ck", "www.ck", "a.www.ck", "ck", "co.uk", "a.co.uk"]
    frame = hosts_and_domains(pl.Series(hosts))
    assert frame.get_column("domain").to_list() == [
        None,  # *.ck: foo.ck is itself a public suffix
        "a.foo.ck",
        "www.ck",  # !www.ck: the suffix is ck
        "www.ck",
        None,
        None,
        "a.co.uk",
    ]


def test_idna_both_spellings_have_a_domain() -> None:
    frame = hosts_and_domains(pl.Series(["a.xn--80aswg.xn--p1ai", "a.сайт.рф"]))
    assert frame.get_column("domain").to_list() == ["xn--80aswg.xn--p1ai", "сайт.рф"]


def test_private_section() -> None:
    urls = pl.Series(["http://foo.blogspot.com/"])
    assert hosts_and_domains(urls).get_column("domain").item() == "blogspot.com"
    assert hosts_and_domains(urls, private=True).get_column("domain").item() == ("foo.blogspot.com")


def test_parse_suffix_list() -> None:
    rules = parse_suffix_list(
        "// c\nuk\nco.uk\n*.ck\n!www.ck\nрф\n// ===BEGIN PRIVATE DOMAINS===\nblogspot.com\n"
    )
    assert rules.normal.to_list() == sorted(["uk", "co.uk", "рф", "xn--p1ai"])
    assert rules.wildcard.to_list() == ["ck"]
    assert rules.exception.to_list() == ["www.ck"]
    assert rules.max_labels == 2
    assert "blogspot.com" in parse_suffix_list("blogspot.com", private=True).normal.to_list()
    assert suffix_rules().normal.len() > 5000


def test_host_suffixes() -> None:
    frame = pl.DataFrame({"host": ["a.b.example.com", "com", None]})
    columns = frame.select(
        [e.alias(f"s{k}") for k, e in enumerate(host_suffixes(pl.col("host"), 5), 1)]
    )
    assert columns.row(0) == ("com", "example.com", "b.example.com", "a.b.example.com", None)
    assert columns.row(1) == ("com", None, None, None, None)
    assert columns.row(2) == (None,) * 5


def test_on_a_lazy_frame() -> None:
    lazy = pl.LazyFrame({"url": ["https://A.example.org/x"], "n": [1]})
    assert lazy.select(host_expr(pl.col("url"))).collect().item() == "a.example.org"
    out = with_url_columns(lazy).collect()
    assert out.columns == ["url", "n", "host", "domain"]
    assert out.row(0) == ("https://A.example.org/x", 1, "a.example.org", "example.org")
