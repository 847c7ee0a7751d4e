"""Tokenization as tasks (training one task, encoding one task per part) writes the bytes the
single-process stage wrote: ``tokens/*.bin``, ``manifest.json`` and ``tokenizer.json`` are
compared with :func:`_reference`, a copy of that stage (commit 9f53824), for a trained, a
published, a file and a vocab/merges tokenizer, inline and in a spawn pool of 2 workers."""

from __future__ import annotations

import json
import multiprocessing
import shutil
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from tokenizers import Tokenizer

from corpusclean.io import shards
from corpusclean.io.parts import iter_docs
from corpusclean.io.shards import is_val, shard_dtype, tokenize_documents
from corpusclean.tokenizer import (
    ENCODE_BATCH,
    TokenizeSpec,
    TrainSpec,
    eos_id,
    load_tokenizer,
    train_tokenizer,
)

Tasks = list[tuple[Callable[..., Any], tuple[Any, ...]]]

WORDS = (
    "the library lends books maps records readers every age staff catalogue arrivals repair "
    "bindings answer questions évènement naïve 東京 данные 🙂 1999 2024 -- ... \n\t"
).split(" ")


def _texts(n: int, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    texts = [" ".join(rng.choice(WORDS, size=int(rng.integers(0, 60)))) for _ in range(n)]
    texts[:1] = [""] * min(n, 1)  # a document with no tokens still gets its EOS
    return texts


def _reference(
    output: Path,
    spec: TokenizeSpec,
    *,
    rules_dir: Path | None = None,
    published: tuple[Path, str] | None = None,
) -> dict[str, Any]:
    """``tokenize_documents`` as it was before the tasks: the driver encodes every part."""
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


def _make_run(root: Path) -> Path:
    """documents/ with parts of several row groups (one over ENCODE_BATCH rows) and one empty."""
    documents = root / "documents"
    documents.mkdir(parents=True)
    sizes = {(0, 0): 700, (0, 1): 40, (1, 0): 0, (2, 5): 300, (10, 0): 90}
    for n, ((split, batch), size) in enumerate(sizes.items()):
        frame = pl.DataFrame(
            {"id": [f"s{split}-b{batch}-{i}" for i in range(size)], "text": _texts(size, n)},
            schema={"id": pl.String, "text": pl.String},
        )
        name = f"part-{split:07d}-{batch:07d}.parquet"
        frame.write_parquet(documents / name, row_group_size=256)
    return root


OUTPUTS = ("tokenizer.json", "tokens/train.bin", "tokens/val.bin", "tokens/manifest.json")


def _bytes(root: Path) -> dict[str, bytes]:
    return {name: (root / name).read_bytes() for name in OUTPUTS}


def _spawn_pool_runner(tasks: Tasks) -> Iterator[Any]:
    """An executor like the engine's: tasks in 2 spawned processes, results in task order."""
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=2, mp_context=context) as pool:
        futures = [pool.submit(function, *args) for function, args in tasks]
        for future in futures:
            yield future.result()


