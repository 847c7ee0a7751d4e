"""Reading a finished run's folder: dropped documents chosen at random, one document's fate,
duplicate clusters.

Why a module of its own: ``corpusclean inspect`` (:mod:`corpusclean.inspect`) and the corpus
report both look back at what a run left (``docs/contract.md``, "Output layout"): the kept
``documents/`` parts, the ``rejected/`` parts (``id, text, reason, detail, source, line``) and
``stats.json``. A run may hold millions of documents and gigabytes of text, so nothing here
loads whole texts: every scan reads only the columns it needs (Parquet projection), one part
at a time or through Polars' streaming engine, and texts are read only of the rows chosen,
part by part (:func:`read_rows`).

Reproducible choice: :func:`choose_rejected` takes the ``n`` rows of a step whose seeded hash of
the id is smallest (ties broken by part name and row), a bottom-``n`` sample in the manner of
reservoir sampling by random keys (Efraimidis & Spirakis 2006, with keys from a hash instead of
a generator). Part names and contents do not depend on the worker count or executor
(``docs/design.md``, "Determinism"), so neither does the choice. The hash is built here from
the id's bytes with :func:`corpusclean.hashing.fmix64` (:func:`id_hash`), not Polars'
``Series.hash``, which is not stable across Polars versions.

Duplicates: what each deduplication step writes in ``detail`` is described in one table,
:data:`DUPLICATE_DETAILS` (a regular expression naming the survivor and, for near-duplicates,
the similarity); :data:`LINE_LEVEL_STEPS` are the steps that deduplicate lines, whose
rejections (a document emptied of lines) name no survivor.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import polars as pl

from corpusclean.hashing import fmix64

DOCUMENTS = "documents"
REJECTED = "rejected"

#: Per deduplication step, the pattern of its ``detail``: group ``survivor`` is the id of the
#: document kept in its place; ``measure`` and ``similarity``, where present, the similarity it
#: was dropped at. The formats are written by ``steps/exact_dedup.py`` (``duplicate of ID``) and
#: ``steps/minhash_dedup.py`` (``near-duplicate of ID (jaccard=0.873)``, ``estimated_jaccard``
#: without ``verify``). The survivor group is greedy, so an id holding parentheses still parses.
DUPLICATE_DETAILS: dict[str, str] = {
    "exact_dedup": r"^duplicate of (?P<survivor>.*)$",
    "minhash_dedup": (
        r"^near-duplicate of (?P<survivor>.*) "
        r"\((?P<measure>jaccard|estimated_jaccard)=(?P<similarity>[^()]*)\)$"
    ),
}
#: Deduplication steps that remove lines, not documents: a rejection (every line removed) has
#: no survivor (``steps/line_dedup.py``: ``all N non-blank lines are frequent elsewhere``).
LINE_LEVEL_STEPS: frozenset[str] = frozenset({"line_dedup"})

#: Characters of an opening line kept by :func:`opening_line`.
OPENING_CHARS = 200

#: Types of the columns of ``rejected/`` parts (``docs/contract.md``).
COLUMN_TYPES: dict[str, pl.DataType] = {
    "id": pl.String(),
    "reason": pl.String(),
    "detail": pl.String(),
    "source": pl.String(),
    "line": pl.Int64(),
    "text": pl.String(),
}


class RunFolderError(ValueError):
    """The folder is not a finished run's output, or a step is not one of its steps."""


class DocumentNotFound(LookupError):
    """No document with this id in the run's ``documents/`` or ``rejected/``."""


# --- the folder -------------------------------------------------------------------------------


def read_stats(directory: Path | str) -> dict[str, Any]:
    """``stats.json`` of a finished run; :class:`RunFolderError` when there is none."""
    path = Path(directory) / "stats.json"
    if not path.is_file():
        raise RunFolderError(f"{directory}: no stats.json here (is it a corpusclean run output?)")
    return json.loads(path.read_text(encoding="utf-8"))


def step_names(directory: Path | str) -> list[str]:
    """The reasons a document of the run may have been dropped for: its steps in order
    (``stats.json``'s ``steps``), then any other key of ``rejected`` (a reader's own rejections,
    ``warc`` for a WARC record that is no HTML page)."""
    stats = read_stats(directory)
    names = [step["name"] for step in stats.get("steps", [])]
    return names + [r for r in stats.get("rejected", {}) if r not in names]


