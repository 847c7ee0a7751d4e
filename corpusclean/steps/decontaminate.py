"""``decontaminate``: remove training documents that contain n-grams of the evaluation texts.

Why: a perplexity measured on an evaluation text rewards a training corpus that holds pages of
that text; an ablation whose variants differ in how many such pages they keep then measures
memorisation, not cleaning. GPT-3 (Brown et al. 2020, arXiv:2005.14165, appendix C) removed
every 13-gram it shared with a benchmark; datatrove has an n-gram decontamination step, dolma
a Bloom-filter one (whose false positives remove clean documents).

Definitions:

* **n-gram**: ``ngram`` (default 13, GPT-3's) consecutive words of the text after
  ``minhash_dedup``'s normalisation (:mod:`corpusclean.minhash.normalization`: lowercase, NFD
  without marks, every run of non-letter/number/mark characters one space), a word being what
  lies between two spaces of the normalised text. A text of fewer than ``ngram`` words has no
  n-gram (it cannot match, and it contributes nothing to the index).
* **hash**: the 64-bit ``fast`` hash ``minhash_dedup`` gives a shingle of the same words
  (:mod:`corpusclean.minhash.shingling`: a polynomial of the bytes finalised with ``fmix64``);
  no second hash is written. Membership is *exact on hashes*: an n-gram matches when its
  hash is one of the evaluation texts' (no Bloom filter). The false positives that remain are
  64-bit collisions: with N distinct evaluation n-grams each training n-gram collides with one
  of them with probability N / 2^64, i.e. 5.4e-12 for N = 10^8; over 10^11 training n-grams
  (a corpus of about 10^11 words) that is 0.54 expected false matches, each touching one
  document (computed as 1e11 * 1e8 / 2**64). Collisions inside the index itself
  (N^2 / 2^65 = 2.7e-4 expected pairs for N = 10^8) are harmless: two evaluation n-grams
  sharing a hash only share an entry.
* **the evaluation texts** (``against``): a ``.jsonl`` file (also ``.jsonl.gz``) is read as
  one JSON value per line, every string in it (at any depth: a question, its choices, an
  answer) one text, so benchmark sets in lm-evaluation-harness's JSONL form work as they are
  and short fields (ids, labels under ``ngram`` words) add nothing; any other file is one UTF-8
  text (WikiText's ``test.txt``), read in blocks of 4 Mi characters cut at whitespace, the
  last ``ngram - 1`` words of a block carried into the next so that no n-gram is lost at a cut.

The index is built **once per evaluation set**, not per batch or worker: in the parent, by
:meth:`DecontaminateStep.bind`, into a folder under ``cache`` (default
``$XDG_CACHE_HOME/corpusclean/decontaminate/``) named by a hash of the index format, ``ngram``
and every file's name and SHA-256, built in a temporary folder and renamed into place (a
concurrent builder's folder wins, the other is discarded), and reused by later runs. It holds
the sorted distinct hashes (``hashes.u64``, little-endian uint64) and, aligned with them, the
index of the first evaluation file holding each (``files.u16``), written bucket by bucket
(256 buckets by the top 8 bits, spilled to files while the texts are read), so building never
holds more than one block's n-grams and one bucket in memory. Each worker's :meth:`setup`
maps the two files read-only (``np.memmap``): the pages are the page cache's, shared by every
worker on the machine and evictable, so 10^8 n-grams (800 MB of hashes) do not cost 800 MB of
private memory per worker (measured in docs/rules.md, ``benchmarks/decontaminate.py``).

Per batch, membership is vectorised: normalise and hash every n-gram of the batch, take the
distinct hashes (sorted, which also keeps the binary search's memory accesses in order),
``np.searchsorted`` them against the index, compare. ``detail`` names the evaluation file with
the most matching n-grams and counts the document's distinct matching n-grams over all files:
``eval=wiki.test.raw ngrams=37``. The count is also the signal ``decontaminate.ngrams``.

``action``:

* ``drop`` (default): a document with any matching n-gram is rejected.
* ``strip``: GPT-3's practice: every matching n-gram is removed "as well as a 200 character
  window around it, splitting the original document into pieces"; pieces shorter than
  ``min_piece`` (200) characters are dropped, and a document split into more than
  ``max_pieces`` (10) pieces is "considered contaminated and removed entirely", as is one with
  nothing left. The kept pieces, stripped of surrounding whitespace, are joined with a blank
  line into the document's new text (one input document stays one row, so nothing is lost;
  GPT-3 kept the pieces as separate documents). The piece count is of the non-empty pieces the
  cuts leave, before the length rule. Details: ``... pieces=14>10``, ``... pieces=3 kept=0``.
  A stripped text is checked again (a join could make a new matching n-gram, in principle);
  a document still matching is dropped with ``... residual=K``.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import shutil
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import polars as pl
from pydantic import Field, PrivateAttr

from corpusclean.histograms import COUNT
from corpusclean.minhash.normalization import TextInput, normalize, normalized_buffers
from corpusclean.minhash.shingling import (  # the shingles and the hash minhash_dedup uses
    _fast_hash_ranges,
    _shingle_ranges,
)
from corpusclean.steps.base import RunContext, Step, StepOptions, StepResult
from corpusclean.text import Cut

#: The signal column: distinct evaluation n-grams in the document.
NGRAMS = "decontaminate.ngrams"
#: Bumped whenever the index's content or layout changes (it is part of the cache key).
INDEX_FORMAT = 1
HASHES_FILE, FILES_FILE, META_FILE = "hashes.u64", "files.u16", "meta.json"
#: Characters of an evaluation text normalised at once while the index is built.
BLOCK_CHARS = 1 << 22
_BUCKET_BITS = 8
_RECORD = np.dtype([("h", "<u8"), ("f", "<u2")])


class DecontaminateOptions(StepOptions):
    against: list[str] = Field(
        default_factory=list,
        description=(
            "evaluation texts (none: the step keeps every document): UTF-8 text files, or "
            ".jsonl/.jsonl.gz whose every string is a text; relative to the rules' folder"
        ),
    )
    ngram: int = Field(13, ge=1, le=1000, description="words per n-gram (GPT-3: 13)")
    action: Literal["drop", "strip"] = Field(
        "drop",
        description=(
            "drop: reject a document with any matching n-gram; strip: cut each match with "
            "`margin` characters either side (GPT-3, Brown et al. 2020, appendix C)"
        ),
    )
    margin: int = Field(
        200, ge=0, description="strip: characters removed either side of a match (GPT-3: 200)"
    )
    min_piece: int = Field(
        200, ge=0, description="strip: drop pieces shorter than this many characters (GPT-3: 200)"
    )
    max_pieces: int = Field(
        10, ge=1, description="strip: drop a document cut into more pieces (GPT-3: 10)"
    )
    cache: str | None = Field(
        None,
        description=(
            "folder of the evaluation n-gram indexes (default "
            "$XDG_CACHE_HOME/corpusclean/decontaminate); every worker must see it"
        ),
    )
    keep_signals: bool = Field(
        False, description=f"keep the matching n-gram count as column {NGRAMS} in documents/"
    )
    #: The index folder, set by bind (in the parent) so that workers only map it.
    _index: str | None = PrivateAttr(None)


# -- n-grams and their hashes -----------------------------------------------------------------


@dataclass(frozen=True)
class NgramHashes:
    """Every full n-gram of a batch: document ``i`` has ``hashes[offsets[i]:offsets[i + 1]]``,
    in text order (repeats included)."""

    hashes: np.ndarray
    offsets: np.ndarray

    @property
    def docs(self) -> np.ndarray:
        """The document of every hash."""
        return np.repeat(np.arange(len(self.offsets) - 1), np.diff(self.offsets))


def buffer_ngrams(offsets: np.ndarray, buf: np.ndarray, ngram: int) -> NgramHashes:
    """The n-gram hashes of normalised texts (``normalized_buffers``' output).

    ``minhash.shingling``'s shingles and fast hash, less the one shingle of all words it gives
    a document shorter than ``ngram`` words (a decontamination n-gram has exactly ``ngram``).
    """
    starts, ends, doc_offsets = _shingle_ranges(offsets, buf, ngram)
    spaces = np.flatnonzero(buf == 32)
    words = np.where(np.diff(offsets) > 0, np.diff(np.searchsorted(spaces, offsets)) + 1, 0)
    short = (words > 0) & (words < ngram)
    if short.any():
        keep = np.ones(len(starts), dtype=bool)
        keep[doc_offsets[:-1][short]] = False
        starts, ends = starts[keep], ends[keep]
        per_doc = np.diff(doc_offsets)
        per_doc[short] = 0
        doc_offsets = np.zeros(len(per_doc) + 1, dtype=np.int64)
        np.cumsum(per_doc, out=doc_offsets[1:])
    return NgramHashes(_fast_hash_ranges(buf, starts, ends), doc_offsets)


def text_ngrams(texts: TextInput, ngram: int) -> NgramHashes:
    """Normalise a batch of texts and hash its n-grams."""
    offsets, buf = normalized_buffers(texts)
    return buffer_ngrams(offsets, buf, ngram)


# -- reading the evaluation texts -------------------------------------------------------------


def _is_jsonl(path: Path) -> bool:
    name = path.name.lower()
    return name.endswith((".jsonl", ".jsonl.gz"))


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _jsonl_hashes(path: Path, ngram: int) -> Iterator[np.ndarray]:
    """Every string of every line is its own text; batches of about BLOCK_CHARS characters."""
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    batch: list[str] = []
    size = 0
    with opener(path, "rt", encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}:{number}: not JSON: {exc.msg}") from None
            for text in _strings(value):
                batch.append(text)
                size += len(text)
            if size >= BLOCK_CHARS:
                yield text_ngrams(batch, ngram).hashes
                batch, size = [], 0
    if batch:
        yield text_ngrams(batch, ngram).hashes


def _text_blocks(path: Path) -> Iterator[str]:
    """The file's text in blocks of about BLOCK_CHARS characters, each cut after whitespace
    (whitespace always normalises to a word boundary, so no word is cut)."""
    with open(path, encoding="utf-8", newline="") as handle:
        rest = ""
        while block := handle.read(BLOCK_CHARS):
            block = rest + block
            cut = max(block.rfind(c) for c in " \n\t\r")
            if cut < 0:
                rest = block
                continue
            yield block[: cut + 1]
            rest = block[cut + 1 :]
        if rest:
            yield rest


def _text_hashes(path: Path, ngram: int) -> Iterator[np.ndarray]:
    """One text read block by block; the last ngram-1 normalised words of a block are put
    before the next (normalisation is idempotent), so n-grams across a cut are all there and
    none twice (ngram-1 words hold no n-gram)."""
    tail = ""
    for block in _text_blocks(path):
        offsets, buf = normalized_buffers([f"{tail} {block}" if tail else block])
        yield buffer_ngrams(offsets, buf, ngram).hashes
        spaces = np.flatnonzero(buf == 32)
        keep = ngram - 1
        if keep == 0:
            tail = ""
        else:
            start = int(spaces[-keep]) + 1 if len(spaces) >= keep else 0
            tail = buf[start:].tobytes().decode("utf-8")


def eval_hashes(path: Path, ngram: int) -> Iterator[np.ndarray]:
    """The n-gram hashes of one evaluation file, block by block (repeats possible)."""
    try:
        if _is_jsonl(path):
            yield from _jsonl_hashes(path, ngram)
        else:
            yield from _text_hashes(path, ngram)
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}: not UTF-8 ({exc.reason} at byte {exc.start})") from None
    except (OSError, EOFError) as exc:  # gzip.BadGzipFile is an OSError
        raise ValueError(f"{path}: {exc}") from None


# -- the index --------------------------------------------------------------------------------


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(1 << 22):
            digest.update(block)
    return digest.hexdigest()


def index_key(files: Sequence[Path], ngram: int) -> str:
    """The cache key: index format, ``ngram``, and each file's name and content hash, in order."""
    blob = json.dumps(
        {"format": INDEX_FORMAT, "ngram": ngram, "files": [[p.name, _sha256(p)] for p in files]}
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


def default_cache() -> Path:
    root = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return root / "corpusclean" / "decontaminate"


def build_index(files: Sequence[Path], ngram: int, cache: Path | None = None) -> Path:
    """The index folder of ``files`` (built now unless the cache has it); see the module doc."""
    if len(files) > np.iinfo(np.uint16).max:
        raise ValueError(f"at most {np.iinfo(np.uint16).max} evaluation files, got {len(files)}")
    root = cache or default_cache()
    directory = root / index_key(files, ngram)
    if (directory / META_FILE).is_file():
        return directory
    root.mkdir(parents=True, exist_ok=True)
    tmp = root / f".{directory.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        meta = _write_index(tmp, files, ngram)
        (tmp / META_FILE).write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")
        try:
            tmp.rename(directory)
        except OSError:  # another process renamed its (identical) index into place first
            if not (directory / META_FILE).is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return directory


def _write_index(tmp: Path, files: Sequence[Path], ngram: int) -> dict[str, Any]:
    buckets = 1 << _BUCKET_BITS
    shift = np.uint64(64 - _BUCKET_BITS)
    handles = [open(tmp / f"bucket-{b:03d}.bin", "wb") for b in range(buckets)]  # noqa: SIM115
    try:
        for number, path in enumerate(files):
            for hashes in eval_hashes(path, ngram):
                unique = np.unique(hashes)  # sorted: each bucket is one slice
                records = np.empty(len(unique), dtype=_RECORD)
                records["h"], records["f"] = unique, number
                cuts = np.searchsorted(unique >> shift, np.arange(buckets + 1, dtype=np.uint64))
                for b in np.flatnonzero(np.diff(cuts)).tolist():
                    records[cuts[b] : cuts[b + 1]].tofile(handles[b])
    finally:
        for handle in handles:
            handle.close()
    per_file = np.zeros(len(files), dtype=np.int64)
    count = 0
    with open(tmp / HASHES_FILE, "wb") as out_h, open(tmp / FILES_FILE, "wb") as out_f:
        for b in range(buckets):
            part = tmp / f"bucket-{b:03d}.bin"
            records = np.fromfile(part, dtype=_RECORD)
            part.unlink()
            if len(records) == 0:
                continue
            records = records[np.lexsort((records["f"], records["h"]))]
            h, f = records["h"], records["f"]
            pair = np.ones(len(h), dtype=bool)  # first of each (hash, file)
            pair[1:] = (h[1:] != h[:-1]) | (f[1:] != f[:-1])
            per_file += np.bincount(f[pair], minlength=len(files))
            first = np.ones(len(h), dtype=bool)  # first of each hash: its lowest file
            first[1:] = h[1:] != h[:-1]
            h[first].astype("<u8").tofile(out_h)
            f[first].astype("<u2").tofile(out_f)
            count += int(first.sum())
    return {
        "format": INDEX_FORMAT,
        "ngram": ngram,
        "count": count,
        "files": [
            {"path": str(p), "name": p.name, "ngrams": int(n)}
            for p, n in zip(files, per_file, strict=True)
        ],
    }


class EvalIndex:
    """An index folder mapped read-only: sorted distinct hashes and each one's file."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.meta: dict[str, Any] = json.loads((directory / META_FILE).read_text("utf-8"))
        self.names = [f["name"] for f in self.meta["files"]]
        count = int(self.meta["count"])
        if count:
            self.hashes = np.memmap(directory / HASHES_FILE, dtype="<u8", mode="r", shape=count)
            self.files = np.memmap(directory / FILES_FILE, dtype="<u2", mode="r", shape=count)
        else:  # an empty file cannot be mapped
            self.hashes = np.empty(0, dtype="<u8")
            self.files = np.empty(0, dtype="<u2")

    def __len__(self) -> int:
        return len(self.hashes)

    def lookup(self, hashes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For every hash: whether the index holds it, and its file (0 where it does not)."""
        if len(hashes) == 0 or len(self.hashes) == 0:
            return np.zeros(len(hashes), dtype=bool), np.zeros(len(hashes), dtype=np.uint16)
        unique, inverse = np.unique(hashes, return_inverse=True)
        at = np.minimum(np.searchsorted(self.hashes, unique), len(self.hashes) - 1)
        found = np.asarray(self.hashes[at]) == unique
        files = np.where(found, np.asarray(self.files[at]), 0).astype(np.uint16)
        return found[inverse], files[inverse]


# -- the step ---------------------------------------------------------------------------------


def _resolve(path: str, context: RunContext) -> Path:
    candidate = Path(path).expanduser()
    if not candidate.is_absolute() and not candidate.exists():
        candidate = context.rules_dir / candidate
    return candidate.resolve()


@dataclass
class _Matches:
    """Per document of a batch: distinct matching n-grams, and the file holding most."""

    ngrams: np.ndarray  # int64 per document
    main_file: np.ndarray  # int64 per document (-1: none)
    files_hit: np.ndarray  # int64 per document: how many evaluation files it matches


def _matches(index: EvalIndex, grams: NgramHashes, n_docs: int) -> _Matches:
    hit, file_of = index.lookup(grams.hashes)
    where = np.flatnonzero(hit)
    ngrams = np.zeros(n_docs, dtype=np.int64)
    main = np.full(n_docs, -1, dtype=np.int64)
    files_hit = np.zeros(n_docs, dtype=np.int64)
    if len(where) == 0:
        return _Matches(ngrams, main, files_hit)
    doc = grams.docs[where]
    h, f = grams.hashes[where], file_of[where].astype(np.int64)
    order = np.lexsort((h, doc))
    doc, h, f = doc[order], h[order], f[order]
    first = np.ones(len(doc), dtype=bool)  # distinct (document, n-gram)
    first[1:] = (doc[1:] != doc[:-1]) | (h[1:] != h[:-1])
    doc, f = doc[first], f[first]
    ngrams = np.bincount(doc, minlength=n_docs).astype(np.int64)
    pair, per_pair = np.unique(doc * len(index.names) + f, return_counts=True)
    pair_doc, pair_file = pair // len(index.names), pair % len(index.names)
    files_hit = np.bincount(pair_doc, minlength=n_docs).astype(np.int64)
    best = np.lexsort((pair_file, -per_pair, pair_doc))  # most n-grams, then the first file
    lead = np.ones(len(best), dtype=bool)
    lead[1:] = pair_doc[best][1:] != pair_doc[best][:-1]
    main[pair_doc[best][lead]] = pair_file[best][lead]
    return _Matches(ngrams, main, files_hit)


class DecontaminateStep(Step[DecontaminateOptions]):
    name = "decontaminate"
    summary = (
        "Drop (or strip) documents that share word n-grams with the evaluation texts "
        "(exact 64-bit hashes)."
    )
    source = (
        "GPT-3 (Brown et al. 2020, appendix C): 13-gram overlap, matches cut with 200 "
        "characters either side, documents in more than 10 pieces removed"
    )
    signal_columns = (NGRAMS,)
    signal_bins = {NGRAMS: COUNT}

    def __init__(self, options: DecontaminateOptions) -> None:
        super().__init__(options)
        self._eval: EvalIndex | None = None

    def __getstate__(self) -> dict[str, Any]:
        """A step travels without its mapped index (each worker maps it in setup)."""
        return {**self.__dict__, "_eval": None}

    @classmethod
    def bind(cls, options: DecontaminateOptions, context: RunContext) -> DecontaminateOptions:
        """Resolve the evaluation files against the rules' folder and build their index (once,
        in the parent)."""
        if not options.against:
            return options  # nothing to decontaminate against: the step keeps every document
        files = [_resolve(p, context) for p in options.against]
        for original, path in zip(options.against, files, strict=True):
            if not path.is_file():
                raise ValueError(f"against: {original}: evaluation file not found ({path})")
        cache = str(_resolve(options.cache, context)) if options.cache else None
        bound = options.model_copy(update={"against": [str(p) for p in files], "cache": cache})
        try:
            bound._index = str(build_index(files, bound.ngram, Path(cache) if cache else None))
        except ValueError as exc:
            raise ValueError(f"against: {exc}") from None
        return bound

    def setup(self) -> None:
        """Map the index (built by bind; built here when the step runs outside the engine)."""
        opts = self.options
        directory = opts._index
        if not opts.against:
            self._eval = None
            return
        if directory is None:
            files = [Path(p) for p in opts.against]
            cache = Path(opts.cache) if opts.cache else None
            directory = str(build_index(files, opts.ngram, cache))
        self._eval = EvalIndex(Path(directory))

    def apply(self, batch: pl.DataFrame) -> StepResult:
        if self._eval is None and self.options.against:
            self.setup()
        opts = self.options
        texts = batch.get_column("text")
        n_docs = batch.height
        if self._eval is None:  # `against` empty: nothing matches
            zero = np.zeros(n_docs, dtype=np.int64)
            found = _Matches(zero, zero - 1, zero)
        else:
            found = _matches(self._eval, text_ngrams(texts, opts.ngram), n_docs)
        matched = np.flatnonzero(found.ngrams > 0)
        # Python per matching document only (few): the detail string names a file.
        base = {
            int(i): self._detail(int(found.main_file[i]), int(found.ngrams[i]),
                                 int(found.files_hit[i]))
            for i in matched.tolist()
        }  # fmt: skip
        details: list[str | None] = [None] * n_docs
        counters = {"matched_docs": len(matched), "matched_ngrams": int(found.ngrams.sum())}
        cuts: list[Cut] = []
        if opts.action == "drop":
            for i, detail in base.items():
                details[i] = detail
            cuts = [Cut("ngrams", NGRAMS, 0.0, "max")]
        else:
            new_texts, strip_counters = self._strip(texts, base, details)
            counters.update(strip_counters)
            if new_texts:
                rows = pl.Series(list(new_texts), dtype=pl.Int64)
                values = pl.Series(list(new_texts.values()), dtype=pl.String)
                texts = texts.clone().scatter(rows, values)
                batch = batch.with_columns(texts.alias("text"))
        reject = pl.Series("detail", details, dtype=pl.String)
        batch = batch.with_columns(pl.Series(NGRAMS, found.ngrams, dtype=pl.Int64))
        signals = batch.select(NGRAMS)
        if not opts.keep_signals:
            batch = batch.drop(NGRAMS)
        return StepResult(
            frame=batch,
            reject=reject if matched.size else None,
            counters=counters,
            signals=signals,
            cuts=cuts,
        )

    def _detail(self, main: int, ngrams: int, files_hit: int) -> str:
        assert self._eval is not None
        more = f" evals={files_hit}" if files_hit > 1 else ""
        return f"eval={self._eval.names[main]} ngrams={ngrams}{more}"

    def _strip(
        self, texts: pl.Series, base: dict[int, str], details: list[str | None]
    ) -> tuple[dict[int, str], dict[str, int]]:
        """GPT-3's cut for every matching document; fills ``details`` for dropped ones and
        returns the new texts of the kept ones."""
        opts = self.options
        new_texts: dict[int, str] = {}
        counters = {"stripped": 0, "dropped_pieces": 0, "dropped_empty": 0, "chars_removed": 0}
        if self._eval is None:
            return new_texts, counters
        # Python per matching document (few): the spans must be found in the original text,
        # whose word positions the vectorised batch pass (on normalised bytes) does not keep.
        for i, detail in base.items():
            text = texts[i]
            pieces = _pieces(text, self._eval, opts.ngram, opts.margin)
            if len(pieces) > opts.max_pieces:
                details[i] = f"{detail} pieces={len(pieces)}>{opts.max_pieces}"
                counters["dropped_pieces"] += 1
                continue
            kept = [p.strip() for p in pieces if len(p) >= opts.min_piece]
            kept = [p for p in kept if p]
            if not kept:
                details[i] = f"{detail} pieces={len(pieces)} kept=0"
                counters["dropped_empty"] += 1
                continue
            new_texts[i] = "\n\n".join(kept)
        if new_texts:  # a join could, in principle, make a new matching n-gram
            rows = list(new_texts)
            again = _matches(
                self._eval, text_ngrams(list(new_texts.values()), opts.ngram), len(rows)
            )
            for row, residual in zip(rows, again.ngrams.tolist(), strict=True):
                if residual:
                    details[row] = f"{base[row]} residual={residual}"
                    del new_texts[row]
                    counters["dropped_empty"] += 1
        counters["stripped"] = len(new_texts)
        counters["chars_removed"] = sum(len(texts[i]) - len(t) for i, t in new_texts.items())
        return new_texts, counters


# -- strip: spans in the original text --------------------------------------------------------

# Per code point: 0 not yet classified, 1 a separator (normalises to spaces only), 2 not.
_SEPARATOR = np.zeros(0x110000, dtype=np.uint8)


def _separators(code_points: np.ndarray) -> np.ndarray:
    """Whether each code point, alone, normalises to a word boundary (see normalize_expr)."""
    flags = _SEPARATOR[code_points]
    unknown = np.unique(code_points[flags == 0])
    if len(unknown):
        chars = pl.Series("c", [chr(c) for c in unknown.tolist()], dtype=pl.String)
        replaced = (
            chars.str.to_lowercase()
            .str.normalize("NFD")
            .str.replace_all(r"\p{Mn}+", "")
            .str.replace_all(r"[^\p{L}\p{N}\p{M}]+", " ")
        )
        space = (replaced.str.len_bytes() > 0) & (replaced.str.strip_chars(" ") == "")
        _SEPARATOR[unknown] = np.where(space.to_numpy(), 1, 2)
        flags = _SEPARATOR[code_points]
    return flags == 1


def word_spans(text: str) -> tuple[list[str], np.ndarray, np.ndarray]:
    """The normalised words of ``text`` with the character range of the original each came
    from: runs of non-separator characters, each normalised (a run may give several words,
    which share its range, or none: a lone combining mark)."""
    code_points = np.frombuffer(text.encode("utf-32-le"), dtype="<u4").astype(np.int64)
    word = (~_separators(code_points)).astype(np.int8)
    change = np.diff(word, prepend=0, append=0)
    run_starts, run_ends = np.flatnonzero(change == 1), np.flatnonzero(change == -1)
    runs = [text[s:e] for s, e in zip(run_starts.tolist(), run_ends.tolist(), strict=True)]
    words: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    for normal, s, e in zip(
        normalize(runs).to_list(), run_starts.tolist(), run_ends.tolist(), strict=True
    ):
        for w in normal.split(" ") if normal else ():
            words.append(w)
            starts.append(s)
            ends.append(e)
    return words, np.array(starts, dtype=np.int64), np.array(ends, dtype=np.int64)


def _pieces(text: str, index: EvalIndex, ngram: int, margin: int) -> list[str]:
    """``text`` less every matching n-gram and ``margin`` characters either side: the
    non-empty pieces left, in order."""
    words, starts, ends = word_spans(text)
    grams = text_ngrams([" ".join(words)], ngram)
    hit, _ = index.lookup(grams.hashes)
    first = np.flatnonzero(hit)  # n-gram i covers words i .. i + ngram - 1
    if len(first) == 0:
        return [text]
    low = np.maximum(starts[first] - margin, 0)
    high = np.minimum(ends[first + ngram - 1] + margin, len(text))
    reach = np.maximum.accumulate(high)  # merge overlapping cuts (low is increasing)
    new = np.ones(len(low), dtype=bool)
    new[1:] = low[1:] > reach[:-1]
    last = np.append(np.flatnonzero(new)[1:] - 1, len(low) - 1)
    cut_low, cut_high = low[new].tolist(), reach[last].tolist()
    bounds = [0, *[x for pair in zip(cut_low, cut_high, strict=True) for x in pair], len(text)]
    pieces = [text[bounds[k] : bounds[k + 1]] for k in range(0, len(bounds), 2)]
    return [p for p in pieces if p.strip()]