@pytest.fixture(scope="module")
def tokenizer_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A tokenizer.json, a vocab.json + merges.txt folder, a uint32-sized tokenizer and one
    whose EOS is not id 0 (the trained ones put ``<|endoftext|>`` first)."""
    from tokenizers import models, pre_tokenizers, trainers

    root = tmp_path_factory.mktemp("tokenizers")
    documents = _make_run(root / "corpus") / "documents"
    trained = train_tokenizer(documents, TrainSpec(train={"vocab_size": 500}))
    other = Tokenizer(models.BPE())
    other.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = trainers.BpeTrainer(
        vocab_size=450,
        special_tokens=["<pad>", "<unk>", "</s>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    other.train_from_iterator(_texts(500, 7), trainer=trainer)
    assert eos_id(other) == 2
    other.save(str(root / "eos2.json"))
    trained.save(str(root / "small.json"))
    (root / "hf").mkdir()
    trained.model.save(str(root / "hf"))
    big = Tokenizer.from_file(str(root / "small.json"))
    big.add_tokens([f"tok{i}" for i in range(66_000)] + ["library", "東京"])
    assert big.get_vocab_size(with_added_tokens=True) > 65535
    big.save(str(root / "big.json"))
    return {
        "file": root / "small.json",
        "folder": root / "hf",
        "big": root / "big.json",
        "eos2": root / "eos2.json",
    }


def _cases(files: dict[str, Path]) -> dict[str, dict[str, Any]]:
    train = {"train": {"vocab_size": 400}}
    return {
        "trained": {"spec": TokenizeSpec(tokenizer=train, val_fraction=0.1)},
        "trained-no-val": {"spec": TokenizeSpec(tokenizer=train, val_fraction=0.0)},
        "published": {
            "spec": TokenizeSpec(tokenizer=train, val_fraction=0.2),
            "published": (files["file"], "min_tokens"),
        },
        "file": {"spec": TokenizeSpec(tokenizer=str(files["file"]), val_fraction=0.05)},
        "folder": {"spec": TokenizeSpec(tokenizer="hf", val_fraction=0.3)},
        "uint32": {"spec": TokenizeSpec(tokenizer=str(files["big"]), val_fraction=0.1)},
        "eos2": {"spec": TokenizeSpec(tokenizer=str(files["eos2"]), val_fraction=0.1)},
        "gpt2": {"spec": TokenizeSpec(tokenizer=str(files.get("gpt2")), val_fraction=0.1)},
    }


@pytest.mark.parametrize(
    "case", ["trained", "trained-no-val", "published", "file", "folder", "uint32", "eos2", "gpt2"]
)
def test_inline_tasks_write_the_reference_bytes(
    case: str, tokenizer_files: dict[str, Path], tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    files = dict(tokenizer_files)
    if case == "gpt2":  # GPT-2's own vocab.json + merges.txt (EOS 50256), when present
        files["gpt2"] = request.getfixturevalue("shared_data") / "gpt2"
    kwargs = {**_cases(files)[case], "rules_dir": files["folder"].parent}
    before = _make_run(tmp_path / "before")
    after = _make_run(tmp_path / "after")
    expected = _reference(before, **kwargs)
    stages: list[list[str]] = []

    def recording(tasks: Tasks) -> Iterator[Any]:
        stages.append([function.__name__ for function, _ in tasks])
        return shards.run_inline(tasks)

    assert tokenize_documents(after, **kwargs, run_tasks=recording) == expected
    assert _bytes(after) == _bytes(before)
    assert expected["val_docs"] > 0 or kwargs["spec"].val_fraction == 0
    assert expected["dtype"] == ("uint32" if case == "uint32" else "uint16")
    encode_stage = ["encode_part_task"] * 5
    trains = case.startswith("trained")
    assert stages == ([["train_task"], encode_stage] if trains else [encode_stage])
    assert not (after / shards.WORK_DIR).exists()
    # run_tasks=None: the same, in this process
    again = _make_run(tmp_path / "again")
    assert tokenize_documents(again, **kwargs) == expected
    assert _bytes(again) == _bytes(before)


def test_spawn_pool_writes_the_reference_bytes(
    tokenizer_files: dict[str, Path], tmp_path: Path
) -> None:
    for case in ("trained", "file"):
        kwargs = _cases(tokenizer_files)[case]
        before = _make_run(tmp_path / case / "before")
        after = _make_run(tmp_path / case / "after")
        expected = _reference(before, **kwargs)
        assert tokenize_documents(after, **kwargs, run_tasks=_spawn_pool_runner) == expected
        assert _bytes(after) == _bytes(before)


def test_part_task_retried_after_a_kill(tokenizer_files: dict[str, Path], tmp_path: Path) -> None:
    """A killed attempt leaves a .tmp and maybe a stale final file; the retry overwrites both."""
    run = _make_run(tmp_path)
    part = str(run / "documents" / "part-0000000-0000000.parquet")
    work = tmp_path / "work"
    work.mkdir()
    tokenizer = str(tokenizer_files["file"])
    digest = shards._digest(tokenizer_files["file"])
    args = (part, str(work), tokenizer, digest, 0.1, "<u2")
    first = shards.encode_part_task(*args)
    good = {p.name: p.read_bytes() for p in work.iterdir()}
    assert sorted(good) == ["part-0000000-0000000.train.bin", "part-0000000-0000000.val.bin"]
    (work / "part-0000000-0000000.train.bin").write_bytes(b"half")
    (work / "part-0000000-0000000.val.bin.dead.tmp").write_bytes(b"half")
    assert shards.encode_part_task(*args) == first
    assert {name: (work / name).read_bytes() for name in good} == good
    assert first["train_docs"] + first["val_docs"] == 700
    assert sum(len(b) for b in good.values()) == 2 * (first["train_tokens"] + first["val_tokens"])


def test_worker_loads_the_tokenizer_once_per_content(
    tokenizer_files: dict[str, Path], tmp_path: Path
) -> None:
    path = tmp_path / "tokenizer.json"
    shutil.copy(tokenizer_files["file"], path)
    first = shards._cached_tokenizer(str(path), shards._digest(path))
    assert shards._cached_tokenizer(str(path), shards._digest(path)) is first
    shutil.copy(tokenizer_files["big"], path)  # a new run's tokenizer at the same path
    second = shards._cached_tokenizer(str(path), shards._digest(path))
    assert second is not first
    assert second.get_vocab_size(with_added_tokens=True) > 65535
    assert len(shards._TOKENIZERS) == 1
