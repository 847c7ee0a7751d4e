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

Vectorised: the batch is exploded into one long frame of words (document, position, length,
64-bit hash); an n-gram is the hash of ``n`` shifted word hashes within a document, and since
an n-gram can only repeat where both (n-1)-grams inside it repeat, counting for larger ``n``
looks only at those positions; ``over``/``is_first_distinct`` count and flag repeats for all
documents at once, and the results are aggregated back per document. Memory is bounded by the
batch (a few dozen bytes per word). The repeated n-gram count is datatrove's left-to-right
scan, which has no closed form (each step depends on where the previous one jumped and on which
n-grams it remembered): a vectorised upper bound (characters of the words any repeated n-gram
covers) is computed for every document, and the exact scan, a loop over integer hashes, runs
only for documents whose bound exceeds the threshold; the others are kept either way. The
result equals datatrove's rules (tested against a plain-Python statement of them).
"""

from __future__ import annotations

import polars as pl
from pydantic import Field, ValidationInfo, field_validator

from corpusclean import text as T
from corpusclean.steps.base import Step, StepOptions, StepResult, first_failure

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
        False, description="keep the gopher_repetition.* signal columns in the output"
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
    stats = T.duplicate_stats(items, "doc", "item")
    return (
        pl.DataFrame({"doc": pl.int_range(n_docs, eager=True, dtype=pl.UInt32)})
        .join(stats, on="doc", how="left")
        .select(
            pl.col("items").fill_null(0).alias(f"{prefix}_items"),
            pl.col("dup_items").fill_null(0).alias(f"{prefix}_dups"),
            pl.col("dup_chars").fill_null(0).alias(f"{prefix}_dup_chars"),
        )
    )


def _scan_repeats(grams: list[int], chars: list[int], n: int) -> int:
    """datatrove's ``find_all_duplicate`` on n-gram hashes: the exact left-to-right scan."""
    seen: set[int] = set()
    repeated, idx, last = 0, 0, len(grams)
    while idx < last:
        gram = grams[idx]
        if gram in seen:
            repeated += chars[idx]
            idx += n
        else:
            seen.add(gram)
            idx += 1
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

    Work shrinks with ``n``: an n-gram can occur twice only where both (n-1)-grams inside it
    do, so counting only looks at those positions.
    """
    n_docs = len(word_lists)
    sizes = sorted(set(top) | set(dup))
    out = pl.DataFrame({"doc": pl.int_range(n_docs, eager=True, dtype=pl.UInt32)})
    columns = [f"top_{n}" for n in top] + [f"dup_{n}" for n in dup]
    if not sizes:
        return out.select(pl.lit(0, dtype=pl.Int64).alias(c) for c in columns)
    # One row per word, in document order: doc, pos, len, nw (words in the document), h (the
    # word's hash) and key (the hash of document and word: the 1-gram).
    long = (
        pl.DataFrame({"w": word_lists})
        .with_row_index("doc")
        .with_columns(
            pl.int_ranges(0, pl.col("w").list.len(), dtype=pl.Int32).alias("pos"),
            pl.col("w").list.len().cast(pl.Int32).alias("nw"),
        )
        .explode("w", "pos")
        .drop_nulls("w")
        .select(
            "doc",
            "pos",
            "nw",
            pl.col("w").str.len_chars().cast(pl.Int64).alias("len"),
            pl.col("w").hash(seed=0x5EED).alias("h"),
        )
        .with_columns(
            pl.struct("doc", "h").hash(seed=1).alias("key"),
            # The n words from position p hold cum[p+n-1] - cum[p-1] characters.
            pl.col("len").cum_sum().alias("cum"),
        )
    )
    long = long.with_columns(pl.col("key").is_duplicated().alias("multi"))
    limit = pl.DataFrame({"doc": out["doc"], "limit": doc_chars.cast(pl.Float64)})
    for n in range(2, max(sizes) + 1):
        valid = pl.col("pos") + n <= pl.col("nw")
        long = long.with_columns(
            pl.struct(pl.col("key").alias("a"), pl.col("h").shift(-(n - 1)).alias("b"))
            .hash(seed=n)
            .alias("key"),
            valid.alias("valid"),
            (pl.col("cum").shift(-(n - 1)) - pl.col("cum") + pl.col("len")).alias("chars"),
            (valid & pl.col("multi") & pl.col("multi").shift(-1, fill_value=False)).alias("cand"),
        )
        # Only candidates can repeat; among them, count and flag later occurrences.
        sub = (
            long.with_row_index("row")
            .filter("cand")
            .select(
                "row",
                "doc",
                "pos",
                "key",
                "chars",
                pl.len().over("key").alias("count"),
                (~pl.col("key").is_first_distinct()).alias("rep"),
            )
        )
        rows = sub.get_column("row")
        multi = pl.repeat(False, long.height, dtype=pl.Boolean, eager=True).alias("multi")
        multi.scatter(rows.filter(sub.get_column("count") > 1), True)
        rep = pl.repeat(False, long.height, dtype=pl.Boolean, eager=True).alias("rep")
        rep.scatter(rows.filter(sub.get_column("rep")), True)
        long = long.with_columns(multi, rep)
        if n in top:
            # datatrove: Counter.most_common(1): the highest count, first seen among ties; a
            # document whose n-grams are all distinct takes its first n-gram, once.
            best = (
                sub.filter(pl.col("count") > 1)
                .filter(pl.col("count") == pl.col("count").max().over("doc"))
                .group_by("doc")
                .agg(pl.col("chars").get(pl.col("pos").arg_min()), pl.col("count").first())
            )
            first = long.filter(pl.col("valid") & (pl.col("pos") == 0)).select(
                "doc", "chars", pl.lit(1, dtype=pl.UInt32).alias("count")
            )
            best = pl.concat([best, first.join(best, on="doc", how="anti")])
            out = out.join(
                best.select(
                    "doc", ((pl.col("chars") + (n - 1)) * pl.col("count")).alias(f"top_{n}")
                ),
                on="doc",
                how="left",
            )
        if n in dup:
            out = out.join(_repeated(long, n, dup[n], limit), on="doc", how="left")
    return out.select(pl.col(c).fill_null(0).cast(pl.Int64) for c in columns)


def _repeated(long: pl.DataFrame, n: int, threshold: float, limit: pl.DataFrame) -> pl.DataFrame:
    """``doc, dup_{n}``: datatrove's repeated n-gram characters (exact where it matters).

    Vectorised bound: a word is covered when an n-gram that occurred earlier in the document
    covers it; the covered words' characters bound datatrove's count from above (its scan only
    counts non-overlapping repeated n-grams, each of which occurred earlier). Only documents
    whose bound exceeds the threshold get the exact scan, a loop because each of its steps
    depends on the previous ones (where it jumped, which n-grams it remembered): it has no
    closed form.
    """
    # Positions past the last n-gram are never repeats, so the window cannot reach into the
    # next document.
    covered = pl.col("rep").cast(pl.Int8).rolling_max(n, min_samples=1) > 0
    bound = (
        long.group_by("doc")
        .agg(pl.col("len").filter(covered).sum().alias(f"dup_{n}"))
        .join(limit, on="doc", how="left")
    )
    over = bound.filter(pl.col(f"dup_{n}") > threshold * pl.col("limit"))
    if over.height == 0:
        return bound.select("doc", f"dup_{n}")
    todo = (
        long.join(over.select("doc"), on="doc", how="semi")
        .filter("valid")
        .group_by("doc", maintain_order=True)
        .agg("key", "chars")
    )
    exact = pl.DataFrame(
        {
            "doc": todo["doc"],
            f"dup_{n}": [
                _scan_repeats(g, c, n)
                for g, c in zip(todo["key"].to_list(), todo["chars"].to_list(), strict=True)
            ],
        },
        schema={"doc": pl.UInt32, f"dup_{n}": pl.Int64},
    )
    return pl.concat([bound.join(exact, on="doc", how="anti").select("doc", f"dup_{n}"), exact])


class GopherRepetitionStep(Step):
    name = "gopher_repetition"
    Options = GopherRepetitionOptions
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
    adds_columns = tuple(f"gopher_repetition.{s}" for s in _signal_names(GopherRepetitionOptions()))

    def apply(self, batch: pl.DataFrame) -> StepResult:
        opts = self.options
        assert isinstance(opts, GopherRepetitionOptions)
        p = f"{self.name}."
        n_docs = batch.height
        text = pl.col("text")
        chars = batch.select(text.str.len_chars().cast(pl.Int64)).to_series()

        def exploded(items: pl.Expr) -> pl.DataFrame:
            return (
                batch.select(items.alias("item"))
                .with_row_index("doc")
                .explode("item")
                .drop_nulls("item")
            )

        paras = _duplicates(exploded(T.paragraphs(text)), n_docs, "para")
        lines = exploded(T.lines(text)).filter(pl.col("item") != "")
        line_stats = _duplicates(lines, n_docs, "line")
        top = [n for n, f in opts.max_top_ngram_char_frac.items() if f is not None]
        dup = {n: f for n, f in opts.max_dup_ngram_char_frac.items() if f is not None}
        grams = ngram_stats(batch.select(T.words(text)).to_series(), top, dup, chars)
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
        reject = first_failure(batch, [r for r in rules if r is not None])
        added = [c for c in batch.columns if c.startswith(p)]
        if not opts.keep_signals:
            batch = batch.drop(added)
        return StepResult(frame=batch, reject=reject, counters=T.rule_counters(reject))
