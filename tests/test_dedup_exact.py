"""Corpus-wide passes: exact_dedup across files and workers, the paper's key, and resume."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import polars as pl
import pytest

from corpusclean.cli import main
from corpusclean.dedup_key import normalized_key

BASE = [
    "The river rises in the hills and runs to the sea past the old mill.",
    "A library is a collection of books, maps and records kept for readers.",
    "Bread is made from flour, water, salt and yeast, then baked in an oven.",
    "The committee met on Tuesday and agreed to publish the annual report.",
]


def _write(path: Path, rows: list[tuple[str, str]]) -> None:
    path.write_text("".join(json.dumps({"id": i, "text": t}) + "\n" for i, t in rows))


@pytest.fixture
def corpus(tmp_path: Path) -> list[Path]:
    files = [tmp_path / f"in-{k}.jsonl" for k in range(3)]
    _write(files[0], [("a0", BASE[0]), ("a1", BASE[1]), ("a2", BASE[0])])
    # case and whitespace variants of earlier texts are exact duplicates after normalisation
    _write(files[1], [("b0", BASE[1].upper()), ("b1", BASE[2]), ("b2", "  " + BASE[0] + "\n")])
    _write(files[2], [("c0", BASE[3]), ("c1", BASE[2].replace(" ", "   ")), ("c2", BASE[3])])
    return files


def _run(rules: str, files: list[Path], out: Path, workers: int, tmp: Path) -> dict:
    path = tmp / "rules.yaml"
    path.write_text(rules)
    args = ["run", str(path), "--output", str(out), "--workers", str(workers), "--quiet"]
    for f in files:
        args += ["--input", str(f)]
    assert main(args) == 0
    return json.loads((out / "stats.json").read_text())


def _digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.glob("*"))}


RULES = "version: 1\nsteps:\n  - length: {min_words: 1}\n  - exact_dedup: {}\n"


def test_first_occurrence_in_input_order_is_kept(corpus: list[Path], tmp_path: Path) -> None:
    stats = _run(RULES, corpus, tmp_path / "o1", 1, tmp_path)
    kept = pl.read_parquet(tmp_path / "o1" / "documents" / "*.parquet")
    assert kept.get_column("id").to_list() == ["a0", "a1", "b1", "c0"]
    rejected = pl.read_parquet(tmp_path / "o1" / "rejected" / "*.parquet").sort("id")
    assert dict(zip(rejected["id"], rejected["detail"], strict=True)) == {
        "a2": "duplicate of a0",
        "b0": "duplicate of a1",
        "b2": "duplicate of a0",
        "c1": "duplicate of b1",
        "c2": "duplicate of c0",
    }
    assert set(rejected.get_column("reason")) == {"exact_dedup"}
    assert stats["rejected"] == {"length": 0, "exact_dedup": 5}
    assert stats["steps"][1]["counters"] == {"duplicates": 5, "groups": 4}


def test_same_output_for_one_and_two_workers(corpus: list[Path], tmp_path: Path) -> None:
    _run(RULES, corpus, tmp_path / "o1", 1, tmp_path)
    _run(RULES, corpus, tmp_path / "o2", 2, tmp_path)
    for sub in ("documents", "rejected"):
        assert _digest(tmp_path / "o1" / sub) == _digest(tmp_path / "o2" / sub)


def test_paper_key_matches_length_and_edge_words(tmp_path: Path) -> None:
    one = "Alpha beta gamma delta, the middle part differs here: omega psi chi phi."
    # same punctuation-free length and the same first/last four words, middle word changed
    two = "Alpha beta gamma delta, the middle part DIFFERS here: omega psi chi phi."
    three = "Alpha beta gamma delta, the middle part differs there omega psi chi phi."
    src = tmp_path / "p.jsonl"
    _write(src, [("p1", one), ("p2", two), ("p3", three)])
    rules = "version: 1\nsteps:\n  - exact_dedup: {key: paper}\n"
    stats = _run(rules, [src], tmp_path / "o", 1, tmp_path)
    rejected = pl.read_parquet(tmp_path / "o" / "rejected" / "*.parquet")
    assert rejected.get_column("id").to_list() == ["p2"]
    assert stats["kept_docs"] == 2


def test_run_failing_after_the_corpus_pass_resumes_to_the_same_output(
    corpus: list[Path], tmp_path: Path
) -> None:
    """A run that dies in the pass after exact_dedup's resolution, started again, skips the
    finished pass and ends with the output of an uninterrupted run. The failure is real: the
    language model file is broken on the first attempt and repaired before the second (the
    rules, and so the run's fingerprint, do not change)."""
    from corpusclean.steps.language import bundled_lid_model

    short = tmp_path / "short.jsonl"
    _write(short, [("s0", "too short")])
    files = [*corpus, short]
    model = tmp_path / "lid.ftz"
    rules = (
        "version: 1\nsteps:\n  - length: {min_words: 3}\n  - exact_dedup: {}\n"
        f"  - language: {{model_path: {model}}}\n"
    )
    model.write_bytes(bundled_lid_model().read_bytes())
    reference = _run(rules, files, tmp_path / "ref", 1, tmp_path)

    model.write_bytes(b"not a fastText model")
    out = tmp_path / "out"
    (tmp_path / "rules.yaml").write_text(rules)
    args = ["run", str(tmp_path / "rules.yaml"), "--output", str(out), "--quiet"]
    args += ["--workers", "1", *(x for f in files for x in ("--input", str(f)))]
    assert main(args) == 1
    state = json.loads((out / "_work" / "state.json").read_text())
    assert state["finished"] == 1
    first_pass = {p: p.stat().st_mtime_ns for p in (out / "rejected").glob("*.parquet")}
    assert first_pass  # the short document, rejected by `length` in the first pass

    model.write_bytes(bundled_lid_model().read_bytes())
    assert main(args) == 0
    stats = json.loads((out / "stats.json").read_text())
    assert (
        stats["rejected"] == reference["rejected"] == {"length": 1, "exact_dedup": 5, "language": 0}
    )
    for sub in ("documents", "rejected"):
        assert _digest(out / sub) == _digest(tmp_path / "ref" / sub)
    for path, mtime in first_pass.items():
        assert path.stat().st_mtime_ns == mtime  # the finished pass was not redone


def test_normalized_key_lowercases_collapses_whitespace_and_trims() -> None:
    """The key exact_dedup hashes for texts and line_dedup for lines."""
    texts = ["  Hello\t\n WORLD ", "hello world", "Héllo\u00a0 World\u3000", ""]
    frame = pl.DataFrame({"t": texts})
    keys = frame.select(normalized_key(pl.col("t"))).to_series().to_list()
    assert keys == ["hello world", "hello world", "héllo world", ""]
