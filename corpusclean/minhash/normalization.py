"""Normalisation: the text every shingle is cut from (defined in :mod:`corpusclean.minhash`).

After Penedo et al. 2023 (RefinedWeb) / datatrove's ``simplify_text``: lowercase, NFD with
non-spacing marks deleted, every run of non-letter/number/mark characters one space, trimmed.
:func:`normalize_expr` states it as Polars expressions (Rust ``regex`` Unicode classes);
:func:`normalized_buffers` computes the same result mostly at the byte level (what shingling
consumes), and :func:`normalize` returns it as a Polars series. The pure-Python statement of
the definition is :func:`corpusclean.minhash.reference.normalize_text`.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

import numpy as np
import polars as pl
import pyarrow as pa

_NON_WORD = r"[^\p{L}\p{N}\p{M}]+"

TextInput = Sequence[str | None] | pl.Series | pa.Array | pa.ChunkedArray


def normalize_expr(expr: pl.Expr | str = "text") -> pl.Expr:
    """The normalisation as one Polars expression (nulls become ""); see the package docstring."""
    e = pl.col(expr) if isinstance(expr, str) else expr
    return (
        e.fill_null("")
        .str.to_lowercase()
        .str.normalize("NFD")
        .str.replace_all(r"\p{Mn}+", "")
        .str.replace_all(_NON_WORD, " ")
        .str.strip_chars(" ")
    )


def _as_series(texts: TextInput) -> pl.Series:
    if isinstance(texts, pl.Series):
        s = texts
    elif isinstance(texts, pa.Array | pa.ChunkedArray):
        s = pl.Series("text", texts)
    else:
        s = pl.Series("text", list(texts), dtype=pl.String)
    if s.dtype != pl.String:
        s = s.cast(pl.String)
    return s.rename("text")


# ASCII byte -> normalised byte: letters lowercased, digits kept, every other ASCII byte a
# space (32); bytes >= 0x80 (UTF-8 lead/continuation bytes) pass through.
_ASCII_MAP = np.full(256, 32, dtype=np.uint8)
_ASCII_MAP[0x80:] = np.arange(0x80, 0x100, dtype=np.uint8)
_ASCII_MAP[ord("0") : ord("9") + 1] = np.arange(ord("0"), ord("9") + 1, dtype=np.uint8)
_ASCII_MAP[ord("a") : ord("z") + 1] = np.arange(ord("a"), ord("z") + 1, dtype=np.uint8)
_ASCII_MAP[ord("A") : ord("Z") + 1] = np.arange(ord("a"), ord("z") + 1, dtype=np.uint8)
_ASCII_MAP.setflags(write=False)


class _CodePoints:
    """What normalisation does to each non-ASCII character, learnt on first sight.

    For a code point ``c`` the *replacement* is ``c`` alone through every step of
    :func:`normalize_expr` but the final strip (lowercase, NFD, ``\\p{Mn}`` removed, runs of
    non-letter/number/mark characters to one space), computed by Polars itself, so it is
    exactly what the Rust ``regex`` and ``unicode-normalization`` tables give. Steps 1-3 act
    character by character except for (a) the Greek final-sigma rule of lowercasing (``Σ``)
    and (b) NFD's canonical reordering, which only moves characters of non-zero combining
    class: marks. So a text is normalised by replacing each character, then collapsing spaces,
    unless it has a *contextual* character: ``Σ``, or one whose replacement keeps a mark
    (``\\p{M}`` per Polars, or a non-zero combining class per Python's ``unicodedata`` as a
    second, conservative check). Characters whose replacement cannot be written over their
    own bytes (empty: a lone non-spacing mark; longer than the character; words and spaces
    mixed) are marked contextual too. Such texts take Polars' own path; routing too many
    there is always safe, only slower.
    """

    KNOWN, CHANGED, SPACE, CONTEXT = 1, 2, 4, 8

    def __init__(self) -> None:
        self.flags = np.zeros(0x110000, dtype=np.uint8)
        self.replacement = np.zeros((0x110000, 4), dtype=np.uint8)  # UTF-8, <= 4 bytes
        self.length = np.zeros(0x110000, dtype=np.int64)  # of the replacement, in bytes

    def learn(self, code_points: np.ndarray) -> None:
        """Classify distinct, not yet known code points (one Polars call for all)."""
        chars = pl.Series("c", [chr(c) for c in code_points.tolist()], dtype=pl.String)
        replaced = (
            chars.str.to_lowercase()
            .str.normalize("NFD")
            .str.replace_all(r"\p{Mn}+", "")
            .str.replace_all(_NON_WORD, " ")
        )
        texts = replaced.to_list()
        rep_len = replaced.str.len_bytes().to_numpy().astype(np.int64)
        own_len = chars.str.len_bytes().to_numpy().astype(np.int64)
        changed = (replaced != chars).to_numpy()
        space = np.array([t == " " for t in texts], dtype=bool)
        context = (
            replaced.str.contains(r"\p{M}").to_numpy()
            | np.array([any(unicodedata.combining(ch) for ch in t) for t in texts], dtype=bool)
            | (code_points == 0x03A3)
            | (changed & ~space & ((rep_len == 0) | (rep_len > own_len)))
            | (~space & np.array([" " in t for t in texts], dtype=bool))
        )
        flags = np.full(len(code_points), self.KNOWN, dtype=np.uint8)
        flags[changed] |= self.CHANGED
        flags[space] |= self.SPACE
        flags[context] |= self.CONTEXT
        writable = ~context & changed & ~space
        for i in np.flatnonzero(writable).tolist():
            data = texts[i].encode("utf-8")
            self.replacement[code_points[i], : len(data)] = np.frombuffer(data, dtype=np.uint8)
        self.length[code_points] = rep_len
        self.flags[code_points] = flags  # last: a KNOWN code point has its replacement


_CODE_POINTS = _CodePoints()
_DELETED = 0xFF  # never a UTF-8 byte: marks bytes of a character whose replacement is shorter


def _utf8_chars(buf: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Positions, byte lengths and code points of every non-ASCII character of ``buf``
    (valid UTF-8, as every Arrow string is); unknown code points are learnt."""
    lead = np.flatnonzero(buf >= 0xC0)
    if len(lead) == 0:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty, np.empty(0, dtype=np.int32)
    b0 = buf[lead].astype(np.int32)
    length = 2 + (b0 >= 0xE0) + (b0 >= 0xF0)
    last = len(buf) - 1
    b1 = buf[lead + 1].astype(np.int32) & 0x3F
    b2 = buf[np.minimum(lead + 2, last)].astype(np.int32) & 0x3F
    b3 = buf[np.minimum(lead + 3, last)].astype(np.int32) & 0x3F
    cp = np.where(
        length == 2,
        ((b0 & 0x1F) << 6) | b1,
        np.where(
            length == 3,
            ((b0 & 0x0F) << 12) | (b1 << 6) | b2,
            ((b0 & 0x07) << 18) | (b1 << 12) | (b2 << 6) | b3,
        ),
    )
    unknown = (_CODE_POINTS.flags[cp] & _CodePoints.KNOWN) == 0
    if unknown.any():
        _CODE_POINTS.learn(np.unique(cp[unknown]))
    return lead, length.astype(np.int64), cp


