"""Tokenize kept documents into nanoGPT-style shards with a byte-level BPE (``tokenizers``).

The tokenizer is GPT-2's kind (Radford et al. 2019): byte-level BPE, so every string encodes
without unknown tokens. It comes from a ``tokenizer.json``, from a Hugging Face model folder
(``tokenizer.json``, or ``vocab.json`` + ``merges.txt``), or is trained on the kept documents
when the rules say ``{train: {vocab_size: N}}`` (on the documents that reached ``min_tokens``
when that step counted with it: it trains the run's tokenizer and publishes it, see
:mod:`corpusclean.steps.min_tokens`). Documents are split into train and validation
by a hash of their id (xxh3-64), so a document's side does not depend on batching or workers;
each document is followed by the EOS id. Encoding uses ``encode_batch_fast``, which runs on
all cores (Rust threads).

Shards: ``tokens/train.bin`` and ``tokens/val.bin``, little-endian uint16 (uint32 when the
vocabulary exceeds 65535 entries), and ``tokens/manifest.json`` (CONTRACT.md).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import xxhash
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

from corpusclean.rules import TokenizeSpec, TrainSpec, TrainTokenizer

EOS_CANDIDATES = ("<|endoftext|>", "</s>", "<eos>", "<|eos|>")
#: Documents encoded per ``encode_batch_fast`` call: large enough to keep all cores busy.
ENCODE_BATCH = 512


class TokenizerError(Exception):
    """The tokenizer named in the rules cannot be loaded or has no EOS token."""


def _from_vocab_merges(folder: Path) -> Tokenizer:
    """GPT-2's files as Hugging Face ships them: vocab.json + merges.txt (byte-level BPE)."""
    bpe = models.BPE.from_file(str(folder / "vocab.json"), str(folder / "merges.txt"))
    tokenizer = Tokenizer(bpe)
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.post_processor = processors.ByteLevel(trim_offsets=False)
    return tokenizer


def load_tokenizer(spec: str, rules_dir: Path | None = None) -> tuple[Tokenizer, str]:
    """Load a tokenizer from a file or folder; relative paths resolve from the rules' folder."""
    path = Path(spec)
    if not path.is_absolute() and not path.exists() and rules_dir is not None:
        path = rules_dir / path
    if path.is_file():
        return Tokenizer.from_file(str(path)), str(path)
    if path.is_dir():
        if (path / "tokenizer.json").is_file():
            return Tokenizer.from_file(str(path / "tokenizer.json")), str(path)
        if (path / "vocab.json").is_file() and (path / "merges.txt").is_file():
            return _from_vocab_merges(path), str(path)
        raise TokenizerError(
            f"{path}: no tokenizer.json and no vocab.json + merges.txt in this folder"
        )
    raise TokenizerError(f"{spec}: tokenizer file or folder not found")


def eos_id(tokenizer: Tokenizer) -> int:
    for token in EOS_CANDIDATES:
        found = tokenizer.token_to_id(token)
        if found is not None:
            return found
    raise TokenizerError(f"tokenizer has no end-of-text token (looked for {EOS_CANDIDATES})")


def iter_texts(documents: Path) -> Iterator[list[str]]:
    """Kept texts in output order, one list per Parquet row group."""
    for part in sorted(documents.glob("part-*.parquet")):
        parquet = pq.ParquetFile(part)
        for group in range(parquet.num_row_groups):
            yield parquet.read_row_group(group, columns=["text"]).column("text").to_pylist()


def iter_docs(documents: Path) -> Iterator[tuple[list[str], list[str]]]:
    """(ids, texts) in output order, one pair per Parquet row group."""
    for part in sorted(documents.glob("part-*.parquet")):
        parquet = pq.ParquetFile(part)
        for group in range(parquet.num_row_groups):
            table = parquet.read_row_group(group, columns=["id", "text"])
            yield table.column("id").to_pylist(), table.column("text").to_pylist()


def train_bpe(texts: Iterable[str], settings: TrainTokenizer) -> Tokenizer:
    """Train a GPT-2-style byte-level BPE (``<|endoftext|>`` is id 0) on ``texts``, in order.

    The one training recipe of the project: the tokenize stage and ``min_tokens`` (which
    trains the run's tokenizer when the rules say ``{train: ...}``) both call it, so the same
    texts and settings give the same tokenizer (training is deterministic; tested).
    """
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(
        vocab_size=settings.vocab_size,
        min_frequency=settings.min_frequency,
        special_tokens=["<|endoftext|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(texts, trainer=trainer)
    return tokenizer


def train_tokenizer(documents: Path, spec: TrainSpec) -> Tokenizer:
    """Train a GPT-2-style byte-level BPE on the kept documents."""
    texts = (text for group in iter_texts(documents) for text in group)
    return train_bpe(texts, spec.train)


def count_tokens(tokenizer: Tokenizer, texts: list[str]) -> np.ndarray:
    """Tokens per text as the shards hold them (no special tokens, EOS not counted).

    ``encode_batch_fast`` is the call :func:`tokenize_documents` makes, so a count equals the
    length of the document's ids in ``tokens/`` minus its EOS.
    """
    counts = np.empty(len(texts), dtype=np.int64)
    for start in range(0, len(texts), ENCODE_BATCH):
        chunk = tokenizer.encode_batch_fast(
            texts[start : start + ENCODE_BATCH], add_special_tokens=False
        )
        counts[start : start + len(chunk)] = [len(encoding) for encoding in chunk]
    return counts


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
