"""``decontaminate``: planted evaluation passages are found and removed (drop and strip) and
nothing else is (documents sharing 12-word runs with the evaluation text but no 13-gram stay);
1 and 2 workers give the same bytes; the detail; strip's 200-character margins and piece
rules; the index is built once and cached; memory stays bounded for a 10M-n-gram evaluation
set (fresh interpreter); bad options and a missing evaluation file exit 2 naming them."""

from __future__ import annotations

import gzip
import json
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from corpusclean.minhash.reference import fast_hash64, normalize_text
from corpusclean.steps import STEPS
from corpusclean.steps.base import RunContext
from corpusclean.steps.decontaminate import (
    NGRAMS,
    DecontaminateStep,
    EvalIndex,
    build_index,
    text_ngrams,
    word_spans,
)
from tests.conftest import folder_digest, run_workers

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
import decontaminate as bench  # noqa: E402  (benchmarks/ is not a package)

VOCAB = [f"{a}{b}" for a in ("ka", "lo", "mi", "nu", "pe", "ro", "su", "ti") for b in
         ("bar", "cen", "dol", "fim", "gas", "hut", "jor", "kel", "lum", "mon")]  # fmt: skip


def _words(rng: random.Random, n: int) -> list[str]:
    return [rng.choice(VOCAB) for _ in range(n)]


@pytest.fixture(autouse=True)
def _cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Indexes go to the test's folder, not the user's cache (workers inherit the variable)."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))


def _eval_words(seed: int = 7, n: int = 3000) -> list[str]:
    return _words(random.Random(seed), n)


def _corpus(eval_words: list[str]) -> tuple[list[dict[str, str]], set[str], set[str]]:
    """Clean documents, documents with a planted 13+-word evaluation passage (in changed case
    and punctuation: normalisation must see through it), and near misses with 12-word runs."""
    rng = random.Random(3)
    docs, planted, near = [], set(), set()
    for i in range(300):
        kind = i % 6
        words = _words(rng, rng.randint(30, 400))
        if kind == 1:  # a planted passage of 13 to 30 words
            at = rng.randrange(1, len(eval_words) - 40)
            length = rng.randint(13, 30)
            passage = eval_words[at : at + length]
            passage = [w.upper() if j % 3 == 0 else w + "," for j, w in enumerate(passage)]
            where = rng.randint(0, len(words))
            words[where:where] = passage
            planted.add(f"d{i:04d}")
        elif kind == 2:  # several 12-word runs of the evaluation text, none extended to 13
            for _ in range(3):
                at = rng.randrange(1, len(eval_words) - 20)
                run = eval_words[at : at + 12]
                before = rng.choice([w for w in VOCAB if w != eval_words[at - 1]])
                after = rng.choice([w for w in VOCAB if w != eval_words[at + 12]])
                where = rng.randint(0, len(words))
                words[where:where] = [before, *run, after]
            near.add(f"d{i:04d}")
        docs.append({"id": f"d{i:04d}", "text": " ".join(words) + "."})
    return docs, planted, near


def _no_13gram_of(text: str, eval_words: list[str]) -> bool:
    """Scalar check: no 13 consecutive normalised words of ``text`` occur in the eval text."""
    grams = {" ".join(eval_words[i : i + 13]) for i in range(len(eval_words) - 12)}
    words = normalize_text(text).split()
    return all(" ".join(words[i : i + 13]) not in grams for i in range(len(words) - 12))