def check_step(directory: Path | str, step: str) -> None:
    """:class:`RunFolderError` naming the valid steps unless ``step`` is one of the run's."""
    names = step_names(directory)
    if step not in names:
        raise RunFolderError(
            f"{step!r} is not a step of the run in {directory}; its steps: "
            + (", ".join(names) or "(none)")
        )


def parts(directory: Path | str, folder: str) -> list[Path]:
    """Part files of ``documents/`` or ``rejected/`` in name order (input order, then pass)."""
    return sorted((Path(directory) / folder).glob("part-*.parquet"))


def _scan(directory: Path, folder: str) -> list[tuple[str, pl.LazyFrame]]:
    """``(part path relative to the run, lazy frame with a _row index)`` per part."""
    return [
        (f"{folder}/{p.name}", pl.scan_parquet(p, row_index_name="_row"))
        for p in parts(directory, folder)
    ]


def read_rows(
    directory: Path | str, part: str, rows: Sequence[int], columns: Sequence[str]
) -> pl.DataFrame:
    """``columns`` of the given rows of one part (``part`` relative to the run folder, as the
    functions here name it), with ``_row``, in row order: how texts of chosen rows are read."""
    wanted = pl.Series(list(rows), dtype=pl.UInt32)
    return compact(
        pl.scan_parquet(Path(directory) / part, row_index_name="_row")
        .filter(pl.col("_row").is_in(wanted.implode()))
        .select("_row", *columns)
        .collect()
    )


def compact(frame: pl.DataFrame) -> pl.DataFrame:
    """A copy of a few rows that owns its strings. Polars' string columns are views into the
    buffers of the column they were filtered from, so two rows filtered from a part pin the
    whole decoded part (measured on 100 parts of 5,000 rows of 1 KB texts, 2 rows kept of each:
    427 MB peak RSS, against 119 MB with this copy). Kept rows are few (chosen documents, one
    id's occurrences, the first members of a few clusters), hence the copy through Python."""
    return pl.DataFrame(
        {name: frame.get_column(name).to_list() for name in frame.columns}, schema=frame.schema
    )


def _read_located(directory: Path, located: pl.DataFrame, columns: Sequence[str]) -> pl.DataFrame:
    """``columns`` for every ``(_part, _row)`` of ``located``, read part by part."""
    frames = [
        read_rows(directory, part, group.get_column("_row").to_list(), columns).with_columns(
            pl.lit(part).alias("_part")
        )
        for (part,), group in located.group_by("_part", maintain_order=True)
    ]
    schema = {"_row": pl.UInt32, **{c: COLUMN_TYPES[c] for c in columns}, "_part": pl.String}
    if not frames:
        return pl.DataFrame(schema=schema)
    return pl.concat(frames, how="vertical_relaxed")


# --- the stable hash ----------------------------------------------------------------------------


def id_hash(ids: pl.Series, seed: int = 0) -> np.ndarray:
    """A seeded 64-bit hash of each id's UTF-8 bytes (uint64), the same on every platform and
    Polars version: pure ``uint64`` arithmetic over the Arrow buffers, no Python loop.

    ``h(s) = fmix64(sum_k fmix64((k << 8 | s[k]) ^ m) ^ fmix64(len(s) ^ m))`` with
    ``m = fmix64(seed ^ 0x9E3779B97F4A7C15)``, sums modulo 2^64: each term mixes a byte with its
    position, so order counts, and the seed changes every term. A null id hashes as ``""``.
    """
    array = ids.fill_null("").cast(pl.String).to_arrow(compat_level=pl.CompatLevel.oldest())
    if hasattr(array, "combine_chunks"):
        array = array.combine_chunks()
    _, offsets_buf, data_buf = array.buffers()
    offsets = np.frombuffer(offsets_buf, dtype=np.int64)[
        array.offset : array.offset + len(array) + 1
    ]
    start = int(offsets[0]) if len(offsets) else 0
    end = int(offsets[-1]) if len(offsets) else 0
    data = (
        np.frombuffer(data_buf, dtype=np.uint8)[start:end]
        if data_buf is not None and end > start
        else np.zeros(0, np.uint8)
    )
    lengths = np.diff(offsets)
    m = fmix64(np.array([(seed ^ 0x9E3779B97F4A7C15) & ((1 << 64) - 1)], dtype=np.uint64))[0]
    position = np.arange(data.size, dtype=np.int64) - np.repeat(offsets[:-1] - start, lengths)
    terms = fmix64(((position.astype(np.uint64) << np.uint64(8)) | data.astype(np.uint64)) ^ m)
    sums = np.concatenate([np.zeros(1, np.uint64), np.cumsum(terms, dtype=np.uint64)])
    local = offsets - start
    with np.errstate(over="ignore"):
        total = sums[local[1:]] - sums[local[:-1]]
    return fmix64(total ^ fmix64(lengths.astype(np.uint64) ^ m))