def _replace_chars(
    x: np.ndarray, lead: np.ndarray, length: np.ndarray, cp: np.ndarray, spaces_only: np.ndarray
) -> np.ndarray:
    """Write every non-ASCII character's replacement over its own bytes, in place.

    A replacement that is a space fills all the character's bytes with spaces (runs of spaces
    collapse later); a shorter word replacement is followed by ``_DELETED`` bytes, whose
    positions are returned (they count as word bytes for the space rule, then go). Where
    ``spaces_only`` (characters of documents already through Polars' steps 1-2) only the
    non-word -> space replacement is applied.
    """
    flags = _CODE_POINTS.flags[cp]
    space = (flags & _CodePoints.SPACE) != 0
    if space.any():
        at, size = lead[space], length[space]
        for k in range(4):
            x[at[size > k] + k] = 32
    word = ((flags & (_CodePoints.CHANGED | _CodePoints.SPACE)) == _CodePoints.CHANGED) & (
        ~spaces_only
    )
    if not word.any():
        return np.empty(0, dtype=np.int64)
    at, size, code = lead[word], length[word], cp[word]
    rep_len = _CODE_POINTS.length[code]
    deleted = []
    for k in range(4):
        write = rep_len > k
        x[at[write] + k] = _CODE_POINTS.replacement[code[write], k]
        pad = ~write & (size > k)
        deleted.append(at[pad] + k)
    return np.concatenate(deleted)