def _write_jsonl(path: Path, records: list[dict[str, str]]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")


@pytest.mark.parametrize("action", ["drop", "strip"])
def test_planted_passages_removed_and_nothing_else(tmp_path: Path, action: str) -> None:
    eval_words = _eval_words()
    (tmp_path / "evals").mkdir()
    (tmp_path / "evals" / "wiki.test.txt").write_text(
        "\n".join(" ".join(eval_words[i : i + 50]) for i in range(0, len(eval_words), 50)),
        encoding="utf-8",
    )  # n-grams run across line ends (one text)
    docs, planted, near = _corpus(eval_words)
    corpus = tmp_path / "corpus.jsonl"
    _write_jsonl(corpus, docs)
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        "version: 1\nsteps:\n"
        f"  - decontaminate: {{against: [evals/wiki.test.txt], action: {action}, "
        "keep_signals: true}\n",
        encoding="utf-8",
    )  # the path is relative to the rules' folder
    outs = {w: tmp_path / f"out{w}" for w in (1, 2)}
    for workers, out in outs.items():
        assert run_workers(rules, corpus, out, workers) == 0
    assert folder_digest(outs[1] / "documents") == folder_digest(outs[2] / "documents")
    assert folder_digest(outs[1] / "rejected") == folder_digest(outs[2] / "rejected")
    kept = pl.read_parquet(outs[1] / "documents")
    rejected = pl.read_parquet(outs[1] / "rejected")
    assert kept.height + rejected.height == len(docs)
    originals = {d["id"]: d["text"] for d in docs}
    if action == "drop":
        assert set(rejected.get_column("id")) == planted
        assert set(rejected.get_column("reason")) == {"decontaminate"}
        for row in rejected.iter_rows(named=True):
            detail = row["detail"]
            assert detail.startswith("eval=wiki.test.txt ngrams="), detail
            assert int(detail.split("ngrams=")[1]) >= 1
        assert (kept.get_column(NGRAMS) == 0).all()
        assert kept.get_column("text").to_list() == [
            originals[i] for i in kept.get_column("id") if i not in planted
        ]
    else:  # a planted passage sits in 30..400 words: stripped, or dropped when too little is left
        changed = {r["id"] for r in kept.iter_rows(named=True) if r["text"] != originals[r["id"]]}
        assert changed | set(rejected.get_column("id")) == planted
        assert changed and rejected.height  # both outcomes happen in this corpus
        assert (kept.filter(pl.col("id").is_in(list(changed))).get_column(NGRAMS) > 0).all()
    # nothing of the evaluation text is left, and everything else is, untouched
    for row in kept.iter_rows(named=True):
        assert _no_13gram_of(row["text"], eval_words), row["id"]
        if row["id"] not in planted:
            assert row["text"] == originals[row["id"]]
    assert near <= set(kept.get_column("id"))
    stats = json.loads((outs[1] / "stats.json").read_text())
    step = stats["steps"][0]
    assert step["counters"]["matched_docs"] == len(planted)
    assert NGRAMS in step["histograms"]


def _bound(tmp_path: Path, against: list[str], **options: object) -> DecontaminateStep:
    options = STEPS["decontaminate"].Options(against=against, **options)
    bound = STEPS["decontaminate"].bind(options, RunContext(rules_path=str(tmp_path / "r.yaml")))
    step = STEPS["decontaminate"](bound)
    step.setup()
    return step


def test_detail_names_the_file_with_most_matches(tmp_path: Path) -> None:
    a = _eval_words(seed=1, n=200)
    b = _eval_words(seed=2, n=200)
    (tmp_path / "a.txt").write_text(" ".join(a), encoding="utf-8")
    record = {"id": "q1", "question": " ".join(b), "choices": ["x", "y"]}
    (tmp_path / "b.jsonl.gz").write_bytes(gzip.compress((json.dumps(record) + "\n").encode()))
    step = _bound(tmp_path, ["a.txt", "b.jsonl.gz"])
    texts = [
        " ".join(a[10:30]),  # 20 words: 8 13-grams of a
        " ".join(["zz"] + a[0:14] + ["zz"] + b[50:80]),  # 2 of a, 18 of b
        " ".join(a[100:112]),  # 12 words: no n-gram
    ]
    result = step.apply(pl.DataFrame({"id": ["1", "2", "3"], "text": texts}))
    assert result.reject is not None
    assert result.reject.to_list() == [
        "eval=a.txt ngrams=8",
        "eval=b.jsonl.gz ngrams=20 evals=2",
        None,
    ]
    assert result.signals is not None
    assert result.signals.get_column(NGRAMS).to_list() == [8, 20, 0]
    assert result.counters == {"matched_docs": 2, "matched_ngrams": 28}


