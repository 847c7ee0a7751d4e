"""minhash_dedup through the engine: planted pairs at known Jaccard, verify, workers."""

from __future__ import annotations

import json
import random
from pathlib import Path

import polars as pl
import pytest

from corpusclean import minhash
from corpusclean.cli import main
from corpusclean.minhash import reference


def _doc(rng: random.Random, n: int = 300) -> list[str]:
    return [f"w{rng.randrange(10**9)}" for _ in range(n)]


def _with_jaccard(words: list[str], target: float, rng: random.Random) -> list[str]:
    """Replace a tail of ``words`` so the word-5-gram Jaccard is close to ``target``."""
    shingles = len(words) - 4
    k = round(shingles * (1 - target) / (1 + target))  # (S - k) / (S + k) = target
    return words[: len(words) - k] + _doc(rng, k)


def _true_jaccard(a: str, b: str) -> float:
    return reference.jaccard(minhash.shingle_hashes([a]).doc(0), minhash.shingle_hashes([b]).doc(0))


@pytest.fixture
def planted(tmp_path: Path) -> tuple[list[Path], dict[str, float]]:
    rng = random.Random(7)
    rows, truth = [], {}
    for i in range(6):
        base = _doc(rng)
        rows.append((f"orig{i}", " ".join(base)))
        for target in (0.9, 0.5):
            copy = " ".join(_with_jaccard(base, target, rng))
            name = f"copy{i}-{int(target * 100)}"
            rows.append((name, copy))
            truth[name] = _true_jaccard(rows[-2 if target == 0.9 else -3][1], copy)
    files = [tmp_path / "a.jsonl", tmp_path / "b.jsonl"]
    half = len(rows) // 2
    for path, chunk in zip(files, (rows[:half], rows[half:]), strict=True):
        path.write_text("".join(json.dumps({"id": i, "text": t}) + "\n" for i, t in chunk))
    return files, truth


def _run(tmp_path: Path, files: list[Path], options: str, workers: int, name: str) -> Path:
    rules = tmp_path / "r.yaml"
    rules.write_text(f"version: 1\nsteps:\n  - minhash_dedup: {options}\n")
    out = tmp_path / name
    args = ["run", str(rules), "--output", str(out), "--quiet", "--workers", str(workers)]
    for f in files:
        args += ["--input", str(f)]
    assert main(args) == 0
    return out


@pytest.mark.parametrize("options", ["{verify: true}", "{verify: false}", "{hash: sha1}"])
def test_high_jaccard_removed_low_kept(planted, tmp_path: Path, options: str) -> None:
    files, truth = planted
    assert all(0.85 < j < 0.95 for k, j in truth.items() if k.endswith("-90"))
    assert all(0.45 < j < 0.55 for k, j in truth.items() if k.endswith("-50"))
    out = _run(tmp_path, files, options, 1, "o")
    rejected = pl.read_parquet(out / "rejected" / "*.parquet")
    dropped = set(rejected.get_column("id"))
    assert all(k.endswith("-90") for k in dropped)
    assert len(dropped) >= 5  # P(miss at J=0.9) with 128 perms at 0.8 is ~1e-3 per pair
    for row in rejected.iter_rows(named=True):
        survivor = "orig" + row["id"][4 : row["id"].index("-")]
        assert row["detail"].startswith(f"near-duplicate of {survivor} (")


def test_verify_reports_true_jaccard(planted, tmp_path: Path) -> None:
    files, truth = planted
    out = _run(tmp_path, files, "{verify: true}", 1, "o")
    rejected = pl.read_parquet(out / "rejected" / "*.parquet")
    for row in rejected.iter_rows(named=True):
        assert f"jaccard={round(truth[row['id']], 3)}" in row["detail"]


def test_one_and_two_workers_agree(planted, tmp_path: Path) -> None:
    files, _ = planted
    one = _run(tmp_path, files, "{verify: true}", 1, "o1")
    two = _run(tmp_path, files, "{verify: true}", 2, "o2")
    for sub in ("documents", "rejected"):
        a = pl.read_parquet(one / sub / "*.parquet")
        b = pl.read_parquet(two / sub / "*.parquet")
        assert a.equals(b)


def test_wordless_documents_are_not_near_duplicates(tmp_path: Path) -> None:
    src = tmp_path / "w.jsonl"
    rows = [("p1", "!!! ???"), ("p2", "--- ..."), ("p3", "")]
    src.write_text("".join(json.dumps({"id": i, "text": t}) + "\n" for i, t in rows))
    out = _run(tmp_path, [src], "{}", 1, "o")
    assert json.loads((out / "stats.json").read_text())["kept_docs"] == 3


