"""``url_filter``: drop documents by their URL: domain/URL block lists, an allow list, regexes.

Why: web corpora filter by source before they filter by text. OpenWebText (Gokaslan & Cohen
2019) chose its pages by URL (outbound Reddit links); RefinedWeb (Penedo et al. 2023)
and FineWeb (Penedo et al. 2024, through datatrove's ``URLFilter``) drop pages whose domain or
URL is on the UT1 blocklist (Université Toulouse Capitole's categorised lists of domains and
URLs, ``dsi.ut-capitole.fr/blacklists``), millions of entries, before any text rule runs.

**Lists** (``blocklist``, ``allowlist``): text files, one entry per line; blank lines and
comments (from ``#`` at the start of a line or after whitespace) are ignored. An entry is

- a *domain* (``ads.example.com``; a leading ``*.`` or ``.`` is allowed and means the same):
  it matches that host and every host under it (``x.ads.example.com``), never
  ``badads.example.com``;
- a *URL* when it has a scheme (``http://``) or a path (``example.com/page``): it matches that
  page only. URLs are compared after this normalisation, applied alike to entries and to
  documents: the scheme, userinfo, port and ``#fragment`` are dropped, the host is normalised
  as :func:`corpusclean.domains.host_expr` does (lowercase, no trailing dot), an empty path is
  ``/``; the path and query stay as written (they are case-sensitive, RFC 3986 section 6.2.2.1),
  so ``example.com/a`` and ``example.com/a/`` are two pages. ``http://example.com`` is the
  page ``example.com/``: list ``example.com`` to block the site.

A non-ASCII domain entry is stored in both spellings (Unicode and punycode A-labels), since
hosts keep the spelling of their URL (:mod:`corpusclean.domains`). An entry with whitespace
inside, or one with no host, is an error naming the file and line.

**Decision**, first that applies: a document without a URL (null or blank) is kept or
rejected by ``missing_url`` (default ``keep``: text inputs have no URLs, and a rule that drops
every document of a corpus without them would be a surprise) and, when kept, passes every
other check; then ``blocklist`` (the most specific entry: the URL, then the longest matching
domain); ``block_regex`` (the first pattern, in order); ``allowlist`` (when given, the host must
be, or be under, a listed domain, or the URL be a listed URL); ``allow_regex`` (when given, the
URL must match one). Regexes are Rust ``regex`` syntax (Polars ``str.contains``), searched in the
URL as written (``(?i)`` for case-insensitive). The ``detail`` names the rule and the entry:
``blocklist=ads.example.com (lists/block.txt:12)``, ``block_regex=/casino/``,
``allowlist: host=x.org not in allowlist``, ``allow_regex: url matches none``,
``missing_url: no url``.

**Memory, for lists of millions of entries.** No Python set of strings: each file is read in
1 MiB chunks, its lines split, normalised and hashed by Polars (vectorised), and the list is
kept as a sorted numpy ``uint64`` array of the entries' 64-bit hashes beside the entries
themselves in one Arrow string array (and their file and line, for the detail). A document's
URL key and its host's suffixes (last 1, 2, ... labels, up to the longest listed domain) are
hashed the same way and looked up with ``np.searchsorted``; every hash hit is checked against
the entry's text, so a hash collision can never reject the wrong page. docs/rules.md has the
measured load time, memory and throughput for a 1,000,000-entry list.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field, PrivateAttr, field_validator

from corpusclean import text as T
from corpusclean.domains import host_expr, host_suffixes
from corpusclean.steps.base import RunContext, Step, StepOptions, StepResult, first_failure

#: Bytes read from a list file at a time (a chunk's lines are processed as one Polars batch).
CHUNK_BYTES = 1 << 20
#: Seed of Polars' 64-bit string hash of list entries and lookup keys (any fixed value: a
#: table is built and looked up in the same process, and hits are checked on the text).
_SEED = 0x5EED
#: ``scheme://`` or a leading ``//`` (as in :mod:`corpusclean.domains`).
_SCHEME = r"^(?:[A-Za-z0-9+.\-]+:)?//"


def url_key_expr(url: pl.Expr) -> pl.Expr:
    """The normalised URL a URL entry and a document's URL are compared by (module doc)."""
    schemeless = url.str.strip_chars().str.replace(_SCHEME, "")
    path_query = schemeless.str.extract(r"^[^/?#]*([^#]*)", 1).fill_null("")
    path_query = (
        pl.when(path_query == "")
        .then(pl.lit("/"))
        .when(path_query.str.starts_with("?"))
        .then(pl.lit("/") + path_query)
        .otherwise(path_query)
    )
    host = host_expr(url)
    return pl.when(host.is_not_null()).then(host + path_query)