def test_hashes_are_minhash_dedups_shingle_hashes(tmp_path: Path) -> None:
    text = "Ça, c'est   l'été: 13 words and then some more words for the rest of it, OK?"
    grams = text_ngrams([text], 13)
    words = normalize_text(text).split()
    expected = [fast_hash64(" ".join(words[i : i + 13]).encode()) for i in range(len(words) - 12)]
    assert grams.hashes.tolist() == expected
    assert text_ngrams(["only five words right here"], 13).hashes.size == 0


def test_word_spans_map_normalised_words_to_the_original() -> None:
    text = "Héllo, WÖRLD! don't\tstop  e\u0301te ΟΔΟΣ 42"
    words, starts, ends = word_spans(text)
    assert words == normalize_text(text).split()
    assert [text[s:e] for s, e in zip(starts, ends, strict=True)] == [
        "Héllo", "WÖRLD", "don", "t", "stop", "e\u0301te", "ΟΔΟΣ", "42",
    ]  # fmt: skip


def _filler(rng: random.Random, chars: int) -> str:
    """Words not in the evaluation text, about ``chars`` characters (ends without a space)."""
    out = ""
    while len(out) < chars:
        out += rng.choice(["alpha", "bravo", "carlo", "delta", "echoes"]) + " "
    return out[:chars].rstrip() + "x"


def test_strip_margins_and_piece_rules(tmp_path: Path) -> None:
    ev = _eval_words(seed=5, n=2000)
    (tmp_path / "eval.txt").write_text(" ".join(ev), encoding="utf-8")
    step = _bound(tmp_path, ["eval.txt"], action="strip")
    rng = random.Random(0)
    secret = " ".join(ev[100:120])
    left, right = _filler(rng, 700), _filler(rng, 500)
    one = f"{left} {secret} {right}"
    s = len(left) + 1
    e = s + len(secret)
    # the match covers the passage's words exactly; 200 characters go either side
    expected_one = one[: s - 200].strip() + "\n\n" + one[e + 200 :].strip()
    short_right = f"{left} {secret} {_filler(rng, 350)}"  # right piece < 200: dropped
    expected_short = short_right[: s - 200].strip()

    def many(matches: int) -> str:
        parts = [_filler(rng, 650)]
        for k in range(matches):
            parts += [" ".join(ev[200 + 40 * k : 215 + 40 * k]), _filler(rng, 650)]
        return " ".join(parts)

    ten, eleven = many(9), many(10)  # 10 pieces kept; 11 pieces: dropped whole
    nothing = f"{_filler(rng, 250)} {secret} {_filler(rng, 250)}"  # both pieces < 200
    texts = [one, short_right, ten, eleven, nothing]
    result = step.apply(pl.DataFrame({"id": list("abcde"), "text": texts}))
    out = result.frame.get_column("text").to_list()
    assert result.reject is not None
    details = result.reject.to_list()
    assert out[0] == expected_one and details[0] is None
    assert out[1] == expected_short and details[1] is None
    assert details[2] is None and out[2].count("\n\n") == 9
    assert all(len(p) >= 200 - 2 for p in out[2].split("\n\n"))
    assert details[3] is not None and details[3].endswith("pieces=11>10")
    assert details[4] is not None and details[4].endswith("pieces=2 kept=0")
    assert out[3] == eleven and out[4] == nothing  # rejected rows keep their text
    c = result.counters
    assert (c["stripped"], c["dropped_pieces"], c["dropped_empty"]) == (3, 1, 1)
    for text in out[:3]:
        assert _no_13gram_of(text, ev)


def test_index_built_once_and_cached(tmp_path: Path) -> None:
    (tmp_path / "eval.txt").write_text(" ".join(_eval_words(n=500)), encoding="utf-8")
    cache = tmp_path / "cache"
    first = build_index([tmp_path / "eval.txt"], 13, cache)
    stamp = (first / "hashes.u64").stat().st_mtime_ns
    assert build_index([tmp_path / "eval.txt"], 13, cache) == first
    assert (first / "hashes.u64").stat().st_mtime_ns == stamp
    index = EvalIndex(first)
    assert (
        len(index)
        == index.meta["files"][0]["ngrams"]
        == len(set(text_ngrams([(tmp_path / "eval.txt").read_text()], 13).hashes.tolist()))
    )
    assert np.all(np.diff(np.asarray(index.hashes).astype(np.float64)) >= 0)
    assert build_index([tmp_path / "eval.txt"], 8, cache) != first  # the options key it
    (tmp_path / "eval.txt").write_text("changed " * 30, encoding="utf-8")
    assert build_index([tmp_path / "eval.txt"], 13, cache) != first  # and the content
    assert not list(cache.glob(".*tmp*"))