# --- dropped documents chosen at random ---------------------------------------------------------


def grep_pattern(word: str) -> str:
    """The regular expression ``grep`` is matched with: the word as a literal substring,
    case-insensitive (``spam`` matches ``Spamming``): escaped, so ``a.b`` means ``a.b``."""
    return "(?i)" + pl.escape_regex(word)


CHOSEN_COLUMNS = ("id", "reason", "detail", "source", "line", "text")


def choose_rejected(
    directory: Path | str, reason: str, n: int, seed: int = 0, grep: str | None = None
) -> pl.DataFrame:
    """``n`` documents dropped by step ``reason`` (fewer when it dropped fewer), chosen
    reproducibly at random: the rows whose :func:`id_hash` under ``seed`` is smallest, ties by
    part name and row, so the same for the same folder contents, ``n`` and ``seed`` whatever the
    worker count of the run. ``grep`` keeps only documents whose text contains it (a
    case-insensitive substring, :func:`grep_pattern`) before choosing.

    Columns ``id, reason, detail, source, line, text``, in the order chosen (smallest key first,
    so the first ``k`` of a choice of ``n`` are the choice of ``k``). Reads ``id`` and ``reason``
    per part (``text`` too with ``grep``), then the chosen rows' texts part by part.
    """
    return choose_rejected_by_reason(directory, [reason], n, seed, grep)[reason]


def choose_rejected_by_reason(
    directory: Path | str,
    reasons: Sequence[str],
    n: int,
    seed: int = 0,
    grep: str | None = None,
) -> dict[str, pl.DataFrame]:
    """:func:`choose_rejected` for several steps in one pass over ``rejected/`` (the report
    wants a few documents of every step: one scan of the parts' ids instead of one per step;
    on a 1,000,000-document run, 7.2 s instead of 23.3 s:
    ``benchmarks/report_scale.py --parts``). Every reason gets its own choice, the same
    as :func:`choose_rejected` would make for it alone."""
    directory = Path(directory)
    empty = pl.DataFrame(schema={c: COLUMN_TYPES[c] for c in CHOSEN_COLUMNS})
    wanted = list(dict.fromkeys(reasons))
    if n <= 0 or not wanted:
        return {r: empty for r in wanted}
    keys = pl.DataFrame(
        schema={"reason": pl.String, "_key": pl.UInt64, "_part": pl.String, "_row": pl.UInt32}
    )
    order = ["reason", "_key", "_part", "_row"]
    for part, scan in _scan(directory, REJECTED):
        rows = scan.filter(pl.col("reason").is_in(wanted))
        if grep is not None:
            rows = rows.filter(pl.col("text").str.contains(grep_pattern(grep)))
        found = rows.select("_row", "id", "reason").collect()
        if found.is_empty():
            continue
        candidates = pl.DataFrame(
            {
                "reason": found.get_column("reason"),
                "_key": id_hash(found.get_column("id"), seed),
                "_part": pl.Series([part] * found.height, dtype=pl.String),
                "_row": found.get_column("_row"),
            }
        )
        # keep only the n best so far per reason: memory is n rows a reason plus one part's ids
        keys = compact(
            pl.concat([keys, candidates])
            .sort(order)
            .group_by("reason", maintain_order=True)
            .head(n)
        )
    rows = _read_located(directory, keys, [c for c in CHOSEN_COLUMNS if c != "reason"])
    chosen = (
        keys.join(rows, on=["_part", "_row"], how="left", maintain_order="left")
        .select(CHOSEN_COLUMNS)
        .cast({"line": pl.Int64})
    )
    return {r: chosen.filter(pl.col("reason") == r) for r in wanted}


