"""The normalised text that exact deduplication compares: of whole documents and of lines.

``exact_dedup`` (whole documents, Lee et al. 2022) and ``line_dedup`` (lines recurring across
documents, as Gopher/MassiveText and RefinedWeb do it: Rae et al. 2021; Penedo et al. 2023)
both treat two texts as copies when they differ only in letter case and in whitespace: a
re-indented or re-wrapped copy of a page, or a footer line with a trailing space, is still the
same text. Both steps hash this one key, so "the same text" means the same thing to both.

It is deliberately lighter than MinHash's normalisation (:mod:`corpusclean.minhash`, which
also strips accents and punctuation): exact deduplication only removes texts that read the
same, and near-duplicates are ``minhash_dedup``'s job.
"""

from __future__ import annotations

import polars as pl


def normalized_key(text: pl.Expr) -> pl.Expr:
    """``text`` lowercased, every run of whitespace collapsed to one space, then trimmed."""
    return text.str.to_lowercase().str.replace_all(r"\s+", " ").str.strip_chars()