def _hash(keys: pl.Series) -> np.ndarray:
    return keys.hash(seed=_SEED).to_numpy()


def _a_label(host: str) -> str:
    """The punycode (A-label) spelling of a non-ASCII host, label by label."""
    return ".".join(
        label if label.isascii() else "xn--" + label.encode("punycode").decode("ascii")
        for label in host.split(".")
    )


@dataclass
class EntryTable:
    """A block or allow list: entries sorted by 64-bit hash, with their file and line.

    ``keys`` are the normalised entries (a domain, or a URL key with a ``/``: the two never
    collide), ``hashes`` their hashes in ascending order, ``files``/``lines`` where each came
    from (an index into ``sources``). ``max_labels`` is the most labels of a domain entry.
    """

    sources: list[str]
    hashes: np.ndarray = field(default_factory=lambda: np.empty(0, np.uint64))
    keys: pa.Array = field(default_factory=lambda: pa.array([], pa.large_string()))
    files: np.ndarray = field(default_factory=lambda: np.empty(0, np.uint16))
    lines: np.ndarray = field(default_factory=lambda: np.empty(0, np.uint32))
    max_labels: int = 0
    has_urls: bool = False

    def __len__(self) -> int:
        return len(self.hashes)

    @property
    def nbytes(self) -> int:
        """Bytes the table holds (hashes, keys, files, lines)."""
        return int(self.hashes.nbytes + self.keys.nbytes + self.files.nbytes + self.lines.nbytes)

    def lookup(self, keys: pl.Series) -> np.ndarray:
        """Per key, the index of the equal entry (-1: none); null keys never match."""
        out = np.full(len(keys), -1, dtype=np.int64)
        if len(self) == 0 or len(keys) == 0:
            return out
        wanted = _hash(keys)
        pos = np.minimum(np.searchsorted(self.hashes, wanted), len(self) - 1)
        hit = (self.hashes[pos] == wanted) & keys.is_not_null().to_numpy()
        rows = np.flatnonzero(hit)
        if rows.size == 0:
            return out
        candidates = keys.gather(rows).to_arrow().cast(pa.large_string())
        found = self.keys.take(pa.array(pos[rows]))
        same = pc.equal(candidates, found).to_numpy(zero_copy_only=False)
        out[rows[same]] = pos[rows[same]]
        # Equal hashes, different text: a 64-bit collision, expected about never (1e6 entries
        # and 1e9 lookups: ~5e-5); the other entries with that hash are checked one by one.
        for row in rows[~same]:
            key, index = keys[int(row)], int(pos[row]) + 1
            while index < len(self) and self.hashes[index] == wanted[row]:
                if self.keys[index].as_py() == key:
                    out[row] = index
                    break
                index += 1
        return out

    def describe(self, index: int) -> str:
        """``entry (file:line)`` of entry ``index``, for the detail."""
        source = self.sources[int(self.files[index])]
        return f"{self.keys[index].as_py()} ({source}:{int(self.lines[index])})"


def _chunk_entries(raw: pl.Series, first_line: int, source: str) -> pl.DataFrame:
    """One chunk's lines -> ``key, line, is_url`` of its entries (blank/comment lines out)."""
    frame = pl.DataFrame({"raw": raw}).with_row_index("line", offset=first_line)
    entry = pl.col("raw").str.replace(r"(^|\s)#.*$", "").str.strip_chars()
    frame = frame.with_columns(entry.alias("entry")).filter(pl.col("entry") != "")
    bad = frame.filter(pl.col("entry").str.contains(r"\s"))
    if bad.height:
        line, text = bad.row(0, named=True)["line"], bad.row(0, named=True)["entry"]
        raise ValueError(f"{source}:{line}: whitespace inside an entry: {text!r}")
    e = pl.col("entry")
    is_url = e.str.contains(_SCHEME) | e.str.replace(_SCHEME, "").str.contains("/")
    domain = host_expr(e.str.replace(r"^\*?\.", ""))
    frame = frame.select(
        pl.when(is_url).then(url_key_expr(e)).otherwise(domain).alias("key"),
        pl.col("line").cast(pl.UInt32),
        is_url.alias("is_url"),
        e,
    )
    empty = frame.filter(pl.col("key").is_null())
    if empty.height:
        row = empty.row(0, named=True)
        raise ValueError(f"{source}:{row['line']}: no host in entry {row['entry']!r}")
    # a non-ASCII domain also in its punycode spelling: a Python call per such entry only
    unicode = frame.filter(~pl.col("is_url") & ~pl.col("key").str.contains(r"^[\x00-\x7f]*$"))
    if unicode.height:
        extra = unicode.with_columns(
            pl.Series("key", [_a_label(k) for k in unicode.get_column("key")], pl.String)
        )
        frame = pl.concat([frame, extra])
    return frame.select("key", "line", "is_url")


