"""Fixed-bin histograms of the signals steps measure, kept against dropped, for the report.

Why fixed bins: a histogram built per batch in any worker must merge into the same numbers
whatever the worker count, executor or batch order. With bins fixed before the run (per
signal, declared by the step: :attr:`corpusclean.steps.base.Step.signal_bins`), merging is
adding counts, which is exact and order-free; memory is a few hundred integers per signal
however large the corpus (data-juicer's analyzer and datatrove's stats keep per-document values
or running moments instead; neither can draw where a threshold cuts a distribution).

Every histogram counts documents *and* text bytes per bin, separately for the documents the
step kept and those it dropped, with one bin below the first edge, one above the last, and a
count of missing values (a signal that is undefined for the document, e.g. the mean word length
of a page without words). A categorical signal (a language label, the HTML tag found) counts
per value instead; its values are bounded by the step (176 lid.176 labels, the tag list).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl


@dataclass(frozen=True)
class Bins:
    """Bin edges of one signal: ``edges[i] <= value < edges[i + 1]`` is bin ``i`` (the last
    bin includes its right edge); ``scale`` says how a plot should space them. No edges: the
    signal is categorical."""

    edges: tuple[float, ...] = ()
    scale: str = "linear"  # "linear" | "log" | "category"

    @classmethod
    def linear(cls, low: float, high: float, count: int) -> Bins:
        step = (high - low) / count
        return cls(tuple(round(low + i * step, 12) for i in range(count + 1)), "linear")

    @classmethod
    def log(cls, low: float, high: float, per_decade: int) -> Bins:
        decades = math.log10(high / low)
        count = round(decades * per_decade)
        edges = tuple(float(f"{low * 10 ** (i / per_decade):.6g}") for i in range(count + 1))
        return cls(edges, "log")

    @property
    def categorical(self) -> bool:
        return not self.edges


#: A fraction in [0, 1] (ratios of lines, words, characters; language ID scores), 2% bins.
FRACTION = Bins.linear(0.0, 1.0, 50)
#: A count (words, lines, sentences, tokens, characters): 10 bins a decade from 1 to 10^8;
#: zero falls in the "below" bin.
COUNT = Bins.log(1.0, 1e8, 10)
#: A length in characters of a word: 0 to 20 in steps of 0.5.
WORD_LENGTH = Bins.linear(0.0, 20.0, 40)
#: A label (language, tag).
CATEGORY = Bins((), "category")


@dataclass
class Histogram:
    """Documents and bytes per bin, kept and dropped, for one signal of one step.

    For numeric bins the lists have ``len(edges) + 1`` entries: ``[below, bin 0, ...,
    bin n-1, above]``; for categories, ``values`` holds ``{value: [kept_docs, kept_bytes,
    dropped_docs, dropped_bytes]}``.
    """

    bins: Bins
    kept_docs: list[int] = field(default_factory=list)
    kept_bytes: list[int] = field(default_factory=list)
    dropped_docs: list[int] = field(default_factory=list)
    dropped_bytes: list[int] = field(default_factory=list)
    missing: list[int] = field(default_factory=lambda: [0, 0])  # kept, dropped documents
    values: dict[str, list[int]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.bins.categorical and not self.kept_docs:
            size = len(self.bins.edges) + 1
            self.kept_docs, self.kept_bytes = [0] * size, [0] * size
            self.dropped_docs, self.dropped_bytes = [0] * size, [0] * size

    def merge(self, other: Histogram) -> None:
        if other.bins != self.bins:
            raise ValueError("cannot merge histograms with different bins")
        for mine, theirs in (
            (self.kept_docs, other.kept_docs),
            (self.kept_bytes, other.kept_bytes),
            (self.dropped_docs, other.dropped_docs),
            (self.dropped_bytes, other.dropped_bytes),
            (self.missing, other.missing),
        ):
            for i, n in enumerate(theirs):
                mine[i] += n
        for value, counts in other.values.items():
            mine = self.values.setdefault(value, [0, 0, 0, 0])
            for i, n in enumerate(counts):
                mine[i] += n

    def as_dict(self) -> dict[str, Any]:
        if self.bins.categorical:
            ordered = sorted(self.values.items(), key=lambda kv: (-(kv[1][0] + kv[1][2]), kv[0]))
            return {
                "scale": "category",
                "values": {v: dict(zip(_CATEGORY_KEYS, c, strict=True)) for v, c in ordered},
                "missing": {"kept": self.missing[0], "dropped": self.missing[1]},
            }
        return {
            "scale": self.bins.scale,
            "edges": list(self.bins.edges),
            "kept": {"docs": self.kept_docs, "bytes": self.kept_bytes},
            "dropped": {"docs": self.dropped_docs, "bytes": self.dropped_bytes},
            "missing": {"kept": self.missing[0], "dropped": self.missing[1]},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Histogram:
        if data["scale"] == "category":
            hist = cls(CATEGORY)
            hist.values = {v: [c[k] for k in _CATEGORY_KEYS] for v, c in data["values"].items()}
        else:
            hist = cls(
                Bins(tuple(data["edges"]), data["scale"]),
                kept_docs=list(data["kept"]["docs"]),
                kept_bytes=list(data["kept"]["bytes"]),
                dropped_docs=list(data["dropped"]["docs"]),
                dropped_bytes=list(data["dropped"]["bytes"]),
            )
        hist.missing = [data["missing"]["kept"], data["missing"]["dropped"]]
        return hist


_CATEGORY_KEYS = ("kept_docs", "kept_bytes", "dropped_docs", "dropped_bytes")


def count(bins: Bins, values: pl.Series, dropped: np.ndarray, nbytes: np.ndarray) -> Histogram:
    """The histogram of one batch: ``values`` per document, ``dropped`` a boolean mask,
    ``nbytes`` each document's text bytes (all aligned). Vectorised: one ``searchsorted`` and
    four ``bincount`` calls (categories: one Polars group-by)."""
    hist = Histogram(bins)
    missing = values.is_null().to_numpy()
    if values.dtype.is_float():
        missing = missing | values.is_nan().fill_null(True).to_numpy()
    hist.missing = [int((missing & ~dropped).sum()), int((missing & dropped).sum())]
    present = ~missing
    if bins.categorical:
        frame = pl.DataFrame({"v": values.cast(pl.String), "d": dropped, "b": nbytes}).filter(
            pl.Series(present)
        )
        grouped = frame.group_by("v").agg(
            (~pl.col("d")).sum().alias("kd"),
            pl.col("b").filter(~pl.col("d")).sum().alias("kb"),
            pl.col("d").sum().alias("dd"),
            pl.col("b").filter(pl.col("d")).sum().alias("db"),
        )
        for v, kd, kb, dd, db in grouped.iter_rows():
            hist.values[v] = [int(kd), int(kb), int(dd), int(db)]
        return hist
    edges = np.asarray(bins.edges, dtype=np.float64)
    x = values.cast(pl.Float64).fill_null(0.0).fill_nan(0.0).to_numpy()
    index = np.searchsorted(edges, x, side="right")  # 0: below; len(edges): above
    index[x == edges[-1]] = len(edges) - 1  # the last bin includes its right edge
    size = len(edges) + 1
    for keep, docs, nbytes_out in (
        (present & ~dropped, hist.kept_docs, hist.kept_bytes),
        (present & dropped, hist.dropped_docs, hist.dropped_bytes),
    ):
        docs[:] = np.bincount(index[keep], minlength=size).tolist()
        nbytes_out[:] = (
            np.bincount(index[keep], weights=nbytes[keep], minlength=size).astype(np.int64).tolist()
        )
    return hist
