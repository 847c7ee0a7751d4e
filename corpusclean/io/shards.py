"""Tokenize kept documents into nanoGPT-style shards (``tokens/``) with the run's tokenizer.

Documents are split into train and validation by a hash of their id (xxh3-64), so a document's
side does not depend on batching or workers; each document is followed by the EOS id. The
tokenizer is loaded, trained or taken as published by :mod:`corpusclean.tokenizer`.

Shards: ``tokens/train.bin`` and ``tokens/val.bin``, little-endian uint16 (uint32 when the
vocabulary exceeds 65535 entries), and ``tokens/manifest.json`` (docs/contract.md).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import xxhash
from tokenizers import Tokenizer

from corpusclean.io.parts import iter_docs
from corpusclean.tokenizer import (
    ENCODE_BATCH,
    TokenizeSpec,
    TrainSpec,
    eos_id,
    load_tokenizer,
    train_tokenizer,
)


def is_val(ids: list[str], val_fraction: float) -> np.ndarray:
    """Which documents go to validation: a hash of the id below ``val_fraction`` of 2**64."""
    if val_fraction <= 0:
        return np.zeros(len(ids), dtype=bool)
    cutoff = int(val_fraction * 2**64)
    return np.array([xxhash.xxh3_64_intdigest(i.encode()) < cutoff for i in ids], dtype=bool)


def shard_dtype(vocab_size: int) -> np.dtype:
    return np.dtype("<u2") if vocab_size <= 65535 else np.dtype("<u4")


def tokenize_documents(
    output: Path,
    spec: TokenizeSpec,
    *,
    rules_dir: Path | None = None,
    published: tuple[Path, str] | None = None,
) -> dict[str, Any]:
    """Write ``output/tokens/{train,val}.bin`` + manifest and ``output/tokenizer.json``.

    ``published`` is ``(tokenizer file, step name)`` when a corpus-wide step already trained
    the run's tokenizer (``min_tokens`` counting with ``{train: ...}``): that tokenizer is used
    as it is, not trained again, so the documents were filtered with the tokenizer the shards
    are written with.
    """
    documents = output / "documents"
    if isinstance(spec.tokenizer, TrainSpec) and published is not None:
        tokenizer = Tokenizer.from_file(str(published[0]))
        source = (
            f"trained byte-level BPE, vocab_size={spec.tokenizer.train.vocab_size}, "
            f"on the documents that reached {published[1]}"
        )
    elif isinstance(spec.tokenizer, TrainSpec):
        tokenizer = train_tokenizer(documents, spec.tokenizer)
        source = f"trained byte-level BPE, vocab_size={spec.tokenizer.train.vocab_size}"
    else:
        tokenizer, source = load_tokenizer(spec.tokenizer, rules_dir)
    eos = eos_id(tokenizer)
    vocab_size = tokenizer.get_vocab_size(with_added_tokens=True)
    dtype = shard_dtype(vocab_size)
    tokenizer.save(str(output / "tokenizer.json"))

    tokens_dir = output / "tokens"
    shutil.rmtree(tokens_dir, ignore_errors=True)
    tokens_dir.mkdir()
    counts = {"train_tokens": 0, "val_tokens": 0, "train_docs": 0, "val_docs": 0}
    eos_array = np.array([eos], dtype=dtype)
    with (tokens_dir / "train.bin").open("wb") as train, (tokens_dir / "val.bin").open("wb") as val:
        for ids, texts in iter_docs(documents):
            val_mask = is_val(ids, spec.val_fraction)
            for start in range(0, len(texts), ENCODE_BATCH):
                encodings = tokenizer.encode_batch_fast(
                    texts[start : start + ENCODE_BATCH], add_special_tokens=False
                )
                for encoding, to_val in zip(
                    encodings, val_mask[start : start + ENCODE_BATCH], strict=True
                ):
                    array = np.concatenate([np.asarray(encoding.ids, dtype=dtype), eos_array])
                    side = "val" if to_val else "train"
                    (val if to_val else train).write(array.tobytes())
                    counts[f"{side}_tokens"] += int(array.size)
                    counts[f"{side}_docs"] += 1
    manifest = {
        "tokenizer": source,
        "vocab_size": vocab_size,
        "dtype": "uint16" if dtype.itemsize == 2 else "uint32",
        "eos_id": eos,
        **counts,
    }
    (tokens_dir / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest
