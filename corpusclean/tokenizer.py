"""The run's tokenizer: the rules' ``tokenize`` section, and loading, training and counting.

The tokenizer is GPT-2's kind (Radford et al. 2019): byte-level BPE (``tokenizers``), so every
string encodes without unknown tokens. It comes from a ``tokenizer.json``, from a Hugging Face
model folder (``tokenizer.json``, or ``vocab.json`` + ``merges.txt``), or is trained on the kept
documents when the rules say ``{train: {vocab_size: N}}`` (on the documents that reached
``min_tokens`` when that step counted with it: it trains the run's tokenizer and publishes it,
see :mod:`corpusclean.steps.min_tokens`). Encoding uses ``encode_batch_fast``, which runs on
all cores (Rust threads). The shards it writes are :mod:`corpusclean.io.shards`'.

The spec types are validated as strictly as the rest of the rules (:mod:`corpusclean.rules`,
unknown keys are errors); they live here so that the steps and the shard writer can use them
without importing the rules.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from corpusclean.io.parts import iter_texts

if TYPE_CHECKING:
    from tokenizers import Tokenizer

# ``tokenizers`` is imported by the functions that use it, not here: the rules (hence every
# spawned worker) and ``min_tokens`` import this module for its spec types, and most runs
# never load a tokenizer in a worker (importing it there cost each worker about 3 MB of RSS).

EOS_CANDIDATES = ("<|endoftext|>", "</s>", "<eos>", "<|eos|>")
#: Documents encoded per ``encode_batch_fast`` call: large enough to keep all cores busy.
ENCODE_BATCH = 512


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TrainTokenizer(_Strict):
    vocab_size: int = Field(ge=260, le=1_000_000)
    min_frequency: int = Field(2, ge=1)


class TrainSpec(_Strict):
    train: TrainTokenizer


class TokenizeSpec(_Strict):
    tokenizer: str | TrainSpec
    val_fraction: float = Field(0.005, ge=0.0, lt=1.0)


class TokenizerError(Exception):
    """The tokenizer named in the rules cannot be loaded or has no EOS token."""


def _from_vocab_merges(folder: Path) -> Tokenizer:
    """GPT-2's files as Hugging Face ships them: vocab.json + merges.txt (byte-level BPE)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors

    bpe = models.BPE.from_file(str(folder / "vocab.json"), str(folder / "merges.txt"))
    tokenizer = Tokenizer(bpe)
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.post_processor = processors.ByteLevel(trim_offsets=False)
    return tokenizer


def load_tokenizer(spec: str, rules_dir: Path | None = None) -> tuple[Tokenizer, str]:
    """Load a tokenizer from a file or folder; relative paths resolve from the rules' folder."""
    from tokenizers import Tokenizer

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


def train_bpe(texts: Iterable[str], settings: TrainTokenizer) -> Tokenizer:
    """Train a GPT-2-style byte-level BPE (``<|endoftext|>`` is id 0) on ``texts``, in order.

    The one training recipe of the project: the tokenize stage and ``min_tokens`` (which
    trains the run's tokenizer when the rules say ``{train: ...}``) both call it, so the same
    texts and settings give the same tokenizer (training is deterministic; tested).
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

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

    ``encode_batch_fast`` is the call :func:`corpusclean.io.shards.tokenize_documents` makes,
    so a count equals the length of the document's ids in ``tokens/`` minus its EOS.
    """
    counts = np.empty(len(texts), dtype=np.int64)
    for start in range(0, len(texts), ENCODE_BATCH):
        chunk = tokenizer.encode_batch_fast(
            texts[start : start + ENCODE_BATCH], add_special_tokens=False
        )
        counts[start : start + len(chunk)] = [len(encoding) for encoding in chunk]
    return counts
