"""exact_dedup and line_dedup resolved as hash-partitioned group-bys (corpusclean.shuffle).

The decision must not depend on the partition count (it depends only on the input), and must
be the one the single-process resolve made before the shuffle: the reference functions below
are that resolve, kept here as the oracle.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest

from corpusclean.io.numbering import DOC_SHIFT, batch_seq, part_stem
from corpusclean.steps.base import ResolvePlan, run_plan_inline
from corpusclean.steps.exact_dedup import ExactDedupOptions, ExactDedupStep
from corpusclean.steps.line_dedup import LineDedupOptions, LineDedupStep

PARTITIONS = (1, 2, 5)

# -- the single-process resolve before the shuffle (reference) --------------------------------


def reference_exact(scan_parts: list[Path]) -> tuple[pl.DataFrame, dict[str, int]]:
    """The old ``ExactDedupStep.resolve``: its decisions frame and counters."""
    if not scan_parts:
        return pl.DataFrame(schema={"_doc": pl.Int64, "detail": pl.String}), {
            "duplicates": 0,
            "groups": 0,
        }
    keys = pl.scan_parquet(scan_parts).sort("_doc")
    first = keys.group_by("key").agg(
        pl.col("_doc").first().alias("kept_doc"), pl.col("id").first().alias("kept_id")
    )
    copies = keys.join(first, on="key").filter(pl.col("_doc") != pl.col("kept_doc"))
    decisions = (
        copies.select("_doc", pl.format("duplicate of {}", pl.col("kept_id")).alias("detail"))
        .sort("_doc")
        .collect()
    )
    groups = decisions.height and int(copies.select(pl.col("kept_doc").n_unique()).collect().item())
    return decisions, {"duplicates": decisions.height, "groups": int(groups)}


def reference_lines(scan_parts: list[Path], min_count: int) -> tuple[pl.DataFrame, dict[str, int]]:
    """The old ``LineDedupStep.resolve``: its frequent-lines frame and counters."""
    frequent = pl.DataFrame(schema={"key": pl.UInt64, "first_doc": pl.Int64})
    if scan_parts:
        frequent = (
            pl.scan_parquet(scan_parts)
            .group_by("key")
            .agg(pl.len().alias("docs"), pl.col("_doc").min().alias("first_doc"))
            .filter(pl.col("docs") >= min_count)
            .select("key", "first_doc")
            .sort("key")
            .collect(engine="streaming")
        )
    return frequent, {"frequent_lines": frequent.height}


# -- a corpus with planted copies and boilerplate ---------------------------------------------

WORDS = "river hill bread flour salt yeast oven mill sea road town book map card".split()
BOILERPLATE = [
    "Home | About | Contact",
    "We use cookies to improve your experience.",
    "Share this article",
    "All rights reserved.",
]


def _documents(count: int = 400, seed: int = 7) -> list[str]:
    """Texts with exact copies (and case/whitespace variants) of earlier texts, texts that
    share only the paper key's edge words, and boilerplate lines in many documents."""
    rng = np.random.default_rng(seed)
    texts: list[str] = []
    for k in range(count):
        roll = rng.random()
        if texts and roll < 0.2:
            texts.append(texts[int(rng.integers(len(texts)))])
        elif texts and roll < 0.3:
            texts.append("  " + texts[int(rng.integers(len(texts)))].upper().replace(" ", "\t"))
        elif texts and roll < 0.35:  # same punctuation-free length and edge words
            words = texts[int(rng.integers(len(texts)))].split(" ")
            texts.append(" ".join([*words[:4], *(w[::-1] for w in words[4:-4]), *words[-4:]]))
        else:
            lines = [" ".join(rng.choice(WORDS, 10)) + f" {k}." for _ in range(3)]
            for line in BOILERPLATE:
                if rng.random() < 0.3:
                    lines.insert(int(rng.integers(len(lines) + 1)), line)
            if rng.random() < 0.3:  # a line shared by a few documents only
                lines.append(f"Shared note {int(rng.integers(20))}.")
            if rng.random() < 0.1:
                lines.append("")
            texts.append("\n".join(lines))
    return texts


