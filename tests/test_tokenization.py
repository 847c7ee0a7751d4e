"""Tokenizers: trained, loaded from tokenizer.json or vocab.json + merges.txt; shard format."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from corpusclean.io.shards import is_val, shard_dtype, tokenize_documents
from corpusclean.tokenizer import (
    TokenizerError,
    TokenizeSpec,
    eos_id,
    load_tokenizer,
    train_tokenizer,
)

TEXTS = [
    f"Document {i}: the library lends books, maps and records to readers of every age."
    for i in range(300)
]


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    (tmp_path / "documents").mkdir()
    frame = pl.DataFrame({"id": [f"d{i}" for i in range(len(TEXTS))], "text": TEXTS})
    frame.slice(0, 150).write_parquet(tmp_path / "documents" / "part-000000.parquet")
    frame.slice(150).write_parquet(tmp_path / "documents" / "part-000001.parquet")
    return tmp_path


def test_trained_tokenizer_shards_roundtrip(run_dir: Path) -> None:
    spec = TokenizeSpec(tokenizer={"train": {"vocab_size": 400}}, val_fraction=0.1)
    manifest = tokenize_documents(run_dir, spec)
    assert manifest["dtype"] == "uint16" and manifest["vocab_size"] <= 400
    assert manifest["train_docs"] + manifest["val_docs"] == 300
    assert 10 <= manifest["val_docs"] <= 60
    tokenizer, _ = load_tokenizer(str(run_dir / "tokenizer.json"))
    train = np.fromfile(run_dir / "tokens" / "train.bin", dtype="<u2")
    eos = manifest["eos_id"]
    docs = np.split(train, np.flatnonzero(train == eos) + 1)[:-1]
    assert len(docs) == manifest["train_docs"]
    decoded = tokenizer.decode(docs[0][:-1].tolist())
    assert decoded in TEXTS
    again = json.loads((run_dir / "tokens" / "manifest.json").read_text())
    assert again == manifest


def test_training_is_deterministic(run_dir: Path) -> None:
    spec = TokenizeSpec(tokenizer={"train": {"vocab_size": 400}})
    first = train_tokenizer(run_dir / "documents", spec.tokenizer).to_str()
    second = train_tokenizer(run_dir / "documents", spec.tokenizer).to_str()
    assert first == second


def test_hf_folder_with_vocab_and_merges(run_dir: Path, tmp_path: Path) -> None:
    spec = TokenizeSpec(tokenizer={"train": {"vocab_size": 400}})
    trained = train_tokenizer(run_dir / "documents", spec.tokenizer)
    folder = tmp_path / "hf"
    folder.mkdir()
    trained.model.save(str(folder))
    assert (folder / "vocab.json").is_file() and (folder / "merges.txt").is_file()
    loaded, _ = load_tokenizer(str(folder))
    text = "the library lends books"
    assert loaded.encode(text).ids == trained.encode(text).ids
    assert eos_id(loaded) == eos_id(trained)


def test_gpt2_files_give_gpt2_ids(shared_data: Path) -> None:
    tokenizer, _ = load_tokenizer(str(shared_data / "gpt2"))
    assert tokenizer.encode("Hello world").ids == [15496, 995]
    assert eos_id(tokenizer) == 50256


def test_errors() -> None:
    with pytest.raises(TokenizerError, match="not found"):
        load_tokenizer("/nonexistent/tokenizer.json")


def test_split_and_dtype_rules() -> None:
    ids = [f"doc-{i}" for i in range(20000)]
    mask = is_val(ids, 0.05)
    assert 0.04 < mask.mean() < 0.06
    assert (is_val(ids[:100], 0.05) == mask[:100]).all()
    assert not is_val(ids, 0.0).any()
    assert shard_dtype(50257) == np.dtype("<u2")
    assert shard_dtype(65535) == np.dtype("<u2")
    assert shard_dtype(100277) == np.dtype("<u4")