def normalized_buffers(texts: TextInput) -> tuple[np.ndarray, np.ndarray]:
    """:func:`normalize` as (int64 offsets from 0, UTF-8 bytes): what shingling consumes.

    Why not just ``normalize_expr``: its regex replacement, lowercasing and NFD cost ~2 s per
    79 MB of text (webmix), more than half of the whole signature time. Here:

    1. documents with a contextual character (``Σ``, marks that survive; see
       :class:`_CodePoints`) go through Polars' ``to_lowercase``, ``normalize("NFD")`` and
       ``\\p{Mn}`` removal, exactly as in ``normalize_expr``;
    2. ASCII bytes go through a 256-entry table (letters lowercased, digits kept, the rest a
       space) and every non-ASCII character is replaced by its own normalised form, looked
       up per code point (``é`` -> ``e``, ``’`` -> space, ``Ж`` -> ``ж``), over its own
       bytes;
    3. runs of spaces keep their first byte only, leading and trailing spaces of each
       document and the bytes freed in 2 are dropped (:func:`_collapse_spaces`).

    Equal to ``normalize_expr`` on every input (tested on webmix and on random Unicode).
    """
    series = _as_series(texts).fill_null("")
    offsets, buf = _arrow_text(series)
    lead, length, cp = _utf8_chars(buf)
    contextual = lead[(_CODE_POINTS.flags[cp] & _CodePoints.CONTEXT) != 0]
    spaces_only = np.zeros(len(lead), dtype=bool)
    if len(contextual):
        docs = np.unique(np.searchsorted(offsets, contextual, side="right") - 1)
        part = (
            series.gather(docs)
            .str.to_lowercase()
            .str.normalize("NFD")
            .str.replace_all(r"\p{Mn}+", "")
        )
        offsets, buf = _arrow_text(series.scatter(docs, part))
        lead, length, cp = _utf8_chars(buf)
        # Their characters are now lowercase, decomposed and without Mn: only the non-word ->
        # space step remains for them, whatever their replacement alone would be.
        in_docs = np.zeros(len(offsets) - 1, dtype=bool)
        in_docs[docs] = True
        spaces_only = in_docs[np.searchsorted(offsets, lead, side="right") - 1]
    x = np.take(_ASCII_MAP, buf)
    deleted = _replace_chars(x, lead, length, cp, spaces_only)
    return _collapse_spaces(offsets, x, deleted)


def _collapse_spaces(
    offsets: np.ndarray, x: np.ndarray, deleted: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Keep, of every run of spaces (32), its first byte; drop spaces at either end of a
    document, and the ``deleted`` positions (which count as word bytes for the rule).

    One boolean pass marks what stays (a word byte, or a space right after a word byte of the
    same document); the dropped positions (few: spaces that follow a space) give the new
    offsets; the single space kept at the end of a document whose text ends in spaces is found
    from the run of dropped positions that reaches its end.
    """
    word = x != 32
    keep = word.copy()
    keep[1:] |= word[:-1]
    lengths = np.diff(offsets)
    starts = offsets[:-1][lengths > 0]
    keep[starts] = word[starts]
    if deleted is not None and len(deleted):
        keep[deleted] = False
    dropped = np.flatnonzero(~keep)
    last = offsets[1:][lengths > 0] - 1
    tail = last[~word[last]]  # documents whose text ends in a space
    new_offsets = offsets - np.searchsorted(dropped, offsets)
    if len(tail):
        doc_start = offsets[np.searchsorted(offsets, tail, side="right") - 1]
        k = np.searchsorted(dropped, tail)
        in_run = k < len(dropped)
        in_run[in_run] = dropped[k[in_run]] == tail[in_run]
        # first position of the run of consecutive dropped positions that ends at the tail
        run_first = np.flatnonzero(np.diff(dropped, prepend=-2) != 1)
        first = np.searchsorted(run_first, k[in_run], side="right") - 1
        kept_space = tail.copy()
        kept_space[in_run] = dropped[run_first[first]] - 1
        kept_space = kept_space[kept_space >= doc_start]  # else only spaces: nothing kept
        keep[kept_space] = False
        new_offsets -= np.searchsorted(kept_space, offsets)
    return new_offsets, x[keep]


def normalize(texts: TextInput) -> pl.Series:
    """Normalise a batch of texts (see the package docstring for the exact definition).

    Equal to ``normalize_expr`` applied to the batch, computed as in
    :func:`normalized_buffers` (byte-level numpy; Polars' Unicode operations only on the few
    documents that need them).
    """
    return _arrow_series(*normalized_buffers(texts))


def _arrow_series(offsets: np.ndarray, buf: np.ndarray) -> pl.Series:
    """A Polars String series over (int64 offsets from 0, UTF-8 bytes)."""
    array = pa.LargeStringArray.from_buffers(
        len(offsets) - 1, pa.py_buffer(offsets), pa.py_buffer(buf)
    )
    series = pl.from_arrow(array)
    assert isinstance(series, pl.Series)
    return series.rename("text")


def _arrow_text(series: pl.Series) -> tuple[np.ndarray, np.ndarray]:
    """(offsets int64 starting at 0, UTF-8 bytes uint8) of a String series, without copies."""
    try:
        arr = series.to_arrow(compat_level=pl.CompatLevel.oldest())
    except (AttributeError, TypeError):
        arr = series.to_arrow()
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if arr.type != pa.large_string():
        arr = arr.cast(pa.large_string())
    _, off_buf, data_buf = arr.buffers()
    if off_buf is None or len(arr) == 0:
        return np.zeros(len(arr) + 1, dtype=np.int64), np.empty(0, dtype=np.uint8)
    offsets = np.frombuffer(off_buf, dtype=np.int64)[arr.offset : arr.offset + len(arr) + 1]
    lo, hi = int(offsets[0]), int(offsets[-1])
    if data_buf is None or hi == lo:
        return offsets - lo, np.empty(0, dtype=np.uint8)
    return offsets - lo, np.frombuffer(data_buf, dtype=np.uint8)[lo:hi]