# --- one document's fate ------------------------------------------------------------------------


@dataclass(frozen=True)
class Placement:
    """One occurrence of an id in the run: kept or rejected, and for a duplicate its survivor.

    ``part`` is relative to the run folder (``documents/part-...parquet`` or
    ``rejected/part-...parquet``) and ``row`` the row in it. ``source``/``line`` are known for
    rejected documents only (``documents/`` does not store them). ``survivor_placements`` says
    where the survivor went, each with its own survivor when it was itself dropped as a
    duplicate later (chains followed; an occurrence already on the chain is not repeated).
    """

    id: str
    outcome: Literal["kept", "rejected"]
    part: str
    row: int
    reason: str | None = None
    detail: str | None = None
    source: str | None = None
    line: int | None = None
    survivor: str | None = None
    measure: str | None = None
    similarity: float | None = None
    survivor_placements: tuple[Placement, ...] = field(default_factory=tuple)


def parse_duplicate(reason: str, detail: str | None) -> dict[str, str | float | None] | None:
    """``{"survivor", "measure", "similarity"}`` from a duplicate's detail, or None when the step
    is not a document deduplication step or the detail does not have its format."""
    pattern = DUPLICATE_DETAILS.get(reason)
    if pattern is None or detail is None:
        return None
    match = re.match(pattern, detail)
    if match is None:
        return None
    groups = match.groupdict()
    similarity = groups.get("similarity")
    return {
        "survivor": groups["survivor"],
        "measure": groups.get("measure"),
        "similarity": _float(similarity),
    }


