"""``gopher_repetition``: Gopher's repetition removal (Rae et al. 2021, table A1).

Source: Rae et al. 2021, "Scaling Language Models: Methods, Analysis & Insights from Training
Gopher" (arXiv:2112.11446), appendix A.1.1 "Repetition removal" and table A1. A document is
removed when any of these exceeds its threshold:

=========================================  =====
duplicate line fraction                     0.30
duplicate paragraph fraction                0.30
duplicate line character fraction           0.20
duplicate paragraph character fraction      0.20
top 2-gram character fraction               0.20
top 3-gram character fraction               0.18
top 4-gram character fraction               0.16
duplicate 5-gram character fraction         0.15
duplicate 6-gram character fraction         0.14
duplicate 7-gram character fraction         0.13
duplicate 8-gram character fraction         0.12
duplicate 9-gram character fraction         0.11
duplicate 10-gram character fraction        0.10
=========================================  =====

Semantics follow datatrove's ``GopherRepetitionFilter``:

* paragraphs and non-empty lines are compared exactly; a duplicate is every occurrence after
  the first; fractions are duplicates over all paragraphs (lines), and duplicate characters
  over all characters of the document;
* n-grams are runs of ``n`` consecutive words (:func:`corpusclean.text.words`); the *top
  n-gram* fraction is (occurrences x characters of the n-gram joined with spaces) / characters
  of the document, for the most frequent n-gram (the first seen among equally frequent ones);
* the *duplicate n-gram* fraction counts, scanning the words left to right, the characters
  (spaces excluded) of each n-gram that already occurred at a position the scan visited, then
  jumps past it, so overlapping repeats are not counted twice. (With ``keep_signals``, a
  ``dup_{n}_gram_char_frac`` at or below its threshold may be the upper bound described below
  rather than the exact fraction; above the threshold it is exact.)

Vectorised: lines and paragraphs are compared on the per-line table
(:mod:`corpusclean.line_table`); the batch's words are flattened into numpy arrays (document,
position, length, 64-bit hash); an n-gram's key mixes its (n-1)-gram's key with its last word's
hash (through :func:`corpusclean.hashing.fmix64`, the project's one finaliser), and since an
n-gram can only repeat where both (n-1)-grams inside it repeat, each size looks only at the
positions where the previous one repeated; Polars' ``is_duplicated``/``is_first_distinct``
count and flag repeats for all documents at once, and the results are summed back per document.
Memory is bounded by the batch (a few dozen bytes per word). The repeated n-gram count is
datatrove's left-to-right scan, which has no closed form (each step depends on where the
previous one jumped and on which n-grams it remembered): a vectorised upper bound (characters
of the words any repeated n-gram covers) is computed for every document, and the exact scan, a
loop over integer hashes, runs only for documents whose bound exceeds the threshold; the others
are kept either way. The result equals datatrove's rules (tested against a plain-Python
statement of them).
"""

from __future__ import annotations

import numpy as np
import polars as pl
from pydantic import Field, ValidationInfo, field_validator

from corpusclean import text as T
from corpusclean.hashing import fmix64
from corpusclean.histograms import FRACTION
from corpusclean.line_table import DOC, duplicate_stats, one_row_per_item, per_document
from corpusclean.steps.base import Step, StepOptions, StepResult, threshold_result

TOP_NGRAMS = {2: 0.20, 3: 0.18, 4: 0.16}
DUP_NGRAMS = {5: 0.15, 6: 0.14, 7: 0.13, 8: 0.12, 9: 0.11, 10: 0.10}