def _read_lines(path: Path) -> Iterator[tuple[int, pl.Series]]:
    """Yield ``(first line number, lines)`` of a file, 1 MiB at a time (streamed)."""
    line = 1
    tail = b""
    with path.open("rb") as handle:
        while True:
            chunk = handle.read(CHUNK_BYTES)
            data = tail + chunk
            if chunk:
                cut = data.rfind(b"\n") + 1
                data, tail = data[:cut], data[cut:]
            if data:
                try:
                    text = data.decode("utf-8")
                except UnicodeDecodeError as exc:
                    raise ValueError(f"{path}: not UTF-8 at byte {exc.start} of a chunk") from None
                lines = pl.Series("raw", [text], pl.String).str.split("\n").explode()
                if text.endswith("\n"):
                    lines = lines.head(len(lines) - 1)
                yield line, lines.str.strip_chars_end("\r")
                line += len(lines)
            if not chunk:
                return


def load_entries(paths: list[Path], names: list[str]) -> EntryTable:
    """Read list files into one :class:`EntryTable` (``names`` are shown in details)."""
    hashes: list[np.ndarray] = []
    keys: list[pa.Array] = []
    files: list[np.ndarray] = []
    lines: list[np.ndarray] = []
    max_labels, has_urls = 0, False
    for number, (path, name) in enumerate(zip(paths, names, strict=True)):
        for first, raw in _read_lines(path):
            entries = _chunk_entries(raw, first, name)
            if entries.height == 0:
                continue
            key = entries.get_column("key")
            is_url = entries.get_column("is_url")
            hashes.append(_hash(key))
            keys.append(key.to_arrow().cast(pa.large_string()))
            files.append(np.full(entries.height, number, np.uint16))
            lines.append(entries.get_column("line").to_numpy())
            domains = key.filter(~is_url)
            if len(domains):
                max_labels = max(max_labels, int(domains.str.count_matches(r"\.").max()) + 1)
            has_urls = has_urls or bool(is_url.any())
    table = EntryTable(sources=names, max_labels=max_labels, has_urls=has_urls)
    if not hashes:
        return table
    all_hashes = np.concatenate(hashes)
    del hashes
    order = np.argsort(all_hashes, kind="stable")  # first occurrence first among equals
    table.hashes = all_hashes[order]
    del all_hashes
    table.keys = pa.chunked_array(keys).combine_chunks().take(pa.array(order))
    del keys
    table.files = np.concatenate(files)[order]
    table.lines = np.concatenate(lines)[order]
    del order, files, lines
    pa.default_memory_pool().release_unused()  # the sort's temporaries, back to the system
    return table


class UrlFilterOptions(StepOptions):
    blocklist: str | list[str] | None = Field(
        None,
        description="list file(s), relative to the rules' folder: one domain (blocks it and "
        "its subdomains) or URL per line, # comments",
    )
    allowlist: str | list[str] | None = Field(
        None, description="list file(s): when given, keep only hosts under a listed domain"
    )
    block_regex: list[str] | None = Field(
        None, description="drop a document whose URL contains a match (Rust regex syntax)"
    )
    allow_regex: list[str] | None = Field(
        None, description="when given, keep only documents whose URL matches one of these"
    )
    missing_url: Literal["keep", "drop"] = Field(
        "keep", description="a document without a URL: keep (passes every check) or drop"
    )
    #: The list paths as the rules wrote them (shown in details); set by :meth:`bind`.
    _shown: dict[str, str] = PrivateAttr(default_factory=dict)

    @field_validator("block_regex", "allow_regex")
    @classmethod
    def _patterns(cls, value: list[str] | None) -> list[str] | None:
        if value is not None:
            if not value:
                raise ValueError("list at least one pattern (or leave the key out)")
            for pattern in value:
                try:
                    pl.Series([""]).str.contains(pattern)
                except pl.exceptions.ComputeError as exc:
                    message = str(exc).splitlines()[0]
                    raise ValueError(f"bad regex {pattern!r}: {message}") from None
        return value

    def files(self, key: Literal["blocklist", "allowlist"]) -> list[str]:
        value = getattr(self, key)
        return [] if value is None else [value] if isinstance(value, str) else list(value)

    def shown(self, path: str) -> str:
        return self._shown.get(path, path)