def _scan_parts(step: ExactDedupStep | LineDedupStep, folder: Path) -> list[Path]:
    """The step's scan of the corpus as the engine spills it: a part per batch, named by the
    batch's sequence number, ``_doc`` numbered as the workers number it; one batch has no rows
    (every document rejected by an earlier step)."""
    texts = _documents()
    folder.mkdir()
    cuts = [0, 70, 70, 150, 151, 260, 400]  # batch 1 is empty
    parts = []
    for batch, (low, high) in enumerate(zip(cuts, cuts[1:], strict=False)):
        seq = batch_seq(batch // 3, batch % 3)
        frame = pl.DataFrame(
            {
                "id": [f"d{k}" for k in range(low, high)],
                "text": texts[low:high],
                "_doc": pl.int_range(high - low, dtype=pl.Int64, eager=True) + (seq << DOC_SHIFT),
            },
            schema={"id": pl.String, "text": pl.String, "_doc": pl.Int64},
        )
        path = folder / f"{part_stem(seq)}.parquet"
        step.scan(frame).write_parquet(path)
        parts.append(path)
    return parts


def _run_pickled(plan: ResolvePlan) -> dict[str, int]:
    """Run a plan as a process executor would: every task goes through pickle first (module
    functions, picklable arguments) and runs from the copy."""
    results: list[Any] | None = None
    try:
        while True:
            stage = plan.send(results)  # type: ignore[arg-type]
            assert stage, "a plan must not hand the executor an empty stage"
            results = [f(*args) for f, args in pickle.loads(pickle.dumps(stage))]
    except StopIteration as done:
        return done.value


# -- exact_dedup ------------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["text", "paper"])
def test_exact_dedup_same_decisions_for_every_partition_count(key: str, tmp_path: Path) -> None:
    step = ExactDedupStep(ExactDedupOptions(key=key))
    parts = _scan_parts(step, tmp_path / "scan")
    expected, expected_counters = reference_exact(parts)
    assert expected.height > 50 and expected_counters["groups"] > 20  # the plant took
    for p in PARTITIONS:
        state = tmp_path / f"state-{p}"
        state.mkdir()
        counters = _run_pickled(step.resolve_stages(parts, state, p))
        assert len(list((state / "decisions").glob("part-*.parquet"))) == p
        step.load(state)
        assert step._decisions is not None
        assert step._decisions.equals(expected), p
        assert counters == expected_counters, p


def test_exact_dedup_keys_decide_differently_on_the_corpus(tmp_path: Path) -> None:
    """The corpus plants copies only one key finds (case/whitespace variants: ``text``;
    middle-word variants: ``paper``), so the parametrised test above tells the keys apart."""
    found = {}
    for key in ("text", "paper"):
        step = ExactDedupStep(ExactDedupOptions(key=key))
        state = tmp_path / key
        state.mkdir()
        step.resolve(_scan_parts(step, tmp_path / f"scan-{key}"), state)
        step.load(state)
        assert step._decisions is not None
        found[key] = set(step._decisions.get_column("_doc"))
    assert found["text"] - found["paper"] and found["paper"] - found["text"]


def test_exact_dedup_first_copy_in_input_order_is_kept(tmp_path: Path) -> None:
    """Parts handed in reverse still keep the first copy in input order (``_doc``)."""
    step = ExactDedupStep(ExactDedupOptions())
    folder = tmp_path / "scan"
    folder.mkdir()
    parts = []
    for batch, ids in enumerate([["a", "b"], ["c", "d"]]):
        seq = batch_seq(0, batch)
        docs = [seq << DOC_SHIFT, (seq << DOC_SHIFT) + 1]
        frame = pl.DataFrame({"id": ids, "text": ["same text", f"other {batch}"], "_doc": docs})
        parts.append(folder / f"{part_stem(seq)}.parquet")
        step.scan(frame).write_parquet(parts[-1])
    state = tmp_path / "state"
    state.mkdir()
    counters = run_plan_inline(step.resolve_stages(parts[::-1], state, 3))
    step.load(state)
    assert step._decisions is not None
    assert step._decisions.get_column("detail").to_list() == ["duplicate of a"]
    assert step._decisions.get_column("_doc").to_list() == [1 << DOC_SHIFT]
    assert counters == {"duplicates": 1, "groups": 1}


# -- line_dedup -------------------------------------------------------------------------------


@pytest.mark.parametrize("keep", ["none", "first"])
@pytest.mark.parametrize("min_count", [2, 5])
def test_line_dedup_same_frequent_lines_for_every_partition_count(
    keep: str, min_count: int, tmp_path: Path
) -> None:
    step = LineDedupStep(LineDedupOptions(min_count=min_count, keep=keep))  # type: ignore[arg-type]
    parts = _scan_parts(step, tmp_path / "scan")
    expected, expected_counters = reference_lines(parts, min_count)
    assert expected.height >= 4  # the boilerplate, at least
    applied = None
    for p in PARTITIONS:
        state = tmp_path / f"state-{p}"
        state.mkdir()
        counters = _run_pickled(step.resolve_stages(parts, state, p))
        assert len(list((state / "frequent").glob("part-*.parquet"))) == p
        step.load(state)
        assert step._frequent.equals(expected), p
        assert counters == expected_counters, p
        batch = pl.DataFrame({"id": ["x", "y"], "text": [BOILERPLATE[0], "unique line"]})
        docs = pl.Series("_doc", [1 << 50, (1 << 50) + 1], dtype=pl.Int64)  # after the corpus
        result = step.apply(batch.with_columns(docs))
        assert applied is None or result.frame.equals(applied)
        applied = result.frame
    assert applied is not None and applied.get_column("text").to_list() == ["", "unique line"]


# -- empty input ------------------------------------------------------------------------------


def _empty_part(step: ExactDedupStep | LineDedupStep, folder: Path) -> Path:
    folder.mkdir()
    empty = pl.DataFrame(schema={"id": pl.String, "text": pl.String, "_doc": pl.Int64})
    path = folder / f"{part_stem(batch_seq(0, 0))}.parquet"
    step.scan(empty).write_parquet(path)
    return path


@pytest.mark.parametrize("no_rows", [False, True])
def test_empty_input(no_rows: bool, tmp_path: Path) -> None:
    """No scan parts at all, or parts without rows: nothing is rejected or frequent."""
    exact, lines = ExactDedupStep(ExactDedupOptions()), LineDedupStep(LineDedupOptions())
    for step, counters in ((exact, {"duplicates": 0, "groups": 0}), (lines, {"frequent_lines": 0})):
        parts = [_empty_part(step, tmp_path / f"scan-{step.name}")] if no_rows else []
        for p in PARTITIONS:
            state = tmp_path / f"{step.name}-{p}"
            state.mkdir()
            assert _run_pickled(step.resolve_stages(parts, state, p)) == counters
            step.load(state)
    assert exact._decisions is not None and exact._decisions.height == 0
    assert lines._frequent.equals(reference_lines([], 2)[0])
    batch = pl.DataFrame({"id": ["x"], "text": ["a\nb"], "_doc": [0]})
    assert exact.apply(batch).reject is None
    assert lines.apply(batch).frame.get_column("text").to_list() == ["a\nb"]


def test_resolve_is_the_one_partition_plan(tmp_path: Path) -> None:
    """``resolve`` (what the engine calls today) writes what the plan with P=1 writes."""
    step = LineDedupStep(LineDedupOptions())
    parts = _scan_parts(step, tmp_path / "scan")
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    assert step.resolve(parts, tmp_path / "a") == run_plan_inline(
        step.resolve_stages(parts, tmp_path / "b", 1)
    )
    assert pl.read_parquet(tmp_path / "a" / "frequent" / "*.parquet").equals(
        pl.read_parquet(tmp_path / "b" / "frequent" / "*.parquet")
    )
