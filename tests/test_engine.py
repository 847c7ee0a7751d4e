"""End to end through the engine: layout, invariant, determinism across workers, bad input."""

from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from corpusclean.cli import main
from corpusclean.sample import write_sample
from corpusclean.steps import STEPS
from tests.conftest import RULES

OWT = str(RULES / "openwebtext.yaml")


def _digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def sample_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sample") / "sample.jsonl.gz"
    write_sample(path, docs=600, seed=3)
    return path


@pytest.fixture(scope="module")
def runs(sample_file: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[int, Path]:
    out: dict[int, Path] = {}
    for workers in (1, 2):
        folder = tmp_path_factory.mktemp(f"run{workers}") / "out"
        code = main(
            [
                "run",
                OWT,
                "--input",
                str(sample_file),
                "--output",
                str(folder),
                "--workers",
                str(workers),
                "--quiet",
                "--labels",
                str(sample_file),
            ]
        )
        assert code == 0
        out[workers] = folder
    return out


def test_contract_layout(runs: dict[int, Path]) -> None:
    out = runs[2]
    for name in ("stats.json", "report.md", "report.html", "tokenizer.json"):
        assert (out / name).is_file(), name
    assert list((out / "documents").glob("*.parquet"))
    assert list((out / "rejected").glob("*.parquet"))
    docs = pl.read_parquet(out / "documents" / "*.parquet")
    assert {"id", "text", "language", "language_score"} <= set(docs.columns)
    assert set(docs.get_column("language").unique()) == {"en"}
    rejected = pl.read_parquet(out / "rejected" / "*.parquet")
    assert rejected.columns[:4] == ["id", "text", "reason", "detail"]
    assert rejected.get_column("detail").null_count() == 0
    manifest = json.loads((out / "tokens" / "manifest.json").read_text())
    assert set(manifest) >= {
        "tokenizer",
        "vocab_size",
        "dtype",
        "eos_id",
        "train_tokens",
        "val_tokens",
        "train_docs",
        "val_docs",
    }
    train = np.fromfile(out / "tokens" / "train.bin", dtype=manifest["dtype"])
    val = np.fromfile(out / "tokens" / "val.bin", dtype=manifest["dtype"])
    assert train.size == manifest["train_tokens"] and val.size == manifest["val_tokens"]
    assert (train == manifest["eos_id"]).sum() == manifest["train_docs"]
    assert manifest["train_docs"] + manifest["val_docs"] == docs.height
    assert int(train.max()) < manifest["vocab_size"]


def test_stats_invariant_and_truth(runs: dict[int, Path], sample_file: Path) -> None:
    stats = json.loads((runs[1] / "stats.json").read_text())
    assert stats["input_docs"] == 600
    assert stats["input_docs"] == (
        stats["kept_docs"] + sum(stats["rejected"].values()) + stats["error_records"]
    )
    from corpusclean.rules import load_rules

    assert [s["name"] for s in stats["steps"]] == [s.name for s in load_rules(OWT).steps]
    # The cleaning removes what the sample planted: no non-English or short page survives.
    truth = pl.read_ndjson(gzip.decompress(sample_file.read_bytes())).select("id", "truth")
    kept = pl.read_parquet(runs[1] / "documents" / "*.parquet").join(truth, on="id")
    assert kept.filter(pl.col("truth").is_in(["non_english", "short"])).height == 0
    assert (
        kept.filter(pl.col("truth") == "clean").height
        > 0.9 * truth.filter(pl.col("truth") == "clean").height
    )


def test_truth_scoring_in_stats_and_report(runs: dict[int, Path]) -> None:
    truth = json.loads((runs[2] / "stats.json").read_text())["truth"]
    assert truth["labelled_docs"] == 600
    classes = truth["classes"]
    assert classes["non_english"]["dropped"] == classes["non_english"]["docs"]
    assert classes["non_english"]["by_step"]["language"] == classes["non_english"]["docs"]
    assert classes["clean"]["should_drop"] is False
    dropped = sum(c["dropped"] for c in classes.values())
    wrongly = sum(c["dropped"] for c in classes.values() if not c["should_drop"])
    assert truth["drop_precision"] == round((dropped - wrongly) / dropped, 4)
    assert "Decisions against the truth labels" in (runs[2] / "report.md").read_text()


def test_output_identical_for_one_and_two_workers(runs: dict[int, Path]) -> None:
    for sub in ("documents", "rejected", "tokens"):
        assert _digest(runs[1] / sub) == _digest(runs[2] / sub), sub
    assert (runs[1] / "tokenizer.json").read_bytes() == (runs[2] / "tokenizer.json").read_bytes()


def test_every_registered_step_gives_the_same_output_on_one_and_two_workers(
    tmp_path: Path, sample_file: Path
) -> None:
    """Every step of the registry (``corpusclean.steps.STEPS``, so a new step takes part
    without being listed), in registry order with its defaults, through the engine."""
    rules = tmp_path / "every.yaml"
    every = {
        "version": 1,
        "steps": [{name: {}} for name in STEPS],
        "tokenize": {"tokenizer": {"train": {"vocab_size": 512}}},  # min_tokens counts with it
    }
    rules.write_text(json.dumps(every))  # JSON is YAML
    outs = []
    for workers in (1, 2):
        out = tmp_path / f"out{workers}"
        args = ["run", str(rules), "--input", str(sample_file), "--output", str(out)]
        assert main([*args, "--workers", str(workers), "--quiet"]) == 0
        outs.append(out)
    stats = json.loads((outs[0] / "stats.json").read_text())
    assert [s["name"] for s in stats["steps"]] == list(STEPS)
    assert stats["input_docs"] == stats["kept_docs"] + sum(stats["rejected"].values()) == 600
    assert 0 < stats["kept_docs"] < 600
    for sub in ("documents", "rejected", "tokens"):
        assert _digest(outs[0] / sub) == _digest(outs[1] / sub), sub
    assert (outs[0] / "tokenizer.json").read_bytes() == (outs[1] / "tokenizer.json").read_bytes()


def test_bad_jsonl_lines_go_to_errors_and_good_docs_are_kept(tmp_path: Path) -> None:
    good = "The quick brown fox jumps over the lazy dog near the river bank today."
    lines = [json.dumps({"id": f"g{i}", "text": good + f" {i}"}) for i in range(5)]
    lines.insert(2, '{"id": "broken", "text": "unterminated')
    lines.insert(4, json.dumps({"id": "notext", "body": "no text field"}))
    src = tmp_path / "in.jsonl"
    src.write_text("\n".join(lines) + "\n")
    rules = tmp_path / "r.yaml"
    rules.write_text("version: 1\nsteps:\n  - language: {}\n")
    out = tmp_path / "out"
    assert main(["run", str(rules), "--input", str(src), "--output", str(out), "--quiet"]) == 0
    stats = json.loads((out / "stats.json").read_text())
    assert (stats["input_docs"], stats["kept_docs"], stats["error_records"]) == (7, 5, 2)
    errors = [
        json.loads(line)
        for path in sorted((out / "errors").glob("*.jsonl"))
        for line in path.read_text().splitlines()
    ]
    assert sorted(e["line"] for e in errors) == [3, 5]
    assert all(e["file"] == str(src) for e in errors)
    kept = pl.read_parquet(out / "documents" / "*.parquet")
    assert sorted(kept.get_column("id").to_list()) == [f"g{i}" for i in range(5)]


def test_truncated_gzip_keeps_what_was_readable(tmp_path: Path, sample_file: Path) -> None:
    data = sample_file.read_bytes()
    cut = tmp_path / "cut.jsonl.gz"
    cut.write_bytes(data[: len(data) // 2])
    rules = tmp_path / "r.yaml"
    rules.write_text("version: 1\nsteps: []\n")
    out = tmp_path / "out"
    assert main(["run", str(rules), "--input", str(cut), "--output", str(out), "--quiet"]) == 0
    stats = json.loads((out / "stats.json").read_text())
    assert stats["error_records"] == 1
    assert 0 < stats["kept_docs"] < 600
    error = json.loads(next((out / "errors").glob("*.jsonl")).read_text().splitlines()[0])
    assert error["file"] == str(cut) and "truncated" in error["error"]


def test_missing_input_exits_2_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    missing = tmp_path / "nope.jsonl.gz"
    assert main(["run", OWT, "--input", str(missing), "--output", str(out), "--quiet"]) == 2
    assert str(missing) in capsys.readouterr().err
    assert not out.exists()


def test_foreign_output_folder_is_refused(tmp_path: Path, sample_file: Path) -> None:
    out = tmp_path / "mine"
    out.mkdir()
    (out / "thesis.tex").write_text("precious")
    code = main(["run", OWT, "--input", str(sample_file), "--output", str(out), "--quiet"])
    assert code == 2
    assert (out / "thesis.tex").read_text() == "precious"


def test_limit(tmp_path: Path, sample_file: Path) -> None:
    rules = tmp_path / "r.yaml"
    rules.write_text("version: 1\nsteps: []\n")
    out = tmp_path / "out"
    args = ["run", str(rules), "--input", str(sample_file), "--output", str(out), "--quiet"]
    assert main([*args, "--limit", "42"]) == 0
    assert json.loads((out / "stats.json").read_text())["input_docs"] == 42


def test_pretrain_learns_from_the_cleaned_shards(runs: dict[int, Path], tmp_path: Path) -> None:
    """The skeleton's last link: the run's shards train a tiny GPT-2 that loads back."""
    from transformers import GPT2LMHeadModel

    from trainer.cli import main as trainer_main

    out = tmp_path / "ck"
    args = ["pretrain", "--shards", str(runs[1] / "tokens"), "--model", "tiny"]
    args += ["--steps", "200", "--batch-size", "4", "--block-size", "32", "--eval-batches", "4"]
    args += ["--out", str(out)]
    assert trainer_main([*args, "--quiet"]) == 0
    records = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    val = [r["val_loss"] for r in records if "val_loss" in r]
    assert val[-1] < 0.75 * val[0]
    assert all({"step", "loss", "lr", "tokens_per_second"} <= set(r) for r in records)
    model = GPT2LMHeadModel.from_pretrained(out)
    assert model.config.n_layer >= 1
    assert (out / "loss.png").stat().st_size > 0
