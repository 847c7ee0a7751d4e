"""An A/A pair: one shard directory's training documents split at random into two halves.

Why: an ablation's verdict rule is only as good as its false-positive rate, and the one check
of it that needs no ground truth is to compare two variants that differ by chance alone. Two
halves of one corpus drawn by a random split of its documents are such a pair: the same
distribution, different documents (as a leave-one-out's variants are), so the rule must not
call one better than the other; how often it does is measured by benchmarks/ablation_real.py
(``--aa``) and reported in docs/ablation.md.

The split works on shards, not on documents' text, so it needs no cleaning and no
re-tokenization: documents are the runs of tokens ending in the manifest's ``eos_id`` (the
shard format writes EOS after each document, trainer/data.py), each document goes to half A
or B by a seeded permutation (exactly half of them, rounded down, to A), and the validation
split is copied to both unchanged (the held-out slice stays shared). The tokenizer is copied
beside each half's shards, so the pair passes the ablation's one-tokenizer check.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from trainer.data import find_tokenizer, open_shards
from trainer.errors import TrainerError


def document_halves(tokens: np.ndarray, eos_id: int, seed: int) -> tuple[np.ndarray, int]:
    """A boolean mask over ``tokens`` (True: half A) and the number of documents in all.

    Token i belongs to document ``#EOS before i``; tokens after the last EOS, if any, form
    one more document. Vectorised: one pass for the EOS flags, one cumulative sum, one
    permutation of the document numbers.
    """
    if len(tokens) == 0:
        return np.zeros(0, dtype=bool), 0
    is_eos = np.asarray(tokens) == eos_id
    doc = np.concatenate([[0], np.cumsum(is_eos[:-1], dtype=np.int64)])
    docs = int(doc[-1]) + 1
    in_a = np.random.default_rng(seed).permutation(docs) < docs // 2
    return in_a[doc], docs


def split_shards(source: str | Path, out_a: str | Path, out_b: str | Path, seed: int = 0) -> dict:
    """Write the two halves of ``source``'s train split as shard folders ``OUT/tokens``.

    Each ``OUT`` gets ``tokens/{train,val}.bin``, ``tokens/manifest.json`` (train tokens and
    documents of its half, validation as the source's) and ``tokenizer.json``. Returns
    ``{"a": manifest, "b": manifest, "docs": documents split}``. Holds the train split and a
    mask of its length in memory (a benchmark's corpus; shards of many GB would want chunks).
    """
    shards = open_shards(source)
    tokenizer = find_tokenizer(shards.root)
    if tokenizer is None:
        raise TrainerError(f"{shards.root}: no tokenizer.json beside the shards to copy")
    m = shards.manifest
    train = np.asarray(shards.train)
    mask, docs = document_halves(train, m.eos_id, seed)
    if docs < 2:
        raise TrainerError(f"{shards.root}: fewer than 2 training documents to split")
    manifests: dict[str, Any] = {}
    for key, out, side in (("a", Path(out_a), mask), ("b", Path(out_b), ~mask)):
        target = out / "tokens"
        target.mkdir(parents=True, exist_ok=True)
        half = train[side]
        half.tofile(target / "train.bin")
        shutil.copyfile(shards.path("val"), target / "val.bin")
        shutil.copyfile(tokenizer, out / "tokenizer.json")
        manifest = {
            **m.to_dict(),
            "train_tokens": int(len(half)),
            "train_docs": int(np.count_nonzero(half == m.eos_id)),
        }
        (target / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", "utf-8")
        manifests[key] = manifest
    return {**manifests, "docs": docs}