class GopherRepetitionOptions(StepOptions):
    max_dup_line_frac: float | None = Field(
        0.3, ge=0, le=1, description="drop if more of the lines are duplicates"
    )
    max_dup_para_frac: float | None = Field(
        0.3, ge=0, le=1, description="drop if more of the paragraphs are duplicates"
    )
    max_dup_line_char_frac: float | None = Field(
        0.2, ge=0, le=1, description="drop if more of the characters are in duplicate lines"
    )
    max_dup_para_char_frac: float | None = Field(
        0.2, ge=0, le=1, description="drop if more of the characters are in duplicate paragraphs"
    )
    max_top_ngram_char_frac: dict[int, float | None] | None = Field(
        default_factory=lambda: dict(TOP_NGRAMS),
        description="n -> max character fraction of the most frequent n-gram; keys given "
        "override the defaults, a null value turns one off, null turns all off",
    )
    max_dup_ngram_char_frac: dict[int, float | None] | None = Field(
        default_factory=lambda: dict(DUP_NGRAMS),
        description="n -> max character fraction of repeated n-grams; keys given override "
        "the defaults, a null value turns one off, null turns all off",
    )
    keep_signals: bool = Field(
        False,
        description="keep the signal columns in documents/: gopher_repetition.dup_para_frac, "
        "gopher_repetition.dup_para_char_frac, gopher_repetition.dup_line_frac, "
        "gopher_repetition.dup_line_char_frac, and gopher_repetition.top_{n}_gram_char_frac "
        "and gopher_repetition.dup_{n}_gram_char_frac for each n the two maps turn on",
    )

    @field_validator("max_top_ngram_char_frac", "max_dup_ngram_char_frac", mode="before")
    @classmethod
    def _merge(cls, value: object, info: ValidationInfo) -> object:
        defaults = TOP_NGRAMS if info.field_name == "max_top_ngram_char_frac" else DUP_NGRAMS
        if isinstance(value, dict):
            given = {int(k) if str(k).strip().isdigit() else k: v for k, v in value.items()}
            return {**defaults, **given}
        return value

    @field_validator("max_top_ngram_char_frac", "max_dup_ngram_char_frac")
    @classmethod
    def _ngrams(cls, value: dict[int, float | None] | None) -> dict[int, float | None]:
        if value is None:
            return {}
        for n, frac in value.items():
            if not 1 <= n <= 20:
                raise ValueError(f"n-gram size must be in 1..20 (got {n})")
            if frac is not None and not 0 <= frac <= 1:
                raise ValueError(f"fraction for {n}-grams must be in [0, 1] (got {frac})")
        return dict(sorted(value.items()))


def _signal_names(opts: GopherRepetitionOptions) -> list[str]:
    names = ["dup_para_frac", "dup_para_char_frac", "dup_line_frac", "dup_line_char_frac"]
    names += [f"top_{n}_gram_char_frac" for n in opts.max_top_ngram_char_frac]
    names += [f"dup_{n}_gram_char_frac" for n in opts.max_dup_ngram_char_frac]
    return names


def _duplicates(items: pl.DataFrame, n_docs: int, prefix: str) -> pl.DataFrame:
    """Per document (0..n_docs-1): item count, duplicate items and their characters."""
    return per_document(n_docs, duplicate_stats(items, DOC, "item")).select(
        pl.col("items").fill_null(0).alias(f"{prefix}_items"),
        pl.col("dup_items").fill_null(0).alias(f"{prefix}_dups"),
        pl.col("dup_chars").fill_null(0).alias(f"{prefix}_dup_chars"),
    )


#: FNV-1a's 64-bit prime: an n-gram's key is ``fmix64(key(n-1)-gram x FNV_PRIME ^ last word)``.
FNV_PRIME = np.uint64(0x100000001B3)


def _scan_repeats(pos: list[int], keys: list[int], chars: list[int], n: int) -> int:
    """datatrove's ``find_all_duplicate`` over one document's n-grams, left to right.

    Given only the positions of n-grams that occur more than once (in order): the others are
    remembered by datatrove's scan but can never be found again, so skipping them changes
    nothing but where the scan stands, which ``pos`` tells.
    """
    seen: set[int] = set()
    repeated, idx = 0, 0
    for p, key, size in zip(pos, keys, chars, strict=True):
        if p < idx:  # inside the n words the scan jumped over
            continue
        if key in seen:
            repeated += size
            idx = p + n
        else:
            seen.add(key)
            idx = p + 1
    return repeated


