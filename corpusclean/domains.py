"""A URL's host and registered domain, as Polars expressions over a whole column at once.

Why: readers fill the ``host`` and ``domain`` columns of every web document, and
``url_filter`` matches hosts against block and allow lists; both run on every document, so
both are column expressions, never a Python call per URL.

**Host.** Parsed as leniently as tldextract's ``lenient_netloc`` (tldextract 5, the URL
splitter datatrove and FineWeb use), so that a URL with no scheme (``example.com/a``), a
protocol-relative one (``//example.com``) or a ``mailto:user@host`` still has a host:

1. surrounding whitespace is stripped; ``scheme://`` (scheme = letters, digits, ``+-.``) or a
   leading ``//`` is dropped;
2. the authority is what comes before the first ``/``, ``?`` or ``#``;
3. userinfo (everything up to the last ``@``) is dropped;
4. a bracketed IPv6 literal (``[::1]``) is kept with its brackets; otherwise the port (from
   the first ``:``) is dropped, whitespace stripped, and trailing dots (the DNS root label,
   also the ideographic full stops U+3002, U+FF0E, U+FF61) removed;
5. the ideographic full stops elsewhere become ``.`` (as UTS #46 maps them) and the host is
   lowercased (Unicode lowercasing, so ``BÜCHER.de`` -> ``bücher.de``).

An empty result is null, and a null URL gives a null host.

**IDNA: hosts keep the form the URL spells.** ``bücher.de`` and ``xn--bcher-kva.de`` stay two
different strings: converting every host to ASCII (A-labels) or back would take a Python call
per document (the ``idna`` codec has no vectorised form). Matching is unaffected where it
matters: every non-ASCII Public Suffix List rule is also kept in its A-label (punycode) form,
so ``xn--80aswg.xn--p1ai`` and ``сайт.рф`` both get their registered domain, and
``url_filter`` stores a non-ASCII list entry in both forms. (A host mixing the two forms
within its suffix, ``xn--80aswg.рф``, is not matched; no crawler writes one.)

**Registered domain** (eTLD+1): the public suffix of the host by the Public Suffix List
algorithm (publicsuffix.org/list: the longest matching rule; ``*.ck`` matches any label under
``ck``; an exception rule ``!www.ck`` wins and makes the suffix one label shorter), plus one
label. Like tldextract's default (``include_psl_private_domains=False``) and datatrove, only
the list's ICANN section is used unless ``private=True`` (then ``foo.blogspot.com`` is its
own registered domain rather than a subdomain of ``blogspot.com``). As in tldextract, and
unlike the PSL's implicit ``*`` default rule, a host whose last label is no public suffix
(``localhost``, ``intranet.corp``, an IPv4 or IPv6 address) has a null registered domain,
as does a host that is itself a public suffix (``co.uk``) or whose label before the suffix is
empty (``a..com``). ``tests/test_domains.py`` checks every value against tldextract on the
same list.

**The list** is the snapshot of the PyPI package ``publicsuffixlist`` (MPL-2.0; pinned in
``pyproject.toml``; the version number carries the snapshot's date), read from the package's
own file: nothing is fetched at run time.

**Vectorised.** A host's candidate suffixes (its last 1, 2, ... k labels, k up to the longest
rule) are made with Polars list slicing and checked against the rule sets with ``is_in``; the
suffix length is a ``max_horizontal`` over the candidates: 142,000-221,000 URLs/s on the
2-core development machine under load (``benchmarks/url_filter.py``, docs/rules.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import TypeVar

import polars as pl

#: Full stops other than U+002E that UTS #46 maps to "." (tldextract treats them alike).
IDEOGRAPHIC_DOTS = ("\u3002", "\uff0e", "\uff61")
#: ``scheme://`` (RFC 3986 scheme characters) or a leading ``//``.
_SCHEME = r"^(?:[A-Za-z0-9+.\-]+:)?//"


@dataclass(frozen=True)
class SuffixRules:
    """The Public Suffix List as three sets of lowercase suffix strings.

    ``normal``: plain rules (``co.uk``); ``wildcard``: the part after ``*.`` of a wildcard rule
    (``ck`` for ``*.ck``); ``exception``: the part after ``!`` (``www.ck``). ``max_labels`` is
    the most labels a candidate suffix needs to be checked against them.
    """

    normal: pl.Series
    wildcard: pl.Series
    exception: pl.Series
    max_labels: int


def _a_label_form(rule: str) -> str | None:
    """The ASCII (punycode) spelling of a non-ASCII rule, label by label; None when ASCII.

    Python's ``punycode`` codec is RFC 3492, which is the IDNA A-label of a label that is
    already lowercase and NFC, as PSL rules are.
    """
    if rule.isascii():
        return None
    return ".".join(
        label if label.isascii() else "xn--" + label.encode("punycode").decode("ascii")
        for label in rule.split(".")
    )


def parse_suffix_list(text: str, *, private: bool = False) -> SuffixRules:
    """Parse Public Suffix List text (publicsuffix.org's format) into :class:`SuffixRules`.

    A rule is the first whitespace-separated token of a line that is not a ``//`` comment;
    rules after ``===BEGIN PRIVATE DOMAINS===`` are used only with ``private=True``.
    """
    normal: set[str] = set()
    wildcard: set[str] = set()
    exception: set[str] = set()
    max_labels = 1
    for line in text.splitlines():  # ~16,000 lines, once per process
        line = line.strip()
        if line.startswith("// ===BEGIN PRIVATE DOMAINS===") and not private:
            break
        if not line or line.startswith("//"):
            continue
        rule = line.split()[0].lower()
        for spelling in (rule, _a_label_form(rule)):
            if spelling is None:
                continue
            if spelling.startswith("!"):
                exception.add(spelling[1:])
            elif spelling.startswith("*."):
                wildcard.add(spelling[2:])
            else:
                normal.add(spelling)
        max_labels = max(max_labels, rule.count(".") + 1)
    return SuffixRules(
        normal=pl.Series("normal", sorted(normal), dtype=pl.String),
        wildcard=pl.Series("wildcard", sorted(wildcard), dtype=pl.String),
        exception=pl.Series("exception", sorted(exception), dtype=pl.String),
        max_labels=max_labels,
    )


def suffix_list_text() -> str:
    """The Public Suffix List snapshot shipped in the ``publicsuffixlist`` package."""
    return (
        resources.files("publicsuffixlist")
        .joinpath("public_suffix_list.dat")
        .read_text(encoding="utf-8")
    )


def suffix_list_version() -> str:
    """The snapshot's version (``publicsuffixlist``'s, e.g. ``1.1.2.20261023``: its date)."""
    from importlib.metadata import version

    return version("publicsuffixlist")


@lru_cache(maxsize=2)
def suffix_rules(private: bool = False) -> SuffixRules:
    """The shipped list's rules (parsed once per process)."""
    return parse_suffix_list(suffix_list_text(), private=private)