def test_greedy_does_not_chain_but_union_find_does() -> None:
    import numpy as np

    from corpusclean.steps.minhash_dedup import greedy_survivors

    a, b = np.array([0, 1]), np.array([1, 2])  # A~B, B~C, A and C not linked
    assert greedy_survivors(3, a, b).tolist() == [0, 0, 2]
    assert minhash.union_find(3, (a, b)).tolist() == [0, 0, 0]
    star = greedy_survivors(4, np.array([0, 0, 0]), np.array([1, 2, 3]))
    assert star.tolist() == [0, 0, 0, 0]


@pytest.fixture
def copies(tmp_path: Path) -> list[Path]:
    """Originals, exact copies (same text, new id), near copies at Jaccard ~0.9, a chain."""
    rng = random.Random(11)
    rows = []
    for i in range(8):
        base = _doc(rng, 200)
        rows.append((f"orig{i}", " ".join(base)))
        rows.append((f"exact{i}", " ".join(base)))
        rows.append((f"near{i}", " ".join(_with_jaccard(base, 0.9, rng))))
        rows.append((f"exact{i}b", " ".join(base)))
    files = [tmp_path / "c1.jsonl", tmp_path / "c2.jsonl"]
    half = len(rows) // 2
    for path, chunk in zip(files, (rows[:half], rows[half:]), strict=True):
        path.write_text("".join(json.dumps({"id": i, "text": t}) + "\n" for i, t in chunk))
    return files


@pytest.mark.parametrize("cluster", ["greedy", "union_find"])
def test_verification_in_chunks_and_identical_texts(copies, tmp_path, monkeypatch, cluster):
    """Exact copies are verified from their fingerprints (no shingles read); the decisions do
    not depend on how many pairs are verified at once (the memory budget)."""
    from corpusclean.steps import minhash_dedup

    options = f"{{verify: true, cluster: {cluster}}}"
    whole = _run(tmp_path, copies, options, 1, "whole")
    stats = json.loads((whole / "stats.json").read_text())
    counters = stats["steps"][0]["counters"]
    assert counters["verified_identical"] >= 16  # two exact copies of each of 8 originals
    rejected = pl.read_parquet(whole / "rejected" / "*.parquet").sort("id")
    assert set(rejected["id"]) == {
        f"{k}{i}{s}" for i in range(8) for k, s in (("exact", ""), ("near", ""), ("exact", "b"))
    }
    for row in rejected.iter_rows(named=True):
        survivor = "orig" + row["id"].removeprefix("exact").removeprefix("near")[0]
        assert row["detail"].startswith(f"near-duplicate of {survivor} (jaccard=")
        if row["id"].startswith("exact"):
            assert row["detail"].endswith("(jaccard=1.0)")
    assert counters["verify_chunks"] == 1
    monkeypatch.setattr(minhash_dedup, "VERIFY_BUDGET", 150)  # about one document per chunk
    chunked = _run(tmp_path, copies, options, 1, "chunked")
    assert pl.read_parquet(chunked / "rejected" / "*.parquet").sort("id").equals(rejected)
    chunked_counters = json.loads((chunked / "stats.json").read_text())["steps"][0]["counters"]
    assert chunked_counters["verify_chunks"] > 5  # fed by one sweep over the scan parts
    state = chunked / "_work" / "step-0"
    assert (state / "decisions.parquet").is_file()
    assert not list(state.glob("verify-*"))  # the spill files are removed


@pytest.mark.parametrize("verify", [True, False])
def test_scan_spills_keys_not_texts(verify: bool) -> None:
    """What the resolve reads: keys, counts and hashes (shingles only to verify, signatures
    only to estimate), never the text."""
    from corpusclean.steps.minhash_dedup import MinhashDedupOptions, MinhashDedupStep

    step = MinhashDedupStep(MinhashDedupOptions(verify=verify))
    texts = ["one two three four five six", "one two three four five six", "", "other words"]
    batch = pl.DataFrame({"_doc": [0, 1, 2, 3], "id": ["a", "b", "c", "d"], "text": texts})
    scan = step.scan(batch)
    assert "text" not in scan.columns
    expected = {"_doc", "id", "keys", "n_shingles"}
    expected |= {"fingerprint", "shingles"} if verify else {"sig"}
    assert set(scan.columns) == expected
    assert scan["keys"].list.len().to_list() == [step.options.lsh()[0]] * 4
    if verify:
        fp = scan["fingerprint"].to_list()
        assert fp[0] == fp[1] and len(set(fp)) == 3


