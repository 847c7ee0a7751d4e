"""``min_tokens``: counts equal the tokenizer's own encode, with a tokenizer file or folder and
with the tokenizer the run trains; the trained one is the one the run writes; 1 and 2 workers
give identical output; rules that leave no tokenizer to count with are refused (exit 2)."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from tokenizers import Tokenizer

from corpusclean.cli import main
from corpusclean.rules import parse_rules
from corpusclean.steps import STEPS
from corpusclean.steps.base import CorpusStep, RunContext
from corpusclean.steps.min_tokens import TOKENS, MinTokensStep, TrainedMinTokensStep
from corpusclean.tokenizer import TrainTokenizer, load_tokenizer, train_bpe
from tests.conftest import folder_digest, run_workers

WORDS = (
    "the library lends books maps and records to readers of every age while its staff "
    "catalogue new arrivals repair bindings answer questions and organise talks on history "
    "science music travel cooking gardening 1984 2024 café naïve co-operate e-mail"
).split()


def _texts(n: int, seed: int = 0) -> list[str]:
    """Documents of 3 to 120 words: a good share fall on each side of 64 tokens."""
    rng = random.Random(seed)
    return [
        " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 120))).capitalize() + "."
        for _ in range(n)
    ]


def _own_counts(tokenizer: Tokenizer, texts: list[str]) -> list[int]:
    return [len(tokenizer.encode(t, add_special_tokens=False).ids) for t in texts]


@pytest.fixture(scope="module")
def tokenizer_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("tok") / "tokenizer.json"
    train_bpe(_texts(200, seed=1), TrainTokenizer(vocab_size=300)).save(str(path))
    return path


def _bound(context_tokenizer: str | dict | None, **options: object) -> MinTokensStep:
    opts = STEPS["min_tokens"].bind(
        STEPS["min_tokens"].Options(**options),
        RunContext(rules_path="/nowhere/rules.yaml", tokenizer=context_tokenizer),
    )
    step = STEPS["min_tokens"](opts)
    assert isinstance(step, MinTokensStep)
    return step


def test_counts_equal_encode_and_detail(tokenizer_file: Path) -> None:
    texts = _texts(120)
    step = _bound(str(tokenizer_file), min=64, keep_signals=True)
    assert not step.corpus_wide  # a tokenizer file: streams, no extra pass
    step.setup()
    result = step.apply(pl.DataFrame({"id": [str(i) for i in range(120)], "text": texts}))
    own = _own_counts(Tokenizer.from_file(str(tokenizer_file)), texts)
    assert result.frame.get_column(TOKENS).to_list() == own
    assert result.reject is not None
    details = result.reject.to_list()
    assert details == [f"tokens={n}<64" if n < 64 else None for n in own]
    assert 10 < sum(d is not None for d in details) < 110
    assert result.counters == {"tokens": sum(own), "short": sum(n < 64 for n in own)}


def test_threshold_both_sides(tokenizer_file: Path) -> None:
    text = _texts(1, seed=5)[0]
    n = _own_counts(Tokenizer.from_file(str(tokenizer_file)), [text])[0]
    frame = pl.DataFrame({"id": ["a"], "text": [text]})
    at = _bound(str(tokenizer_file), min=n).apply(frame)
    above = _bound(str(tokenizer_file), min=n + 1).apply(frame)
    assert at.reject is not None and at.reject.to_list() == [None]
    assert above.reject is not None and above.reject.to_list() == [f"tokens={n}<{n + 1}"]
    assert TOKENS not in at.frame.columns  # signals dropped unless keep_signals


def test_vocab_merges_folder_and_explicit_option(tmp_path: Path, tokenizer_file: Path) -> None:
    folder = tmp_path / "bpe"
    folder.mkdir()
    Tokenizer.from_file(str(tokenizer_file)).model.save(str(folder))  # vocab.json + merges.txt
    assert {p.name for p in folder.iterdir()} == {"vocab.json", "merges.txt"}
    texts = _texts(40, seed=2)
    # the step's own `tokenizer:` wins over the run's
    step = _bound("/run/has/another.json", min=1, tokenizer=str(folder), keep_signals=True)
    counts = step.apply(pl.DataFrame({"id": list(map(str, range(40))), "text": texts}))
    loaded, _ = load_tokenizer(str(folder))
    assert counts.frame.get_column(TOKENS).to_list() == _own_counts(loaded, texts)


def test_gpt2_counts(shared_data: Path) -> None:
    """GPT-2's files from ../shared/data: OpenWebText's own unit."""
    step = _bound(str(shared_data / "gpt2"), min=128, keep_signals=True)
    texts = ["Hello world", " Hello world", "The quick brown fox jumps over the lazy dog."]
    counts = step.apply(pl.DataFrame({"id": ["a", "b", "c"], "text": texts}))
    # GPT-2 ids: "Hello world" = [15496, 995]; " Hello world" = [18435, 995]; the pangram 10
    assert counts.frame.get_column(TOKENS).to_list() == [2, 2, 10]


def test_trained_form_is_corpus_wide() -> None:
    step = _bound({"train": {"vocab_size": 300}})
    assert isinstance(step, TrainedMinTokensStep) and isinstance(step, CorpusStep)
    assert step.corpus_wide and step.name == "min_tokens"


def test_bind_refuses_what_cannot_work(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no tokenizer to count with"):
        _bound(None)
    with pytest.raises(ValueError, match="not found"):
        _bound(None, tokenizer=str(tmp_path / "missing.json"))
    with pytest.raises(ValueError, match="other than the one the run writes"):
        _bound({"train": {"vocab_size": 300}}, tokenizer={"train": {"vocab_size": 500}})


def _write_corpus(path: Path, texts: list[str]) -> None:
    with path.open("w") as fh:
        for i, text in enumerate(texts):
            fh.write(json.dumps({"id": f"d{i:04d}", "text": text}) + "\n")


@pytest.fixture(scope="module")
def trained_runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[str], dict[int, Path]]:
    base = tmp_path_factory.mktemp("trained")
    texts = _texts(400, seed=3)
    corpus = base / "corpus.jsonl"
    _write_corpus(corpus, texts)
    rules = base / "rules.yaml"
    rules.write_text(
        "version: 1\nsteps:\n  - min_tokens: {min: 40, keep_signals: true}\n"
        "tokenize:\n  tokenizer: {train: {vocab_size: 400}}\n  val_fraction: 0.1\n"
    )
    runs = {}
    for workers in (1, 2):
        runs[workers] = base / f"out{workers}"
        assert run_workers(rules, corpus, runs[workers], workers) == 0
    return texts, runs


def test_trained_tokenizer_is_the_runs_and_counts_with_it(
    trained_runs: tuple[list[str], dict[int, Path]],
) -> None:
    texts, runs = trained_runs
    out = runs[2]
    # every document reaches min_tokens here: the run's tokenizer is the BPE trained on all
    # of them, in input order, by the tokenize stage's recipe, and it was not trained again
    expected = train_bpe(texts, TrainTokenizer(vocab_size=400)).to_str()
    written = Tokenizer.from_file(str(out / "tokenizer.json"))
    assert written.to_str() == Tokenizer.from_str(expected).to_str()
    manifest = json.loads((out / "tokens" / "manifest.json").read_text())
    assert "reached min_tokens" in manifest["tokenizer"]
    kept = pl.read_parquet(out / "documents" / "*.parquet")
    rejected = pl.read_parquet(out / "rejected" / "*.parquet")
    assert kept.height + rejected.height == len(texts)
    assert 20 < rejected.height < 380
    own_kept = _own_counts(written, kept.get_column("text").to_list())
    assert kept.get_column(TOKENS).to_list() == own_kept and min(own_kept) >= 40
    own_rejected = _own_counts(written, rejected.get_column("text").to_list())
    assert rejected.get_column("detail").to_list() == [f"tokens={n}<40" for n in own_rejected]
    # the shards hold exactly the counted tokens, plus one EOS per document
    dtype = np.dtype("<u2")
    shards = sum((out / "tokens" / f"{s}.bin").stat().st_size for s in ("train", "val"))
    assert shards // dtype.itemsize == sum(own_kept) + kept.height
    stats = json.loads((out / "stats.json").read_text())
    assert stats["rejected"]["min_tokens"] == rejected.height


def test_trained_one_and_two_workers_identical(
    trained_runs: tuple[list[str], dict[int, Path]],
) -> None:
    _, runs = trained_runs
    for sub in ("documents", "rejected", "tokens"):
        assert folder_digest(runs[1] / sub) == folder_digest(runs[2] / sub), sub
    assert (runs[1] / "tokenizer.json").read_bytes() == (runs[2] / "tokenizer.json").read_bytes()


def test_path_run_streams_and_matches(tmp_path: Path, tokenizer_file: Path) -> None:
    texts = _texts(150, seed=4)
    corpus = tmp_path / "corpus.jsonl"
    _write_corpus(corpus, texts)
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        "version: 1\nsteps:\n  - length: {min_words: 5}\n  - min_tokens: {min: 50}\n"
        f"tokenize:\n  tokenizer: {tokenizer_file}\n"
    )
    digests = []
    for workers in (1, 2):
        out = tmp_path / f"o{workers}"
        assert run_workers(rules, corpus, out, workers) == 0
        digests.append(folder_digest(out / "documents") | folder_digest(out / "tokens"))
    assert digests[0] == digests[1]
    stats = json.loads((out / "stats.json").read_text())
    assert stats["passes"] == 1  # a tokenizer file: min_tokens streams with the other steps
    tokenizer = Tokenizer.from_file(str(tokenizer_file))
    kept = pl.read_parquet(out / "documents" / "*.parquet").get_column("text").to_list()
    expected = [t for t in texts if len(t.split()) >= 5 and _own_counts(tokenizer, [t])[0] >= 50]
    assert kept == expected


def test_rules_without_tokenizer_exit_2_and_write_nothing(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus.jsonl"
    _write_corpus(corpus, _texts(5))
    rules = tmp_path / "rules.yaml"
    rules.write_text("version: 1\nsteps:\n  - min_tokens: {}\n")
    out = tmp_path / "out"
    assert run_workers(rules, corpus, out, 1) == 2
    assert not out.exists()


def test_rules_parse_and_steps_catalogue(capsys: pytest.CaptureFixture[str]) -> None:
    rules = parse_rules({"version": 1, "steps": [{"min_tokens": {"min": 64}}]}, "r.yaml")
    assert rules.steps[0].as_dict() == {
        "min_tokens": {"min": 64, "tokenizer": None, "keep_signals": False}
    }
    assert main(["steps"]) == 0
    listing = capsys.readouterr().out
    entry = listing[listing.index("min_tokens:") :].split("\n\n")[0]
    assert "OpenWebText" in entry and "128" in entry and "min_tokens.tokens" in entry