class UrlFilterStep(Step[UrlFilterOptions]):
    name = "url_filter"
    summary = (
        "Drop documents whose domain or URL is blocklisted (or not allowlisted) or matches a regex."
    )
    source = (
        "datatrove URLFilter (FineWeb, Penedo et al. 2024; RefinedWeb 2023) with the UT1 "
        "blocklist (Universite Toulouse Capitole); OpenWebText's URL-based selection"
    )

    def __init__(self, options: UrlFilterOptions) -> None:
        super().__init__(options)
        self._block: EntryTable | None = None
        self._allow: EntryTable | None = None

    @classmethod
    def bind(cls, options: UrlFilterOptions, context: RunContext) -> UrlFilterOptions:
        """Resolve list paths against the rules' folder and read them once, so that a missing
        file or a bad line stops the run before anything is written."""
        shown: dict[str, str] = {}
        update: dict[str, str | list[str] | None] = {}
        for key in ("blocklist", "allowlist"):
            resolved = []
            for written in options.files(key):  # type: ignore[arg-type]
                path = Path(written).expanduser()
                if not path.is_absolute():
                    path = context.rules_dir / path
                if not path.is_file():
                    raise ValueError(f"{key}: file not found: {path}")
                try:
                    load_entries([path], [written])
                except (ValueError, OSError) as exc:
                    raise ValueError(f"{key}: {exc}") from None
                resolved.append(str(path.resolve()))
                shown[str(path.resolve())] = written
            value = getattr(options, key)
            update[key] = (
                None if value is None else resolved[0] if isinstance(value, str) else resolved
            )
        bound = options.model_copy(update=update)
        bound._shown = shown
        return bound

    def setup(self) -> None:
        opts = self.options
        for key in ("blocklist", "allowlist"):
            paths = opts.files(key)  # type: ignore[arg-type]
            if paths:
                table = load_entries([Path(p) for p in paths], [opts.shown(p) for p in paths])
                setattr(self, "_block" if key == "blocklist" else "_allow", table)

    def _match(self, table: EntryTable, keys: pl.DataFrame) -> np.ndarray:
        """Per row, the index of the most specific matching entry (-1: none)."""
        best = np.full(keys.height, -1, dtype=np.int64)
        if table.has_urls:
            best = table.lookup(keys.get_column("url_key"))
        for k in range(table.max_labels, 0, -1):  # longest (most specific) domain first
            if (best >= 0).all():
                break
            found = table.lookup(keys.get_column(f"s{k}"))
            best = np.where(best >= 0, best, found)
        return best

    def apply(self, batch: pl.DataFrame) -> StepResult:
        opts = self.options
        if (opts.blocklist and self._block is None) or (opts.allowlist and self._allow is None):
            self.setup()
        url = pl.col("url") if "url" in batch.columns else pl.lit(None, dtype=pl.String)
        tables = [t for t in (self._block, self._allow) if t is not None]
        depth = max((t.max_labels for t in tables), default=0)
        keys = batch.select(
            url.alias("url"),
            url_key_expr(url).alias("url_key"),
            host_expr(url).alias("host"),
            (url.is_null() | (url.str.strip_chars() == "")).alias("missing"),
        ).with_columns(
            e.alias(f"s{k}") for k, e in enumerate(host_suffixes(pl.col("host"), depth), 1)
        )
        rules: list[tuple[pl.Expr, pl.Expr]] = []
        present = ~pl.col("missing")
        if opts.missing_url == "drop":
            rules.append((pl.col("missing"), pl.lit("missing_url: no url")))
        if self._block is not None:
            found = self._match(self._block, keys)
            detail = [None] * keys.height
            # one Python call per *rejected* row, to format its detail
            for row in np.flatnonzero(found >= 0):
                detail[row] = "blocklist=" + self._block.describe(int(found[row]))
            keys = keys.with_columns(pl.Series("_block", detail, pl.String))
            rules.append((present & pl.col("_block").is_not_null(), pl.col("_block")))
        for pattern in opts.block_regex or ():
            rules.append(
                (present & pl.col("url").str.contains(pattern), pl.lit(f"block_regex={pattern}"))
            )
        if self._allow is not None:
            allowed = self._match(self._allow, keys) >= 0
            keys = keys.with_columns(pl.Series("_allowed", allowed, pl.Boolean))
            rules.append(
                (
                    present & ~pl.col("_allowed"),
                    pl.format("allowlist: host={} not in allowlist", pl.col("host").fill_null("")),
                )
            )
        if opts.allow_regex:
            matches = pl.any_horizontal(pl.col("url").str.contains(p) for p in opts.allow_regex)
            rules.append((present & ~matches, pl.lit("allow_regex: url matches none")))
        reject = first_failure(keys, rules)
        counters = T.rule_counters(reject)
        counters["missing_url"] = int(keys.get_column("missing").sum())
        return StepResult(frame=batch, reject=reject, counters=counters)


__all__ = ["EntryTable", "UrlFilterOptions", "UrlFilterStep", "load_entries", "url_key_expr"]
