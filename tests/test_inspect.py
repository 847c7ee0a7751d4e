"""``corpusclean inspect`` and :mod:`corpusclean.run_output` on a hand-made corpus run through
the engine: planted short and over-long pages (``length``), exact duplicates (``exact_dedup``),
near-duplicates one word apart (``minhash_dedup``), a chain (an exact copy of a near-duplicate),
a repeated id, a target word for ``--grep`` and a terminal escape sequence."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from corpusclean.cli import main
from corpusclean.hashing import M64, fmix64_scalar
from corpusclean.run_output import (
    DUPLICATE_DETAILS,
    DocumentNotFound,
    choose_rejected,
    duplicate_clusters,
    find_document,
    id_hash,
    opening_line,
    step_names,
)

RULES = """\
version: 1
name: inspect_test
steps:
  - length: {min_words: 20, max_words: 400}
  - exact_dedup: {}
  - minhash_dedup: {num_perm: 128, ngram: 5, threshold: 0.8, verify: true}
"""
SHORT_PAGES = 30
WIDTH = 100  # stdout is not a terminal under pytest


def _words(rng: np.random.Generator, n: int) -> list[str]:
    """``n`` made-up words: two unrelated articles share almost no 5-gram."""
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    return ["".join(rng.choice(letters, size=int(rng.integers(3, 9)))) for _ in range(n)]


def _article(rng: np.random.Generator, words: int = 200) -> str:
    w = _words(rng, words)
    return "\n".join(" ".join(w[i : i + 20]) for i in range(0, words, 20))


def _one_word_changed(text: str, position: int) -> str:
    words = text.split(" ")
    words[position] = "changedword"
    return " ".join(words)


def _corpus() -> dict[str, list[tuple[str, str]]]:
    """Three input files (three parts) of ``(id, text)``, in input order."""
    rng = np.random.default_rng(7)
    base1, base2, near1, near2 = (_article(rng) for _ in range(4))
    near1_c = _one_word_changed(near1, 150)  # the chain: near-dup of near1, then an exact copy
    short = [f"short page {k} with a few words only" for k in range(SHORT_PAGES)]
    short[3] = "a page about ZANZIBAR spice markets"
    short[17] = "zanzibar again, lower case this time"
    short[21] = "an escape \x1b[2J that clears a terminal"
    long_page = "\n".join(" ".join(_words(rng, 10)) for _ in range(60))
    a = [("base1", base1), ("base2", base2), ("near1", near1), ("near2", near2)]
    a += [(f"a-short-{k}", short[k]) for k in range(0, 10)]
    a += [(f"a-unique-{k}", _article(rng)) for k in range(5)]
    a += [("rep", "too short to keep"), ("long-1", long_page)]
    b = [("b-dup1-1", base1), ("b-dup2-1", base2.upper()), ("b-near1-1", near1_c)]
    b += [(f"b-short-{k}", short[k]) for k in range(10, 20)]
    b += [("b-near1-2", _one_word_changed(near1, 40)), ("rep", _article(rng))]
    b += [(f"b-unique-{k}", _article(rng)) for k in range(5)]
    c = [("c-dup1-1", base1), ("c-dup1-2", "  " + base1.replace("\n", " \n ") + " ")]
    c += [("c-near1-c", near1_c), ("c-near2-1", _one_word_changed(near2, 100))]
    c += [(f"c-short-{k}", short[k]) for k in range(20, SHORT_PAGES)]
    return {"a.jsonl": a, "b.jsonl": b, "c.jsonl": c}


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[int, Path]:
    root = tmp_path_factory.mktemp("inspect")
    rules = root / "rules.yaml"
    rules.write_text(RULES, encoding="utf-8")
    inputs = []
    for name, docs in _corpus().items():
        path = root / name
        with path.open("w", encoding="utf-8") as handle:
            for doc_id, text in docs:
                handle.write(json.dumps({"id": doc_id, "text": text}) + "\n")
        inputs.append(str(path))
    out = {}
    for workers in (1, 2):
        folder = root / f"out{workers}"
        args = ["run", str(rules), "--input", *inputs, "--output", str(folder)]
        assert main([*args, "--workers", str(workers), "--quiet"]) == 0
        out[workers] = folder
    return out


@pytest.fixture(scope="module")
def run(runs: dict[int, Path]) -> Path:
    return runs[2]


def _inspect(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(["inspect", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_the_planted_corpus_is_dropped_as_planned(run: Path) -> None:
    stats = json.loads((run / "stats.json").read_text())
    # 30 short pages + "rep" + the long page; 5 exact copies (one of them a copy of a
    # near-duplicate, one upper-cased, one re-spaced); 3 near-duplicates
    assert stats["rejected"] == {"length": SHORT_PAGES + 2, "exact_dedup": 5, "minhash_dedup": 3}
    assert len(list((run / "rejected").glob("*.parquet"))) >= 3


# --- --reason ---------------------------------------------------------------------------------


def test_reason_prints_n_documents_detail_first(
    run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = _inspect(capsys, str(run), "--reason", "length", "--n", "5", "--seed", "3")
    assert code == 0
    chosen = choose_rejected(run, "length", 5, seed=3)
    blocks = out.rstrip("\n").split("\n\n")
    assert len(blocks) == 5
    for number, (block, row) in enumerate(
        zip(blocks, chosen.iter_rows(named=True), strict=True), 1
    ):
        lines = block.splitlines()
        assert lines[0] == f"[{number}/5] length: {row['detail']}"  # the detail first
        assert lines[1] == f"  id {row['id']}  {row['source']}:{row['line']}"
        assert lines[2].startswith("  | ")
    assert all(len(line) <= WIDTH for line in out.splitlines())
    assert chosen.columns == ["id", "reason", "detail", "source", "line", "text"]
    assert set(chosen.get_column("reason")) == {"length"}


def test_the_choice_is_reproducible_and_the_same_whatever_the_workers(
    runs: dict[int, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    one, two = runs[1], runs[2]
    for seed in (0, 1, 2):
        assert choose_rejected(one, "length", 5, seed).equals(
            choose_rejected(two, "length", 5, seed)
        )
    outputs = [_inspect(capsys, str(d), "--reason", "length", "--seed", "5")[1] for d in (one, two)]
    assert outputs[0] == outputs[1]
    assert _inspect(capsys, str(two), "--reason", "length", "--seed", "5")[1] == outputs[1]
    # different seeds choose differently among 32 documents
    choices = {tuple(choose_rejected(two, "length", 5, s).get_column("id")) for s in range(4)}
    assert len(choices) == 4
    # a smaller n is the start of a larger one; n beyond the step's count gives all its rows
    five = choose_rejected(two, "length", 5, seed=1).get_column("id").to_list()
    assert choose_rejected(two, "length", 3, seed=1).get_column("id").to_list() == five[:3]
    every = choose_rejected(two, "length", 1000, seed=1)
    rejected = pl.read_parquet(two / "rejected" / "*.parquet")
    assert sorted(every.get_column("id")) == sorted(
        rejected.filter(pl.col("reason") == "length").get_column("id")
    )


def test_a_long_text_is_cut_and_marked(run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _inspect(capsys, str(run), "--reason", "length", "--n", "100")
    assert code == 0
    block = next(b for b in out.split("\n\n") if "  id long-1 " in b)
    assert "words=600>400" in block.splitlines()[0]
    text_lines = [line for line in block.splitlines() if line.startswith("  |")]
    assert len(text_lines) == 13 and text_lines[-1].startswith("  | [... cut after 12 lines")


def test_grep_keeps_only_matching_texts_in_any_case(
    run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = _inspect(capsys, str(run), "--reason", "length", "--grep", "zanZIBAR")
    assert code == 0
    assert out.count("  id ") == 2
    assert "  id a-short-3 " in out and "  id b-short-17 " in out
    chosen = choose_rejected(run, "length", 10, grep="Zanzibar")
    assert sorted(chosen.get_column("id")) == ["a-short-3", "b-short-17"]
    # the word is literal, not a pattern; nothing found is said on stderr, exit 1
    code, out, err = _inspect(capsys, str(run), "--reason", "length", "--grep", "zan.ibar")
    assert code == 1 and out == ""
    assert "none of the 32 documents length dropped contains 'zan.ibar'" in err


def test_control_characters_are_shown_not_sent(
    run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = _inspect(capsys, str(run), "--reason", "length", "--grep", "escape")
    assert code == 0
    assert "\x1b" not in out and "an escape \\x1b[2J that clears" in out


def test_a_step_that_dropped_nothing_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rules = tmp_path / "r.yaml"
    rules.write_text("version: 1\nname: t\nsteps:\n  - length: {min_words: 1}\n")
    data = tmp_path / "d.jsonl"
    data.write_text(json.dumps({"id": "x", "text": "one two"}) + "\n")
    out = tmp_path / "out"
    assert main(["run", str(rules), "--input", str(data), "--output", str(out), "--quiet"]) == 0
    code, stdout, err = _inspect(capsys, str(out), "--reason", "length")
    assert code == 1 and stdout == "" and "length dropped no document" in err


def test_usage_errors_exit_2(run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _inspect(capsys, str(run), "--reason", "gopher_quality")
    assert code == 2
    assert "'gopher_quality' is not a step" in err and "length, exact_dedup, minhash_dedup" in err
    code, _, err = _inspect(capsys, str(tmp_path), "--id", "x")
    assert code == 2 and "no stats.json" in err
    with pytest.raises(SystemExit):  # --reason or --id, exactly one
        main(["inspect", str(run)])


# --- --id -------------------------------------------------------------------------------------


def test_id_of_a_kept_document(run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    [placement] = find_document(run, "a-unique-2")
    assert placement.outcome == "kept" and placement.part.startswith("documents/part-")
    code, out, _ = _inspect(capsys, str(run), "--id", "a-unique-2")
    assert code == 0
    assert out.startswith(f"a-unique-2: kept ({placement.part}, row {placement.row})")
    kept = pl.read_parquet(run / placement.part).row(placement.row, named=True)
    assert kept["id"] == "a-unique-2"
    assert "  | " + kept["text"].split("\n")[0][:50] in out


def test_id_of_a_filtered_document(run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _inspect(capsys, str(run), "--id", "b-short-12")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("b-short-12: dropped by length (rejected/part-")
    assert lines[1] == "  detail: words=8<20"
    assert lines[2].endswith("b.jsonl:6")
    assert "survivor" not in out


def test_id_of_an_exact_duplicate_names_its_survivor(
    run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    [placement] = find_document(run, "c-dup1-2")
    assert (placement.reason, placement.survivor, placement.similarity) == (
        "exact_dedup",
        "base1",
        None,
    )
    assert [p.outcome for p in placement.survivor_placements] == ["kept"]
    code, out, _ = _inspect(capsys, str(run), "--id", "c-dup1-2")
    assert code == 0
    assert "  detail: duplicate of base1" in out
    assert "  survivor: base1\n    base1: kept (documents/part-" in out


def test_id_of_a_near_duplicate_shows_the_similarity(
    run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    [placement] = find_document(run, "b-near1-2")
    assert placement.reason == "minhash_dedup" and placement.survivor == "near1"
    assert placement.measure == "jaccard" and 0.9 < (placement.similarity or 0) <= 1
    code, out, _ = _inspect(capsys, str(run), "--id", "b-near1-2")
    assert code == 0
    assert f"  survivor: near1 (jaccard {placement.similarity:.3f})" in out


def test_a_chain_of_survivors_is_followed(run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # c-near1-c is an exact copy of b-near1-1, which minhash_dedup dropped as near1's
    [placement] = find_document(run, "c-near1-c")
    assert (placement.reason, placement.survivor) == ("exact_dedup", "b-near1-1")
    [middle] = placement.survivor_placements
    assert (middle.reason, middle.survivor) == ("minhash_dedup", "near1")
    assert [p.outcome for p in middle.survivor_placements] == ["kept"]
    code, out, _ = _inspect(capsys, str(run), "--id", "c-near1-c")
    assert "    b-near1-1: dropped by minhash_dedup" in out
    assert "        near1: kept (documents/" in out


def test_a_repeated_id_lists_every_occurrence(
    run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    placements = find_document(run, "rep")
    assert [(p.outcome, p.reason) for p in placements] == [("kept", None), ("rejected", "length")]
    code, out, _ = _inspect(capsys, str(run), "--id", "rep")
    assert code == 0 and out.startswith("id rep occurs 2 times in the run")


def test_an_unknown_id_exits_1(run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _inspect(capsys, str(run), "--id", "no-such-doc")
    assert code == 1 and out == "" and "no document with id 'no-such-doc'" in err
    with pytest.raises(DocumentNotFound):
        find_document(run, "no-such-doc")


# --- duplicate clusters -----------------------------------------------------------------------


@pytest.mark.parametrize("step", ["exact_dedup", "minhash_dedup"])
def test_cluster_sizes_equal_the_rejected_rows_per_survivor(
    runs: dict[int, Path], step: str
) -> None:
    run = runs[2]
    rejected = pl.read_parquet(run / "rejected" / "*.parquet").filter(pl.col("reason") == step)
    survivors = rejected.get_column("detail").str.extract(DUPLICATE_DETAILS[step], 1)
    per_survivor = survivors.value_counts(name="n")
    expected = dict(zip(per_survivor["detail"], per_survivor["n"] + 1, strict=True))
    result = duplicate_clusters(run, step, top=100, members=100)
    assert {c.survivor: c.size for c in result.largest} == expected
    assert {c.survivor: len(c.members) for c in result.largest} == {
        s: n - 1 for s, n in expected.items()
    }
    counts: dict[int, int] = {}
    for size in expected.values():
        counts[size] = counts.get(size, 0) + 1
    assert result.size_counts == counts
    assert (result.duplicates, result.clusters, result.unparsed) == (
        rejected.height,
        len(expected),
        0,
    )
    sizes = [c.size for c in result.largest]
    assert sizes == sorted(sizes, reverse=True)
    assert duplicate_clusters(runs[1], step, top=100, members=100) == result


def test_clusters_name_members_similarities_and_openings(run: Path) -> None:
    exact = duplicate_clusters(run, "exact_dedup", top=1, members=2)
    [top] = exact.largest
    assert (top.survivor, top.size) == ("base1", 4)
    assert [m.id for m in top.members] == ["b-dup1-1", "c-dup1-1"]  # input order, cut at 2
    assert all(m.similarity is None for m in top.members)
    base1 = pl.read_parquet(run / "documents" / "*.parquet").filter(pl.col("id") == "base1")
    assert top.survivor_opening == opening_line(base1.item(0, "text"))
    assert exact.size_counts == {4: 1, 2: 2}

    near = duplicate_clusters(run, "minhash_dedup")
    assert [(c.survivor, c.size) for c in near.largest] == [("near1", 3), ("near2", 2)]
    members = {m.id: m for m in near.largest[0].members}
    assert set(members) == {"b-near1-1", "b-near1-2"}
    assert all(0.9 < (m.similarity or 0) <= 1 for m in members.values())
    assert members["b-near1-2"].opening == opening_line(
        choose_rejected(run, "minhash_dedup", 10)
        .filter(pl.col("id") == "b-near1-2")
        .item(0, "text")
    )


def test_clusters_of_a_step_that_is_not_document_deduplication(run: Path) -> None:
    with pytest.raises(ValueError, match="removes lines"):
        duplicate_clusters(run, "line_dedup")
    with pytest.raises(ValueError, match="not a document deduplication step"):
        duplicate_clusters(run, "length")


# --- the stable hash --------------------------------------------------------------------------


def _reference_hash(value: str, seed: int) -> int:
    """:func:`id_hash` one byte at a time, in Python integers."""
    m = fmix64_scalar((seed ^ 0x9E3779B97F4A7C15) & M64)
    data = value.encode()
    total = 0
    for k, byte in enumerate(data):
        total = (total + fmix64_scalar(((k << 8) | byte) ^ m)) & M64
    return fmix64_scalar(total ^ fmix64_scalar(len(data) ^ m))


def test_id_hash_equals_its_scalar_definition() -> None:
    ids = ["doc-1", "", "é☃ ünïcode", "doc-2", "a" * 300, "ab", "ba"]
    for seed in (0, 1, 2**40):
        got = [int(h) for h in id_hash(pl.Series(ids), seed)]
        assert got == [_reference_hash(i, seed) for i in ids]
    # a slice (an Arrow offset) hashes as the values it holds
    assert [int(h) for h in id_hash(pl.Series(ids)[2:5], 0)] == [
        _reference_hash(i, 0) for i in ids[2:5]
    ]
    assert len({int(h) for h in id_hash(pl.Series(ids), 0)}) == len(ids)
    assert id_hash(pl.Series(["x"]), 0)[0] != id_hash(pl.Series(["x"]), 1)[0]


def test_opening_line_is_the_first_non_blank_line_cut() -> None:
    assert opening_line("\n  \n  first   line \nsecond") == "first line"
    assert opening_line("x" * 300, limit=10) == "x" * 9 + "…"
    assert opening_line(None) == ""
    assert re.fullmatch(
        DUPLICATE_DETAILS["minhash_dedup"], "near-duplicate of a (b) (jaccard=0.87)"
    )


def test_a_readers_own_reason_is_a_valid_reason(tmp_path: Path) -> None:
    stats = {"steps": [{"name": "length"}], "rejected": {"warc": 3, "length": 1}}
    (tmp_path / "stats.json").write_text(json.dumps(stats))
    assert step_names(tmp_path) == ["length", "warc"]
    assert choose_rejected(tmp_path, "warc", 5).is_empty()  # no rejected/ folder: no rows
