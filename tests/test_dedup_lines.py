"""line_dedup: corpus-wide line counts across files and workers."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl

from corpusclean.cli import main

NAV = "Home | About | Contact"
COOKIE = "We use cookies to improve your experience."


def _write(path: Path, rows: list[tuple[str, str]]) -> None:
    path.write_text("".join(json.dumps({"id": i, "text": t}) + "\n" for i, t in rows))


def _corpus(tmp_path: Path) -> list[Path]:
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    _write(
        a,
        [
            ("a0", f"{NAV}\nThe river rises in the hills.\n\n{COOKIE}"),
            ("a1", f"{NAV}\nBread is made from flour and water."),
            ("a2", "A page of its own with nothing shared.\nSecond line, also unique."),
        ],
    )
    _write(
        b,
        [
            ("b0", f"  home |  ABOUT | contact \n{COOKIE}"),  # normalises to the same lines
            ("b1", f"The committee met on Tuesday.\n{NAV}"),
        ],
    )
    return [a, b]


def _run(tmp_path: Path, options: str, workers: int, name: str) -> tuple[dict, pl.DataFrame]:
    rules = tmp_path / "r.yaml"
    rules.write_text(f"version: 1\nsteps:\n  - line_dedup: {options}\n")
    out = tmp_path / name
    args = ["run", str(rules), "--output", str(out), "--quiet", "--workers", str(workers)]
    for f in _corpus(tmp_path):
        args += ["--input", str(f)]
    assert main(args) == 0
    kept = pl.read_parquet(out / "documents" / "*.parquet")
    return json.loads((out / "stats.json").read_text()), kept


def test_keep_none_removes_every_copy_and_rejects_emptied(tmp_path: Path) -> None:
    stats, kept = _run(tmp_path, "{min_count: 2, keep: none}", 1, "o1")
    texts = dict(zip(kept["id"], kept["text"], strict=True))
    assert texts == {
        "a0": "The river rises in the hills.\n",
        "a1": "Bread is made from flour and water.",
        "a2": "A page of its own with nothing shared.\nSecond line, also unique.",
        "b1": "The committee met on Tuesday.",
    }
    assert stats["rejected"] == {"line_dedup": 1}  # b0 had only boilerplate
    assert stats["steps"][0]["counters"]["frequent_lines"] == 2
    assert stats["steps"][0]["counters"]["lines_removed"] == 6


def test_keep_first_and_min_count(tmp_path: Path) -> None:
    _, kept = _run(tmp_path, "{min_count: 2, keep: first}", 1, "o1")
    texts = dict(zip(kept["id"], kept["text"], strict=True))
    assert texts["a0"].startswith(NAV) and COOKIE in texts["a0"]
    assert texts["a1"] == "Bread is made from flour and water."
    _, kept = _run(tmp_path, "{min_count: 4}", 1, "o2")
    texts = dict(zip(kept["id"], kept["text"], strict=True))
    assert NAV not in texts["a1"] and COOKIE in texts["a0"]  # NAV in 4 docs, COOKIE in 2


def test_one_and_two_workers_agree(tmp_path: Path) -> None:
    _, one = _run(tmp_path, "{}", 1, "o1")
    _, two = _run(tmp_path, "{}", 2, "o2")
    assert one.equals(two)
