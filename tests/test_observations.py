"""The report's data gathered during a run: histograms, bytes, rewritten lines, outcomes by
language; the same numbers for any worker count, and histograms that add up to the counts."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest

from corpusclean import engine
from corpusclean.histograms import COUNT, FRACTION, Bins, Histogram, count
from corpusclean.observations import line_changes
from corpusclean.rules import load_rules
from corpusclean.sample import write_sample
from tests.conftest import RULES

TIMINGS = ("seconds", "workers", "executor")


def test_count_bins_edges_missing_and_bytes() -> None:
    bins = Bins.linear(0.0, 1.0, 4)  # [0, .25) [.25, .5) [.5, .75) [.75, 1]
    values = pl.Series([-0.1, 0.0, 0.25, 0.74, 1.0, 1.5, None, float("nan")])
    dropped = np.array([False, False, True, False, True, False, True, False])
    nbytes = np.array([1, 2, 3, 4, 5, 6, 7, 8])
    hist = count(bins, values, dropped, nbytes)
    # [below, b0, b1, b2, b3, above]
    assert hist.kept_docs == [1, 1, 0, 1, 0, 1]
    assert hist.kept_bytes == [1, 2, 0, 4, 0, 6]
    assert hist.dropped_docs == [0, 0, 1, 0, 1, 0]  # 1.0 is in the last bin
    assert hist.dropped_bytes == [0, 0, 3, 0, 5, 0]
    assert hist.missing == [1, 1]  # NaN kept, None dropped


def test_count_categories_and_merge_adds() -> None:
    from corpusclean.histograms import CATEGORY

    a = count(
        CATEGORY,
        pl.Series(["en", "fr", "en", None]),
        np.array([False, True, False, True]),
        np.array([10, 20, 30, 40]),
    )
    assert a.values == {"en": [2, 40, 0, 0], "fr": [0, 0, 1, 20]}
    assert a.missing == [0, 1]
    b = count(CATEGORY, pl.Series(["fr"]), np.array([False]), np.array([5]))
    a.merge(b)
    assert a.values["fr"] == [1, 5, 1, 20]
    numeric = count(COUNT, pl.Series([0, 5, 50]), np.zeros(3, bool), np.ones(3, np.int64))
    again = Histogram.from_dict(numeric.as_dict())
    again.merge(numeric)
    assert sum(again.kept_docs) == 6 and again.kept_docs[0] == 2  # zero is below 1
    with pytest.raises(ValueError):
        again.merge(count(FRACTION, pl.Series([0.5]), np.zeros(1, bool), np.ones(1, np.int64)))


def test_line_changes_counts_lines_as_multisets() -> None:
    removed, added = line_changes("a\nb\na\n\nc", "a\nc\nd")
    assert removed == ["b", "a"] and added == ["d"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    """The bundled rules on 600 sample documents: one batch in one worker, and batches of 40
    in one and in two workers."""
    folder = tmp_path_factory.mktemp("observations")
    sample = folder / "sample.jsonl.gz"
    write_sample(sample, docs=600, seed=5)
    rules = load_rules(RULES / "openwebtext.yaml")
    out: dict[str, dict] = {}
    for name, workers, batch_docs in (("one", 1, 1000), ("w1", 1, 40), ("w2", 2, 40)):
        config = engine.RunConfig(
            rules=rules,
            inputs=[sample],
            output=folder / name,
            workers=workers,
            quiet=True,
            batch_docs=batch_docs,
        )
        engine.run(config)
        stats = json.loads((folder / name / "stats.json").read_text())
        out[name] = {"stats": stats, "dir": folder / name}
    return out


def _without_timings(stats: dict) -> dict:
    clean = {k: v for k, v in stats.items() if k not in TIMINGS}
    clean["steps"] = [{k: v for k, v in s.items() if k != "seconds"} for s in stats["steps"]]
    return clean


def test_same_observations_for_one_and_two_workers(runs: dict[str, dict]) -> None:
    """Batches of 40 in 1 or 2 workers: the same stats.json (histograms, edits, breakdown)."""
    assert _without_timings(runs["w1"]["stats"]) == _without_timings(runs["w2"]["stats"])


def test_histograms_do_not_depend_on_batching(runs: dict[str, dict]) -> None:
    one, many = runs["one"]["stats"], runs["w2"]["stats"]
    assert [s["histograms"] for s in one["steps"]] == [s["histograms"] for s in many["steps"]]
    assert one["breakdown"] == many["breakdown"]


def test_histograms_add_up_to_the_step_counts(runs: dict[str, dict]) -> None:
    stats = runs["w2"]["stats"]
    with_histograms = 0
    for step in stats["steps"]:
        for column, hist in step["histograms"].items():
            with_histograms += 1
            if hist["scale"] == "category":
                kept = sum(v["kept_docs"] for v in hist["values"].values())
                dropped = sum(v["dropped_docs"] for v in hist["values"].values())
            else:
                kept, dropped = sum(hist["kept"]["docs"]), sum(hist["dropped"]["docs"])
            kept += hist["missing"]["kept"]
            dropped += hist["missing"]["dropped"]
            assert (kept, dropped) == (step["out_docs"], step["rejected"]), column
    assert with_histograms >= 20
    gopher = next(s for s in stats["steps"] if s["name"] == "gopher_quality")
    words = gopher["histograms"]["gopher_quality.words"]
    assert {"rule": "words", "value": 50.0, "side": "min"} in words["cuts"]
    # every document below 50 words that reached the step was dropped
    edges = words["edges"]
    below_50 = [i + 1 for i in range(len(edges) - 1) if edges[i + 1] <= 50]
    assert sum(words["kept"]["docs"][i] for i in [0, *below_50]) == 0
    assert sum(words["dropped"]["docs"][i] for i in [0, *below_50]) > 0


def test_bytes_per_step_chain_and_match_the_output(runs: dict[str, dict]) -> None:
    stats, folder = runs["w2"]["stats"], runs["w2"]["dir"]
    steps = stats["steps"]
    for previous, step in zip(steps, steps[1:], strict=False):
        assert step["in_bytes"] == previous["out_bytes"]
    assert steps[-1]["out_bytes"] == stats["kept_text_bytes"]
    docs = pl.read_parquet(folder / "documents" / "*.parquet")
    assert int(docs.get_column("text").str.len_bytes().sum()) == stats["kept_text_bytes"]


def test_edits_show_lines_a_rewriting_step_removed(runs: dict[str, dict]) -> None:
    stats, folder = runs["w2"]["stats"], runs["w2"]["dir"]
    c4 = next(s for s in stats["steps"] if s["name"] == "c4_quality")
    assert c4["edits"], "c4_quality rewrites sample pages"
    keys = [e["key"] for e in c4["edits"]]
    assert keys == sorted(keys) and len(keys) <= 5
    docs = pl.read_parquet(folder / "documents" / "*.parquet", columns=["id", "text"])
    texts = dict(docs.iter_rows())
    for edit in c4["edits"]:
        assert edit["lines_removed"] >= len(edit["removed"]) > 0
        assert edit["bytes_after"] < edit["bytes_before"]
        if edit["id"] in texts:  # kept to the end (later steps may drop it)
            final = texts[edit["id"]].splitlines()
            assert not any(line in final for line in edit["removed"])


def test_breakdown_by_language_adds_up(runs: dict[str, dict]) -> None:
    stats = runs["w2"]["stats"]
    languages = stats["breakdown"]["language"]
    language_step = next(s for s in stats["steps"] if s["name"] == "language")
    assert sum(v["docs"] for v in languages.values()) == language_step["in_docs"]
    assert sum(v["kept_docs"] for v in languages.values()) == stats["kept_docs"]
    assert sum(v["kept_bytes"] for v in languages.values()) == stats["kept_text_bytes"]
    dropped_by_language = sum(
        v["dropped"].get("language", {}).get("docs", 0) for v in languages.values()
    )
    assert dropped_by_language == language_step["rejected"]
    assert {"en", "fr", "de"} <= set(languages)
    assert all(v["kept_docs"] == 0 for k, v in languages.items() if k != "en")