@pytest.mark.parametrize("verify", ["true", "false"])
def test_many_small_scan_parts_give_the_same_decisions(copies, tmp_path, monkeypatch, verify):
    """The resolve reads a document's rows only from the scan part whose ``_doc`` range holds
    it: with a part per 3 documents (11 parts, pairs across parts and files) the decisions
    equal those of one part per file, with and without verification (signature estimates)."""
    from corpusclean import engine
    from corpusclean.rules import load_rules
    from corpusclean.steps import minhash_dedup

    rules = tmp_path / "r.yaml"
    rules.write_text(f"version: 1\nsteps:\n  - minhash_dedup: {{verify: {verify}}}\n")
    outputs = []
    for batch_docs in (1000, 3):
        out = tmp_path / f"b{batch_docs}"
        config = engine.RunConfig(
            rules=load_rules(rules), inputs=copies, output=out, quiet=True, batch_docs=batch_docs
        )
        engine.run(config)
        outputs.append(pl.read_parquet(out / "rejected" / "*.parquet").sort("id"))
        monkeypatch.setattr(minhash_dedup, "VERIFY_BUDGET", 150)  # and chunks for the 2nd run
    assert outputs[0].height == 24
    assert outputs[1].drop("_doc", strict=False).equals(outputs[0].drop("_doc", strict=False))


def _kill_during_scan(command: list[str], scan: Path, parts: int) -> None:
    """Start ``command`` in its own process group and SIGKILL the group (parent and workers,
    as an OOM killer or a lost machine would) once ``parts`` scan parts are on disk."""
    import os
    import signal
    import subprocess
    import time

    proc = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    deadline = time.monotonic() + 120
    try:
        while len(list(scan.glob("*.parquet"))) < parts:
            assert proc.poll() is None, "the run ended before it could be killed mid-scan"
            assert time.monotonic() < deadline, "no scan parts appeared"
            time.sleep(0.005)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def _copies_corpus(tmp_path: Path, docs: int = 40_000) -> tuple[Path, Path]:
    """A JSONL corpus of short documents, 20% near-copies of earlier ones, and rules that
    deduplicate it (scanning takes seconds: long enough to be interrupted)."""
    rng = random.Random(5)
    rows: list[tuple[str, str]] = []
    for i in range(docs):
        if i and rng.random() < 0.2:  # a copy of an earlier document, one word changed
            words = rows[rng.randrange(i)][1].split()
            words[rng.randrange(len(words))] = f"x{i}"
            rows.append((f"d{i}", " ".join(words)))
        else:
            rows.append((f"d{i}", " ".join(_doc(rng, 30))))
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps({"id": i, "text": t}) + "\n" for i, t in rows))
    rules = tmp_path / "r.yaml"
    rules.write_text("version: 1\nsteps:\n  - minhash_dedup: {verify: true}\n")
    return src, rules


def test_run_killed_during_the_corpus_pass_resumes_to_the_same_output(tmp_path: Path) -> None:
    """SIGKILL in the middle of minhash_dedup's scan (the corpus-wide pass), then the same
    command again: the output equals an uninterrupted run's, byte for byte."""
    import hashlib
    import subprocess
    import sys

    src, rules = _copies_corpus(tmp_path)

    def command(out: Path) -> list[str]:
        return [sys.executable, "-m", "corpusclean", "run", str(rules), "--input", str(src),
                "--output", str(out), "--workers", "1", "--quiet"]  # fmt: skip

    subprocess.run(command(tmp_path / "ref"), check=True)
    out = tmp_path / "out"
    _kill_during_scan(command(out), out / "_work" / "pass-0" / "scan", parts=3)
    assert not (out / "stats.json").exists()
    state = out / "_work" / "state.json"
    assert not state.exists() or json.loads(state.read_text())["finished"] == 0
    subprocess.run(command(out), check=True)

    def digest(folder: Path) -> dict[str, str]:
        return {
            str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*.parquet"))
        }

    for sub in ("documents", "rejected"):
        assert digest(out / sub) == digest(tmp_path / "ref" / sub)
    assert digest(tmp_path / "ref" / "rejected")  # near-copies were found and removed


def _spawned_workers(pid: int) -> list[int]:
    """Children of ``pid`` started by multiprocessing's spawn (not its resource tracker)."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            cmdline = (stat.parent / "cmdline").read_bytes()
        except OSError:
            continue
        if parent == pid and b"spawn_main" in cmdline:
            out.append(int(stat.parent.name))
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie has exited (nobody reaped it yet)


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")
def test_workers_exit_when_the_run_is_killed(tmp_path: Path) -> None:
    """SIGKILL of the run's process alone (as the OOM killer does): its spawned workers,
    which cannot be told, notice within a second and exit instead of lingering."""
    import os
    import signal
    import subprocess
    import sys
    import time

    src, rules = _copies_corpus(tmp_path)
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "corpusclean",
            "run",
            str(rules),
            "--input",
            str(src),
            "--output",
            str(out),
            "--workers",
            "2",
            "--quiet",
        ],  # fmt: skip
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    scan = out / "_work" / "pass-0" / "scan"
    deadline = time.monotonic() + 120
    while not list(scan.glob("*.parquet")):
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.005)
    workers = _spawned_workers(proc.pid)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    try:
        assert len(workers) == 2
        deadline = time.monotonic() + 10
        while any(_alive(w) for w in workers) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not any(_alive(w) for w in workers)
    finally:
        for w in workers:
            if _alive(w):
                os.kill(w, signal.SIGKILL)