def host_expr(url: pl.Expr) -> pl.Expr:
    """The lowercase host of each URL (module docstring: the parsing, step by step)."""
    schemeless = url.str.strip_chars().str.replace(_SCHEME, "")
    authority = schemeless.str.extract(r"^([^/?#]*)", 1)
    after_userinfo = authority.str.replace(r"^.*@", "")
    ipv6 = after_userinfo.str.extract(r"^(\[[^\]]*\])", 1)
    hostname = (
        after_userinfo.str.replace(r":.*$", "")
        .str.strip_chars()
        .str.strip_chars_end("." + "".join(IDEOGRAPHIC_DOTS))
    )
    host = pl.coalesce(ipv6, hostname)
    for dot in IDEOGRAPHIC_DOTS:
        host = host.str.replace_all(dot, ".", literal=True)
    host = host.str.to_lowercase()
    return pl.when(host.str.len_bytes() > 0).then(host).otherwise(None)


def host_suffixes(host: pl.Expr, max_labels: int) -> list[pl.Expr]:
    """``[s1, s2, ...]``: each host's last 1, 2, ... ``max_labels`` labels, joined by ``.``.

    ``s_k`` is null where the host has fewer than k labels (so ``s_k`` is never the whole host
    standing in for a longer suffix). Of ``a.b.example.com``: ``s1`` is ``com``, ``s2``
    ``example.com``, ``s3`` ``b.example.com``, ``s5`` null.
    """
    labels = host.str.split(".")
    count = labels.list.len()
    return [
        pl.when(count >= k).then(labels.list.slice(-k, k).list.join("."))
        for k in range(1, max_labels + 1)
    ]