def ngram_stats(
    word_lists: pl.Series,
    top: list[int],
    dup: dict[int, float],
    doc_chars: pl.Series,
) -> pl.DataFrame:
    """Per document: characters of the top n-gram (n in ``top``) and of repeated n-grams.

    Returns one row per element of ``word_lists`` with columns ``top_{n}`` (occurrences x
    length of the most frequent n-gram joined with spaces; 0 below ``n`` words) and
    ``dup_{n}`` for ``n`` in ``dup`` (characters, spaces excluded, that datatrove's scan counts
    as repeated n-grams). ``dup`` maps ``n`` to its threshold and ``doc_chars`` holds the
    documents' lengths: the exact scan only runs where the vectorised bound exceeds
    ``threshold x length``; elsewhere ``dup_{n}`` is the bound, which is then below the
    threshold too, so the decision is the same.

    All documents at once, on flat arrays of the batch's words (numpy): an n-gram's key is a
    64-bit hash of its document and words, built from the (n-1)-gram's key and one more word.
    Work shrinks with ``n``: an n-gram can occur twice only where both (n-1)-grams inside it
    do, so each size only looks at the positions where the previous size repeated.
    """
    n_docs = len(word_lists)
    sizes = sorted(set(top) | set(dup))
    columns = [f"top_{n}" for n in top] + [f"dup_{n}" for n in dup]
    values = {c: np.zeros(n_docs, dtype=np.int64) for c in columns}
    nw = word_lists.list.len().fill_null(0).to_numpy().astype(np.int64)
    n_words = int(nw.sum())
    if not sizes or n_words == 0:
        return pl.DataFrame(values, schema=dict.fromkeys(columns, pl.Int64))
    flat = word_lists.explode().drop_nulls()
    start = np.zeros(n_docs + 1, dtype=np.int64)
    np.cumsum(nw, out=start[1:])
    doc = np.repeat(np.arange(n_docs, dtype=np.int64), nw)
    pos = np.arange(n_words, dtype=np.int64) - start[doc]
    size = flat.str.len_chars().to_numpy().astype(np.int64)
    cum = np.cumsum(size)  # the n words from row r hold cum[r+n-1] - cum[r] + size[r] chars
    word = flat.hash(seed=0x5EED).to_numpy()
    # The 1-gram: a word in a document. fmix64 is a bijection, so fmix64(doc) differs for every
    # document (document 0's is 0, which leaves its words' hashes as they are; that is no
    # weakness: two (document, word) pairs share a key only when their word hashes differ by
    # exactly fmix64(d1) ^ fmix64(d2), as likely as any 64-bit collision).
    key = fmix64(word ^ fmix64(doc.astype(np.uint64)))
    limit = doc_chars.cast(pl.Float64).to_numpy()
    rows = np.flatnonzero(pl.Series(key).is_duplicated().to_numpy())
    keys = key[rows]
    for n in range(2, max(sizes) + 1):
        # candidates: the (n-1)-grams here and one word on both occur twice, n words fit
        follows = np.zeros(len(rows), dtype=bool)
        follows[:-1] = rows[1:] == rows[:-1] + 1
        cand = follows & (pos[rows] + n <= nw[doc[rows]])
        rows, keys = rows[cand], keys[cand]
        last = rows + (n - 1)
        with np.errstate(over="ignore"):
            keys = fmix64(keys * FNV_PRIME ^ word[last])
        chars = cum[last] - cum[rows] + size[rows]
        series = pl.Series(keys)
        multi = series.is_duplicated().to_numpy()
        if n in top:
            values[f"top_{n}"] = _top(n, n_docs, doc, rows, keys, chars, multi, start, cum, size)
        if n in dup:
            repeat = ~series.is_first_distinct().to_numpy()
            values[f"dup_{n}"] = _repeated(
                n,
                dup[n],
                limit,
                doc,
                pos,
                size,
                rows[repeat],
                rows[multi],
                keys[multi],
                chars[multi],
            )
        rows, keys = rows[multi], keys[multi]
    return pl.DataFrame(values, schema=dict.fromkeys(columns, pl.Int64))


def _top(
    n: int,
    n_docs: int,
    doc: np.ndarray,
    rows: np.ndarray,
    keys: np.ndarray,
    chars: np.ndarray,
    multi: np.ndarray,
    start: np.ndarray,
    cum: np.ndarray,
    size: np.ndarray,
) -> np.ndarray:
    """``count x (chars + n - 1)`` of each document's most frequent n-gram.

    datatrove's ``Counter.most_common(1)``: the highest count, the first seen among ties; a
    document whose n-grams are all distinct takes its first n-gram, once (0 below n words).
    """
    out = np.zeros(n_docs, dtype=np.int64)
    fits = (start[1:] - start[:-1]) >= n
    first = start[:-1][fits]
    out[fits] = cum[first + n - 1] - cum[first] + size[first] + (n - 1)
    if multi.any():
        frame = pl.DataFrame(
            {"doc": doc[rows[multi]], "row": rows[multi], "key": keys[multi], "chars": chars[multi]}
        )
        best = (
            frame.with_columns(pl.len().over("key").alias("count"))
            .filter(pl.col("count") == pl.col("count").max().over("doc"))
            .group_by("doc")
            .agg(pl.col("chars").get(pl.col("row").arg_min()), pl.col("count").first())
        )
        docs = best.get_column("doc").to_numpy()
        count = best.get_column("count").to_numpy().astype(np.int64)
        out[docs] = (best.get_column("chars").to_numpy() + (n - 1)) * count
    return out