def _float(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _locate(directory: Path, ids: Iterable[str]) -> pl.DataFrame:
    """Every occurrence of the ids: ``id, _part, _row, outcome, reason, detail, source, line``
    (reads ``id`` of kept parts and the short columns of rejected ones, never ``text``)."""
    wanted = pl.Series(sorted(set(ids)), dtype=pl.String)
    short = {"reason": pl.String, "detail": pl.String, "source": pl.String, "line": pl.Int64}
    schema = {
        "id": pl.String,
        "_row": pl.UInt32,
        **short,
        "_part": pl.String,
        "outcome": pl.String,
    }
    frames = [pl.DataFrame(schema=schema)]
    for folder in (DOCUMENTS, REJECTED):
        for part, scan in _scan(directory, folder):  # part by part: one part's ids at a time
            found = scan.filter(pl.col("id").is_in(wanted.implode()))
            if folder == DOCUMENTS:
                found = found.select("id", "_row").with_columns(
                    *(pl.lit(None, dtype=t).alias(c) for c, t in short.items())
                )
            else:
                found = found.select("id", "_row", *short).cast(short)  # type: ignore[arg-type]
            found = found.with_columns(
                pl.lit(part).alias("_part"),
                pl.lit("kept" if folder == DOCUMENTS else "rejected").alias("outcome"),
            ).collect()
            if found.height:
                frames.append(compact(found))
    return pl.concat(frames, how="vertical_relaxed")


def find_document(directory: Path | str, doc_id: str) -> list[Placement]:
    """Where every occurrence of ``doc_id`` went (ids may repeat in the input: all are listed,
    kept ones first, then in part order), with survivors followed for duplicates.
    :class:`DocumentNotFound` when the id is nowhere in ``documents/`` or ``rejected/``.

    One scan of the id columns per link of the longest survivor chain."""
    directory = Path(directory)
    read_stats(directory)
    by_id: dict[str, list[dict[str, Any]]] = {}
    frontier = {doc_id}
    while frontier:
        located = _locate(directory, frontier)
        for value in frontier:
            by_id[value] = []
        for row in located.iter_rows(named=True):  # a handful of occurrences: a loop is fine
            by_id[row["id"]].append(row)
        frontier = set()
        for rows in by_id.values():
            for row in rows:
                parsed = parse_duplicate(row["reason"] or "", row["detail"])
                if parsed is not None and parsed["survivor"] not in by_id:
                    frontier.add(str(parsed["survivor"]))
    if not by_id[doc_id]:
        raise DocumentNotFound(
            f"no document with id {doc_id!r} in {directory} (documents/ and rejected/ searched;"
            " unreadable records in errors/ have no id)"
        )

    def build(value: str, path: frozenset[tuple[str, int]]) -> tuple[Placement, ...]:
        out = []
        for row in by_id.get(value, []):
            where = (row["_part"], int(row["_row"]))
            if where in path:
                continue
            parsed = parse_duplicate(row["reason"] or "", row["detail"]) or {}
            survivor = parsed.get("survivor")
            out.append(
                Placement(
                    id=value,
                    outcome=row["outcome"],
                    part=row["_part"],
                    row=int(row["_row"]),
                    reason=row["reason"],
                    detail=row["detail"],
                    source=row["source"],
                    line=row["line"],
                    survivor=None if survivor is None else str(survivor),
                    measure=parsed.get("measure"),  # type: ignore[arg-type]
                    similarity=parsed.get("similarity"),  # type: ignore[arg-type]
                    survivor_placements=()
                    if survivor is None
                    else build(str(survivor), path | {where}),
                )
            )
        return tuple(sorted(out, key=lambda p: (p.outcome != "kept", p.part, p.row)))

    return list(build(doc_id, frozenset()))


# --- duplicate clusters -------------------------------------------------------------------------


@dataclass(frozen=True)
class ClusterMember:
    """A document dropped as a duplicate of a cluster's survivor."""

    id: str
    similarity: float | None
    opening: str
    source: str | None
    line: int | None


@dataclass(frozen=True)
class Cluster:
    """A survivor and the documents dropped as its duplicates. ``size`` counts the survivor and
    every duplicate; ``members`` lists the first duplicates in input order (source, line).
    ``survivor_opening`` is None when the survivor's text is not in the run."""

    survivor: str
    survivor_opening: str | None
    size: int
    members: tuple[ClusterMember, ...]


@dataclass(frozen=True)
class DuplicateClusters:
    """The largest clusters of one deduplication step and the distribution of cluster sizes.

    ``size_counts`` maps a cluster size (survivor + duplicates, so >= 2) to the number of
    clusters of that size, over every cluster of the step; survivors without a duplicate are not
    counted (the run does not say which kept documents a step compared). ``unparsed`` counts
    rejections whose detail does not have the step's format (0 for a run of this version).
    """

    step: str
    duplicates: int
    clusters: int
    size_counts: dict[int, int]
    largest: tuple[Cluster, ...]
    unparsed: int = 0


def opening_line(text: str | None, limit: int = OPENING_CHARS) -> str:
    """The first non-blank line, whitespace-collapsed, cut to ``limit`` characters ("…")."""
    if not text:
        return ""
    for line in text.splitlines():
        line = " ".join(line.split())
        if line:
            return line if len(line) <= limit else line[: limit - 1] + "…"
    return ""


def dedup_steps() -> tuple[str, ...]:
    """The document deduplication steps :func:`duplicate_clusters` understands."""
    return tuple(DUPLICATE_DETAILS)


def duplicate_clusters(
    directory: Path | str, step: str, top: int = 10, members: int = 20
) -> DuplicateClusters:
    """Clusters of deduplication step ``step``: each survivor with the documents rejected as its
    duplicates. The ``top`` largest (size descending, then survivor id) with up to ``members``
    members each, and the size distribution over all the step's clusters.

    Counting is a streaming group-by over ``reason, detail`` of ``rejected/`` (memory: one row
    per survivor); the members of the top clusters are then found with ``id, detail, source,
    line``, and only their texts and their survivors' texts are read. :class:`ValueError` for a
    step that is not a document deduplication step.
    """
    directory = Path(directory)
    if step in LINE_LEVEL_STEPS:
        raise ValueError(f"{step} removes lines, not documents: its rejections name no survivor")
    if step not in DUPLICATE_DETAILS:
        raise ValueError(
            f"{step!r} is not a document deduplication step (those are: "
            + ", ".join(DUPLICATE_DETAILS)
            + ")"
        )
    pattern = DUPLICATE_DETAILS[step]
    files = parts(directory, REJECTED)
    has_similarity = "(?P<similarity>" in pattern
    survivor = pl.col("detail").str.extract(pattern, 1).alias("survivor")
    empty = DuplicateClusters(step=step, duplicates=0, clusters=0, size_counts={}, largest=())
    if not files:
        return empty
    mine = pl.scan_parquet(files).filter(pl.col("reason") == step)
    counted = (
        mine.select(survivor)
        .group_by("survivor")
        .agg(pl.len().alias("duplicates"))
        .collect(engine="streaming")
    )
    if counted.is_empty():
        return empty
    unparsed_rows = counted.filter(pl.col("survivor").is_null())
    unparsed = int(unparsed_rows.get_column("duplicates").sum()) if unparsed_rows.height else 0
    counted = counted.filter(pl.col("survivor").is_not_null()).with_columns(
        (pl.col("duplicates") + 1).alias("size")
    )
    sizes = counted.group_by("size").agg(pl.len().alias("n")).sort("size")
    size_counts = dict(
        zip(sizes.get_column("size").to_list(), sizes.get_column("n").to_list(), strict=True)
    )
    chosen = counted.sort(["size", "survivor"], descending=[True, False]).head(top)
    chosen_ids = chosen.get_column("survivor")

    # members of the chosen clusters: short columns only, then the first `members` per cluster
    order = ("source", "line", "_part", "_row")
    member_rows = pl.DataFrame(
        schema={
            "_row": pl.UInt32,
            "id": pl.String,
            "detail": pl.String,
            "source": pl.String,
            "line": pl.Int64,
            "survivor": pl.String,
            "_part": pl.String,
        }
    )
    for part, scan in _scan(directory, REJECTED):  # the first `members` so far, per cluster
        found = (
            scan.filter(pl.col("reason") == step)
            .select("_row", "id", "detail", "source", "line", survivor)
            .filter(pl.col("survivor").is_in(chosen_ids.implode()))
            .with_columns(pl.lit(part).alias("_part"))
            .collect()
        )
        if found.is_empty():
            continue
        member_rows = (
            pl.concat([member_rows, compact(found)], how="vertical_relaxed")
            .sort(*order, nulls_last=True)
            .group_by("survivor", maintain_order=True)
            .head(members)
            .select(member_rows.columns)
        )
    member_texts = _read_located(directory, member_rows, ["text"])
    member_rows = member_rows.join(member_texts, on=["_part", "_row"], how="left")
    if has_similarity:
        member_rows = member_rows.with_columns(
            pl.col("detail").str.extract(pattern, 3).cast(pl.Float64, strict=False).alias("sim")
        )
    else:
        member_rows = member_rows.with_columns(pl.lit(None, dtype=pl.Float64).alias("sim"))

    # survivors' texts: the kept occurrence when there is one, else the first rejected one
    located = _locate(directory, chosen_ids.to_list())
    located = (
        located.sort(pl.col("outcome") != "kept", "_part", "_row")
        .group_by("id", maintain_order=True)
        .first()
    )
    survivor_texts = _read_located(directory, located, ["text"]).join(
        located.select("_part", "_row", "id"), on=["_part", "_row"]
    )
    openings = {
        i: opening_line(t)
        for i, t in zip(
            survivor_texts.get_column("id").to_list(),
            survivor_texts.get_column("text").to_list(),
            strict=True,
        )
    }

    largest = []
    by_survivor = {key[0]: group for key, group in member_rows.group_by("survivor")}
    for survivor_id, size in chosen.select("survivor", "size").iter_rows():  # top rows: few
        group = by_survivor[survivor_id].sort(*order, nulls_last=True)
        largest.append(
            Cluster(
                survivor=survivor_id,
                survivor_opening=openings.get(survivor_id),
                size=int(size),
                members=tuple(
                    ClusterMember(
                        id=r["id"],
                        similarity=r["sim"],
                        opening=opening_line(r["text"]),
                        source=r["source"],
                        line=r["line"],
                    )
                    for r in group.iter_rows(named=True)
                ),
            )
        )
    return DuplicateClusters(
        step=step,
        duplicates=int(counted.get_column("duplicates").sum()) + unparsed,
        clusters=counted.height,
        size_counts={int(k): int(v) for k, v in size_counts.items()},
        largest=tuple(largest),
        unparsed=unparsed,
    )