FrameT = TypeVar("FrameT", pl.DataFrame, pl.LazyFrame)


def with_registered_domain(
    frame: FrameT, host: str = "host", out: str = "domain", *, private: bool = False
) -> FrameT:
    """``frame`` with column ``out``: the registered domain (eTLD+1) of column ``host``.

    Null where the host has none (module docstring). Staged as ``with_columns`` calls, the
    candidate suffixes materialised once as temporary columns: written as one nested
    expression, Polars re-evaluated the shared sub-expressions per use (measured: 3 s per
    100,000 URLs instead of 0.1 s).
    """
    rules = suffix_rules(private)
    # a wildcard rule *.X matches a candidate of k labels when its last k-1 labels are X;
    # one more candidate than the longest suffix is the registered domain itself
    depth = rules.max_labels + 2
    names = [f"__domains_s{k}" for k in range(1, depth + 1)]
    frame = frame.with_columns(
        e.alias(name) for e, name in zip(host_suffixes(pl.col(host), depth), names, strict=True)
    )
    normal, wildcard, exception = (
        rules.normal.implode(),
        rules.wildcard.implode(),
        rules.exception.implode(),
    )
    matched: list[pl.Expr] = []
    excepted: list[pl.Expr] = []
    for k in range(1, depth):
        candidate = pl.col(names[k - 1])
        hit = candidate.is_in(normal)
        if k >= 2:
            hit = hit | (candidate.is_not_null() & pl.col(names[k - 2]).is_in(wildcard))
        matched.append(pl.when(hit).then(pl.lit(k, dtype=pl.Int32)))
        excepted.append(pl.when(candidate.is_in(exception)).then(pl.lit(k - 1, dtype=pl.Int32)))
    suffix_len = "__domains_len"
    frame = frame.with_columns(
        pl.coalesce(pl.max_horizontal(excepted), pl.max_horizontal(matched)).alias(suffix_len)
    )
    # the suffix's labels plus one: candidate k+1 where the suffix has k labels (null when
    # the host has no more labels); an empty owner label (a..com) leaves no domain
    domain = pl.coalesce(
        [pl.when(pl.col(suffix_len) == k).then(pl.col(names[k])) for k in range(1, depth)]
    )
    valid = ~domain.str.starts_with(".") & ~pl.col(host).str.starts_with("[")
    return frame.with_columns(pl.when(valid).then(domain).otherwise(None).alias(out)).drop(
        [*names, suffix_len]
    )


def with_url_columns(frame: FrameT, url: str = "url", *, private: bool = False) -> FrameT:
    """``frame`` with ``host`` and ``domain`` computed from column ``url`` (readers use this)."""
    frame = frame.with_columns(host_expr(pl.col(url)).alias("host"))
    return with_registered_domain(frame, "host", "domain", private=private)


def hosts_and_domains(urls: pl.Series, *, private: bool = False) -> pl.DataFrame:
    """``host`` and ``domain`` of a Series of URLs, as a two-column frame aligned with it."""
    frame = pl.DataFrame({"url": urls.cast(pl.String)})
    return with_url_columns(frame, private=private).select("host", "domain")
