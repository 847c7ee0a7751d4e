"""Shared fixtures. ``SHARED_DATA`` is ../shared/data beside the project; tests that use it skip
when it is absent (CI clones may not have it)."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
RULES = ROOT / "rules"


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is absent")
    return SHARED_DATA


#: English prose to train a small tokenizer on (any text the tests feed steps would do).
TOKENIZER_PROSE = (
    "The library lends books, maps and records to readers of every age. Its staff catalogue "
    "new arrivals, repair old bindings and answer questions from the public. In the evening "
    "they organise talks on history, science, music and travel for anyone who wants to come.\n"
) * 3


@pytest.fixture(scope="session")
def small_tokenizer(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 300-entry byte-level BPE ``tokenizer.json``, for steps that count tokens
    (``min_tokens`` outside the engine, whose ``bind`` would otherwise supply one)."""
    from corpusclean.tokenizer import TrainTokenizer, train_bpe

    path = tmp_path_factory.mktemp("tokenizer") / "tokenizer.json"
    train_bpe([TOKENIZER_PROSE] * 4, TrainTokenizer(vocab_size=300)).save(str(path))
    return path


def folder_digest(folder: Path) -> dict[str, str]:
    """SHA-256 of every file under ``folder``, by relative path: "the same bytes"."""
    import hashlib

    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def run_workers(rules: Path, corpus: Path, out: Path, workers: int) -> int:
    """``corpusclean run RULES --input CORPUS --output OUT --workers N --quiet``."""
    from corpusclean.cli import main

    args = ["run", str(rules), "--input", str(corpus), "--output", str(out), "--quiet"]
    return main([*args, "--workers", str(workers)])