def test_block_cuts_lose_no_ngram(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from corpusclean.steps import decontaminate

    words = _eval_words(n=3000)
    path = tmp_path / "eval.txt"
    path.write_text(" ".join(words), encoding="utf-8")
    whole = set(text_ngrams([path.read_text()], 13).hashes.tolist())
    monkeypatch.setattr(decontaminate, "BLOCK_CHARS", 997)  # many cuts, mid-word reads
    pieces = list(decontaminate.eval_hashes(path, 13))
    assert len(pieces) > 10
    assert set(np.concatenate(pieces).tolist()) == whole


def test_memory_bounded_for_10m_ngram_eval_set(tmp_path: Path) -> None:
    """10^7 distinct 13-grams (95 MB of hashes): building peaks under 450 MB and a worker's
    private memory (RssAnon) grows by less than the index's size: its pages are the page
    cache's (RssFile), shared and evictable (benchmarks/decontaminate.py, docs/rules.md)."""
    r = bench.measure(10_000_000, tmp_path, docs=2000)
    build, apply = r["build"], r["apply"]
    assert isinstance(build, dict) and isinstance(apply, dict)
    mb = 1 << 20
    assert build["count"] == 10_000_000
    assert build["index_bytes"] >= 10_000_000 * 10
    assert build["peak_rss"] < 450 * mb, build
    assert apply["matched_docs"] == 200
    assert apply["rss_anon"] - apply["rss_anon_before_setup"] < 60 * mb, apply


def _cli(tmp_path: Path, step: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    corpus = tmp_path / "c.jsonl"
    _write_jsonl(corpus, [{"id": "1", "text": "a b c"}])
    rules = tmp_path / "rules.yaml"
    rules.write_text(f"version: 1\nsteps:\n  - decontaminate: {step}\n", encoding="utf-8")
    code = run_workers(rules, corpus, tmp_path / "out", 1)
    return code, capsys.readouterr().err


@pytest.mark.parametrize(
    ("options", "key"),
    [
        ("{against: [e.txt], ngram: 0}", "ngram"),
        ("{against: [e.txt], action: cut}", "action"),
        ("{against: [e.txt], ngrams: 13}", "ngrams"),
        ("{against: [e.txt], margin: -1}", "margin"),
        ("{against: [e.txt], max_pieces: 0}", "max_pieces"),
        ("{against: e.txt}", "against"),
    ],
)
def test_bad_options_exit_2_naming_the_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], options: str, key: str
) -> None:
    (tmp_path / "e.txt").write_text("x " * 20, encoding="utf-8")
    code, err = _cli(tmp_path, options, capsys)
    assert code == 2
    assert key in err and "decontaminate" in err
    assert not (tmp_path / "out").exists()


def test_missing_eval_file_exit_2_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, err = _cli(tmp_path, "{against: [no/such/eval.txt]}", capsys)
    assert code == 2
    assert "no/such/eval.txt" in err and "against" in err
    assert not (tmp_path / "out").exists()
    (tmp_path / "bad.txt").write_bytes(b"caf\xe9 " * 20)
    code, err = _cli(tmp_path, "{against: [bad.txt]}", capsys)
    assert code == 2 and "bad.txt" in err and "UTF-8" in err


def test_runs_in_a_fresh_interpreter_with_the_bound_index(tmp_path: Path) -> None:
    """Workers get the index folder bind built (a pickled step maps it without rebuilding)."""
    import pickle

    (tmp_path / "eval.txt").write_text(" ".join(_eval_words(n=300)), encoding="utf-8")
    step = _bound(tmp_path, ["eval.txt"])
    blob = pickle.dumps(step)
    code = (
        "import pickle, sys; step = pickle.loads(sys.stdin.buffer.read()); "
        "print(step.options._index)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], input=blob, capture_output=True, check=True
    ).stdout.decode()
    assert out.strip() == step.options._index and Path(out.strip()).is_dir()