def _repeated(
    n: int,
    threshold: float,
    limit: np.ndarray,
    doc: np.ndarray,
    pos: np.ndarray,
    size: np.ndarray,
    repeats: np.ndarray,
    multi_rows: np.ndarray,
    multi_keys: np.ndarray,
    multi_chars: np.ndarray,
) -> np.ndarray:
    """datatrove's repeated n-gram characters per document (exact where it matters).

    Vectorised bound: a word is covered when an n-gram that occurred earlier in the document
    covers it; the covered words' characters bound datatrove's count from above (its scan only
    counts non-overlapping repeated n-grams, each of which occurred earlier). Only documents
    whose bound exceeds the threshold get the exact scan, a loop because each of its steps
    depends on the previous ones (where it jumped, which n-grams it remembered): it has no
    closed form.
    """
    n_docs = len(limit)
    edges = np.zeros(len(doc) + 1, dtype=np.int64)
    np.add.at(edges, repeats, 1)  # a repeat at r covers words r .. r+n-1, all in its document
    np.add.at(edges, repeats + n, -1)
    covered = np.cumsum(edges[:-1]) > 0
    bound = np.bincount(doc[covered], weights=size[covered], minlength=n_docs).astype(np.int64)
    over = np.flatnonzero(bound > threshold * limit)
    if len(over) == 0:
        return bound
    owner = doc[multi_rows]
    lo = np.searchsorted(owner, over, side="left")
    hi = np.searchsorted(owner, over, side="right")
    where, keys, chars = pos[multi_rows].tolist(), multi_keys.tolist(), multi_chars.tolist()
    for d, a, b in zip(over.tolist(), lo.tolist(), hi.tolist(), strict=True):
        bound[d] = _scan_repeats(where[a:b], keys[a:b], chars[a:b], n)
    return bound


class GopherRepetitionStep(Step[GopherRepetitionOptions]):
    name = "gopher_repetition"
    summary = (
        "Gopher repetition rules: duplicate lines/paragraphs (0.3 of items, 0.2 of chars), "
        "top 2/3/4-gram char fraction 0.20/0.18/0.16, repeated 5..10-gram char fraction "
        "0.15..0.10."
    )
    source = (
        "Rae et al. 2021, Scaling Language Models: Methods, Analysis & Insights from Training "
        "Gopher (arXiv:2112.11446), appendix A.1.1, table A1; semantics of datatrove's "
        "GopherRepetitionFilter"
    )
    #: With the default n-gram maps; other maps give other top_{n}/dup_{n} columns.
    signal_columns = tuple(
        f"gopher_repetition.{s}" for s in _signal_names(GopherRepetitionOptions())
    )

    #: Every signal is a fraction of the document's lines, paragraphs or characters.
    default_bins = FRACTION

    def apply(self, batch: pl.DataFrame) -> StepResult:
        opts = self.options
        p = f"{self.name}."
        n_docs = batch.height
        text = pl.col("text")
        chars = batch.select(text.str.len_chars().cast(pl.Int64)).to_series()
        paras = _duplicates(one_row_per_item(batch, T.paragraphs(text), "item"), n_docs, "para")
        lines = one_row_per_item(batch, T.lines(text), "item").filter(pl.col("item") != "")
        line_stats = _duplicates(lines, n_docs, "line")
        top = [n for n, f in opts.max_top_ngram_char_frac.items() if f is not None]
        dup = {n: f for n, f in opts.max_dup_ngram_char_frac.items() if f is not None}
        grams = ngram_stats(T.word_lists(batch.get_column("text")), top, dup, chars)
        stats = pl.concat([paras, line_stats, grams], how="horizontal").with_columns(
            chars.alias("chars")
        )

        def frac(num: str, den: str) -> pl.Expr:
            return T.ratio(pl.col(num), pl.col(den))

        signals = [
            frac("para_dups", "para_items").alias(p + "dup_para_frac"),
            frac("para_dup_chars", "chars").alias(p + "dup_para_char_frac"),
            frac("line_dups", "line_items").alias(p + "dup_line_frac"),
            frac("line_dup_chars", "chars").alias(p + "dup_line_char_frac"),
        ]
        signals += [frac(f"top_{n}", "chars").alias(p + f"top_{n}_gram_char_frac") for n in top]
        signals += [frac(f"dup_{n}", "chars").alias(p + f"dup_{n}_gram_char_frac") for n in dup]
        batch = batch.with_columns(stats.select(signals))
        rules = [
            (text.str.len_bytes() == 0, pl.lit("empty")),
            T.above("dup_para_frac", p + "dup_para_frac", opts.max_dup_para_frac),
            T.above("dup_para_char_frac", p + "dup_para_char_frac", opts.max_dup_para_char_frac),
            T.above("dup_line_frac", p + "dup_line_frac", opts.max_dup_line_frac),
            T.above("dup_line_char_frac", p + "dup_line_char_frac", opts.max_dup_line_char_frac),
        ]
        rules += [
            T.above(f"top_{n}_gram_char_frac", p + f"top_{n}_gram_char_frac", f)
            for n, f in opts.max_top_ngram_char_frac.items()
        ]
        rules += [
            T.above(f"dup_{n}_gram_char_frac", p + f"dup_{n}_gram_char_frac", f)
            for n, f in opts.max_dup_ngram_char_frac.items()
        ]
        added = [c for c in batch.columns if c.startswith(p)]
        return threshold_result(batch, rules, added, opts.keep_signals)
