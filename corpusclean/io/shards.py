"""Tokenize kept documents into nanoGPT-style shards (``tokens/``) with the run's tokenizer.

Documents are split into train and validation by a hash of their id (xxh3-64), so a document's
side does not depend on batching or workers; each document is followed by the EOS id. The
tokenizer is loaded, trained or taken as published by :mod:`corpusclean.tokenizer`.

Shards: ``tokens/train.bin`` and ``tokens/val.bin``, little-endian uint16 (uint32 when the
vocabulary exceeds 65535 entries), and ``tokens/manifest.json`` (docs/contract.md).

The work runs as tasks, so that a cluster can tokenize every part at once (docs/scaling.md):
training the tokenizer is one task (BPE merges are learned from the whole sample, in order, so
it cannot be split without changing the tokenizer); then one task per ``documents/`` part
encodes it into its own ``.train.bin`` / ``.val.bin`` under ``_work/tokenize/``, and the driver
concatenates those in part-name order (input order, :mod:`corpusclean.io.numbering`). A token
stream is a plain concatenation of per-document ids, so the shards are the same bytes as one
process encoding the parts one after another, for any number of workers.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import uuid
from collections.abc import Callable, Iterator
from itertools import chain
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import xxhash

from corpusclean.tokenizer import (
    ENCODE_BATCH,
    TokenizeSpec,
    TrainSpec,
    eos_id,
    load_tokenizer,
    train_tokenizer,
)

if TYPE_CHECKING:
    from tokenizers import Tokenizer

#: Runs a list of ``(module-level function, args)`` tasks, maybe in other processes or on other
#: machines sharing the filesystem, and yields their results in task order.
RunTasks = Callable[[list[tuple[Callable[..., Any], tuple[Any, ...]]]], Iterator[Any]]

#: Per-part outputs and the trained tokenizer, removed once the shards are written.
WORK_DIR = Path("_work") / "tokenize"
SIDES = ("train", "val")

#: The tokenizer a worker process last loaded, keyed by (path, content digest): a worker reused
#: for many parts parses the file once, and a new file at the same path is never mistaken for
#: the cached one. One entry: a long-lived worker does not accumulate tokenizers.
_TOKENIZERS: dict[tuple[str, str], Tokenizer] = {}


def is_val(ids: list[str], val_fraction: float) -> np.ndarray:
    """Which documents go to validation: a hash of the id below ``val_fraction`` of 2**64."""
    if val_fraction <= 0:
        return np.zeros(len(ids), dtype=bool)
    cutoff = int(val_fraction * 2**64)
    return np.array([xxhash.xxh3_64_intdigest(i.encode()) < cutoff for i in ids], dtype=bool)


def shard_dtype(vocab_size: int) -> np.dtype:
    return np.dtype("<u2") if vocab_size <= 65535 else np.dtype("<u4")


def run_inline(tasks: list[tuple[Callable[..., Any], tuple[Any, ...]]]) -> Iterator[Any]:
    """The in-process executor: each task in order, in this process."""
    return (function(*args) for function, args in tasks)


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _cached_tokenizer(path: str, digest: str) -> Tokenizer:
    from tokenizers import Tokenizer

    key = (path, digest)
    if key not in _TOKENIZERS:
        _TOKENIZERS.clear()
        _TOKENIZERS[key] = Tokenizer.from_file(path)
    return _TOKENIZERS[key]


def _atomic_path(path: Path) -> Path:
    """A fresh temporary name beside ``path``: two attempts of one task never share a file."""
    return path.with_name(f"{path.name}.{uuid.uuid4().hex}.tmp")


def train_task(documents: str, spec: TrainSpec, destination: str) -> None:
    """Task: train the run's tokenizer on every kept document, in order, and save it.

    One task, on the same sample as the single-process stage (all of ``documents/`` in part
    order): BPE training is deterministic for the same texts in the same order (tested in
    tests/test_tokenization.py), so the tokenizer does not depend on the executor.
    """
    target = Path(destination)
    tmp = _atomic_path(target)
    train_tokenizer(Path(documents), spec).save(str(tmp))
    tmp.replace(target)


def encode_docs(
    tokenizer: Tokenizer, texts: list[str], val_mask: np.ndarray, eos: int, dtype: np.dtype
) -> dict[str, np.ndarray]:
    """Each document's ids followed by EOS, concatenated per side, in document order.

    ``encode_batch_fast`` runs on all cores in Rust, ``ENCODE_BATCH`` documents at a time; the
    EOS insertion and the train/val split are array operations, not a loop per document.
    """
    out: dict[str, list[np.ndarray]] = {side: [] for side in SIDES}
    for start in range(0, len(texts), ENCODE_BATCH):
        encodings = tokenizer.encode_batch_fast(
            texts[start : start + ENCODE_BATCH], add_special_tokens=False
        )
        id_lists = [encoding.ids for encoding in encodings]
        lengths = np.fromiter(map(len, id_lists), dtype=np.int64, count=len(id_lists)) + 1
        ends = np.cumsum(lengths)
        stream = np.full(int(ends[-1]) if len(ends) else 0, eos, dtype=dtype)
        is_token = np.ones(stream.size, dtype=bool)
        is_token[ends - 1] = False
        stream[is_token] = np.fromiter(
            chain.from_iterable(id_lists), dtype=dtype, count=int(is_token.sum())
        )
        to_val = np.repeat(val_mask[start : start + len(encodings)], lengths)
        out["train"].append(stream[~to_val])
        out["val"].append(stream[to_val])
    return {
        side: np.concatenate(arrays) if arrays else np.empty(0, dtype=dtype)
        for side, arrays in out.items()
    }


def encode_part_task(
    part: str,
    work: str,
    tokenizer_path: str,
    digest: str,
    val_fraction: float,
    dtype: str,
) -> dict[str, int]:
    """Task: encode one ``documents/`` part into ``work/<stem>.train.bin`` and ``.val.bin``.

    Holds one Parquet row group at a time. Both files are written under fresh temporary names
    and renamed, so a task killed and retried leaves no half file under a final name. Returns
    the part's four counts (tokens include each document's EOS).
    """
    import pyarrow.parquet as pq

    tokenizer = _cached_tokenizer(tokenizer_path, digest)
    eos = eos_id(tokenizer)
    np_dtype = np.dtype(dtype)
    stem = Path(part).name.split(".")[0]
    targets = {side: Path(work) / f"{stem}.{side}.bin" for side in SIDES}
    tmps = {side: _atomic_path(path) for side, path in targets.items()}
    counts = {f"{side}_{kind}": 0 for side in SIDES for kind in ("tokens", "docs")}
    parquet = pq.ParquetFile(part)
    with tmps["train"].open("wb") as train, tmps["val"].open("wb") as val:
        files = {"train": train, "val": val}
        for group in range(parquet.num_row_groups):
            table = parquet.read_row_group(group, columns=["id", "text"])
            val_mask = is_val(table.column("id").to_pylist(), val_fraction)
            texts = table.column("text").to_pylist()
            streams = encode_docs(tokenizer, texts, val_mask, eos, np_dtype)
            counts["val_docs"] += int(val_mask.sum())
            counts["train_docs"] += len(texts) - int(val_mask.sum())
            for side in SIDES:
                files[side].write(streams[side].tobytes())
                counts[f"{side}_tokens"] += int(streams[side].size)
    for side in SIDES:
        tmps[side].replace(targets[side])
    return counts


def tokenize_documents(
    output: Path,
    spec: TokenizeSpec,
    *,
    rules_dir: Path | None = None,
    published: tuple[Path, str] | None = None,
    run_tasks: RunTasks | None = None,
) -> dict[str, Any]:
    """Write ``output/tokens/{train,val}.bin`` + manifest and ``output/tokenizer.json``.

    ``published`` is ``(tokenizer file, step name)`` when a corpus-wide step already trained
    the run's tokenizer (``min_tokens`` counting with ``{train: ...}``): that tokenizer is used
    as it is, not trained again, so the documents were filtered with the tokenizer the shards
    are written with. ``run_tasks`` is the engine's executor (:data:`RunTasks`; ``None`` runs
    the tasks in this process). The driver holds nothing per document: per-part counts arrive
    as small dicts and the shards are concatenated file to file.
    """
    from tokenizers import Tokenizer

    run = run_tasks if run_tasks is not None else run_inline
    documents = output / "documents"
    work = output / WORK_DIR
    shutil.rmtree(work, ignore_errors=True)  # a killed run's leftovers
    work.mkdir(parents=True)
    if isinstance(spec.tokenizer, TrainSpec) and published is not None:
        tokenizer = Tokenizer.from_file(str(published[0]))
        source = (
            f"trained byte-level BPE, vocab_size={spec.tokenizer.train.vocab_size}, "
            f"on the documents that reached {published[1]}"
        )
    elif isinstance(spec.tokenizer, TrainSpec):
        trained = work / "trained.json"
        list(run([(train_task, (str(documents), spec.tokenizer, str(trained)))]))
        tokenizer = Tokenizer.from_file(str(trained))
        source = f"trained byte-level BPE, vocab_size={spec.tokenizer.train.vocab_size}"
    else:
        tokenizer, source = load_tokenizer(spec.tokenizer, rules_dir)
    eos = eos_id(tokenizer)
    vocab_size = tokenizer.get_vocab_size(with_added_tokens=True)
    dtype = shard_dtype(vocab_size)
    tokenizer_file = output / "tokenizer.json"
    tokenizer.save(str(tokenizer_file))
    digest = _digest(tokenizer_file)

    parts = sorted(documents.glob("part-*.parquet"))
    tasks = [
        (
            encode_part_task,
            (str(part), str(work), str(tokenizer_file), digest, spec.val_fraction, dtype.str),
        )
        for part in parts
    ]
    counts = {"train_tokens": 0, "val_tokens": 0, "train_docs": 0, "val_docs": 0}
    for result in run(tasks):
        for key in counts:
            counts[key] += result[key]

    tokens_dir = output / "tokens"
    shutil.rmtree(tokens_dir, ignore_errors=True)
    tokens_dir.mkdir()
    for side in SIDES:
        with (tokens_dir / f"{side}.bin").open("wb") as shard:
            for part in parts:
                with (work / f"{part.name.split('.')[0]}.{side}.bin").open("rb") as piece:
                    shutil.copyfileobj(piece, shard, 1 << 20)
    shutil.rmtree(work, ignore_errors=True)
    manifest = {
        "tokenizer": source,
        "vocab_size": vocab_size,
        "dtype": "uint16" if dtype.itemsize == 2 else "uint32",
        "eos_id": eos,
        **counts,
    }
    (tokens_dir / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest
